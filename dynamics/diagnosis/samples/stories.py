"""Explain a recorded run sample by sample: where does the rising val_loss come from?

The literature offers three stories for "val_acc flat, val_loss up"
(docs/methods.md#the-question-and-three-stories). A recorded run -- every validation sample's prediction
at every epoch -- can confirm or refute each with exact numbers:

1. **Overconfident mistakes** (Guo et al. 2017; Mukhoti et al. 2020): the rise
   comes from samples that are misclassified, whose confidence keeps growing.
   Tested by the share of the rise since the best epoch carried by samples
   already wrong at the best epoch, and the confidence of wrong predictions.
   Whether it is *miscalibration* is tested separately: the share of the rise
   that one temperature per epoch (cross-fitted) removes; what remains is
   lost discrimination.
2. **A small minority** (Venter et al. 2021): most samples' loss falls while a
   few samples' loss grows enormously. Tested by the fraction of samples
   whose increases add up to half the rise and the fraction whose loss fell.
3. **Borderline samples flipping**: samples near the decision boundary trade
   places from epoch to epoch. Tested by the per-epoch churn against the
   accuracy change, and the share of the rise carried by samples whose
   predicted class changed since the best epoch.

The stories are not exclusive; each finding says whether its test passed,
with the thresholds in its evidence. :func:`analyze` gives the tables behind
the findings (per epoch, per sample) so plots and reports reuse exactly these
numbers. Churn, label problems, forgetting and the spread across seeds are in
:mod:`dynamics.diagnosis.samples.tables`. This module knows nothing of log-level
diagnosis.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dynamics.diagnosis.samples.tables import (
    churn_finding,
    forgetting_finding,
    label_issues_finding,
)
from dynamics.diagnosis.wording import fixed, share
from dynamics.findings import Finding
from dynamics.stats.analysis import RunAnalysis, SampleAnalysis, analyze
from dynamics.stats.temperature import T_BOUNDS

__all__ = ["RunAnalysis", "analyze", "explain"]

#: Fewer validation samples than this are too few to attribute a rise.
MIN_SAMPLES = 100
#: A rise smaller than this fraction of the best loss is not attributed.
MIN_RELATIVE_RISE = 0.01
#: Story 1 holds when samples wrong at the best epoch carry at least this share.
MISTAKES_SHARE = 0.5
#: ... and the mean confidence of wrong predictions grew by at least this much.
CONFIDENCE_GROWTH = 0.01
#: Miscalibration dominates when one temperature removes at least this share.
TEMPERATURE_SHARE = 0.5
#: Story 2 holds when at most this fraction of samples carries half the rise ...
MINORITY_FRACTION = 0.10
#: ... and at least this fraction of samples' loss fell.
MAJORITY_FELL = 0.6
#: Story 3 holds when samples that changed class since the best epoch carry this share.
FLIPPERS_SHARE = 0.5
#: A sample "flips back and forth" when its class changed this often after the best epoch.
MIN_FLIPS = 2


def explain(run: Any, *, analysis: RunAnalysis | None = None) -> list[Finding]:
    """Findings that confirm or refute each story for the run's val_loss rise.

    Parameters
    ----------
    run : Run
        A recorded run (``run.predictions`` set). A run parsed from a log gets
        one ``undetermined`` finding saying why nothing can be said.
    analysis : RunAnalysis, optional
        A previous :func:`analyze` result, to avoid a second pass.

    Returns
    -------
    list of Finding
        Codes: ``val_loss_rise`` (the summary: which stories hold),
        ``overconfident_mistakes``, ``temperature_scaling``,
        ``minority_loss_growth``, ``borderline_flipping``, ``churn``,
        ``label_issues``, ``forgetting``; or ``no_predictions``.

    Examples
    --------
    >>> from dynamics.simulate import simulate_run
    >>> findings = explain(simulate_run("overconfident", n=1000, epochs=12))
    >>> {f.code: f.severity for f in findings}["overconfident_mistakes"]
    'warning'
    """
    if run.predictions is None or len(run.predictions) == 0:
        return [
            Finding(
                "no_predictions",
                "undetermined",
                "Cannot explain the val_loss sample by sample: this run has no recorded per-sample predictions "
                "(it comes from a log). Record one with dynamics.PredictionRecorder or `dynamics train`.",
                {},
                topic="samples",
            )
        ]
    analysis = analysis or analyze(run)
    a = analysis.val
    facts = _facts(a)
    findings: list[Finding] = []
    if facts["reason"] is not None:
        findings.append(_no_rise(a, facts))
    else:
        stories = [_overconfidence(a, facts), _temperature(a, facts), _minority(a, facts), _flipping(a, facts)]
        findings.append(_summary(a, facts, stories))
        findings.extend(stories)
    findings.append(churn_finding(a))
    findings.append(label_issues_finding(a))
    findings.append(forgetting_finding(analysis))
    return findings


def _facts(a: SampleAnalysis) -> dict[str, Any]:
    """The numbers every finding draws on, computed once."""
    pe = a.per_epoch
    b, e = a.best_epoch, a.last_epoch
    rise = a.rise
    f: dict[str, Any] = {"best_epoch": b, "last_epoch": e, "n": a.n_samples, "epochs": len(a.epochs)}
    f["loss_best"], f["loss_end"] = float(pe.at[b, "val_loss"]), float(pe.at[e, "val_loss"])
    f["acc_best"], f["acc_end"] = float(pe.at[b, "accuracy"]), float(pe.at[e, "accuracy"])
    f["rise"] = rise.rise
    f["relative_rise"] = rise.rise / f["loss_best"] if f["loss_best"] > 0 else math.nan
    after = a.churn[a.churn["from_epoch"] >= b]
    f["pairs_after_best"] = len(after)
    f["flip_rate"] = float(after["changed"].mean()) if len(after) else math.nan
    f["acc_move"] = float(after["accuracy_change"].abs().mean()) if len(after) else math.nan
    f["w2r"] = float(after["wrong_to_right"].mean()) if len(after) else math.nan
    f["r2w"] = float(after["right_to_wrong"].mean()) if len(after) else math.nan
    acc_after = pe.loc[pe.index >= b, "accuracy"]
    f["acc_min_after"], f["acc_max_after"] = float(acc_after.min()), float(acc_after.max())
    if len(a.epochs) < 2:
        f["reason"] = f"only {len(a.epochs)} epoch was recorded; a rise needs two"
    elif a.n_samples < MIN_SAMPLES:
        f["reason"] = (
            f"only {a.n_samples} validation samples were recorded; shares of a rise over fewer than "
            f"{MIN_SAMPLES} samples are anecdotes, not evidence"
        )
    elif b == e:
        f["reason"] = f"val_loss is lowest at the last recorded epoch ({e}: {f['loss_end']:.4f}); it did not rise"
    elif not f["relative_rise"] >= MIN_RELATIVE_RISE:
        f["reason"] = (
            f"val_loss rose only {share(f['relative_rise'], 1)} from epoch {b} ({f['loss_best']:.4f}) to epoch {e} "
            f"({f['loss_end']:.4f}), below the {share(MIN_RELATIVE_RISE)} needed to attribute it"
        )
    else:
        f["reason"] = None
    delta = a.arrays["loss_change"]
    total = float(delta.sum())
    flipped = a.arrays["flips_since_best"] >= MIN_FLIPS
    f["flipped_fraction"] = float(flipped.mean())
    f["flippers_share"] = float(delta[flipped].sum()) / total if total > 0 else math.nan
    f["changed_class"] = float(np.mean(a.arrays["pred_best"] != a.arrays["pred_end"]))
    if "loss_scaled" in pe.columns and f["reason"] is None:
        lt_b, lt_e = float(pe.at[b, "loss_scaled"]), float(pe.at[e, "loss_scaled"])
        f["loss_scaled_best"], f["loss_scaled_end"] = lt_b, lt_e
        f["removed_by_temperature"] = 1.0 - (lt_e - lt_b) / rise.rise
    return f


def _no_rise(a: SampleAnalysis, f: dict[str, Any]) -> Finding:
    return Finding(
        "val_loss_rise",
        "undetermined",
        f"Cannot attribute a val_loss rise to samples: {f['reason']}. The overconfidence, minority and "
        "flipping stories are not tested.",
        {k: f[k] for k in ("best_epoch", "last_epoch", "loss_best", "loss_end", "acc_best", "acc_end", "n", "epochs")},
        topic="samples",
    )


def _overconfidence(a: SampleAnalysis, f: dict[str, Any]) -> Finding:
    pe, r = a.per_epoch, a.rise
    b, e = f["best_epoch"], f["last_epoch"]
    cw_b, cw_e = float(pe.at[b, "confidence_wrong"]), float(pe.at[e, "confidence_wrong"])
    hw_b, hw_e = float(pe.at[b, "entropy_wrong"]), float(pe.at[e, "entropy_wrong"])
    over = float(pe.at[e, "wrong_above_0.9"])
    growth = cw_e - cw_b
    holds = r.share_wrong_best >= MISTAKES_SHARE and growth >= CONFIDENCE_GROWTH
    verdict = "holds" if holds else "does not hold"
    claim = (
        f"Overconfident mistakes (Guo et al. 2017; Mukhoti et al. 2020) {verdict}: samples already misclassified at "
        f"epoch {b} carry {share(r.share_wrong_best)} of the val_loss rise to epoch {e} "
        f"({f['loss_best']:.4f} -> {f['loss_end']:.4f}); samples misclassified at epoch {e} carry "
        f"{share(r.share_wrong_end)}. The mean confidence of wrong predictions went from {fixed(cw_b)} to {fixed(cw_e)} "
        f"(entropy {fixed(hw_b)} -> {fixed(hw_e)} nats); {share(over)} of the wrong predictions at epoch {e} are above 0.9."
    )
    evidence = {
        "share_wrong_at_best": r.share_wrong_best,
        "share_wrong_at_end": r.share_wrong_end,
        "confidence_wrong_best": cw_b,
        "confidence_wrong_end": cw_e,
        "entropy_wrong_best": hw_b,
        "entropy_wrong_end": hw_e,
        "wrong_above_0.9_end": over,
        "transitions": r.transitions.reset_index().to_dict(orient="records"),
        "thresholds": {"share": MISTAKES_SHARE, "confidence_growth": CONFIDENCE_GROWTH},
    }
    return Finding("overconfident_mistakes", "warning" if holds else "info", claim, evidence, topic="samples")


def _temperature(a: SampleAnalysis, f: dict[str, Any]) -> Finding:
    pe = a.per_epoch
    b, e = f["best_epoch"], f["last_epoch"]
    if "temperature" in a.unavailable:
        return Finding(
            "temperature_scaling",
            "undetermined",
            "Cannot tell how much of the rise is miscalibration: temperature scaling is not available with compact "
            f"storage: {a.unavailable['temperature']}. Record with the default storage (all K probabilities) to "
            "split the rise into miscalibration and lost discrimination.",
            {"unavailable": a.unavailable},
            topic="samples",
        )
    if "removed_by_temperature" not in f:
        return Finding(
            "temperature_scaling",
            "undetermined",
            "Cannot tell how much of the rise is miscalibration: temperature scaling was not computed for this "
            "analysis (analyze_predictions(..., calibration=False)).",
            {},
            topic="samples",
        )
    removed = f["removed_by_temperature"]
    t_b, t_e = float(pe.at[b, "temperature"]), float(pe.at[e, "temperature"])
    auc = (float(pe.at[b, "auc"]), float(pe.at[e, "auc"])) if a.n_classes == 2 else None
    res_b, res_e = float(pe.at[b, "resolution"]), float(pe.at[e, "resolution"])
    rel_b, rel_e = float(pe.at[b, "reliability"]), float(pe.at[e, "reliability"])
    ece_b, ece_e = float(pe.at[b, "ece"]), float(pe.at[e, "ece"])
    mostly = removed >= TEMPERATURE_SHARE
    kind = "mostly miscalibration" if mostly else "mostly lost discrimination"
    disc = f"AUC {auc[0]:.4f} -> {auc[1]:.4f}, " if auc else ""
    scaled = (
        f"scaled loss {f['loss_scaled_best']:.4f} -> {f['loss_scaled_end']:.4f} against {f['loss_best']:.4f} -> "
        f"{f['loss_end']:.4f}"
    )
    if removed < 0:
        split_text = (
            f"it removes none of the rise: scaling helps epoch {b} more than epoch {e}, so the scaled rise is "
            f"{share(-removed)} larger ({scaled}). The rise is lost discrimination"
        )
    else:
        split_text = (
            f"it removes {share(removed)} of the val_loss rise ({scaled}). So {share(min(removed, 1.0))} of the rise is "
            f"miscalibration and {share(max(1 - removed, 0.0))} lost discrimination: {kind}"
        )
    at_bound = [t for t in (t_b, t_e) if not T_BOUNDS[0] * 1.001 < t < T_BOUNDS[1] / 1.001]
    claim = (
        f"A single temperature per epoch (T = {t_b:.2f} at epoch {b}, {t_e:.2f} at epoch {e}; fitted on one half of "
        f"the samples, scored on the other): {split_text} ({disc}Murphy resolution {res_b:.4f} -> {res_e:.4f}, "
        f"reliability {rel_b:.4f} -> {rel_e:.4f}, ECE {ece_b:.4f} -> {ece_e:.4f})."
        + (
            f" T reached the end of its search range ({T_BOUNDS[0]:g}-{T_BOUNDS[1]:g}): the predictions carry "
            "almost no information at that epoch or are perfectly separated, so treat the split with care."
            if at_bound
            else ""
        )
    )
    evidence = {
        "removed_share": removed,
        "temperature_best": t_b,
        "temperature_end": t_e,
        "loss_scaled_best": f["loss_scaled_best"],
        "loss_scaled_end": f["loss_scaled_end"],
        "auc_best": auc[0] if auc else None,
        "auc_end": auc[1] if auc else None,
        "resolution_best": res_b,
        "resolution_end": res_e,
        "reliability_best": rel_b,
        "reliability_end": rel_e,
        "ece_best": ece_b,
        "ece_end": ece_e,
        "threshold": TEMPERATURE_SHARE,
        "at_search_bound": bool(at_bound),
    }
    suggestion = (
        "Temperature-scale the final model on held-out data (one parameter), or stop at the best val_loss epoch."
        if mostly
        else "Stop at the best val_loss epoch (EarlyStopping(monitor='val_loss', restore_best_weights=True)); "
        "recalibration alone will not recover the loss."
    )
    return Finding("temperature_scaling", "warning" if mostly else "info", claim, evidence, suggestion, topic="samples")


def _minority(a: SampleAnalysis, f: dict[str, Any]) -> Finding:
    r = a.rise
    fell = float(np.mean(a.arrays["loss_change"] < 0))
    holds = r.fraction_for_half <= MINORITY_FRACTION and fell >= MAJORITY_FELL
    n_half = int(round(r.fraction_for_half * a.n_samples)) if math.isfinite(r.fraction_for_half) else None
    tops = ", ".join(f"top {share(k)}: {share(v)}" for k, v in r.top_shares.items())
    claim = (
        f"A small minority with extreme loss growth (Venter et al. 2021) {'holds' if holds else 'does not hold'}: "
        f"{share(r.fraction_for_half, 1)} of the samples ({n_half} of {a.n_samples}) carry half of the val_loss rise "
        f"from epoch {f['best_epoch']} to {f['last_epoch']}, while the loss of {share(fell)} of the samples fell. "
        f"Share of the rise by the samples whose loss grew most: {tops}."
    )
    evidence = {
        "fraction_for_half": r.fraction_for_half,
        "samples_for_half": n_half,
        "fraction_loss_fell": fell,
        "fraction_loss_rose": r.fraction_increased,
        "top_shares": {f"{k:g}": v for k, v in r.top_shares.items()},
        "top_samples": a.top_samples(5).reset_index().to_dict(orient="records"),
        "thresholds": {"fraction_for_half": MINORITY_FRACTION, "fraction_fell": MAJORITY_FELL},
    }
    return Finding("minority_loss_growth", "warning" if holds else "info", claim, evidence, topic="samples")


def _flipping(a: SampleAnalysis, f: dict[str, Any]) -> Finding:
    holds = f["flippers_share"] >= FLIPPERS_SHARE
    claim = (
        f"Borderline samples flipping back and forth {'carry' if holds else 'do not carry'} the rise: the "
        f"{share(f['flipped_fraction'], 1)} of samples whose predicted class changed {MIN_FLIPS} or more times after "
        f"epoch {f['best_epoch']} carry {share(f['flippers_share'])} of the val_loss rise. Each epoch after it, "
        f"{share(f['flip_rate'], 1)} of samples change class ({share(f['w2r'], 1)} wrong -> right, "
        f"{share(f['r2w'], 1)} right -> wrong) while val_accuracy moves {100 * f['acc_move']:.2f} points on average."
    )
    evidence = {
        k: f[k] for k in ("flipped_fraction", "flippers_share", "flip_rate", "w2r", "r2w", "acc_move", "changed_class")
    }
    evidence["thresholds"] = {"share": FLIPPERS_SHARE, "min_flips": MIN_FLIPS}
    return Finding("borderline_flipping", "warning" if holds else "info", claim, evidence, topic="samples")


def _summary(a: SampleAnalysis, f: dict[str, Any], stories: list[Finding]) -> Finding:
    by = {s.code: s for s in stories}
    held = [name for code, name in (
        ("overconfident_mistakes", "overconfident mistakes"),
        ("minority_loss_growth", "a small minority of samples"),
        ("borderline_flipping", "borderline samples flipping"),
    ) if by[code].severity == "warning"]  # fmt: skip
    calib = by["temperature_scaling"]
    nature = ""
    if calib.severity != "undetermined":
        nature = "mostly miscalibration" if calib.severity == "warning" else "mostly lost discrimination"
        nature = f"the rise is {nature} (one temperature removes {share(max(calib.evidence['removed_share'], 0.0))})"
    stories_text = ", ".join(held) if held else "none of the three stories"
    removed = f.get("removed_by_temperature", math.nan)
    if math.isfinite(removed):
        scaling = f"temperature scaling removes {share(max(removed, 0.0))} of it"
    elif "temperature" in a.unavailable:
        scaling = "temperature scaling is not available with compact storage"
    else:
        scaling = "temperature scaling was not computed"
    claim = (
        f"val_loss rose {share(f['relative_rise'])} from epoch {f['best_epoch']} ({f['loss_best']:.4f}) to epoch "
        f"{f['last_epoch']} ({f['loss_end']:.4f}) while val_accuracy went {100 * f['acc_best']:.2f}% -> "
        f"{100 * f['acc_end']:.2f}% (range {100 * f['acc_min_after']:.2f}-{100 * f['acc_max_after']:.2f}%). "
        f"The rise is {share(a.rise.share_wrong_best)} from samples already wrong at epoch {f['best_epoch']}, "
        f"{scaling}, {share(a.rise.fraction_for_half, 1)} of samples carry half "
        f"of it, {share(f['flip_rate'], 1)} of samples flip each epoch while accuracy moves "
        f"{100 * f['acc_move']:.2f} points. Explained by: {stories_text}"
        + (f"; {nature}." if nature else ".")
        + (" (Shares above 100% mean the other samples' loss fell.)" if a.rise.share_wrong_best > 1 else "")
    )
    evidence = {
        k: f[k]
        for k in ("best_epoch", "last_epoch", "loss_best", "loss_end", "rise", "relative_rise", "acc_best", "acc_end",
                  "flip_rate", "acc_move", "n", "epochs")
    }  # fmt: skip
    evidence["share_wrong_at_best"] = a.rise.share_wrong_best
    evidence["removed_by_temperature"] = removed
    evidence["temperature_unavailable"] = a.unavailable.get("temperature")
    evidence["fraction_for_half"] = a.rise.fraction_for_half
    evidence["stories"] = held
    return Finding("val_loss_rise", "warning", claim, evidence, topic="samples")
