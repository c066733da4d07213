"""Recognise what one cleaned line holds: headers, rows, progress, messages.

A line may hold several things (a header glued to its row, a whole log
collapsed into one line, a callback message glued to a progress bar), so
:func:`tokens` first cuts the line before every *anchor* -- ``Epoch k/N``,
``Epoch 00020:``, ``Batch 3: Invalid loss``, ``Train on ...``, a progress
counter -- and then reads each piece. A line that is only ``....`` marks
epochs the poster left out.

The row grammar covers every era in docs/keras-formats.md::

    [counter] [bar] time-fields - name: value - name: value ... [- 21s/epoch - 19ms/step]

with the bar ``[====>...]`` (Keras 1/2, tf.keras), twenty ``━`` or ``=``
without brackets (Keras 3), or none (verbose=2), and time fields ``- 300s``,
``- 136s 1ms/step``, ``12s 17ms/step``, ``- ETA: 1:02:03``.

What real pastes do to it is read too: a counter glued to the text before
it (a lost ``\r``), a bar without its ``[`` or ``]`` or with the time put in
its brackets, stale text of a longer update after the last value. A row is
complete by its values -- ``val_*`` present, or the counter at its target
without an ETA -- not by its decoration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dynamics.sources.parse.messages import (
    Message,
    TrainOn,
    parse_message,
    parse_train_on,
)

#: A printed value: ``0.1234``, ``1.0000e-04``, ``nan``, ``inf``, ``-inf``, a bare integer.
NUMBER = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|[Nn]a[Nn]|[Ii]nf(?:inity)?)"

_ANCHOR = re.compile(
    r"(?P<hdr>Epoch\s+(?P<hk>\d{1,9})\s*/\s*(?P<hn>\d{1,9}))"
    r"|(?P<msg>Epoch\s+\d{1,9}:\s)"
    r"|(?P<batch>Batch\s+\d{1,9}:\s*Invalid loss)"
    r"|(?P<restore>Restoring model weights)"
    r"|(?P<train>Train (?:on|for) \d+ (?:samples|steps))"
    r"|(?<=\s)(?P<ctr>\d+/(?:\d+|Unknown)(?=\s*(?:\[|-\s+\d|[^\x00-\x7f]|=)))"
    # A counter glued to the text before it: an update or a row whose "\r" a
    # capture lost ("loss: 0.51231875/1875 [===" -- Keras pads the counter to
    # the target's width, so the last digits before "/" are the counter).
    r"|(?<=[^\s\d/])(?P<gctr>\d+/\d+(?=\s*(?:\[|-\s+\d|[^\x00-\x7f]|=+\]?\s)))"
)
#: A line the poster (or a tool that shortened the output) put where lines
#: were left out: ``....``, ``…``, ``⋮``, ``[...]``, ``... (skipped) ...``,
#: ``<<396 more lines>>``, ``[... 50 lines omitted ...]``, ``(12 lines hidden)``,
#: VS Code's ``Output is truncated. View as a scrollable element ...``.
_ELLIPSIS = re.compile(
    r"[\[(<]*\s*(?:(?:\.\s?){3,}|[…⋮⋯])"
    r"|[\[(<]*\s*(?:\.{3}|…)?\s*\d[\d,]*\s+(?:more\s+)?(?:lines?|rows?|outputs?)\b"
    r"(?:\s+(?:more|omitted|skipped|truncated|hidden|removed|not shown|cut))?\s*(?:\.{3}|…)?\s*[\])>]*\s*$"
    r"|[\[(<]*\s*(?:\.{3}|…)?\s*(?:output\s+(?:is\s+|was\s+)?truncated\b|truncated(?:\s+output)?\s*[.…\])>]*\s*$)",
    re.IGNORECASE,
)
_SEP = re.compile(r"\s+-\s+")
_GLUED_COUNTER = re.compile(r"/(\d+)\s*(?:\[|[^\x00-\x7f]|-\s)")
_METRIC = re.compile(r"((?:val\. )?[A-Za-z_][\w.\-/]*)\s*:\s*(" + NUMBER + r")(?=\s|$|,)")
#: The last value of a row with stale text of a longer, earlier update after
#: it (``val_acc: 0.8593ss: 0.4521``): the value as Keras prints it, then
#: anything that cannot continue a number.
_METRIC_STALE = re.compile(
    r"((?:val\. )?[A-Za-z_][\w.\-/]*)\s*:\s*([-+]?\d+\.\d{4}(?:[eE][-+]\d{2,3})?|nan|-?inf)"
    r"(?=[^\d\s.eE,]|[eE](?![-+]?\d)|\.\d)"
)
#: As above, with digits right after the value (``0.06252.5514``): four
#: decimals are Keras's, the rest is debris -- believed only when every
#: other value of the row shows four decimals too.
_METRIC_STALE_DIGITS = re.compile(r"((?:val\. )?[A-Za-z_][\w.\-/]*)\s*:\s*([-+]?\d+\.\d{4})(?=\S)")
#: A value as every era's Progbar prints it: ``%.4f``, ``%.4e``, ``nan``, ``inf``.
_KERAS_VALUE = re.compile(r"[-+]?\d+\.\d{4}(?:[eE][-+]\d{2,3})?|nan|-?inf")
_LONG_DECIMALS = re.compile(r"([-+]?\d+\.\d{4})\d+")
_PREFIX = re.compile(
    r"(?:(?P<cur>\d+)\s*/\s*(?P<tgt>\d+|Unknown)\s*)?"
    # the bar: "[====>...]", one that lost its "[" or its "]", or Keras 3's "━━━"
    r"(?:\[(?P<bar>[^\]]*)\]|(?P<bar2>[=>.]+\])|\[(?P<bar3>[=>.]+)(?=\s|$)|(?P<k3>(?:[^\x00-\x7f\s]|[=?])+)(?=\s|$))?\s*"
    r"(?P<rest>.*)"
)
_ELAPSED = re.compile(r"(\d+(?:\.\d+)?)s")
_PER_UNIT = re.compile(r"(\d+(?:\.\d+)?)(s|ms|us|µs|μs)/(step|sample|epoch)")
_CLOCK = re.compile(r"\d+:\d\d(?::\d\d)?")
_UNIT_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "μs": 1e-6}


@dataclass(frozen=True)
class Header:
    """``Epoch k/N`` (``total`` is None for Keras 0.1's 0-based ``Epoch k``).

    ``glued`` marks a header stuck to the end of a complete row (the paste
    lost the line break); it counts only if it is the next epoch.
    """

    epoch: int
    total: int | None
    glued: bool = False
    after_row: bool = False  # glued to a complete row (not to an update)


@dataclass(frozen=True)
class Elision:
    """A ``....`` / ``…`` line: the poster left epochs out."""


@dataclass
class Row:
    """One progress-bar line: a complete end-of-epoch row or an update.

    ``complete`` is True for a line at its target with no ETA; whether it is
    really the epoch's row is decided later, with its neighbours.
    """

    metrics: list[tuple[str, str]]
    current: int | None = None
    target: int | None = None
    bar: str | None = None  # "bracket", "keras3" or None (verbose=2)
    eta: bool = False
    elapsed: float | None = None
    per_unit: float | None = None
    unit: str | None = None  # "step" or "sample"
    epoch_seconds: float | None = None  # tf.keras >= 2.7 verbose=2 "21s/epoch"
    leading_dash: bool = False
    per_unit_first: bool = False  # time per step printed before the metrics (Keras 3 verbose=2)
    maybe_cut: bool = False  # the line ends in a value shorter than Keras prints (a paste cut short?)
    ended: bool = False  # the next epoch's header is glued to this line: Keras ended the epoch here
    stale: bool = False  # text of an earlier, longer update was left after the row (and dropped)
    aside: bool = False  # one line under another counter total, no val_*: evaluate() output

    @property
    def complete(self) -> bool:
        """Judged by the values, not the decoration: ``val_*`` values exist
        only once an epoch has ended (Keras <= 2.0.8 printed its last line
        with ``ETA: 0s`` when the counter stopped short of its target)."""
        if self.ended or self.has_val:
            return True
        if self.eta:
            return False
        if self.target is not None:
            return self.current == self.target
        return self.bar == "bracket" or self.elapsed is not None

    @property
    def has_val(self) -> bool:
        return any(name.startswith(("val_", "val. ")) for name, _ in self.metrics)

    @property
    def style(self) -> str:
        """The era this row's layout points to (see docs/keras-formats.md#1-how-to-tell-the-eras-apart)."""
        if self.bar == "keras3" or (self.bar is None and self.per_unit_first):
            return "keras3"
        if self.unit == "sample" or self.epoch_seconds is not None:
            return "tfkeras"
        if self.bar is None and self.current is not None:
            return "tfkeras"
        if self.bar is None:
            return "keras2" if self.leading_dash else "keras1"
        return "keras2" if self.per_unit is not None else "keras1"


Token = Header | Elision | Row | Message | TrainOn

_ELISION_STARTS = frozenset(".[(<…⋮⋯oOtT")


def parse_row(text: str) -> Row | None:
    """Read one piece of a line as a progress-bar line, or return None.

    >>> r = parse_row("4451/4451 [==============================] - 4s 805us/step - loss: 0.0291 - val_loss: 0.0265")
    >>> (r.complete, r.elapsed, r.per_unit, r.metrics)
    (True, 4.0, 0.000805, [('loss', '0.0291'), ('val_loss', '0.0265')])
    >>> parse_row("  3/234 [..............................] - ETA: 33:37:24 - loss: 44.4110").complete
    False
    """
    text = text.strip()
    leading_dash = text.startswith("-")
    if leading_dash:
        text = text[1:].lstrip()
    pieces = _SEP.split(text)
    metrics: list[tuple[str, str]] = []
    before: list[str] = []
    after: list[str] = []
    stale = False
    digits_stale = False
    for piece in pieces:
        m = _METRIC.match(piece) if not stale else None
        if m is None and not stale:
            m = _METRIC_STALE.match(piece)
            if m is None:
                m = _METRIC_STALE_DIGITS.match(piece)
                digits_stale = m is not None
            stale = m is not None  # what follows is debris of an earlier, longer update
        if m is not None:
            metrics.append((m.group(1), m.group(2)))
        elif not metrics:
            before.append(piece)
        elif not stale:
            after.append(piece)
    if not before:
        return None
    if digits_stale and not (len(metrics) >= 2 and all(_KERAS_VALUE.fullmatch(v) for _, v in metrics[:-1])):
        metrics.pop()  # nothing shows where the value ends
    if not stale and len(metrics) >= 2:
        # Digits a longer update left after the row's last value: Keras prints
        # four decimals, and every value before it shows four. What follows
        # (" - extra: 1.2345") is that update's text too.
        for j in range(1, len(metrics)):
            if not _KERAS_VALUE.fullmatch(metrics[j - 1][1]):
                break
            long = _LONG_DECIMALS.fullmatch(metrics[j][1])
            if long is not None:
                metrics[j:] = [(metrics[j][0], long.group(1))]
                stale = True
                break
    m = _PREFIX.fullmatch(" ".join(before))
    if m is None:
        return None
    row = Row(metrics, leading_dash=leading_dash, stale=stale)
    if m.group("cur") is not None:
        row.current = int(m.group("cur"))
        tgt = m.group("tgt")
        row.target = None if tgt == "Unknown" else int(tgt)
        if row.target is None:
            row.eta = True  # an unknown target is never an epoch's last line
    bar = m.group("bar")
    if bar is None and (m.group("bar2") or m.group("bar3")):
        bar = (m.group("bar2") or m.group("bar3")).rstrip("]")  # a bracket lost in the paste
    if bar is not None:
        inner = bar.strip()
        if inner.strip("=") and not inner.strip("=>."):  # ">" or "." left: the epoch is still running
            row.bar = "partial"
        else:
            row.bar = "bracket"
            if inner.strip("="):
                # Something else in the brackets: a poster who put the time
                # in place of the bar ("[6s 3ms/step]").
                _read_times(inner, row, before=False)
    elif m.group("k3") is not None:
        row.bar = "keras3"
    if not _read_times(m.group("rest"), row, before=True):
        return None
    for piece in after:
        _read_times(piece, row, before=False)
    if row.current is None and row.bar is None and row.elapsed is None:
        return None  # bare "name: value" text is prose, not a Keras line
    if not metrics and not row.eta and row.bar is None:
        return None
    if row.bar == "partial":
        row.eta = True
    return row


def _read_times(text: str, row: Row, *, before: bool) -> bool:
    """Read ``ETA: 2s``, ``300s``, ``1ms/step``, ``21s/epoch``; False on anything else."""
    words = text.replace(" - ", " ").split()
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("-", ""):
            pass
        elif word.rstrip(":") == "ETA":
            row.eta = True
            i += 1  # the ETA value itself
        elif (m := _PER_UNIT.fullmatch(word)) is not None:
            seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
            if m.group(3) == "epoch":
                row.epoch_seconds = seconds
            else:
                row.per_unit, row.unit = seconds, m.group(3)
                row.per_unit_first = before and row.bar is None and row.current is not None
        elif (m := _ELAPSED.fullmatch(word)) is not None:
            if row.elapsed is None:
                row.elapsed = float(m.group(1))
        elif _CLOCK.fullmatch(word):
            row.eta = True  # h:mm:ss is only ever an ETA; a final row shows seconds
        elif before:
            return False
        i += 1
    return True


def _glued_counter_start(m: re.Match[str]) -> int | None:
    """Where a counter glued to the text before it starts, or None if it cannot be one.

    Keras pads the current count to the target's width, so only that many
    digits before ``/`` can belong to it (``0.5123`` + ``1875/1875``).
    """
    digits, target = m.group("gctr").split("/")
    width = len(target)
    if len(digits) <= width:
        return m.start()
    current = digits[-width:]
    if current[0] == "0" or int(current) > int(target):
        return None
    return m.start() + len(digits) - width


def _cut(line: str) -> list[tuple[str, re.Match[str] | None]]:
    """Split a line before each anchor; each piece comes with its anchor match."""
    pieces: list[tuple[str, re.Match[str] | None]] = []
    start, anchor = 0, None
    for m in _ANCHOR.finditer(line):
        at = m.start() if m.lastgroup != "gctr" else _glued_counter_start(m)
        if at is None:
            continue
        if at > start or anchor is not None:
            pieces.append((line[start:at], anchor))
        start, anchor = at, m
    pieces.append((line[start:], anchor))
    return pieces


def tokens(line: str) -> list[Token]:
    """Everything a cleaned line holds, in order.

    >>> [type(t).__name__ for t in tokens("Epoch 4/10 20165/20165 [====] - 54s 3ms/step - loss: 0.1470")]
    ['Header', 'Row']
    >>> found = tokens("99/100 [===>.] - ETA: 2s - loss: nanEpoch 1/1000")
    >>> [type(t).__name__ for t in found], found[-1].glued  # the collector keeps it only as the next epoch
    (['Row', 'Header'], True)
    >>> [type(t).__name__ for t in tokens("  32/1875 [>...] - ETA: 3s - loss: 0.51231875/1875 [====] - 5s - loss: 0.4")]
    ['Row', 'Row']
    """
    if not line:
        return []
    if line.startswith("Epoch ") and line[6:].isdigit():
        return [Header(int(line[6:]) + 1, None)]  # Keras 0.1: "Epoch 0", 0-based
    if (line[0] in _ELISION_STARTS or line[0].isdigit()) and ":" not in line and _ELLIPSIS.match(line):
        return [Elision()]
    out: list[Token] = []
    for text, anchor in _cut(line):
        rest = text
        if anchor is not None:
            kind = anchor.lastgroup
            if kind == "hdr":
                total = anchor.group("hn")
                rest = text[anchor.end() - anchor.start() :]
                glued = _GLUED_COUNTER.match(rest)
                if glued is not None and len(total) > len(glued.group(1)):
                    # "Epoch 1/10469/469 [===]": a notebook copy lost the line
                    # break. Keras pads the counter to the target's width, so
                    # only a counter of that many digits can be glued: they
                    # are the end of what looks like the total.
                    width = len(glued.group(1))
                    current = total[-width:]
                    if current[0] != "0" and int(current) <= int(glued.group(1)):
                        rest = current + rest
                        total = total[:-width]
                header = Header(int(anchor.group("hk")), int(total))
                if anchor.start() == 0 or line[anchor.start() - 1].isspace():
                    out.append(header)
                elif out and isinstance(out[-1], Row) and out[-1].metrics:
                    # Glued to a row or an update: it counts only as the next
                    # epoch (Keras <= 2.0.8 wrote no line break after an epoch
                    # whose counter stopped short); "...0.2445Epoch 1/1000" in
                    # the middle of epoch 308 is a nested fit's header.
                    out.append(Header(header.epoch, header.total, glued=True, after_row=out[-1].complete))
                else:
                    # Glued to a line without values: a download bar that
                    # stopped short ("...ETA: 0sEpoch 1/3"), prose, a message.
                    out.append(header)
            elif kind == "train":
                found = parse_train_on(text)
                if found is not None:
                    out.append(found[0])
                    rest = text[found[1] :]
            elif kind in ("msg", "batch", "restore"):
                found_msg = parse_message(text)
                if found_msg is not None:
                    out.append(found_msg[0])
                    rest = text[found_msg[1] :]
        if rest.strip() and (":" in rest or "/" in rest):
            row = parse_row(rest)
            if row is not None:
                out.append(row)
    return out
