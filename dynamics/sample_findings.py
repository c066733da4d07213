"""Findings about how the samples behave, beside the val_loss stories.

Churn (samples trading places), candidate label problems, forgetting events
and the spread across seeds: each a :class:`~dynamics.findings.Finding` whose
claim names its numbers, computed from a
:class:`~dynamics.stats.analysis.SampleAnalysis` (or several runs for seeds).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from dynamics.findings import Finding
from dynamics.stats.analysis import RunAnalysis, SampleAnalysis

#: Label issues shown in a claim.
SHOWN_ISSUES = 3
#: The seed matters when the run-to-run sd exceeds the binomial noise by this factor.
SEED_FACTOR = 1.5


def pct(x: float, digits: int = 0) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    text = f"{100 * x:.{digits}f}%"
    return text[1:] if text.startswith("-") and float(text[:-1]) == 0 else text


def _count(k: int, noun: str) -> str:
    return f"{k} {noun}" + ("" if k == 1 else "s")


def num(x: float, digits: int = 3) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"



def churn_finding(a: SampleAnalysis) -> Finding:
    stab = pd.Series(a.arrays["stability"]).value_counts(normalize=True)
    right, wrong, unstable = (float(stab.get(k, 0.0)) for k in ("always right", "always wrong", "unstable"))
    if len(a.epochs) < 2:
        return Finding("churn", "undetermined", "Churn needs at least two recorded epochs.", {}, topic="samples")
    mean_rate = float(a.churn["changed"].mean())
    mean_move = float(a.churn["accuracy_change"].abs().mean())
    claim = (
        f"Across {len(a.epochs)} recorded epochs, {pct(right, 1)} of the {a.n_samples} validation samples were always "
        f"right, {pct(wrong, 1)} always wrong and {pct(unstable, 1)} unstable. On average {pct(mean_rate, 1)} of "
        f"samples change class between consecutive epochs while val_accuracy moves {100 * mean_move:.2f} points: "
        "accuracy hides how many samples trade places."
    )
    evidence = {
        "always_right": right,
        "always_wrong": wrong,
        "unstable": unstable,
        "mean_changed": mean_rate,
        "mean_abs_accuracy_change": mean_move,
        "mean_flips_per_sample": float(np.mean(a.arrays["flips"])),
    }
    return Finding("churn", "info", claim, evidence, topic="samples")


def label_issues_finding(a: SampleAnalysis) -> Finding:
    from dynamics.stats.label_issues import MAX_SELF_CONFIDENCE, MIN_WRONG_FRACTION

    issues = a.label_issues
    k = len(issues)
    delta = a.arrays["loss_change"]
    total = float(delta.sum())
    share = float(delta[issues["sample"].to_numpy()].sum()) / total if k and total > 0 else math.nan
    shown = "; ".join(
        f"sample {int(r.sample_id)} (label {int(r.label)}, P(label) = {r.self_confidence:.4f})"
        for r in issues.head(SHOWN_ISSUES).itertuples()
    )
    claim = (
        f"{_count(k, 'validation sample')} ({pct(k / a.n_samples, 1)}) are persistently and confidently misclassified "
        f"(wrong in >= {pct(MIN_WRONG_FRACTION)} of epochs and at the end, P(given label) <= {MAX_SELF_CONFIDENCE} "
        "at the end): candidate label problems, ranked by self-confidence as cleanlab does"
        + (f"; they carry {pct(share)} of the val_loss rise" if math.isfinite(share) else "")
        + (f". Most suspicious: {shown}." if k else ".")
    )
    evidence = {"count": k, "share_of_rise": share, "top": issues.head(10).to_dict(orient="records")}
    return Finding("label_issues", "warning" if k else "info", claim, evidence, topic="samples")


def forgetting_finding(analysis: RunAnalysis) -> Finding:
    parts, evidence = [], {}
    for name, part in (("training subset", analysis.train), ("validation", analysis.val)):
        if part is None:
            continue
        arr = part.arrays
        key = "train" if part.split == "train" else "val"
        stats = {
            "samples": part.n_samples,
            "epochs": len(part.epochs),
            "mean_forgetting_events": float(np.mean(arr["forgetting_events"])),
            "forgotten_at_least_once": float(np.mean(arr["forgetting_events"] > 0)),
            "unforgettable": float(np.mean(arr["unforgettable"])),
            "never_learned": float(np.mean(arr["never_learned"])),
        }
        evidence[key] = stats
        parts.append(
            f"{name} ({_count(stats['samples'], 'sample')}, {_count(stats['epochs'], 'epoch')}): {pct(stats['unforgettable'], 1)} "
            f"unforgettable, {pct(stats['forgotten_at_least_once'], 1)} forgotten at least once "
            f"({stats['mean_forgetting_events']:.2f} forgetting events per sample), {pct(stats['never_learned'], 1)} "
            "never learned"
        )
    claim = "Forgetting events (Toneva et al. 2019, correct -> incorrect between recorded epochs): " + "; ".join(parts) + "."
    if analysis.train is None:
        claim += " No training subset was recorded, so training-set forgetting cannot be told."
    return Finding("forgetting", "info", claim, evidence, topic="samples")


def seeds_finding(runs: Sequence[Any], *, from_epoch: int | None = None) -> Finding:
    """Run-to-run spread of val_accuracy beside within-run and binomial noise.

    Parameters
    ----------
    runs : sequence of Run
        Runs of one configuration that differ in the seed (at least 2).
    from_epoch : int, optional
        First epoch of the plateau averaged over (default: the second half).

    Examples
    --------
    >>> from dynamics.simulate import simulate_run
    >>> runs = [simulate_run("healthy", n=2000, epochs=6, seed=s) for s in range(3)]
    >>> seeds_finding(runs).code
    'seeds'
    """
    from dynamics.stats.seeds import seed_spread_of_runs

    spread = seed_spread_of_runs(runs, from_epoch=from_epoch)
    s = spread.summary
    evidence = {k: s[k] for k in ("n_runs", "n_val", "from_epoch", "mean", "run_sd", "within_run_sd", "binomial_se")}
    evidence["within_run_by_run"] = spread.within_run.tolist()
    numbers = (
        f"Across {s['n_runs']} runs, from epoch {s['from_epoch']} on, val_accuracy (mean {100 * s['mean']:.2f}%) "
        f"differs from run to run by {100 * s['run_sd']:.2f} points (sd) and moves {100 * s['within_run_sd']:.2f} "
        "points from epoch to epoch within a run"
    )
    if not math.isfinite(s["binomial_se"]):
        claim = numbers + "; the validation size is unknown, so the binomial noise cannot be told."
        return Finding("seeds", "undetermined", claim, evidence, topic="noise")
    ratio = s["run_sd"] / s["binomial_se"] if s["binomial_se"] > 0 else math.inf
    evidence["ratio_to_binomial"] = ratio
    evidence["threshold"] = SEED_FACTOR
    matters = ratio > SEED_FACTOR
    claim = (
        f"{numbers}; the binomial noise of {s['n_val']} validation samples is {100 * s['binomial_se']:.2f} points. "
        + (
            f"The seed matters: runs differ {ratio:.1f}x more than sampling noise explains."
            if matters
            else f"Runs differ no more than sampling noise explains ({ratio:.1f}x the binomial noise)."
        )
    )
    return Finding("seeds", "warning" if matters else "info", claim, evidence, topic="noise")
