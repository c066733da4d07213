"""The one-pass analysis over memory-mapped epochs against brute force on the full stack."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_stats_calibration import _gpleiss_ece_mce

from dynamics.run import Predictions
from dynamics.simulate import epoch_arrays, load_npy, save_npy, simulate_predictions
from dynamics.stats.analysis import analyze_predictions
from dynamics.stats.probabilities import EpochView


@pytest.mark.parametrize("classes", [2, 3])
def test_streamed_per_sample_columns_equal_brute_force(tmp_path, classes):
    y, arrays = epoch_arrays("overconfident", n=1200, epochs=10, classes=classes, seed=classes)
    preds = load_npy(save_npy(y, arrays, tmp_path))
    a = analyze_predictions(preds)
    views = [EpochView(np.asarray(p), y, epoch=e) for e, p in zip(preds.epochs, preds.proba)]
    loss = np.array([v.loss for v in views])
    ok = np.array([v.correct for v in views])
    pred = np.array([v.pred for v in views])
    p_true = np.array([v.p_true for v in views])
    best = int(np.argmin(loss.mean(axis=1)))
    assert a.best_epoch == best + 1
    np.testing.assert_allclose(a.per_epoch["val_loss"], loss.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(a.arrays["loss_change"], loss[-1] - loss[best])
    np.testing.assert_array_equal(a.arrays["flips"], (pred[1:] != pred[:-1]).sum(axis=0))
    np.testing.assert_array_equal(a.arrays["flips_since_best"], (pred[best + 1 :] != pred[best:-1]).sum(axis=0))
    np.testing.assert_allclose(a.arrays["variability"], p_true.std(axis=0), atol=1e-12)
    np.testing.assert_allclose(a.arrays["correctness"], ok.mean(axis=0))
    probs = [np.asarray(p, dtype=np.float64) for p in preds.proba]
    rows = [np.column_stack([1 - q, q]) if q.ndim == 1 else q / q.sum(axis=1, keepdims=True) for q in probs]
    for e in range(10):  # the reference ECE loop on each epoch's top-label confidence
        ece, mce = _gpleiss_ece_mce(rows[e].max(axis=1), ok[e].astype(float))
        assert (a.per_epoch.loc[e + 1, "ece"], a.per_epoch.loc[e + 1, "mce"]) == pytest.approx((ece, mce), rel=1e-9)
    delta = loss[-1] - loss[best]
    assert a.rise.share_wrong_best == pytest.approx(delta[~ok[best]].sum() / delta.sum())
    ranked = np.sort(delta)[::-1]
    assert a.rise.top_shares == pytest.approx({f: ranked[: math.ceil(f * 1200)].sum() / delta.sum()
                                               for f in (0.01, 0.05, 0.10)})
    assert len(a.samples) == 1200 and a.samples.index.name == "sample"
    assert set(a.tables()) == {"per_epoch", "decomposition", "confidence", "calibration", "churn", "reliability",
                               "transitions", "top_samples", "label_issues"}  # fmt: skip
    assert list(a.decomposition.columns)[:2] == ["val_loss", "accuracy"]
    assert {"ece", "auc" if classes == 2 else "ece", "loss_scaled"} <= set(a.calibration.columns)
    assert "entropy_wrong" in a.confidence.columns and "ece" not in a.confidence.columns
    assert list(a.data_map.columns) == ["sample_id", "confidence", "variability", "correctness", "region"]


def test_top_samples_are_the_largest_increases():
    preds = simulate_predictions("minority", n=2000, epochs=12, seed=5)
    a = analyze_predictions(preds, calibration=False)
    top = a.top_samples(10)
    delta = a.arrays["loss_change"]
    assert list(top.index) == list(np.argsort(-delta, kind="stable")[:10])
    assert top["share"].sum() == pytest.approx(delta[top.index].sum() / delta.sum())
    assert "ece" not in a.per_epoch.columns


def test_single_epoch_and_ties_pick_the_earliest_best():
    y = np.array([1, 0])
    same = np.array([0.7, 0.2])
    a = analyze_predictions(Predictions([3, 4, 5], y, [same, same, same]))
    assert a.best_epoch == 3 and a.last_epoch == 5
    one = analyze_predictions(Predictions([1], y, [same]))
    assert one.best_epoch == 1 and one.churn.empty


def test_never_holds_more_than_two_epochs_of_views(monkeypatch):
    """The stream never stacks: count the EpochView objects alive at once."""
    import gc

    from dynamics.stats import probabilities

    alive, peak = [0], [0]

    class Counting(probabilities.EpochView):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            alive[0] += 1
            peak[0] = max(peak[0], alive[0])

        def __del__(self):
            alive[0] -= 1

    monkeypatch.setattr(probabilities, "EpochView", Counting)
    preds = simulate_predictions("flipping", n=500, epochs=15, seed=2)
    gc.disable()
    try:
        analyze_predictions(preds)
    finally:
        gc.enable()
    # current epoch + previous churn epoch + the best epoch kept for the rise
    assert peak[0] <= 3
