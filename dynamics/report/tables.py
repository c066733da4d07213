"""Which tables a report shows, formatted as text cells (shared by HTML and Markdown).

Tables are the diagnosis's and the analysis's DataFrames as they are; this
module only picks columns, formats numbers the way the terminal report does
(4 decimals, scientific when tiny) and marks the epochs a log does not hold
with a row of their own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dynamics.diagnosis.wording import cell

if TYPE_CHECKING:
    from dynamics.pipeline import CompareReport, RunReport

#: Titles and captions of the diagnosis tables known today; others get a title from their key.
DIAGNOSIS_TABLES = {
    "epochs": ("Epochs", "The epoch table as logged, with the generalization gap (gap_*), the Wilson 95% interval "
               "of val_accuracy (*_low, *_high) and the bounds on the mean loss of misclassified samples."),
    "early_stopping": ("Early-stopping what-ifs", "Keras's EarlyStopping replayed on this log for each monitor and "
                       "patience (restore_best_weights=True): the epoch it stops after and the epoch it keeps."),
    "prechelt": ("Prechelt's stopping criteria", "GL (generalization loss), PQ (its quotient by training "
                 "progress) and UP (successive increases) on val_loss."),
    "confidence_bounds": ("Bounds on the loss of mistakes", "Per epoch, the range the mean cross-entropy of "
                          "misclassified (wrong_*) and correct (correct_*) validation samples must lie in, and "
                          "of the geometric-mean true-class probability of the mistakes (gm_wrong_*)."),
    "val_accuracy_changes": ("val_accuracy between logged epochs", "The least number of validation samples whose "
                             "prediction must have changed, and the smallest McNemar p-value that many changes "
                             "allow."),
    "loss_rises": ("Training-loss rises", "Epochs where the training loss rose, absolutely and relatively."),
}

#: Columns shown as percentages.
PERCENT = {"share", "changed", "wrong_to_right", "right_to_wrong", "wrong_to_other_wrong", "accuracy_change",
           "share_from_wrong_at_best", "removed_by_temperature", "fraction_for_half", "flip_rate", "wrong_fraction"}

#: Rows a Markdown table keeps (first and last half each); HTML shows every row.
MARKDOWN_ROWS = 24


@dataclass
class TableSpec:
    """A table ready to print: header, text cells, and which cells are numbers."""

    key: str
    title: str
    caption: str
    columns: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    marker_rows: set[int] = field(default_factory=set)
    open: bool = False


def fmt(value: Any, column: str = "") -> str:
    """One cell as text: ints plain, floats with 4 decimals (scientific when tiny), NaN empty.

    >>> fmt(0.37361), fmt(3), fmt(float("nan")), fmt(2.5e-6), fmt(0.125, "share"), fmt(True)
    ('0.3736', '3', '', '2.500e-06', '12.5%', 'yes')
    """
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return ""
        if column in PERCENT:
            return f"{100 * v:.1f}%"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if v == int(v) and abs(v) < 1e6 and (column.endswith("epoch") or column in ("patience", "n", "count")):
            return str(int(v))
        return cell(v)
    if value is pd.NA or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return " ".join(str(value).split())


def frame_table(key: str, title: str, caption: str, frame: pd.DataFrame, *, open: bool = False) -> TableSpec:
    """A DataFrame as a TableSpec: index levels become the first columns."""
    if isinstance(frame.index, pd.RangeIndex) and frame.index.name is None:
        flat = frame
    else:
        names = [n if n is not None else "index" for n in frame.index.names]
        flat = frame.reset_index(names=names)
    columns = [str(c) for c in flat.columns]
    numeric = [pd.api.types.is_numeric_dtype(flat[c]) and not pd.api.types.is_bool_dtype(flat[c]) for c in flat.columns]
    rows = [[fmt(v, str(c)) for c, v in zip(flat.columns, row)] for row in flat.itertuples(index=False, name=None)]
    return TableSpec(key, title, caption, columns, rows, numeric, open=open)


def epoch_table(frame: pd.DataFrame, *, key: str, title: str, caption: str, open: bool = False) -> TableSpec:
    """A per-epoch table with a marker row for each run of missing epochs."""
    spec = frame_table(key, title, caption, frame, open=open)
    epochs = [int(e) for e in frame.index]
    rows: list[list[str]] = []
    markers: set[int] = set()
    for i, (epoch, row) in enumerate(zip(epochs, spec.rows)):
        if i and epoch > epochs[i - 1] + 1:
            first, last = epochs[i - 1] + 1, epoch - 1
            markers.add(len(rows))
            rows.append([f"{first}-{last}" if last > first else str(first), "not in log"]
                        + [""] * (len(spec.columns) - 2))
        rows.append(row)
    spec.rows, spec.marker_rows = rows, markers
    return spec


def run_tables(report: RunReport, *, top: int = 10) -> list[TableSpec]:
    """The tables of one run: the diagnosis's, then the per-sample analysis's."""
    d = report.diagnosis
    out: list[TableSpec] = []
    for key, frame in d.tables.items():
        if frame is None or frame.empty:
            continue
        title, caption = DIAGNOSIS_TABLES.get(key, (key.replace("_", " ").capitalize(), ""))
        if key == "early_stopping":
            frame = frame.drop(columns=[c for c in ("rule",) if c in frame.columns])
        if frame.index.name == "epoch":
            out.append(epoch_table(frame, key=key, title=title, caption=caption, open=key == "epochs"))
        else:
            out.append(frame_table(key, title, caption, frame, open=key == "early_stopping"))
    if report.run.events:
        events = pd.DataFrame([{"epoch": e.epoch, "kind": e.kind, "message": e.message} for e in report.run.events])
        out.append(frame_table("events", "Callback messages", "What the callbacks printed (checkpoints, early "
                               "stopping, learning-rate changes), by the 1-based epoch they belong to.", events))
    if report.analysis is not None:
        out += _sample_tables(report, top=top)
    return out


def _sample_tables(report: RunReport, *, top: int) -> list[TableSpec]:
    a = report.analysis.val
    out = [top_samples_table(report, k=top)]
    out.append(frame_table("transitions", "Where the rise comes from, by group", (
        f"Samples grouped by whether they were right at epoch {a.best_epoch} (lowest val_loss) and at epoch "
        f"{a.last_epoch} (last): how many, their total loss change per sample of the set, and their share of "
        "the rise."), a.rise.transitions))
    out.append(epoch_table(a.decomposition, key="decomposition", title="Loss decomposition per epoch", caption=(
        "val_loss = accuracy x loss of correct samples + (1 - accuracy) x loss of misclassified samples "
        "(from_correct + from_wrong).")))
    out.append(epoch_table(a.confidence, key="confidence", title="Confidence per epoch", caption=(
        "Mean top-class probability and entropy (nats) of all, correct and wrong predictions; share above 0.9 "
        "and 0.99.")))
    if not a.calibration.empty:
        out.append(epoch_table(a.calibration, key="calibration", title="Calibration per epoch", caption=(
            "Top-label ECE and MCE (15 bins), Brier score with Murphy's reliability, resolution, uncertainty "
            "and residual, AUC (binary), and the cross-fitted temperature with the loss before and after it.")))
    if not a.churn.empty:
        out.append(epoch_table(a.churn, key="churn", title="Churn per epoch", caption=(
            "Share of samples whose predicted class changed since the previous recorded epoch (from_epoch).")))
    if a.label_issues is not None and not a.label_issues.empty:
        issues = a.label_issues.head(top)
        if report.decoder is not None and "text" not in issues.columns:
            issues = issues.assign(text=[report.decoder(int(i)) for i in issues["sample"]])
        out.append(frame_table("label_issues", f"Candidate label problems (first {len(issues)} of "
                               f"{len(a.label_issues)})", "Validation samples persistently and confidently "
                               "misclassified, most suspicious first (self-confidence ranking).", issues))
    return out


def top_samples_table(report: RunReport, *, k: int = 10) -> TableSpec:
    """The ``k`` samples whose loss grew most since the best epoch, with their text when a decoder is known."""
    a = report.analysis.val
    table = a.top_samples(k)
    if report.decoder is not None and "text" not in table.columns:
        table = table.assign(text=[report.decoder(int(i)) for i in table.index])  # the index is the position
    caption = (f"The {len(table)} validation samples whose loss grew most from epoch {a.best_epoch} (lowest "
               f"val_loss) to epoch {a.last_epoch}; share is each one's part of the whole rise.")
    if "text" not in table.columns:
        caption += " No text: the run does not say how to decode its samples."
    return frame_table("top_samples", "Samples driving the loss", caption, table, open=True)


def compare_tables(report: CompareReport) -> list[TableSpec]:
    """The comparison's summary (one row per run) and group table, then the seed spreads."""
    c = report.comparison
    out = [
        frame_table("summary", "Runs", "One row per run, read from each run's diagnosis: best and last val_loss "
                    "and val_accuracy with their epochs, the rise of val_loss, the overfitting onset and the "
                    "recommended EarlyStopping (patience, stop, kept epoch).", c.summary, open=True),
        frame_table("groups", "Configurations", "Runs of one configuration (seeds) averaged.", c.group_summary,
                    open=True),
    ]
    for name, spread in c.spreads.items():
        out.append(epoch_table(spread.table, key=f"seeds-{len(out)}", title=f"Seeds: {name}", caption=(
            "Per epoch: runs, mean val_accuracy, run-to-run sd, min and max, and the binomial standard error.")))
    return out


def shorten(spec: TableSpec, limit: int = MARKDOWN_ROWS) -> TableSpec:
    """At most ``limit`` rows: the first and the last half, with a marker row between."""
    if len(spec.rows) <= limit:
        return spec
    head, tail = limit // 2, limit - limit // 2
    skipped = len(spec.rows) - limit
    middle = [f"... {skipped} more row{'s' if skipped != 1 else ''}"] + [""] * (len(spec.columns) - 1)
    rows = spec.rows[:head] + [middle] + spec.rows[-tail:]
    markers = {i for i in spec.marker_rows if i < head} | {head}
    markers |= {i - len(spec.rows) + len(rows) for i in spec.marker_rows if i >= len(spec.rows) - tail}
    return TableSpec(spec.key, spec.title, spec.caption, spec.columns, rows, spec.numeric, markers, spec.open)
