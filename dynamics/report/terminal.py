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

from dynamics.diagnosis.wording import cell

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


def finding_grid(finding: Any) -> Table:
    """One finding as the terminal shows it: severity marker, claim, then ``> suggestion``."""
    marker, style = MARKERS.get(finding.severity, ("-", ""))
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=1, no_wrap=True)
    grid.add_column(ratio=1)
    grid.add_row(Text(marker, style=style), Text(finding.claim))
    if finding.suggestion:
        grid.add_row(Text(""), Text("> " + finding.suggestion, style="green"))
    return grid


def render(diagnosis: Diagnosis, console: Console | None = None, *, title: str | None = None, full: bool = True,
           command: str | None = None) -> None:
    """Print one diagnosis.

    Parameters
    ----------
    diagnosis : Diagnosis
    console : rich.console.Console, optional
        Where to print (stdout by default).
    title : str, optional
        Heading; the run's label by default.
    full : bool
        Every finding by topic (True), or the first screen: the verdict, the
        patterns it was decided by, the warnings, the epoch table, and one
        line naming ``command`` for the rest.
    command : str, optional
        The command that prints the full report, named on the first screen.
    """
    console = console or Console()
    for part in (_parts(diagnosis, title) if full else _first_screen(diagnosis, title, command)):
        console.print(part)


def render_text(diagnosis: Diagnosis, *, width: int = 100, title: str | None = None, full: bool = True) -> str:
    """The same report as plain text (no colour), for tests and files."""
    import io

    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False, legacy_windows=False)
    render(diagnosis, console, title=title, full=full)
    return buffer.getvalue()


def _head(d: Diagnosis, title: str | None) -> list[Any]:
    from dynamics.diagnosis.wording import pattern_line

    v = d.verdict
    subtitle = pattern_line(v, claims=False)  # the claims are in --json; the line must fit 100 columns
    return [Text(f"dynamics analyze: {title or d.run.label}", style="bold"),
            Text(_context_line(d), style="dim"),
            Panel(Text(v.text), title="Verdict", subtitle=subtitle, title_align="left", subtitle_align="left",
                  border_style="bold")]


#: Severities shown on the first screen besides the verdict.
FIRST_SCREEN_SEVERITIES = ("critical",)


def _first_screen(d: Diagnosis, title: str | None, command: str | None) -> list[Any]:
    """The verdict, critical findings, the epoch table and one line naming --full."""
    parts = _head(d, title)
    urgent = [f for f in d.findings if f.severity in FIRST_SCREEN_SEVERITIES]
    for f in urgent:
        parts.append(finding_grid(f))
    table = _epoch_table(d)
    if table is not None:
        parts.append(table)
    rest = len(d.findings) - len(urgent)
    cmd = command or "dynamics analyze SOURCE --full"
    parts.append(Text(f"{rest} more finding{'s' if rest != 1 else ''} with every test, interval and what-if: {cmd}",
                      style="dim"))
    return parts


def _parts(d: Diagnosis, title: str | None) -> list[Any]:
    from dynamics.diagnose import TOPIC_TITLES, TOPICS

    parts = _head(d, title)
    groups = d.by_topic()
    order = [t for t in TOPICS if t in groups] + [t for t in groups if t not in TOPICS]
    for topic in order:
        parts.append(Text(TOPIC_TITLES.get(topic, topic.replace("_", " ").capitalize()), style="bold underline"))
        for f in groups[topic]:
            parts.append(finding_grid(f))
        parts.append(Text(""))
    table = _epoch_table(d)
    if table is not None:
        parts.append(table)
    for samples in _samples_tables(d):
        parts.append(Text(""))
        parts.append(samples)
    parts.append(Text("x critical  ! warning  - info  ? cannot tell from this log", style="dim"))
    return parts


def _context_line(d: Diagnosis) -> str:
    from dynamics.diagnosis.wording import context_bits

    return " | ".join(context_bits(d.context))


def _epoch_table(d: Diagnosis) -> Table | None:
    epochs = d.tables.get("epochs")
    if epochs is None or epochs.empty:
        return None
    acc = d.column("val_accuracy")
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
        cells = [str(e)] + [cell(row[name]) for name, _ in cols]
        if has_ci:
            cells.append(f"{cell(row[low])}-{cell(row[high])}" if not math.isnan(row[low]) else "")
        if has_bound:
            cells.append(cell(row["mistake_loss_low"], 2) if not math.isnan(row["mistake_loss_low"]) else "")
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


#: The recorded-epochs tables: (source table, column, heading, digits); digits None = integer.
_SAMPLE_TABLES = (
    ("Recorded epochs: where the loss sits (from the stored predictions)", (
        ("per_epoch", "val_loss", "val_loss", 4),
        ("per_epoch", "loss_wrong", "mistakes", 2),
        ("bounds", "wrong_low", "log >=", 2),
        ("per_epoch", "loss_correct", "correct", 3),
        ("per_epoch", "confidence_wrong", "conf_w", 3),
        ("per_epoch", "ece", "ECE", 3),
        ("per_epoch", "temperature", "T", 2),
        ("per_epoch", "loss_scaled", "scaled", 4),
    ), "mistakes / correct: mean nats of the misclassified / correct samples; log >=: the least the logged val_loss "
       "and val_accuracy allow for mistakes; conf_w: mean top-class probability of the mistakes; T, scaled: one "
       "temperature, cross-fitted on two halves, and the loss after it"),
    ("Recorded epochs: samples trading places", (
        ("mcnemar", "changed", "changed", None),
        ("mcnemar", "right_to_wrong", "right->wrong", None),
        ("mcnemar", "wrong_to_right", "wrong->right", None),
        ("mcnemar", "accuracy_change", "acc change", 4),
        ("mcnemar", "p_value", "McNemar p", 3),
        ("mcnemar", "q_value", "BH q", 3),
    ), "changed: samples whose predicted class differs from the previous epoch; McNemar p: exact test of "
       "right->wrong against wrong->right; BH q: Benjamini-Hochberg over all pairs"),
)


def _samples_tables(d: Diagnosis) -> list[Table]:
    """The recorded epochs of a run: exact per-sample numbers beside what the log allowed."""
    sources = {"per_epoch": d.tables.get("samples_per_epoch"), "mcnemar": d.tables.get("samples_mcnemar"),
               "bounds": d.tables.get("confidence_bounds")}
    per_epoch = sources["per_epoch"]
    if per_epoch is None or per_epoch.empty:
        return []
    index = [int(e) for e in per_epoch.index]
    keep = _rows_to_show(d, index)
    out = []
    for title, columns, caption in _SAMPLE_TABLES:
        cols = [c for c in columns if sources[c[0]] is not None and c[1] in sources[c[0]].columns]
        if not any(src == "mcnemar" for src, *_ in cols) and title.endswith("places"):
            continue
        table = Table(title=title, caption=caption, title_justify="left", caption_justify="left", title_style="bold",
                      caption_style="dim", header_style="bold", show_edge=False, pad_edge=False)
        table.add_column("epoch", justify="right")
        for _, _, head, _ in cols:
            table.add_column(head, justify="right")
        first = sources[cols[0][0]] if cols else None
        previous = None
        for e in index:
            if e not in keep or first is None or e not in first.index:
                continue
            if previous is not None and index.index(e) != index.index(previous) + 1:
                table.add_row(Text("...", style="dim"), *[Text("") for _ in cols])
            cells = [str(e)]
            for name, col, _, digits in cols:
                frame = sources[name]
                value = frame.at[e, col] if e in frame.index else None
                if digits is None:
                    cells.append("" if value is None else str(int(value)))
                else:
                    cells.append(cell(value, digits))
            table.add_row(*cells)
            previous = e
        out.append(table)
    return out


def render_seeds(groups: list[Any], console: Console | None = None) -> None:
    """Print the run groups of :func:`dynamics.diagnosis.configuration.group_runs` (the "Across runs" section).

    Each group gets its finding and the per-epoch table (mean, run-to-run sd,
    range, binomial noise); a group of one run says why it was not compared.
    """
    console = console or Console()
    console.print(Text("Across runs: is the seed a bigger source of variation than the validation set?",
                       style="bold underline"))
    for group in groups:
        console.print(Text(group.title, style="bold"))
        f = group.finding
        console.print(finding_grid(f))
        if group.table is not None and not group.table.empty:
            t = Table(show_edge=False, pad_edge=False, header_style="bold",
                      caption="run sd: standard deviation of val_accuracy across runs; binomial: sqrt(acc (1 - acc) / "
                              "n_val), the noise of one validation set", caption_justify="left", caption_style="dim")
            for head in ("epoch", "runs", "mean", "run sd", "min", "max", "binomial"):
                t.add_column(head, justify="right")
            for e, row in group.table.iterrows():
                t.add_row(str(int(e)), str(int(row["n_runs"])), cell(row["mean"]), cell(row["run_sd"]),
                          cell(row["min"]), cell(row["max"]), cell(row["binomial_se"]))
            console.print(t)
        console.print()
