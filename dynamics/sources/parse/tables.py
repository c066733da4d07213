"""Epoch tables and History dicts pasted among prose, instead of a progress log.

What people paste when they have no log at hand:

* ``print(pd.DataFrame(history.history))`` -- a whitespace-aligned table
  whose first column is pandas' 0-based row index; a long frame elides its
  middle rows with a ``..`` row (a gap, never filled), a wide one elides
  columns with ``...`` (those columns are left out) or wraps them into blocks
  whose header lines end with ``\\``; ``[100 rows x 4 columns]`` may follow;
* the same as Markdown (``df.to_markdown()``: ``| | loss | ... |`` and a
  ``|---|`` rule) or as CSV text (``df.to_csv()``, CSVLogger lines);
* R's ``as.data.frame(history)``: ``epoch value metric data`` in long form;
* ``print(history.history)`` -- the dict, on one line or pretty-printed
  over many, anywhere in a line (``History: {'loss': [...]}``).

:class:`TableScanner` is fed every cleaned line and keeps only the rows of
the tables it recognises; a header must name a Keras key (``loss``,
``acc``, ``val_*``) and be followed by rows of numbers, so a model summary or
a classification report never starts a table. The parser uses these runs
only when the text holds no progress-bar epoch.
"""

from __future__ import annotations

import re

from dynamics.errors import DynamicsError
from dynamics.run import Run
from dynamics.sources.delimited import number, table_header, table_run

_NAME = re.compile(r"[A-Za-z_][\w.\-/]*")
_ELIDED = {"..", "...", "…"}
_FOOTER = re.compile(r"\[(\d+) rows x (\d+) columns\]")
_RULE = re.compile(r"\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?")
_DICT_START = re.compile(r"\{\s*['\"\u2018\u201c][A-Za-z_][\w.\-/]*['\"\u2019\u201d]\s*:\s*[\[{]")
_INT = re.compile(r"\d+")
#: R's ``as.data.frame(history)`` columns.
LONG_FORM = ["epoch", "value", "metric", "data"]
#: A History printed as a dict larger than this is not followed (memory stays bounded).
MAX_DICT_CHARS = 1 << 24


def _keras_like(names: list[str]) -> bool:
    return any("loss" in n.lower() or "acc" in n.lower() or n.startswith("val_") for n in names)


def _cells(line: str, kind: str, sep: str) -> list[str]:
    if kind == "markdown":
        return [c.strip() for c in line.strip().strip("|").split("|")]
    if kind == "delimited":
        from dynamics.sources.delimited import fields

        return fields(line, sep)
    return line.split()


class _Table:
    """One table being read: its names, how its cells are split, its rows."""

    def __init__(self, names: list[str], kind: str, sep: str = "", continued: bool = False) -> None:
        self.kind, self.sep = kind, sep
        self.continued = continued  # the header ended with "\" (pandas wrapped the columns)
        self.keep = [i for i, n in enumerate(names) if n not in _ELIDED]
        self.names = [names[i] for i in self.keep]
        self.column_elided = len(self.keep) < len(names)
        self.width = len(names)
        self.rows: list[tuple[str | None, list[str]]] = []  # (index label, cells)
        self.gaps = 0
        self.index_name: str | None = None
        self.footer: tuple[int, int] | None = None
        self.labelled = False  # rows start with an index label the header does not name
        self.long = [n.lower() for n in self.names] == LONG_FORM

    def row(self, line: str) -> bool:
        """Take ``line`` as a row (or an elision row); False if it is not one."""
        cells = _cells(line, self.kind, self.sep)
        if cells and cells[-1] == "\\":
            cells = cells[:-1]
        if cells and all(c in _ELIDED for c in cells):
            self.gaps += 1
            self.rows.append((None, []))
            return True
        labelled = self.kind != "delimited" and len(cells) == self.width + 1
        if not labelled and len(cells) != self.width:
            return False
        if self.rows and any(cells for _, cells in self.rows) and labelled != self.labelled:
            return False
        label = cells[0] if labelled else None
        if label is not None and not _INT.fullmatch(label):
            return False
        values = cells[1:] if labelled else cells
        kept = [values[i] for i in self.keep]
        if self.long:  # epoch, value, metric, data
            if not _INT.fullmatch(kept[0]) or not _NAME.fullmatch(kept[2]) or kept[3] not in ("training", "validation"):
                return False
        try:
            for cell in kept[:2] if self.long else kept:
                number(cell)
        except ValueError:
            return False
        self.labelled = labelled
        self.rows.append((label, kept))
        return True

    def run(self, source: str) -> Run | None:
        rows = [r for r in self.rows if r[1]]
        if not rows:
            return None
        names = list(self.names)
        lower = [n.lower() for n in names]
        if self.long:
            return _long_form_run(rows, source)
        notes: list[str] = []
        if self.labelled:
            header = [self.index_name or ""] + names
            body = [[label] + cells for label, cells in rows]  # type: ignore[list-item]
        elif "epoch" in lower:
            i = lower.index("epoch")
            header = [names[i]] + names[:i] + names[i + 1 :]
            body = [[cells[i]] + cells[:i] + cells[i + 1 :] for _, cells in rows]
        else:
            if self.gaps:
                cut = next(i for i, (_, cells) in enumerate(self.rows) if not cells)
                rows = [r for r in self.rows[:cut] if r[1]]
                notes.append("rows after a '..' elision were left out: no index numbers them")
            header = names
            body = [cells for _, cells in rows]
        if not body:
            return None
        one_based = False
        if self.kind != "delimited" and header[0].lower() in ("", "epoch", "index"):
            # A printed table: pandas' default index starts at 0; a table
            # starting at 1 (R, or an index set by hand) is taken as printed.
            try:
                one_based = float(body[0][0]) >= 1
            except ValueError:
                return None
        if self.column_elided:
            notes.append("columns the table printed as '...' are not in the table")
        if self.footer is not None:
            notes.append(f"the table says it holds {self.footer[0]} rows; {len(body)} were printed")
        fmt = "csv" if self.kind == "delimited" else "table"
        try:
            return table_run(header, body, source=source, fmt=fmt, notes=notes, one_based=one_based)
        except ValueError:
            return None


def _long_form_run(rows: list[tuple[str | None, list[str]]], source: str) -> Run | None:
    """R's ``as.data.frame(history)``: ``epoch value metric data`` -> a wide table."""
    from dynamics.sources.delimited import table_run as wide

    by_epoch: dict[int, dict[str, str]] = {}
    names: list[str] = []
    for _, cells in rows:
        if len(cells) != 4:
            continue
        epoch, value, metric, data = cells
        name = metric if data == "training" else f"val_{metric}"
        if name not in names:
            names.append(name)
        by_epoch.setdefault(int(float(epoch)), {})[name] = value
    if not by_epoch:
        return None
    body = [[str(e)] + [by_epoch[e].get(n, "NA") for n in names] for e in sorted(by_epoch)]
    run = wide(["epoch"] + names, body, source=source, fmt="table", one_based=True)
    run.meta.notes.append("R's long form (epoch, value, metric, data) turned wide; epochs as printed (1-based)")
    return run


class TableScanner:
    """Feed cleaned lines with :meth:`feed`; read :meth:`runs` at the end."""

    def __init__(self) -> None:
        self.done: list[_Table | str] = []  # finished tables and dict texts, in order
        self.table: _Table | None = None
        self.candidate: str | None = None  # a line that may be a header, waiting for its first row
        self.text: list[str] | None = None  # a History dict being collected
        self.depth = 0
        self.size = 0

    def feed(self, line: str) -> None:
        if self.text is not None:
            self._collect(line)
            return
        if "{" in line:
            m = _DICT_START.search(line)
            if m is not None:
                self._end_table()
                self.text, self.depth, self.size = [], 0, 0
                self._collect(line[m.start() :])
                return
        if self.table is not None:
            if self.table.row(line):
                return
            if self.table.kind == "whitespace" and self.table.index_name is None and not self.table.rows and _NAME.fullmatch(line):
                self.table.index_name = line  # pandas prints the index's name under the header
                return
            m = _FOOTER.fullmatch(line)
            if m is not None:
                self.table.footer = (int(m.group(1)), int(m.group(2)))
            self._end_table()
            if m is not None:
                return
        if self.candidate is not None:
            header, self.candidate = self.candidate, None
            if self._start(header, line):
                return
        if _could_be_header(line):
            self.candidate = line

    def _start(self, header: str, line: str) -> bool:
        """Start a table at ``header`` if ``line`` is its first row (or its rule or index name)."""
        if header.startswith("|"):
            if _RULE.fullmatch(line):
                names = [c.strip() for c in header.strip().strip("|").split("|")]
                if _keras_like(names):
                    self.table = _Table(names[1:] if names and names[0] == "" else names, "markdown")
                    return True
            return False
        found = table_header(header, line)
        if found is not None and found[0] != " ":
            sep, names = found
            table = _Table(names, "delimited", sep)
            if table.row(line):
                self.table = table
                return True
            return False
        continued = header.endswith("\\")
        names = header.rstrip("\\").split()
        if not names or not (_keras_like(names) or [n.lower() for n in names] == LONG_FORM) or not all(_NAME.fullmatch(n) or n in _ELIDED for n in names):
            return False
        table = _Table(names, "whitespace", continued=continued)
        if table.row(line):
            self.table = table
            return True
        if _NAME.fullmatch(line):  # the index's name, then the rows
            table.index_name = line
            self.table = table
            return True
        return False

    def _end_table(self) -> None:
        if self.table is not None:
            self.done.append(self.table)
            self.table = None

    def _collect(self, line: str) -> None:
        assert self.text is not None
        self.size += len(line)
        if self.size > MAX_DICT_CHARS:
            self.text = None
            return
        for i, ch in enumerate(line):
            if ch in "{[":
                self.depth += 1
            elif ch in "}]":
                self.depth -= 1
                if self.depth == 0:
                    self.text.append(line[: i + 1])
                    self.done.append("\n".join(self.text))
                    self.text = None
                    return
        self.text.append(line)

    def runs(self, source: str) -> list[Run]:
        """The runs of every table and History dict seen, in order (wrapped column blocks merged)."""
        self._end_table()
        from dynamics.sources.history import (
            load_history_object,
            looks_like_history,
            read_history,
        )

        out: list[Run] = []
        merge_next = False
        for item in self.done:
            if isinstance(item, str):
                try:
                    obj = load_history_object(item, source)
                    if looks_like_history(obj):
                        out.extend(read_history(obj, source=source))
                except DynamicsError:
                    pass
                merge_next = False
                continue
            run = item.run(source)
            if run is None:
                continue
            if merge_next and out and list(out[-1].epochs.index) == list(run.epochs.index):
                out[-1] = _merged(out[-1], run)
            else:
                out.append(run)
            merge_next = item.continued
        for index, run in enumerate(out):
            run.meta.run_index = index
        return out


def _merged(left: Run, right: Run) -> Run:
    """Two column blocks of one wrapped pandas table as one run."""
    import pandas as pd

    epochs = pd.concat([left.epochs, right.epochs.drop(columns=[c for c in right.epochs if c in left.epochs])], axis=1)
    left.epochs = epochs
    left.meta.metric_names.update(right.meta.metric_names)
    return left


def _could_be_header(line: str) -> bool:
    """A cheap first look: a header names a Keras key and holds no ``name: value``."""
    if not ("loss" in line or "acc" in line or "val_" in line or "epoch" in line):
        return False
    if ": " in line and "," not in line and not line.startswith("|"):
        return False
    return not line.startswith(("Epoch ", "Train on", "Train for"))
