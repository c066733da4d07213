"""Compare runs side by side: which overfits later, by how much, and is it more than the seed?

:func:`compare` takes the :class:`~dynamics.diagnose.Diagnosis` of each run
and reads what each already established (best epochs, the rise of
``val_loss``, the recommended early stop; for recorded runs, the per-sample
summary) into one summary table. Runs of one configuration form a *group*
(:func:`dynamics.diagnosis.configuration.group_runs`, the same groups ``dynamics
analyze`` shows across runs); each group with several runs brings its seed
spread of val_accuracy and its seeds finding. Groups are then compared on
their mean best epoch and lowest val_loss.

Nothing here prints or draws.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dynamics.diagnosis.configuration import group_runs, run_labels, unique_labels
from dynamics.errors import ArgumentError
from dynamics.findings import Finding

__all__ = ["Comparison", "compare", "run_labels", "summary_row", "unique_labels"]

@dataclass
class Comparison:
    """Runs side by side.

    Attributes
    ----------
    diagnoses : list of Diagnosis
    labels : list of str
        A unique display label per run.
    groups : dict of str to list of int
        Group label -> indices of its runs (seeds of one configuration).
    summary : DataFrame
        One row per run (index: label): group, epochs, best and last
        val_loss / val_accuracy with their epochs, the rise, the recommended
        early stop and, for recorded runs, the per-sample summary.
    group_summary : DataFrame
        One row per group: runs, mean best epoch (and range), mean lowest
        val_loss, mean last val_loss and rise.
    spreads : dict of str to SeedSpread
        The seed spread of val_accuracy for each group of two or more runs.
    findings : list of Finding
    analyses : list of RunAnalysis or None
        Per-sample analyses of recorded runs (None for logs), if given.
    """

    diagnoses: list[Any]
    labels: list[str]
    groups: dict[str, list[int]]
    summary: pd.DataFrame
    group_summary: pd.DataFrame
    spreads: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    analyses: list[Any] = field(default_factory=list)

    @property
    def runs(self) -> list[Any]:
        return [d.run for d in self.diagnoses]

    def _repr_html_(self) -> str:
        """Jupyter's display: the verdict, the runs' curves and the first findings (static HTML)."""
        from dynamics.report.notebook import comparison_html

        return comparison_html(self)

    def tables(self) -> dict[str, pd.DataFrame]:
        out = {"summary": self.summary, "groups": self.group_summary}
        for name, spread in self.spreads.items():
            out[f"seeds: {name}"] = spread.table
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the summary, the groups and the findings."""
        from dynamics.run import _json_ready

        return _json_ready({
            "runs": self.labels,
            "groups": self.groups,
            "summary": self.summary.reset_index().to_dict(orient="records"),
            "group_summary": self.group_summary.reset_index().to_dict(orient="records"),
            "findings": [f.to_dict() for f in self.findings],
        })


def _evidence(d: Any, code: str) -> dict[str, Any]:
    f = d.get(code)
    return dict(f.evidence) if f is not None else {}


def _last(d: Any, column: str | None) -> tuple[float, int | None]:
    if column is None:
        return math.nan, None
    table = d.tables.get("epochs", d.run.epochs)
    if column not in table.columns:
        return math.nan, None
    s = table[column].dropna()
    return (float(s.iloc[-1]), int(s.index[-1])) if len(s) else (math.nan, None)


def _val_accuracy(d: Any) -> str | None:
    return d.column("val_accuracy")


def summary_row(d: Any) -> dict[str, Any]:
    """What one diagnosis established, as one row (numbers read from its findings and tables)."""
    best = _evidence(d, "best_epochs")
    onset = _evidence(d, "overfitting_onset")
    stop = _evidence(d, "early_stopping").get("recommended") or {}
    acc = _val_accuracy(d)
    row: dict[str, Any] = {"epochs": len(d.run.epochs)}
    bl = best.get("val_loss") or {}
    ba = (best.get(acc) or {}) if acc else {}
    row["best_val_loss_epoch"] = bl.get("epoch")
    row["best_val_loss"] = bl.get("value", math.nan)
    row["last_val_loss"], row["last_epoch"] = _last(d, "val_loss")
    if row["last_epoch"] is None:
        row["last_epoch"] = int(d.run.epochs.index[-1]) if len(d.run.epochs) else None
    row["val_loss_rise_pct"] = onset.get("rise_pct", math.nan) if onset.get("status") == "overfitting" else (
        100 * (row["last_val_loss"] / row["best_val_loss"] - 1) if row["best_val_loss"] else math.nan)
    row["onset_epoch"] = onset.get("onset_epoch") if onset.get("status") == "overfitting" else None
    row["best_val_accuracy_epoch"] = ba.get("epoch")
    row["best_val_accuracy"] = ba.get("value", math.nan)
    row["last_val_accuracy"] = _last(d, acc)[0]
    row["stop_patience"] = stop.get("patience")
    row["stop_epoch"] = stop.get("stop_epoch")
    row["kept_epoch"] = stop.get("kept_epoch")
    rise = _evidence(d, "val_loss_rise")
    if "share_wrong_at_best" in rise:
        row["share_from_wrong_at_best"] = rise.get("share_wrong_at_best")
        row["removed_by_temperature"] = rise.get("removed_by_temperature")
        row["fraction_for_half"] = rise.get("fraction_for_half")
        row["flip_rate"] = rise.get("flip_rate")
    return row


def compare(
    diagnoses: Sequence[Any],
    *,
    analyses: Sequence[Any] | None = None,
    group_by: Sequence[str] | None = None,
    n_val: int | None = None,
) -> Comparison:
    """Put runs side by side; group seeds of one configuration.

    Parameters
    ----------
    diagnoses : sequence of Diagnosis
        At least two.
    analyses : sequence of RunAnalysis or None, optional
        Per-sample analyses, one per diagnosis (kept for the report).
    group_by : sequence of str, optional
        Settings that define a group (default: the runs' configuration,
        :func:`dynamics.diagnosis.configuration.group_runs`).
    n_val : int, optional
        Validation samples of the runs whose source does not say (``--n-val``),
        for the binomial noise of the seeds.

    Returns
    -------
    Comparison

    Examples
    --------
    >>> from dynamics.diagnose import diagnose
    >>> from dynamics.simulate import simulate_run
    >>> runs = [simulate_run(story, n=500, epochs=8, seed=s) for story in ("overconfident", "healthy") for s in (0, 1)]
    >>> c = compare([diagnose(r) for r in runs])
    >>> list(c.groups), c.labels[:2]
    (['story=overconfident', 'story=healthy'], ['simulated:overconfident seed=0', 'simulated:overconfident seed=1'])
    """
    diagnoses = list(diagnoses)
    if len(diagnoses) < 2:
        raise ArgumentError(f"comparing needs at least 2 runs. Received: {len(diagnoses)} run(s)")
    if analyses is not None and len(analyses) != len(diagnoses):
        raise ArgumentError(f"analyses must have one entry per run. Received: {len(analyses)} for {len(diagnoses)} runs")
    labels = run_labels([d.run for d in diagnoses])
    found = group_runs([d.run for d in diagnoses], keys=group_by, n_val=n_val, labels=labels)
    names = unique_labels([g.name for g in found])
    groups = {name: g.indices for name, g in zip(names, found)}
    rows = []
    for i, d in enumerate(diagnoses):
        group = next(g for g, members in groups.items() if i in members)
        rows.append({"run": labels[i], "group": group, **summary_row(d)})
    summary = pd.DataFrame(rows).set_index("run")
    group_summary = _group_summary(summary, groups, labels)
    findings: list[Finding] = []
    spreads: dict[str, Any] = {}
    for name, g in zip(names, found):
        if len(g.runs) < 2:
            continue
        if g.spread is not None:
            spreads[name] = g.spread
        f = g.finding
        findings.append(Finding(f.code, f.severity, f"{name}: {f.claim}", {"group": name, **f.evidence},
                                f.suggestion, "compare"))
    if len(groups) >= 2:
        last = {name: float(summary.loc[[labels[i] for i in members], "last_epoch"].astype(float).min())
                for name, members in groups.items()}
        findings.insert(0, _best_epochs_finding(group_summary, last))
    return Comparison(diagnoses, labels, groups, summary, group_summary, spreads, findings,
                      list(analyses) if analyses is not None else [None] * len(diagnoses))


def _group_summary(summary: pd.DataFrame, groups: dict[str, list[int]], labels: list[str]) -> pd.DataFrame:
    out = []
    for name, members in groups.items():
        rows = summary.loc[[labels[i] for i in members]]
        best = rows["best_val_loss_epoch"].astype(float)
        out.append({
            "group": name,
            "runs": int(len(members)),
            "best_epoch_mean": float(best.mean()),
            "best_epoch_min": float(best.min()),
            "best_epoch_max": float(best.max()),
            "best_val_loss_mean": float(rows["best_val_loss"].astype(float).mean()),
            "last_val_loss_mean": float(rows["last_val_loss"].astype(float).mean()),
            "rise_pct_mean": float(rows["val_loss_rise_pct"].astype(float).mean()),
            "best_val_accuracy_mean": float(rows["best_val_accuracy"].astype(float).mean()),
            "last_val_accuracy_mean": float(rows["last_val_accuracy"].astype(float).mean()),
        })
    return pd.DataFrame(out).set_index("group")


def _epoch_text(row: pd.Series) -> str:
    mean, lo, hi, runs = row["best_epoch_mean"], row["best_epoch_min"], row["best_epoch_max"], int(row["runs"])
    if runs == 1 or lo == hi:
        return f"epoch {mean:g}" + ((" in both runs" if runs == 2 else f" in all {runs} runs") if runs > 1 else "")
    return f"epoch {mean:.1f} on average ({lo:g}-{hi:g} over {runs} runs)"


def _best_epochs_finding(g: pd.DataFrame, last_epochs: dict[str, float]) -> Finding:
    """Which group reaches its lowest val_loss later, by how many epochs, and how high it climbs after."""
    known = g[np.isfinite(g["best_epoch_mean"].astype(float))]
    evidence: dict[str, Any] = {
        name: {k: row[k] for k in ("runs", "best_epoch_mean", "best_epoch_min", "best_epoch_max",
                                   "best_val_loss_mean", "last_val_loss_mean", "rise_pct_mean")}
        for name, row in g.iterrows()
    }
    if len(known) < 2:
        return Finding("compare_best_epochs", "undetermined",
                       "Cannot tell which run overfits later: fewer than two of them log a val_loss.", evidence,
                       topic="compare")
    order = known.sort_values("best_epoch_mean", kind="stable")
    early, late = order.iloc[0], order.iloc[-1]
    parts = [f"{name}: lowest val_loss {row['best_val_loss_mean']:.4f} at {_epoch_text(row)}, "
             f"{row['last_val_loss_mean']:.4f} at the end ({row['rise_pct_mean']:+.0f}%)"
             for name, row in order.iterrows()]
    diff = float(late["best_epoch_mean"] - early["best_epoch_mean"])
    steps = f"{diff:g}" if diff == int(diff) else f"{diff:.1f}"
    if diff == 0:
        lead = "All reach their lowest val_loss at the same epoch"
    elif late["best_epoch_min"] >= last_epochs.get(str(late.name), math.inf):
        lead = (f"{late.name} does not overfit within its epochs (val_loss is lowest at its last epoch), while "
                f"{early.name} bottoms out {steps} epoch{'s' if diff != 1 else ''} earlier")
    else:
        lead = (f"{late.name} overfits later than {early.name}: its val_loss bottoms out {steps} epoch"
                f"{'s' if diff != 1 else ''} later")
    if diff > 0 and min(late["runs"], early["runs"]) > 1 and late["best_epoch_min"] <= early["best_epoch_max"]:
        # Several seeds each: a later mean bottom is only a difference if the seeds' ranges do not overlap.
        lead += (f", but across seeds the ranges overlap (epochs {early['best_epoch_min']:g}-"
                 f"{early['best_epoch_max']:g} against {late['best_epoch_min']:g}-{late['best_epoch_max']:g}), "
                 f"so the difference is within run-to-run variation")
        evidence["ranges_overlap"] = True
    lowest = known["best_val_loss_mean"].astype(float).idxmin()
    best_value = float(known.at[lowest, "best_val_loss_mean"])
    claim = f"{lead}. Lowest val_loss overall: {lowest} ({best_value:.4f}). " + "; ".join(parts) + "."
    evidence["later"], evidence["earlier"], evidence["epochs_later"] = late.name, early.name, diff
    return Finding("compare_best_epochs", "info", claim, evidence, topic="compare")
