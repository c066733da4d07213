"""Findings about how the samples behave, beside the val_loss stories.

Churn (samples trading places), candidate label problems, forgetting events
and the spread across seeds: each a :class:`~dynamics.findings.Finding` whose
claim names its numbers, computed from a
:class:`~dynamics.stats.analysis.SampleAnalysis` (or several runs for seeds).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from dynamics.diagnosis.wording import share
from dynamics.findings import Finding
from dynamics.stats.analysis import RunAnalysis, SampleAnalysis

#: Label issues shown in a claim.
SHOWN_ISSUES = 3
#: The seed matters when the run-to-run sd exceeds the binomial noise by this factor.
SEED_FACTOR = 1.5


def _count(k: int, noun: str) -> str:
    return f"{k} {noun}" + ("" if k == 1 else "s")


def churn_finding(a: SampleAnalysis) -> Finding:
    stab = pd.Series(a.arrays["stability"]).value_counts(normalize=True)
    right, wrong, unstable = (float(stab.get(k, 0.0)) for k in ("always right", "always wrong", "unstable"))
    if len(a.epochs) < 2:
        return Finding("churn", "undetermined", "Churn needs at least two recorded epochs.", {}, topic="samples")
    mean_rate = float(a.churn["changed"].mean())
    mean_move = float(a.churn["accuracy_change"].abs().mean())
    claim = (
        f"Across {len(a.epochs)} recorded epochs, {share(right, 1)} of the {a.n_samples} validation samples were always "
        f"right, {share(wrong, 1)} always wrong and {share(unstable, 1)} unstable. On average {share(mean_rate, 1)} of "
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
    rise_share = float(delta[issues["sample"].to_numpy()].sum()) / total if k and total > 0 else math.nan
    shown = "; ".join(
        f"sample {int(r.sample_id)} (label {int(r.label)}, P(label) = {r.self_confidence:.4f})"
        for r in issues.head(SHOWN_ISSUES).itertuples()
    )
    claim = (
        f"{_count(k, 'validation sample')} ({share(k / a.n_samples, 1)}) are persistently and confidently misclassified "
        f"(wrong in >= {share(MIN_WRONG_FRACTION)} of epochs and at the end, P(given label) <= {MAX_SELF_CONFIDENCE} "
        "at the end): candidate label problems, ranked by self-confidence as cleanlab does"
        + (f"; they carry {share(rise_share)} of the val_loss rise" if math.isfinite(rise_share) else "")
        + (f". Most suspicious: {shown}." if k else ".")
    )
    evidence = {"count": k, "share_of_rise": rise_share, "top": issues.head(10).to_dict(orient="records")}
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
            f"{name} ({_count(stats['samples'], 'sample')}, {_count(stats['epochs'], 'epoch')}): {share(stats['unforgettable'], 1)} "
            f"unforgettable, {share(stats['forgotten_at_least_once'], 1)} forgotten at least once "
            f"({stats['mean_forgetting_events']:.2f} forgetting events per sample), {share(stats['never_learned'], 1)} "
            "never learned"
        )
    claim = "Forgetting events (Toneva et al. 2019, correct -> incorrect between recorded epochs): " + "; ".join(parts) + "."
    if analysis.train is None:
        claim += " No training subset was recorded, so training-set forgetting cannot be told."
    return Finding("forgetting", "info", claim, evidence, topic="samples")
