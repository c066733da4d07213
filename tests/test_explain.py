"""explain(run): each story confirmed or refuted with the numbers of the tables."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from dynamics.diagnosis.samples.stories import analyze, explain
from dynamics.run import Run, make_epoch_table
from dynamics.simulate import simulate_run


@pytest.fixture(scope="module", params=[2, 3], ids=["binary", "3-class"])
def classes(request):
    return request.param


def _by_code(findings):
    return {f.code: f for f in findings}


@pytest.fixture(scope="module")
def overconfident(classes):
    run = simulate_run("overconfident", n=3000, epochs=20, classes=classes, seed=11)
    analysis = analyze(run)
    return run, analysis, _by_code(explain(run, analysis=analysis))


def test_overconfident_story_holds_and_temperature_removes_most(overconfident):
    run, analysis, f = overconfident
    assert f["overconfident_mistakes"].severity == "warning"
    assert f["temperature_scaling"].severity == "warning"
    assert f["temperature_scaling"].evidence["removed_share"] > 0.8
    assert f["borderline_flipping"].severity == "info"
    assert "overconfident mistakes" in f["val_loss_rise"].evidence["stories"]
    assert "mostly miscalibration" in f["val_loss_rise"].claim


#: Keras clips probabilities to [epsilon, 1 - epsilon] in float32, where 1 - 1e-7 is 1 - 2**-23.
LOW, HIGH = float(np.float32(1e-7)), float(np.float32(1) - np.float32(1e-7))


def _keras_losses(stack: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per epoch and sample: Keras's cross-entropy, correctness and confidence, written out here from the formulas."""
    if stack.ndim == 2:  # P(class 1)
        p = np.clip(stack, LOW, HIGH)
        loss = -(y * np.log(p) + (1 - y) * np.log(1 - p))
        return loss, (stack > 0.5) == (y == 1), np.maximum(stack, 1 - stack)
    p = stack / stack.sum(axis=2, keepdims=True)
    p_true = np.take_along_axis(p, y[None, :, None], axis=2)[..., 0]
    return -np.log(np.clip(p_true, LOW, HIGH)), p.argmax(axis=2) == y, p.max(axis=2)


def _cross_fitted_loss(proba: np.ndarray, y: np.ndarray, halves: np.ndarray) -> float:
    """Temperature fitted by a grid search over log T on each half, each half scored with the other's T."""
    if proba.ndim == 1:
        p = np.clip(proba, LOW, HIGH)
        logits = np.stack([np.log1p(-p), np.log(p)], axis=1)  # softmax of these is (1 - p, p)
    else:
        logits = np.log(np.clip(proba / proba.sum(axis=1, keepdims=True), LOW, 1.0))
    grid = np.exp(np.linspace(np.log(0.01), np.log(100), 4001))

    def nll(rows: np.ndarray, t: float) -> np.ndarray:
        z = logits[rows] / t
        z = z - z.max(axis=1, keepdims=True)
        log_q = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return -log_q[np.arange(len(log_q)), y[rows]]

    def keras(rows: np.ndarray, t: float) -> np.ndarray:
        q = np.exp(-nll(rows, t))
        return -np.log(np.clip(q, LOW, HIGH))

    a, b = np.flatnonzero(halves), np.flatnonzero(~halves)
    t_a = grid[np.argmin([nll(a, t).mean() for t in grid])]
    t_b = grid[np.argmin([nll(b, t).mean() for t in grid])]
    return float((keras(b, t_a).sum() + keras(a, t_b).sum()) / len(y))


def test_claims_carry_the_numbers_recomputed_from_the_raw_predictions(overconfident):
    from dynamics.stats.temperature import default_halves

    run, analysis, f = overconfident
    preds = run.predictions
    stack, y = preds.stacked(np.float64), preds.y_true
    epochs = [int(e) for e in preds.epochs]
    loss, correct, confidence = _keras_losses(stack, y)
    mean = loss.mean(axis=1)
    ib, ie = int(np.argmin(mean)), len(epochs) - 1
    b, e = epochs[ib], epochs[ie]
    summary = f["val_loss_rise"]
    assert f"epoch {b} ({mean[ib]:.4f})" in summary.claim and f"epoch {e} ({mean[ie]:.4f})" in summary.claim
    delta = loss[ie] - loss[ib]
    share_wrong_best = delta[~correct[ib]].sum() / delta.sum()
    assert f"{100 * share_wrong_best:.0f}% from samples already wrong at epoch {b}" in summary.claim
    cum = np.cumsum(np.sort(delta)[::-1])
    fraction_for_half = (int(np.argmax(cum >= delta.sum() / 2)) + 1) / len(y)
    assert f"{100 * fraction_for_half:.1f}% of samples carry half" in summary.claim
    if stack.ndim == 2:
        predicted = (stack > 0.5).astype(int)
    else:
        predicted = stack.argmax(axis=2)
    pairs = range(ib + 1, len(epochs))  # the epoch pairs from the best epoch on
    flips = np.mean([np.mean(predicted[i] != predicted[i - 1]) for i in pairs])
    assert f"{100 * flips:.1f}% of samples flip each epoch" in summary.claim
    acc = correct.mean(axis=1)
    assert summary.evidence["acc_move"] == pytest.approx(np.mean([abs(acc[i] - acc[i - 1]) for i in pairs]))
    # Temperature scaling, cross-fitted, with a grid search instead of the optimiser the library uses.
    halves = default_halves(len(y), seed=0)
    scaled_b, scaled_e = (_cross_fitted_loss(stack[i], y, halves) for i in (ib, ie))
    removed = 1 - (scaled_e - scaled_b) / (mean[ie] - mean[ib])
    assert summary.evidence["removed_by_temperature"] == pytest.approx(removed, abs=2e-3)
    # The epoch table Keras would have printed holds the same mean loss.
    assert mean[ie] == pytest.approx(run.epochs.at[e, "val_loss"], abs=1e-4)
    wrong_confidence = confidence[ie][~correct[ie]].mean()
    conf = f["overconfident_mistakes"].evidence
    assert conf["confidence_wrong_end"] == pytest.approx(wrong_confidence, rel=1e-5)
    assert f"{wrong_confidence:.3f}" in f["overconfident_mistakes"].claim


def test_minority_story():
    f = _by_code(explain(simulate_run("minority", n=4000, epochs=24, seed=3)))
    assert f["minority_loss_growth"].severity == "warning"
    ev = f["minority_loss_growth"].evidence
    assert ev["fraction_for_half"] <= 0.1 and ev["fraction_loss_fell"] >= 0.6
    assert f["overconfident_mistakes"].severity == "info"
    assert f["temperature_scaling"].severity == "info"  # lost discrimination, not calibration
    assert f["borderline_flipping"].severity == "info"
    assert len(ev["top_samples"]) == 5


def test_flipping_story():
    f = _by_code(explain(simulate_run("flipping", n=4000, epochs=24, seed=5)))
    assert f["borderline_flipping"].severity == "warning"
    assert f["borderline_flipping"].evidence["flip_rate"] > 0.05
    assert f["minority_loss_growth"].severity == "info"
    assert f["overconfident_mistakes"].severity == "info"
    assert re.search(r"\d+\.\d% of samples change class \(\d+\.\d% wrong -> right", f["borderline_flipping"].claim)


def test_no_rise_is_undetermined_with_the_reason():
    f = _by_code(explain(simulate_run("healthy", n=500, epochs=8)))
    assert f["val_loss_rise"].severity == "undetermined"
    assert "lowest at the last recorded epoch (8" in f["val_loss_rise"].claim
    assert "overconfident_mistakes" not in f
    assert {"churn", "label_issues", "forgetting"} <= set(f)


def test_a_log_without_predictions_cannot_be_explained():
    run = Run(make_epoch_table({1: {"val_loss": 0.5}, 2: {"val_loss": 0.6}}))
    (finding,) = explain(run)
    assert finding.code == "no_predictions" and finding.severity == "undetermined"
    assert "Cannot explain" in finding.claim


def test_findings_are_json_ready_and_tables_are_dataframes(overconfident):
    run, analysis, f = overconfident
    text = json.dumps([x.to_dict() for x in f.values()], allow_nan=False)
    assert "share_wrong_at_best" in text
    tables = analysis.tables()
    assert {"per_epoch", "churn", "reliability", "top_samples", "samples", "label_issues", "train_samples"} <= set(tables)
    assert tables["per_epoch"].index.name == "epoch"
    assert len(tables["samples"]) == run.predictions.n_samples
    forgetting = f["forgetting"].evidence
    assert forgetting["train"]["samples"] == run.meta.n_train
    assert forgetting["val"]["unforgettable"] == pytest.approx(np.mean(analysis.val.arrays["unforgettable"]))


def test_label_noise_is_reported_as_candidate_label_problems():
    run = simulate_run("healthy", n=2000, epochs=10, seed=8, label_noise=0.05)
    f = _by_code(explain(run))
    issues = f["label_issues"]
    assert issues.severity == "warning" and issues.evidence["count"] > 10
    assert f"{issues.evidence['count']} validation samples" in issues.claim


def _seed_runs(offsets, n_val=2000, seed=0):
    from dynamics.run import RunMeta

    rng = np.random.default_rng(seed)
    runs = []
    for off in offsets:
        acc = rng.binomial(2000, 0.8 + off, 20) / 2000
        meta = RunMeta(n_val=n_val) if n_val else RunMeta()
        runs.append(Run(make_epoch_table({e + 1: {"val_accuracy": a} for e, a in enumerate(acc)}), meta))
    return runs


def seeds_finding(runs):
    from dynamics.diagnosis.configuration import spread_finding
    from dynamics.stats.seeds import seed_spread_of_runs

    return spread_finding(seed_spread_of_runs(runs))


def test_seeds_finding_compares_spread_with_binomial_noise():
    same = seeds_finding(_seed_runs([0.0] * 8))
    assert same.severity == "info" and "no more than sampling noise" in same.claim
    se = same.evidence["binomial_se"]
    assert se == pytest.approx(np.sqrt(same.evidence["mean"] * (1 - same.evidence["mean"]) / 2000))
    assert f"{100 * se:.2f} points" in same.claim
    apart = seeds_finding(_seed_runs([-0.03, 0.0, 0.03, 0.01]))
    assert apart.severity == "warning" and apart.evidence["ratio_to_binomial"] > 1.5
    unknown = seeds_finding(_seed_runs([0.0, 0.0], n_val=None))
    assert unknown.severity == "undetermined" and "cannot be told" in unknown.claim


def test_too_few_samples_or_epochs_leave_the_stories_undetermined():
    f = _by_code(explain(simulate_run("overconfident", n=50, epochs=10)))
    assert f["val_loss_rise"].severity == "undetermined"
    assert "only 50 validation samples" in f["val_loss_rise"].claim
    one = _by_code(explain(simulate_run("overconfident", n=300, epochs=10), analysis=None))
    assert one["val_loss_rise"].severity == "warning"
    from dynamics.run import Predictions

    single = Run(make_epoch_table({1: {}}), predictions=Predictions([1], np.array([0, 1]), [np.array([0.2, 0.9])]))
    g = _by_code(explain(single))
    assert "only 1 epoch was recorded" in g["val_loss_rise"].claim and g["churn"].severity == "undetermined"
