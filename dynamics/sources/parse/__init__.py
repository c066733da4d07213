"""Parse what ``model.fit`` printed, in any Keras era, into :class:`~dynamics.run.Run` objects.

The pipeline, one module per step:

1. :mod:`~dynamics.sources.parse.reader` -- bytes to the lines left on screen
   (``\\r`` redraws and ``\\b`` resolved, streaming, encodings sniffed);
2. :mod:`~dynamics.sources.parse.scan` -- progress updates counted in bulk, the
   other lines cleaned (:mod:`~dynamics.sources.parse.clean`: paste damage removed)
   and a row or message a terminal or forum wrapped joined again
   (:mod:`~dynamics.sources.parse.wrap`);
3. :mod:`~dynamics.sources.parse.lexer` and :mod:`~dynamics.sources.parse.messages` --
   headers, progress-bar rows, callback messages, ``Train on`` lines;
4. :mod:`~dynamics.sources.parse.collect` -- runs and slots (progress only counted);
5. :mod:`~dynamics.sources.parse.place` -- which line is an epoch's row, which epoch;
6. :mod:`~dynamics.sources.parse.build` -- the :class:`~dynamics.run.Run` objects.

When no progress-bar epoch is found, :mod:`~dynamics.sources.parse.tables` gives
the epoch tables and ``history.history`` dicts pasted among the prose
instead (a printed DataFrame, Markdown, CSV text).

Only complete end-of-epoch rows become table rows; the format reference this
follows is docs/keras-formats.md (what is read, and what not: docs/formats.md).

These functions read *printed* logs only. :func:`dynamics.sources.io.load_runs` (and
:func:`dynamics.sources.io.parse_text`) also sniff CSVLogger files, History JSON, run
directories and standard input, and dispatch here for printed logs.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from dynamics.errors import InputError, NoEpochsError
from dynamics.run import Run
from dynamics.sources.parse.build import build_run
from dynamics.sources.parse.collect import Collector
from dynamics.sources.parse.place import Placed, place
from dynamics.sources.parse.reader import Region, iter_screen_items
from dynamics.sources.parse.scan import LineScanner

__all__ = ["parse_file", "parse_lines", "parse_stream", "parse_text"]

def parse_lines(lines: Iterable[str], *, source: str = "<text>") -> list[Run]:
    """Parse visible log lines (``\\r``/``\\b`` already resolved) into runs.

    Raises
    ------
    NoEpochsError
        When no complete end-of-epoch row is found; the message says what
        was found instead.
    """
    scanner = LineScanner()
    for line in lines:
        if type(line) is Region:
            scanner.region(line)
        else:
            scanner.line(line)
    scanner.finish()
    collector, tables = scanner.collector, scanner.tables
    placed = [p for raw in collector.runs for p in place(raw)]
    kept = [p for p in placed if p.units]
    if not kept:
        found = tables.runs(source)
        if found:
            return found
        raise NoEpochsError(_nothing_found(source, scanner.n_lines, scanner.blank, collector, placed))
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
    return parse_lines(iter_screen_items(stream, source), source=source)


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
