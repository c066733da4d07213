"""Parse what ``model.fit`` printed, in any Keras era, into :class:`~dynamics.run.Run` objects.

The pipeline, one module per step:

1. :mod:`~dynamics.parse.reader` -- bytes to the lines left on screen
   (``\\r`` redraws and ``\\b`` resolved, streaming, encodings sniffed);
2. :mod:`~dynamics.parse.clean` -- paste damage removed from a line;
   :mod:`~dynamics.parse.wrap` -- a row or message a terminal or forum
   wrapped is joined again (each row line is held back one line for that);
3. :mod:`~dynamics.parse.lexer` and :mod:`~dynamics.parse.messages` --
   headers, progress-bar rows, callback messages, ``Train on`` lines;
4. :mod:`~dynamics.parse.collect` -- runs and slots (progress only counted);
5. :mod:`~dynamics.parse.place` -- which line is an epoch's row, which epoch;
6. :mod:`~dynamics.parse.build` -- the :class:`~dynamics.run.Run` objects.

When no progress-bar epoch is found, :mod:`~dynamics.parse.tables` gives
the epoch tables and ``history.history`` dicts pasted among the prose
instead (a printed DataFrame, Markdown, CSV text).

Only complete end-of-epoch rows become table rows; the format notes this
follows are ``keras_log_formats.md`` (see README, "Formats supported").

These functions read *printed* logs only. :func:`dynamics.io.load_runs` (and
:func:`dynamics.io.parse_text`) also sniff CSVLogger files, History JSON, run
directories and standard input, and dispatch here for printed logs.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from dynamics.errors import InputError, NoEpochsError
from dynamics.parse.build import build_run
from dynamics.parse.clean import clean_line
from dynamics.parse.collect import Collector
from dynamics.parse.lexer import Row, Token, tokens
from dynamics.parse.messages import Message
from dynamics.parse.place import Placed, place
from dynamics.parse.reader import iter_screen_lines
from dynamics.parse.tables import TableScanner
from dynamics.parse.wrap import ends_cut, join_message, join_wrapped, may_continue_message, message_cut_in_epoch
from dynamics.run import Run

__all__ = ["parse_file", "parse_lines", "parse_stream", "parse_text"]

_FAST_COUNTER = re.compile(r"[\s>]*(\d+)/(\d+|Unknown)\b")


def parse_lines(lines: Iterable[str], *, source: str = "<text>") -> list[Run]:
    """Parse visible log lines (``\\r``/``\\b`` already resolved) into runs.

    Raises
    ------
    NoEpochsError
        When no complete end-of-epoch row is found; the message says what
        was found instead.
    """
    collector = Collector()
    n_lines = 0
    blank = True
    # A row (or callback message) line is held back one line: the next line
    # may be the rest of it, wrapped by a terminal or a forum.
    held: str | None = None
    held_tokens: list[Token] = []
    # Progress updates (a non-TTY capture prints one line per batch) are only
    # counted here; the counter of the last one is read when they end.
    pending, last_update = 0, ""
    tables = TableScanner()  # tables and History dicts, used when no progress bar is found
    for line in lines:
        n_lines += 1
        if " - ETA: " in line and "Epoch" not in line and "Batch" not in line and "Train" not in line:
            if held is not None:
                collector.add_all(held_tokens)
                held = None
            pending, last_update = pending + 1, line
            continue
        line = clean_line(line)
        if not line:
            continue
        previous = last_update if pending else held
        if pending:
            _flush_progress(collector, pending, last_update)
            pending = 0
        if previous and previous.rstrip()[-1:] in "Epoch0123456789:":
            line = message_cut_in_epoch(previous, line) or line
        blank = False
        tables.feed(line)
        if held is not None:
            joined = _join(held, held_tokens, line)
            if joined is not None:
                held, held_tokens = joined
                continue
            collector.add_all(held_tokens)
            held = None
        found = tokens(line)
        if _may_go_on(line, found):
            held, held_tokens = line, found
            continue
        collector.add_all(found)
    if held is not None:
        collector.add_all(held_tokens)
    if pending:
        _flush_progress(collector, pending, last_update)
        blank = False
    placed = [p for raw in collector.runs for p in place(raw)]
    kept = [p for p in placed if p.units]
    if not kept:
        found = tables.runs(source)
        if found:
            return found
        raise NoEpochsError(_nothing_found(source, n_lines, blank, collector, placed))
    runs: list[Run] = []
    lost: int | None = None  # a run that ended inside this epoch before any complete one
    for p in placed:
        if not p.units:
            lost = p.interrupted if p.interrupted is not None else lost
            continue
        run = build_run(p, source=source, run_index=len(runs))
        if lost is not None:
            run.meta.notes.append(f"a run before this one ended inside epoch {lost} without a complete epoch")
            lost = None
        runs.append(run)
    return runs


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
    """``held`` and ``line`` as one line, with its tokens, if ``line`` is the rest of it."""
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


def _counter(line: str) -> tuple[int | None, int | None]:
    m = _FAST_COUNTER.match(line)
    if m is None:
        return None, None
    return int(m.group(1)), None if m.group(2) == "Unknown" else int(m.group(2))


def _flush_progress(collector: Collector, count: int, last: str) -> None:
    """Hand ``count`` progress updates to the collector; only the last one's counter matters."""
    current, target = _counter(last)
    collector.progress(current, target, current is not None and current == target, count=count)


def _nothing_found(source: str, n_lines: int, blank: bool, collector: Collector, placed: list[Placed]) -> str:
    head = f"no complete training epoch in {source}"
    if n_lines == 0:
        return f"{source} is empty: no training log to read"
    if blank:
        return f"{source} holds only blank lines: no training log to read"
    interrupted = [p for p in placed if p.interrupted is not None]
    progress = sum(s.progress for raw in collector.runs for s in raw.slots)
    if interrupted:
        event = next(e for e in reversed(interrupted[-1].events) if e.kind == "interrupted")
        return f"{head}: {event.message}"
    if collector.headers:
        return f"{head}: {collector.headers} 'Epoch k/N' header(s) but no end-of-epoch row"
    if progress:
        return f"{head}: {progress} progress update(s) but no end-of-epoch row"
    return f"{head}: no Keras progress bar, epoch row or 'Epoch k/N' header in {n_lines} line(s)"


def parse_stream(stream: BinaryIO, *, source: str = "<stream>") -> list[Run]:
    """Parse a binary stream in chunks (memory does not grow with its size)."""
    return parse_lines(iter_screen_lines(stream, source), source=source)


def parse_text(text: str | bytes, *, source: str = "<text>") -> list[Run]:
    """Parse a log held in a string (or bytes), as pasted or as captured.

    >>> run = parse_text("Epoch 1/2\\n10/10 [==============================] - 1s - loss: 0.5 - acc: 0.8\\n")[0]
    >>> run.epochs
           loss  accuracy
    epoch
    1       0.5       0.8
    >>> run.meta.epochs_declared, run.meta.interrupted_epoch
    (2, None)
    """
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    return parse_stream(io.BytesIO(data), source=source)


def parse_file(path: str | Path, *, source: str | None = None) -> list[Run]:
    """Parse a log file, streaming it."""
    path = Path(path)
    try:
        with path.open("rb") as stream:
            return parse_stream(stream, source=source or str(path))
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
