"""Loss decomposition per epoch and attribution of the rise since the best epoch."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dynamics.simulate import simulate_run
from dynamics.stats.decomposition import (
    decomposition_table,
    loss_decomposition,
    loss_rise,
    loss_rise_of_run,
)


@pytest.mark.parametrize("classes", [2, 4])
def test_decomposition_adds_up_to_the_mean_loss(classes):
    rng = np.random.default_rng(classes)
    n = 1000
    y = rng.integers(0, classes, n)
    p = rng.random(n) if classes == 2 else rng.dirichlet(np.ones(classes), n)
    d = loss_decomposition(p, y)
    # Independent computation: per-sample loss written out, groups by a Python loop.
    losses, right = [], []
    for i in range(n):
        if classes == 2:
            c = min(max(p[i], 1.0000000116860974e-07), 0.9999998807907104)
            losses.append(-math.log(c if y[i] == 1 else 1 - c))
            right.append((p[i] > 0.5) == (y[i] == 1))
        else:
            q = p[i] / p[i].sum()
            losses.append(-math.log(min(max(q[y[i]], 1.0000000116860974e-07), 0.9999998807907104)))
            right.append(int(np.argmax(q)) == y[i])
    losses, right = np.array(losses), np.array(right)
    assert d["val_loss"] == pytest.approx(losses.mean(), rel=1e-12)
    assert d["accuracy"] == pytest.approx(right.mean())
    assert d["loss_correct"] == pytest.approx(losses[right].mean(), rel=1e-12)
    assert d["loss_wrong"] == pytest.approx(losses[~right].mean(), rel=1e-12)
    assert d["accuracy"] * d["loss_correct"] + (1 - d["accuracy"]) * d["loss_wrong"] == pytest.approx(d["val_loss"])
    assert d["from_correct"] + d["from_wrong"] == pytest.approx(d["val_loss"])


def test_empty_group_has_nan_mean_and_zero_contribution():
    d = loss_decomposition([0.9, 0.8], [1, 1])
    assert math.isnan(d["loss_wrong"]) and d["from_wrong"] == 0.0 and d["n_wrong"] == 0


def test_loss_rise_hand_worked():
    # delta = [-0.5, 0.1, 0.2, 1.2]: total 1.0
    r = loss_rise([1.0, 0.2, 0.3, 0.3], [0.5, 0.3, 0.5, 1.5], [True, True, False, True], [True, True, False, False])
    assert r.rise == pytest.approx(0.25)
    assert r.share_wrong_end == pytest.approx(1.4)  # samples 2, 3
    assert r.share_wrong_best == pytest.approx(0.2)  # sample 2
    assert r.top_shares[0.01] == pytest.approx(1.2)  # ceil(0.04) = 1 sample
    assert r.fraction_for_half == 0.25  # 1.2 >= 0.5
    assert r.fraction_increased == 0.75
    t = r.transitions
    assert t.loc[("correct", "wrong"), "share"] == pytest.approx(1.2)
    assert t.loc[("correct", "correct"), "n"] == 2
    assert t["share"].sum() == pytest.approx(1.0)


def test_loss_rise_against_brute_force():
    rng = np.random.default_rng(3)
    n = 997
    lb, le = rng.exponential(0.5, n), rng.exponential(0.6, n)
    cb, ce = rng.random(n) < 0.8, rng.random(n) < 0.8
    r = loss_rise(lb, le, cb, ce, fractions=(0.01, 0.05, 0.1))
    delta = list(le - lb)
    total = sum(delta)
    assert total > 0
    ranked = sorted(delta, reverse=True)
    for f in (0.01, 0.05, 0.1):
        k = math.ceil(f * n)
        assert r.top_shares[f] == pytest.approx(sum(ranked[:k]) / total)
    running, m = 0.0, 0
    while running < 0.5 * total:
        running += ranked[m]
        m += 1
    assert r.fraction_for_half == pytest.approx(m / n)
    assert r.share_wrong_end == pytest.approx(sum(d for d, ok in zip(delta, ce) if not ok) / total)


def test_no_rise_gives_nan_shares():
    r = loss_rise([1.0, 1.0], [0.5, 0.9], [True, True], [True, True])
    assert r.rise < 0 and math.isnan(r.share_wrong_end) and math.isnan(r.fraction_for_half)
    assert math.isnan(r.top_shares[0.1])


def test_run_wrappers_stream_and_agree_with_the_epoch_table():
    run = simulate_run("overconfident", n=400, epochs=8, seed=2)
    table = decomposition_table(run)
    np.testing.assert_allclose(table["val_loss"], run.epochs["val_loss"], rtol=1e-12)
    np.testing.assert_allclose(table["accuracy"], run.epochs["val_accuracy"], rtol=1e-12)
    r = loss_rise_of_run(run)
    assert r.best_epoch == int(table["val_loss"].idxmin()) and r.end_epoch == 8
    assert r.rise == pytest.approx(table["val_loss"].iloc[-1] - table["val_loss"].min())
    with pytest.raises(ValueError, match="not recorded"):
        loss_rise_of_run(run, best_epoch=99)
