"""Churn between consecutive epochs: streaming accumulator against the stacked arrays."""

from __future__ import annotations

import numpy as np
import pytest

from dynamics.run import Predictions
from dynamics.simulate import simulate_predictions
from dynamics.stats.churn import (
    ChurnAccumulator,
    churn_between,
    churn_table,
    flip_counts,
    stability,
    stability_table,
)
from dynamics.stats.views import iter_views


@pytest.mark.parametrize("classes", [2, 3])
def test_accumulator_equals_brute_force_on_the_stack(classes):
    if classes == 2:
        preds = simulate_predictions("flipping", n=700, epochs=9, classes=classes, seed=classes)
    else:  # random rows, so that wrong predictions also move between wrong classes
        rng = np.random.default_rng(0)
        y = rng.integers(0, 3, 700)
        preds = Predictions(np.arange(1, 10), y, [rng.dirichlet(np.ones(3), 700).astype(np.float16) for _ in range(9)])
    stack = preds.stacked(np.float64)
    y = preds.y_true
    if classes == 2:
        pred = (stack > 0.5).astype(int)
    else:
        pred = (stack / stack.sum(axis=2, keepdims=True)).argmax(axis=2)
    ok = pred == y[None, :]
    acc = ChurnAccumulator()
    for view in iter_views(preds):
        acc.update(view)
    table = acc.table()
    for i in range(1, 9):
        row = table.loc[i + 1]
        assert row["from_epoch"] == i
        assert row["changed"] == pytest.approx(np.mean(pred[i] != pred[i - 1]))
        assert row["wrong_to_right"] == pytest.approx(np.mean(ok[i] & ~ok[i - 1]))
        assert row["right_to_wrong"] == pytest.approx(np.mean(~ok[i] & ok[i - 1]))
        assert row["accuracy_change"] == pytest.approx(ok[i].mean() - ok[i - 1].mean())
    # Their difference is the accuracy change, exactly.
    np.testing.assert_allclose(table["wrong_to_right"] - table["right_to_wrong"], table["accuracy_change"], atol=1e-15)
    np.testing.assert_array_equal(acc.flips, flip_counts(pred))
    np.testing.assert_array_equal(acc.stability(), stability(ok))
    if classes == 2:
        assert (table["wrong_to_other_wrong"] == 0).all()
    else:
        assert (table["wrong_to_other_wrong"] > 0).any()


def test_pair_hand_worked_multiclass():
    before = [[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7], [0.8, 0.1, 0.1]]
    after = [[0.3, 0.6, 0.1], [0.2, 0.2, 0.6], [0.1, 0.2, 0.7], [0.7, 0.2, 0.1]]
    c = churn_between(before, after, [0, 2, 2, 1])
    # sample 0 right->wrong, sample 1 wrong->right, sample 3 stays wrong; 2 unchanged.
    assert c["changed"] == 0.5 and c["right_to_wrong"] == 0.25 and c["wrong_to_right"] == 0.25
    assert c["wrong_to_other_wrong"] == 0.0 and c["accuracy_change"] == 0.0


def test_stability_and_churn_of_a_run_hand_worked():
    from dynamics.run import Run, RunMeta, make_epoch_table

    # Four binary samples (labels 1, 0, 1, 0) over three epochs, P(class 1):
    #   sample 0: 0.9 0.8 0.7  right right right  -> 0 flips, "always right"
    #   sample 1: 0.6 0.7 0.9  wrong wrong wrong  -> 0 flips, "always wrong"
    #   sample 2: 0.4 0.6 0.3  wrong right wrong  -> 2 flips, "unstable"
    #   sample 3: 0.2 0.6 0.6  right wrong wrong  -> 1 flip,  "unstable"
    proba = [[0.9, 0.6, 0.4, 0.2], [0.8, 0.7, 0.6, 0.6], [0.7, 0.9, 0.3, 0.6]]
    run = Run(make_epoch_table({e: {"val_loss": 0.5} for e in (1, 2, 3)}), RunMeta(format="recorded"),
              predictions=Predictions([1, 2, 3], np.array([1, 0, 1, 0]), [np.array(p, np.float32) for p in proba]))
    per_sample = stability_table(run)
    assert per_sample["flips"].tolist() == [0, 0, 2, 1]
    assert per_sample["epochs_correct"].tolist() == [3, 0, 1, 1]
    assert per_sample["stability"].tolist() == ["always right", "always wrong", "unstable", "unstable"]
    table = churn_table(run)
    assert list(table.index) == [2, 3]
    # epoch 1 -> 2: samples 2 (wrong -> right) and 3 (right -> wrong) change; 2 -> 3: sample 2 (right -> wrong).
    assert table.loc[2, ["changed", "wrong_to_right", "right_to_wrong"]].tolist() == [0.5, 0.25, 0.25]
    assert table.loc[3, ["changed", "wrong_to_right", "right_to_wrong"]].tolist() == [0.25, 0.0, 0.25]
    assert table["accuracy_after"].tolist() == [0.5, 0.25]
    assert per_sample["flips"].sum() == pytest.approx(table["changed"].sum() * 4)
