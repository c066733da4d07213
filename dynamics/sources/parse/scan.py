"""Feed visible lines to the collector, one at a time or a plain region at once.

Two things happen here besides tokenising:

* **Progress updates are only counted.** A non-TTY capture prints one line
  per batch (a million lines in 100 MB); an update line (`` - ETA: ``) never
  needs more than its count and, for the last one, its counter -- unless a
  callback message, a header or ``Batch 3: Invalid loss`` is glued to it and
  no update follows (Keras glues them to the last update of an epoch).
  An update line is read in full when it may be more: it holds ``val_*``
  (only an epoch's end has them: Keras <= 2.0.8 kept ``ETA: 0s`` there), a
  second counter (a row glued behind updates whose ``\r`` a capture lost),
  or a header glued to its end; and its rest on the next line is joined
  when a terminal wrapped it.
  :meth:`LineScanner.region` takes a whole region of plain lines, splits it
  once and finds the few other lines with one list comprehension -- C loops
  -- instead of a Python step per line.
* **Row lines are held back one line**, because the next one may be their
  rest after a terminal or forum wrapped them (:mod:`dynamics.sources.parse.wrap`).

:class:`~dynamics.sources.parse.tables.TableScanner` sees every other line too.
"""

from __future__ import annotations

import re

from dynamics.sources.parse.clean import clean_line
from dynamics.sources.parse.collect import Collector
from dynamics.sources.parse.lexer import Row, Token, tokens
from dynamics.sources.parse.messages import Message
from dynamics.sources.parse.tables import TableScanner
from dynamics.sources.parse.wrap import (
    ends_cut,
    join_message,
    join_wrapped,
    may_continue_message,
    message_cut_in_epoch,
    value_cut,
)

_FAST_COUNTER = re.compile(r"[\s>]*(\d+)/(\d+|Unknown)\b")
_ETA = " - ETA: "
_GLUED_HEADER = re.compile(r"\SEpoch \d+/\d+")
_GLUED_HEADER_END = re.compile(r"\SEpoch \d+/\d+\s*$")


class LineScanner:
    """Turn visible lines into tokens for a :class:`Collector`; read the results at the end."""

    def __init__(self) -> None:
        self.collector = Collector()
        self.tables = TableScanner()  # tables and History dicts, used when no progress bar is found
        self.n_lines = 0
        self.blank = True
        self.held: str | None = None
        self.held_tokens: list[Token] = []
        self.pending = 0
        self.last_update = ""
        self.marked: str | None = None  # an update line with a message glued to it, until the next line
        self.previous_eta = False  # the line before was an update line
        self.stretch_more = False  # the first update line of this stretch held more than an update

    def line(self, line: str) -> None:
        """One visible line."""
        self.n_lines += 1
        self._next(line, _ETA in line)

    def region(self, text: str) -> None:
        """Many plain lines at once (``text`` split at ``\\n``), as a non-TTY capture writes them.

        Only the lines without `` - ETA: `` and the first and last of each
        run of update lines are looked at one by one; the updates between
        are counted with one subtraction.
        """
        lines = text.split("\n")
        n = len(lines)
        self.n_lines += n
        previous = -1
        for i in [i for i, line in enumerate(lines) if _ETA not in line] + [n]:
            first, last = previous + 1, i - 1  # a run of update lines, maybe empty
            if last - first > 1 and _stretch_read_by_line(lines[first]):
                # Keras <= 2.0.8 ended an epoch whose counter stopped short
                # with an ETA line (val_* in it) and no line break, so in a
                # paste every epoch is one such line, the next header glued
                # to it; a capture that lost "\r" of headerless fit(epochs=1)
                # calls has one line of updates and row per fit: each is
                # read. (Told from the first line of the stretch alone, so a
                # capture of a million updates stays one subtraction.)
                for j in range(first, last + 1):
                    self._next(lines[j], True)
            elif last >= first:
                self._next(lines[first], True)
                if last - first > 1:
                    self._resolve(True)
                    self._updates(last - first - 1, lines[last - 1])
                if last > first:
                    self._next(lines[last], True)
            if i < n:
                self._next(lines[i], False)
            previous = i

    def _next(self, line: str, eta: bool) -> None:
        """The next line in order; ``eta`` if it holds `` - ETA: ``."""
        more = eta and _more_than_update(line)
        if eta and not self.previous_eta:
            self.stretch_more = _stretch_read_by_line(line)
        # In a stretch read line by line, a message glued to the update
        # before the epoch's own (ETA) line counts, as before a row.
        self._resolve(eta and not (more and self.stretch_more))
        self.previous_eta = eta
        if not eta:
            self._other(line)
            return
        if more and self.stretch_more:
            # Not only an update: the epoch's own line (val_* values only
            # exist at its end), a row merged behind an update whose "\r" the
            # capture lost (a second counter), a header glued to the end --
            # at the start of a stretch of updates, or in a stretch that
            # starts so (what :meth:`region` reads line by line).
            self._other(line)
        elif more or "Epoch" in line or "Batch" in line or "Train" in line:
            # A callback message, a header or "Batch 3: Invalid loss" glued to
            # an update: Keras glues them to the last update of an epoch, so
            # it counts as a line of its own when no update follows it.
            self.marked = line
        else:
            self._updates(1, line)

    def _resolve(self, eta: bool) -> None:
        """Decide the marked update line, now that the next line is known (an update or not)."""
        if self.marked is not None:
            marked, self.marked = self.marked, None
            if eta:
                self._updates(1, marked)
            else:
                self._other(marked)

    def finish(self) -> None:
        """Hand on what is still held or pending."""
        self._resolve(False)
        self._release()
        if self.pending:
            self._flush()
            self.blank = False
        self.collector.finish()

    # -- the two kinds of line ------------------------------------------------
    def _updates(self, count: int, last: str) -> None:
        self._release()
        self.pending += count
        self.last_update = last

    def _other(self, line: str) -> None:
        line = clean_line(line)
        if not line:
            return
        previous = self.last_update if self.pending else self.held
        if self.pending:
            wrapped = _update_wrapped(self.last_update, line)
            if wrapped is not None:
                # An epoch's last line that keeps its ETA (Keras <= 2.0.8)
                # wrapped by a terminal: it was counted as an update, but its
                # rest holds the val_* values. Held as a row, it may go on.
                self.pending -= 1
                if self.pending:
                    self._flush()
                self.held, self.held_tokens = wrapped
                self.blank = False
                return
            self._flush()
        if previous and previous.rstrip()[-1:] in "Epoch0123456789:":
            line = message_cut_in_epoch(previous, line) or line
        self.blank = False
        self.tables.feed(line)
        if self.held is not None:
            joined = _join(self.held, self.held_tokens, line)
            if joined is not None:
                self.held, self.held_tokens = joined
                return
            self._release()
        found = tokens(line)
        if _may_go_on(line, found):
            self.held, self.held_tokens = line, found
            return
        self.collector.add_all(found)

    def _release(self) -> None:
        if self.held is not None:
            last = self.held_tokens[-1] if self.held_tokens else None
            if isinstance(last, Row) and last.metrics and value_cut(self.held):
                last.maybe_cut = True  # nothing continued it: the paste may stop inside this value
            self.collector.add_all(self.held_tokens)
            self.held = None

    def _flush(self) -> None:
        """Hand the pending updates to the collector; only the last one's counter matters."""
        m = _FAST_COUNTER.match(self.last_update)
        current = target = None
        if m is not None:
            current, target = int(m.group(1)), None if m.group(2) == "Unknown" else int(m.group(2))
        self.collector.progress(current, target, current is not None and current == target, count=self.pending)
        self.pending = 0


def _more_than_update(line: str) -> bool:
    """An ETA line that holds more: ``val_*``, a second counter, a glued header."""
    return " - val_" in line or line.count("/") > 1 or _GLUED_HEADER.search(line) is not None


def _stretch_read_by_line(first: str) -> bool:
    """Whether a stretch of update lines starting with ``first`` is read line by line.

    In a Keras <= 2.0.8 paste every line is an epoch's ETA row (a header
    glued to it) or an update with the epoch's callback message glued to
    it; a non-TTY capture's stretch starts with a plain first update.
    """
    return _more_than_update(first) or "Epoch" in first


def _update_wrapped(update: str, line: str) -> tuple[str, list[Token]] | None:
    """``update`` and ``line`` as one complete row, if ``line`` is the rest of that update line."""
    held = clean_line(update)
    if not held or not ends_cut(held) and not line.startswith("-"):
        return None
    found = tokens(held)
    if not found or not isinstance(found[-1], Row):
        return None
    joined = _join(held, found, line)
    if joined is None or not any(isinstance(t, Row) and t.complete for t in joined[1]):
        return None
    return joined


def _may_go_on(line: str, found: list[Token]) -> bool:
    """True if the next line may be the rest of ``line`` (a row or a message cut short)."""
    if found and isinstance(found[-1], Row):
        return True
    if _cut_message(line, found):
        return True
    return not any(isinstance(t, Row) for t in found) and ends_cut(line)


def _cut_message(line: str, found: list[Token]) -> bool:
    """A callback message that did not parse, or a checkpoint message cut before ``saving model to``."""
    messages = [t for t in found if isinstance(t, Message)]
    if not messages:
        return may_continue_message(line)
    last = messages[-1]
    return last is found[-1] and last.kind == "checkpoint_saved" and "saving" not in last.text and line.endswith(last.text)


def _join(held: str, held_tokens: list[Token], line: str) -> tuple[str, list[Token]] | None:
    """``held`` and ``line`` as one line, with its tokens, if ``line`` is the rest of it.

    The rest may end in the next header glued to it (Keras <= 2.0.8 wrote no
    line break after an epoch whose counter stopped short).
    """
    joined = _join_rest(held, held_tokens, line)
    if joined is None and "Epoch" in line:
        glued = _GLUED_HEADER_END.search(line)
        if glued is not None:
            first = _join_rest(held, held_tokens, line[: glued.start() + 1])
            if first is not None:
                text = first[0] + line[glued.start() + 1 :]
                return text, tokens(text)
    return joined


def _join_rest(held: str, held_tokens: list[Token], line: str) -> tuple[str, list[Token]] | None:
    text = join_wrapped(held, line)
    if text is not None:
        found = tokens(text)
        if found and isinstance(found[-1], Row) and found[-1].metrics:
            names = [name for name, _ in found[-1].metrics]
            before = held_tokens[-1].metrics if held_tokens and isinstance(held_tokens[-1], Row) else []
            if len(set(names)) == len(names) and len(names) >= len(before):
                return text, found
    if _cut_message(held, held_tokens):
        was = [(t.kind, t.monitor, t.value) for t in held_tokens if isinstance(t, Message)]
        for text in join_message(held, line):
            found = tokens(text)
            now = [(t.kind, t.monitor, t.value) for t in found if isinstance(t, Message)]
            if now and now[-1:] != was[-1:]:
                return text, found
    return None
