"""A :class:`~dynamics.diagnosis.compare.Comparison` in the terminal: one row per run, then the findings.

Only formatting: every number is the comparison's summary table or a
finding's claim. Run labels and group names come from the sources and are
printed as plain text (rich markup in them is never interpreted).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from dynamics.diagnosis.wording import fixed, share
from dynamics.report.terminal import finding_grid

if TYPE_CHECKING:
    from dynamics.diagnosis.compare import Comparison



def _cell(value: Any, render: Any) -> str:
    """``render(float(value))``, or an empty cell for a missing or NaN value."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return ""
    return "" if math.isnan(v) else render(v)


def _num(value: Any, digits: int = 4) -> str:
    return _cell(value, lambda v: fixed(v, digits))


def _epoch(value: Any) -> str:
    return _cell(value, lambda v: str(int(v)))


def _pct(value: Any) -> str:
    return _cell(value, share)


def summary_table(c: Comparison) -> Table:
    """The summary as a rich table (one row per run)."""
    s = c.summary
    grouped = any(len(m) > 1 for m in c.groups.values())
    recorded = "share_from_wrong_at_best" in s.columns
    table = Table(title="Runs", title_justify="left", title_style="bold", header_style="bold", show_edge=False,
                  pad_edge=False, caption="best = lowest val_loss / highest val_accuracy (epoch); stop = recommended "
                  "EarlyStopping on val_loss: patience -> stops after, keeps", caption_style="dim",
                  caption_justify="left")
    table.add_column("run", overflow="fold", min_width=min(max(len(label) for label in c.labels), 40))
    if grouped:
        table.add_column("group", overflow="fold", min_width=min(max(len(g) for g in c.groups), 30))
    for head in ("epochs", "best val_loss", "last val_loss", "rise", "best val_acc", "last val_acc", "stop"):
        table.add_column(head, justify="right")
    if recorded:
        for head in ("from wrong", "T removes", "flips/epoch"):
            table.add_column(head, justify="right")
    for label, row in s.iterrows():
        cells: list[Any] = [Text(str(label))]
        if grouped:
            cells.append(Text(str(row["group"])))
        best_loss = f"{_num(row['best_val_loss'])} ({_epoch(row['best_val_loss_epoch'])})" if _num(
            row["best_val_loss"]) else ""
        best_acc = f"{_num(row['best_val_accuracy'])} ({_epoch(row['best_val_accuracy_epoch'])})" if _num(
            row["best_val_accuracy"]) else ""
        rise = row["val_loss_rise_pct"]
        stop = (f"{_epoch(row['stop_patience'])} -> {_epoch(row['stop_epoch'])}, {_epoch(row['kept_epoch'])}"
                if _epoch(row["stop_patience"]) else "")
        cells += [str(int(row["epochs"])), best_loss, _num(row["last_val_loss"]),
                  f"{float(rise):+.0f}%" if _num(rise) else "", best_acc, _num(row["last_val_accuracy"]), stop]
        if recorded:
            cells += [_pct(row.get("share_from_wrong_at_best")), _pct(row.get("removed_by_temperature")),
                      _pct(row.get("flip_rate"))]
        table.add_row(*cells)
    return table


def render_comparison(c: Comparison, console: Console | None = None) -> None:
    """Print the comparison: header, the runs table, then the findings."""
    console = console or Console()
    console.print(Text(f"dynamics compare: {len(c.labels)} runs, {len(c.groups)} configuration"
                       f"{'s' if len(c.groups) != 1 else ''}", style="bold"))
    console.print(summary_table(c))
    console.print()
    for f in c.findings:
        console.print(finding_grid(f))
    console.print()
    for label, d in zip(c.labels, c.diagnoses):
        console.print(Text(label, style="bold underline"))
        console.print(Text(d.verdict.text))
    console.print(Text("x critical  ! warning  - info  ? cannot tell", style="dim"))


def render_comparison_text(c: Comparison, *, width: int = 120) -> str:
    """The same as plain text (no colour), for tests and files."""
    import io

    buffer = io.StringIO()
    render_comparison(c, Console(file=buffer, width=width, color_system=None, force_terminal=False))
    return buffer.getvalue()
