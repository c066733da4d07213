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

from dynamics.errors import InputError, NoEpochsError
from dynamics.run import Run
from dynamics.sources.delimited import fields as _fields
from dynamics.sources.delimited import has_index, number, table_header, table_run

#: ``number``, ``table_header``, ``table_run`` and ``has_index`` live in :mod:`dynamics.sources.delimited`;
#: they are importable from here as before.
__all__ = ["has_index", "looks_like_csvlogger", "number", "read_csvlogger", "table_header", "table_run"]

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
