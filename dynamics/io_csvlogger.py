"""Read a ``keras.callbacks.CSVLogger`` file, or a History saved with pandas (docs/keras-formats.md#8-csvlogger).

CSVLogger writes ``epoch`` then the log keys in alphabetical order; the
``epoch`` column is the 0-based hook index, shown here 1-based as the
progress bar prints it; missing values are ``NA`` (Keras >= 2.0.7) or empty;
the separator is whatever the user passed (``,`` by default). A file written
with ``append=True`` by a resumed run continues the epoch count, or starts
again from 0 -- that starts a new run. A header repeated mid-file (a second
logger on the same path) starts a new run too. A last line cut short by a
killed run is left out and noted.

``pd.DataFrame(history.history).to_csv(path)`` writes the same table with
an unnamed first column (``,loss,accuracy,...``; ``Unnamed: 0`` once read
and written again by pandas) holding the 0-based row index: read like
``epoch``. With ``index=False`` there is no epoch column at all: rows are
epochs 1..n, listed in ``meta.inferred_epochs`` and noted. Quoted headers,
a BOM, ``\\r\\n`` endings, and ``;``/tab separators with decimal commas
(spreadsheets in many locales) are read too.
"""

from __future__ import annotations

import csv
import math
import re

from dynamics.errors import InputError, NoEpochsError
from dynamics.run import Run, RunMeta, canonical_metric_name, make_epoch_table

_HEADER = re.compile(r'^\s*"?epoch"?(?P<sep>[ ]*[,;|][ ]*|\t|[ ]+)"?[A-Za-z_]', re.IGNORECASE)
_MISSING = {"", "na", "n/a", "none", "null"}
_NAME = re.compile(r"[A-Za-z_][\w.\-/ :]*")
_PANDAS_INDEX = re.compile(r"unnamed: \d+|index|")
#: First columns that hold pandas' 0-based row index rather than a metric.
_INDEX_NAMES = {"", "unnamed: 0", "index"}
_SEPARATORS = (",", "\t", ";", "|")


def _fields(line: str, sep: str) -> list[str]:
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


def _numeric(fields: list[str]) -> bool:
    try:
        for f in fields:
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
        return sep, _fields(line, sep)
    if following is None:
        return None
    if not any(sep in line for sep in _SEPARATORS):
        # one column (``df[["loss"]].to_csv(index=False)``): a Keras name over a number
        one = _fields(following, ",")
        if " " not in line and _NAME.fullmatch(line) and _keras_names([line]) and len(one) == 1 and _numeric(one):
            return ",", [line]
        return None
    for sep in _SEPARATORS:
        if sep not in line:
            continue
        names = _fields(line, sep)
        if len(names) < 2 or not _keras_names(names):
            return None
        values = _fields(following.strip(" \r\n"), sep)
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


def looks_like_csvlogger(head: str) -> bool:
    """True if the source starts with an epoch table's header (``epoch,loss,...``, ``,loss,...``).

    >>> looks_like_csvlogger("\\nepoch,loss,val_loss\\n0,0.5,0.6\\n")
    True
    >>> looks_like_csvlogger("loss;val_loss\\r\\n0,5;0,6\\r\\n")
    True
    >>> looks_like_csvlogger("Epoch 1/10\\n")
    False
    """
    lines = [line for line in head.splitlines() if line.strip()][:2]
    if not lines:
        return False
    return table_header(lines[0], lines[1] if len(lines) > 1 else None) is not None


def read_csvlogger(text: str, *, source: str = "<csv>") -> list[Run]:
    """Parse CSVLogger output (or a History saved with ``to_csv``) into runs.

    >>> run = read_csvlogger("epoch,loss,val_loss\\n0,0.5,NA\\n1,0.4,0.45\\n")[0]
    >>> run.epochs
           loss  val_loss
    epoch
    1       0.5       NaN
    2       0.4      0.45
    >>> read_csvlogger("loss,val_loss\\n0.5,0.6\\n0.4,0.45\\n")[0].meta.inferred_epochs
    [1, 2]
    """
    text = text.lstrip("\ufeff")
    lines = [line for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n") if line.strip()]
    if not lines:
        raise NoEpochsError(f"no complete training epoch in {source}: the CSV file is empty")
    found = table_header(lines[0], lines[1] if len(lines) > 1 else None)
    if found is None:
        raise InputError(f"{source} is not a CSVLogger file: its first line does not start with 'epoch'")
    sep, header = found
    if sep == "\t":  # a row of empty cells is only tabs: an epoch with every value missing
        lines = [line for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n") if line.strip() or "\t" in line]
    sections: list[tuple[list[str], list[list[str]]]] = []
    notes: list[str] = []
    last_epoch: float | None = None
    for line in lines:
        fields = _fields(line, sep)
        if [f.lower() for f in fields] == [h.lower() for h in header] or (fields and fields[0].lower() == "epoch"):
            header = fields
            sections.append((header, []))
            last_epoch = None
            continue
        if not sections:
            sections.append((header, []))
        if len(fields) != len(header):
            notes.append(f"a line with {len(fields)} fields instead of {len(header)} was left out (cut short?)")
            continue
        if has_index(header):
            try:
                epoch = float(fields[0])
            except ValueError:
                notes.append(f"a line whose epoch is {fields[0]!r} was left out")
                continue
            if last_epoch is not None and epoch <= last_epoch:
                sections.append((header, []))  # appended by a restarted run
            last_epoch = epoch
        sections[-1][1].append(fields)
    fmt = "csvlogger" if header[0].lower() == "epoch" else "csv"
    runs = [table_run(h, rows, source=source, fmt=fmt, notes=notes) for h, rows in sections if rows]
    if not runs:
        raise NoEpochsError(f"no complete training epoch in {source}: the CSV file has a header but no rows")
    for index, run in enumerate(runs):
        run.meta.run_index = index
    return runs


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
    for i, fields in enumerate(rows):
        epoch = int(float(fields[0])) + (0 if one_based else 1) if indexed else i + 1
        if epoch < 1:
            notes.append(f"a row numbered {fields[0]} was left out: it is before the first epoch")
            continue
        values: dict[str, float] = {}
        for name, text in zip(printed, fields[1:] if indexed else fields):
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
