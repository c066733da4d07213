"""Epoch tables written as delimited text: cells, numbers, headers, and a table turned into a Run.

Shared by the two readers of such tables -- the CSVLogger / ``to_csv``
reader (:mod:`dynamics.sources.csvlogger`) and the printed-table reader of the
log parser (:mod:`dynamics.sources.parse.tables`) -- so that a cell means the same
number and a header the same columns in both. Missing values are ``NA``
(Keras >= 2.0.7), empty, ``none`` or ``null``; a decimal comma is read
(spreadsheets in many locales); a first column ``epoch`` or pandas' unnamed
index numbers the epochs.
"""

from __future__ import annotations

import csv
import math
import re

from dynamics.run import Run, RunMeta, canonical_metric_name, make_epoch_table

__all__ = ["fields", "has_index", "number", "table_header", "table_run"]

_HEADER = re.compile(r'^\s*"?epoch"?(?P<sep>[ ]*[,;|][ ]*|\t|[ ]+)"?[A-Za-z_]', re.IGNORECASE)
_MISSING = {"", "na", "n/a", "none", "null"}
_NAME = re.compile(r"[A-Za-z_][\w.\-/ :]*")
_PANDAS_INDEX = re.compile(r"unnamed: \d+|index|")
#: First columns that hold pandas' 0-based row index rather than a metric.
_INDEX_NAMES = {"", "unnamed: 0", "index"}
_SEPARATORS = (",", "\t", ";", "|")


def fields(line: str, sep: str) -> list[str]:
    """The cells of one line split at ``sep`` (runs of spaces for ``" "``), unquoted and stripped.

    >>> fields('"epoch", loss ,val_loss', ","), fields("1  0.5 0.6", " ")
    (['epoch', 'loss', 'val_loss'], ['1', '0.5', '0.6'])
    """
    if sep == " ":
        return line.split()
    return [f.strip().strip('"').strip() for f in next(csv.reader([line], delimiter=sep, skipinitialspace=True), [])]


def number(text: str) -> float | None:
    """A cell as a float; ``None`` for a missing value (``NA``, empty); ``ValueError`` otherwise.

    >>> number("0.5"), number("NA"), number("0,25"), number("nan")
    (0.5, None, 0.25, nan)
    """
    text = text.strip()
    if text.lower() in _MISSING:
        return None
    try:
        return float(text)
    except ValueError:
        if text.count(",") == 1 and "." not in text:
            return float(text.replace(",", "."))  # a decimal comma (raises if still not a number)
        raise


def _numeric(cells: list[str]) -> bool:
    try:
        for f in cells:
            number(f)
    except ValueError:
        return False
    return True


def table_header(line: str, following: str | None = None) -> tuple[str, list[str]] | None:
    """``(separator, names)`` if ``line`` is the header of an epoch table, else None.

    A header starting with ``epoch`` is enough (CSVLogger); otherwise every
    name must look like a name, one must look like a Keras key (``loss``,
    ``acc``, ``val_*``), and ``following`` (the next non-blank line) must be
    numbers, as many as the names.

    >>> table_header(",loss,accuracy,val_loss", "0,0.5,0.7,0.6")
    (',', ['', 'loss', 'accuracy', 'val_loss'])
    >>> table_header("Epoch 1/10", "1/10 [====] - loss: 0.5") is None
    True
    """
    line = line.strip(" \r\n\ufeff")  # not tabs: a leading tab is an empty first column
    m = _HEADER.match(line)
    if m is not None:
        sep = m.group("sep")
        sep = "\t" if "\t" in sep else (sep.strip() or " ")
        return sep, fields(line, sep)
    if following is None:
        return None
    if not any(sep in line for sep in _SEPARATORS):
        # one column (``df[["loss"]].to_csv(index=False)``): a Keras name over a number
        one = fields(following, ",")
        if " " not in line and _NAME.fullmatch(line) and _keras_names([line]) and len(one) == 1 and _numeric(one):
            return ",", [line]
        return None
    for sep in _SEPARATORS:
        if sep not in line:
            continue
        names = fields(line, sep)
        if len(names) < 2 or not _keras_names(names):
            return None
        values = fields(following.strip(" \r\n"), sep)
        if len(values) == len(names) and _numeric(values):
            return sep, names
        return None
    return None


def _keras_names(names: list[str]) -> bool:
    """Names a History has: a Keras key among them, or behind pandas' index column."""
    first, rest = names[0], names[1:]
    if first.lower() not in _INDEX_NAMES:
        rest = names
    if not rest or not all(_NAME.fullmatch(n) for n in rest):
        return False
    return rest is not names or any("loss" in n.lower() or "acc" in n.lower() or n.startswith("val_") for n in rest)


def has_index(header: list[str]) -> bool:
    """True if the first column numbers the epochs (``epoch``, or pandas' unnamed index)."""
    return header[0].lower() in _INDEX_NAMES or header[0].lower() == "epoch"


def table_run(
    header: list[str],
    rows: list[list[str]],
    *,
    source: str,
    fmt: str,
    notes: list[str] | None = None,
    one_based: bool = False,
) -> Run:
    """One run from a table's header and rows of cells.

    The first column numbers the epochs when it is ``epoch`` or pandas'
    unnamed index (0-based unless ``one_based``); otherwise the rows are
    epochs 1..n, marked inferred.
    """
    indexed = has_index(header)
    printed = header[1:] if indexed else list(header)
    # A table read by pandas and written again holds its old index as "Unnamed: 0".
    dropped = {name for name in printed if _PANDAS_INDEX.fullmatch(name.lower())}
    columns: dict[str, str] = {}
    for name in printed:
        canonical = canonical_metric_name(name)
        columns[name] = canonical if canonical not in columns.values() else name
    table: dict[int, dict[str, float]] = {}
    printed_nan: dict[str, list[int]] = {}
    skipped: set[str] = set()
    notes = list(notes or [])
    for i, cells in enumerate(rows):
        epoch = int(float(cells[0])) + (0 if one_based else 1) if indexed else i + 1
        if epoch < 1:
            notes.append(f"a row numbered {cells[0]} was left out: it is before the first epoch")
            continue
        values: dict[str, float] = {}
        for name, text in zip(printed, cells[1:] if indexed else cells):
            if name in dropped:
                continue
            column = columns[name]
            try:
                value = number(text)
            except ValueError:
                skipped.add(name)  # a list written by handle_value, e.g. per-class values
                continue
            if value is None:
                continue
            values[column] = value
            if math.isnan(value):
                printed_nan.setdefault(column, []).append(epoch)
        table[epoch] = values
    meta = RunMeta(
        source=source,
        format=fmt,
        metric_names={columns[name]: name for name in printed if name not in skipped | dropped},
        printed_nan=printed_nan,
        notes=notes,
    )
    if not indexed:
        meta.inferred_epochs = sorted(table)
        meta.notes.append("no epoch column: rows are taken as epochs 1 to %d, in order" % len(table))
    elif header[0].lower() != "epoch":
        base = "1-based" if one_based else "0-based, shown 1-based"
        meta.notes.append(f"epochs from the unnamed first column (pandas' row index, {base})")
    if skipped:
        meta.notes.append(f"non-numeric columns left out: {', '.join(sorted(skipped))}")
    kept = [columns[name] for name in printed if name not in skipped | dropped]
    epochs = sorted(table)
    meta.elided = [(a + 1, b - 1) for a, b in zip(epochs, epochs[1:]) if b > a + 1]
    return Run(make_epoch_table(table, columns=kept), meta)
