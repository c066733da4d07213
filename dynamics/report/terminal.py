"""A Diagnosis in the terminal: verdict first, findings by topic, a compact table.

Only formatting happens here; every number comes from the Diagnosis (its
findings and ``tables``). Claims are printed as plain text (rich markup is
never interpreted inside them, so ``[1e-7, 1]`` stays as written).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from dynamics.diagnose import Diagnosis

#: Severity -> (marker, style).
MARKERS = {
    "critical": ("x", "bold red"),
    "warning": ("!", "yellow"),
    "info": ("-", "cyan"),
    "undetermined": ("?", "magenta"),
}

#: Epoch-table rows shown before the middle is shortened.
MAX_ROWS = 16


def render(diagnosis: Diagnosis, console: Console | None = None, *, title: str | None = None) -> None:
    """Print one diagnosis.

    Parameters
    ----------
    diagnosis : Diagnosis
    console : rich.console.Console, optional
        Where to print (stdout by default).
    title : str, optional
        Heading; the run's label by default.
    """
    console = console or Console()
    for part in _parts(diagnosis, title):
        console.print(part)


def render_text(diagnosis: Diagnosis, *, width: int = 100, title: str | None = None) -> str:
    """The same report as plain text (no colour), for tests and files."""
    import io

    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False, legacy_windows=False)
    render(diagnosis, console, title=title)
    return buffer.getvalue()


def _parts(d: Diagnosis, title: str | None) -> list[Any]:
    from dynamics.diagnose import TOPIC_TITLES, TOPICS

    parts: list[Any] = []
    parts.append(Text(f"dynamics analyze: {title or d.run.label}", style="bold"))
    parts.append(Text(_context_line(d), style="dim"))
    parts.append(Panel(Text(d.verdict), title="Verdict", title_align="left", border_style="bold"))
    groups = d.by_topic()
    order = [t for t in TOPICS if t in groups] + [t for t in groups if t not in TOPICS]
    for topic in order:
        parts.append(Text(TOPIC_TITLES.get(topic, topic.replace("_", " ").capitalize()), style="bold underline"))
        for f in groups[topic]:
            marker, style = MARKERS.get(f.severity, ("-", ""))
            grid = Table.grid(padding=(0, 1))
            grid.add_column(width=1, no_wrap=True)
            grid.add_column(ratio=1)
            grid.add_row(Text(marker, style=style), Text(f.claim))
            if f.suggestion:
                grid.add_row(Text(""), Text("> " + f.suggestion, style="green"))
            parts.append(grid)
        parts.append(Text(""))
    table = _epoch_table(d)
    if table is not None:
        parts.append(table)
    parts.append(Text("x critical  ! warning  - info  ? cannot tell from this log", style="dim"))
    return parts


def _context_line(d: Diagnosis) -> str:
    from dynamics.diagnosis.wording import epoch_ranges

    c = d.context
    epochs = c.get("epochs_logged") or []
    declared = c.get("epochs_declared")
    bits = [f"{len(epochs)} epoch{'s' if len(epochs) != 1 else ''} logged ({epoch_ranges(epochs)}"
            + (f" of {declared})" if declared else ")")]
    if c.get("n_val"):
        source = {"log": "from the log", "option": "given", "inferred": "inferred"}.get(c.get("n_val_source"), "")
        bits.append(f"n_val {c['n_val']} ({source})")
    else:
        bits.append("n_val unknown")
    if c.get("classes"):
        bits.append(f"{c['classes']} classes ({c.get('classes_source')})")
    elif c.get("bound_classes") == 2:
        bits.append("binary model assumed")
    else:
        bits.append("classes unknown")
    return " | ".join(bits)


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return ""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return ""
    if v != 0 and abs(v) < 10 ** -(digits - 1):
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}f}"


def _epoch_table(d: Diagnosis) -> Table | None:
    epochs = d.tables.get("epochs")
    if epochs is None or epochs.empty:
        return None
    acc = next((c for c in epochs.columns if c.startswith("val_") and c.endswith("accuracy")), None)
    cols: list[tuple[str, str]] = []
    for name, head in (("loss", "loss"), ("val_loss", "val_loss"), ("gap_loss", "gap"),
                       (acc.removeprefix("val_") if acc else "", "acc"), (acc or "", "val_acc")):
        if name and name in epochs.columns:
            cols.append((name, head))
    if not cols:
        return None
    low, high = (f"{acc}_low", f"{acc}_high") if acc else ("", "")
    has_ci = low in epochs.columns
    has_bound = "mistake_loss_low" in epochs.columns
    notes = ["gap = val_loss - loss"]
    if has_ci:
        notes.append("95% = Wilson interval of val_acc")
    if has_bound:
        notes.append("mistakes >= : least mean nats of a misclassified validation sample")
    table = Table(title="Epochs", caption="; ".join(notes), title_justify="left", caption_justify="left",
                  title_style="bold", caption_style="dim", header_style="bold", show_edge=False, pad_edge=False)
    table.add_column("epoch", justify="right")
    for _, head in cols:
        table.add_column(head, justify="right")
    if has_ci:
        table.add_column("95%", justify="right")
    if has_bound:
        table.add_column("mistakes >=", justify="right")
    index = [int(e) for e in epochs.index]
    keep = _rows_to_show(d, index)
    previous = None
    for e in index:
        if e not in keep:
            continue
        if previous is not None and e != previous + 1:
            blank = [Text("") for _ in range(len(table.columns) - 2)]
            if all(x not in index for x in range(previous + 1, e)):
                label = f"{previous + 1}-{e - 1}" if e - 1 > previous + 1 else str(previous + 1)
                table.add_row(Text(label, style="dim"), Text("not in log", style="dim"), *blank)
            else:
                table.add_row(Text("...", style="dim"), Text(""), *blank)
        row = epochs.loc[e]
        cells = [str(e)] + [_fmt(row[name]) for name, _ in cols]
        if has_ci:
            cells.append(f"{_fmt(row[low])}-{_fmt(row[high])}" if not math.isnan(row[low]) else "")
        if has_bound:
            cells.append(_fmt(row["mistake_loss_low"], 2) if not math.isnan(row["mistake_loss_low"]) else "")
        table.add_row(*cells)
        previous = e
    return table


def _rows_to_show(d: Diagnosis, index: list[int]) -> set[int]:
    if len(index) <= MAX_ROWS:
        return set(index)
    keep = set(index[:3]) | set(index[-4:])
    for f in d.findings:
        for key in ("best_epoch", "onset_epoch"):
            value = f.evidence.get(key)
            if isinstance(value, int):
                keep.add(value)
        if f.code == "best_epochs":
            for item in f.evidence.values():
                if isinstance(item, dict) and isinstance(item.get("epoch"), int):
                    keep.add(item["epoch"])
    return {e for e in keep if e in index}
