"""Read a ``keras.callbacks.CSVLogger`` file (keras_log_formats.md §8).

The header is ``epoch`` then the log keys in alphabetical order; the
``epoch`` column is the 0-based hook index, shown here 1-based as the
progress bar prints it; missing values are ``NA`` (Keras >= 2.0.7) or empty;
the separator is whatever the user passed (``,`` by default). A file written
with ``append=True`` by a resumed run continues the epoch count, or starts
again from 0 -- that starts a new run. A header repeated mid-file (a second
logger on the same path) starts a new run too. A last line cut short by a
killed run is left out and noted.
"""

from __future__ import annotations

import csv
import io
import math
import re

from dynamics.errors import InputError, NoEpochsError
from dynamics.run import Run, RunMeta, canonical_metric_name, make_epoch_table

_HEADER = re.compile(r'^\s*"?epoch"?(?P<sep>[ ]*[,;|][ ]*|\t|[ ]+)"?[A-Za-z_]')
_MISSING = {"", "na", "n/a", "none", "null"}


def looks_like_csvlogger(head: str) -> bool:
    """True if the first non-blank line is a CSVLogger header (``epoch,loss,...``).

    >>> looks_like_csvlogger("\\nepoch,loss,val_loss\\n0,0.5,0.6\\n")
    True
    >>> looks_like_csvlogger("Epoch 1/10\\n")
    False
    """
    for line in head.splitlines():
        if line.strip():
            return _HEADER.match(line) is not None
    return False


def _separator(header: str) -> str | None:
    m = _HEADER.match(header)
    if m is None:
        return None
    sep = m.group("sep")
    return "\t" if "\t" in sep else (sep.strip() or " ")


def read_csvlogger(text: str, *, source: str = "<csv>") -> list[Run]:
    """Parse CSVLogger output into runs.

    >>> run = read_csvlogger("epoch,loss,val_loss\\n0,0.5,NA\\n1,0.4,0.45\\n")[0]
    >>> run.epochs
           loss  val_loss
    epoch
    1       0.5       NaN
    2       0.4      0.45
    """
    lines = [line for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n") if line.strip()]
    if not lines:
        raise NoEpochsError(f"no complete training epoch in {source}: the CSV file is empty")
    sep = _separator(lines[0])
    if sep is None:
        raise InputError(f"{source} is not a CSVLogger file: its first line does not start with 'epoch'")
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=sep, skipinitialspace=True)
    sections: list[tuple[list[str], list[list[str]]]] = []
    header: list[str] = []
    notes: list[str] = []
    last_epoch: float | None = None
    for fields in reader:
        fields = [f.strip() for f in fields]
        if fields and fields[0].strip('"').lower() == "epoch":
            header = fields
            sections.append((header, []))
            last_epoch = None
            continue
        if len(fields) != len(header):
            notes.append(f"a line with {len(fields)} fields instead of {len(header)} was left out (cut short?)")
            continue
        try:
            epoch = float(fields[0])
        except ValueError:
            notes.append(f"a line whose epoch is {fields[0]!r} was left out")
            continue
        if last_epoch is not None and epoch <= last_epoch:
            sections.append((header, []))  # appended by a restarted run
        sections[-1][1].append(fields)
        last_epoch = epoch
    runs = [r for r in (_section_run(h, rows, source, notes) for h, rows in sections if rows) if r is not None]
    if not runs:
        raise NoEpochsError(f"no complete training epoch in {source}: the CSV file has a header but no rows")
    for index, run in enumerate(runs):
        run.meta.run_index = index
    return runs


def _section_run(header: list[str], rows: list[list[str]], source: str, notes: list[str]) -> Run | None:
    printed = header[1:]
    columns: dict[str, str] = {}
    for name in printed:
        canonical = canonical_metric_name(name)
        columns[name] = canonical if canonical not in columns.values() else name
    table: dict[int, dict[str, float]] = {}
    printed_nan: dict[str, list[int]] = {}
    skipped: set[str] = set()
    for fields in rows:
        epoch = int(float(fields[0])) + 1
        values: dict[str, float] = {}
        for name, text in zip(printed, fields[1:]):
            column = columns[name]
            if text.lower() in _MISSING:
                continue
            try:
                value = float(text)
            except ValueError:
                skipped.add(name)  # a list written by handle_value, e.g. per-class values
                continue
            values[column] = value
            if math.isnan(value):
                printed_nan.setdefault(column, []).append(epoch)
        table[epoch] = values
    meta = RunMeta(
        source=source,
        format="csvlogger",
        metric_names={columns[name]: name for name in printed if name not in skipped},
        printed_nan=printed_nan,
        notes=list(notes),
    )
    if skipped:
        meta.notes.append(f"non-numeric columns left out: {', '.join(sorted(skipped))}")
    kept = [columns[name] for name in printed if name not in skipped]
    return Run(make_epoch_table(table, columns=kept), meta)
