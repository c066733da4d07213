"""ECE/MCE, reliability bins, Brier + Murphy, AUC -- each against an independent computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from dynamics.errors import ArgumentError
from dynamics.simulate import simulate_run
from dynamics.stats.calibration import (
    bin_index,
    binary_auc,
    brier_decomposition,
    calibration_error,
    calibration_table,
    reliability_diagram,
    reliability_table,
)


def _gpleiss_ece_mce(conf, correct, n_bins=15):
    """gpleiss/temperature_scaling's _ECELoss, re-derived: a loop over right-closed bins."""
    bounds = np.linspace(0, 1, n_bins + 1)
    ece, mce = 0.0, 0.0
    for lower, upper in zip(bounds[:-1], bounds[1:]):
        in_bin = (conf > lower) & (conf <= upper)
        if lower == 0:
            in_bin |= conf == 0  # the reference code leaves exact zeros out; sklearn puts them in bin 0
        prop = in_bin.mean()
        if prop > 0:
            gap = abs(correct[in_bin].mean() - conf[in_bin].mean())
            ece += prop * gap
            mce = max(mce, gap)
    return ece, mce


@pytest.mark.parametrize("classes", [2, 5])
def test_ece_mce_match_the_reference_loop(classes):
    rng = np.random.default_rng(classes)
    n = 3000
    y = rng.integers(0, classes, n)
    p = rng.random(n) if classes == 2 else rng.dirichlet(np.full(classes, 0.5), n)
    rows = np.column_stack([1 - p, p]) if classes == 2 else p
    conf = rows.max(axis=1)
    pred = (p > 0.5).astype(int) if classes == 2 else rows.argmax(axis=1)
    ece, mce = _gpleiss_ece_mce(conf, (pred == y).astype(float))
    got = calibration_error(p, y)
    assert got.ece == pytest.approx(ece, rel=1e-10)
    assert got.mce == pytest.approx(mce, rel=1e-10)


def test_bin_index_equals_sklearn_searchsorted_on_edges_and_random_values():
    rng = np.random.default_rng(0)
    for n_bins in (1, 5, 10, 15, 7):
        edges = np.linspace(0, 1, n_bins + 1)
        values = np.concatenate([rng.random(5000), edges, np.nextafter(edges, 2), np.nextafter(edges, -1).clip(0)])
        expected = np.searchsorted(edges[1:-1], values, side="left")
        np.testing.assert_array_equal(bin_index(values, n_bins), expected)


def test_reliability_keeps_empty_bins_and_matches_sklearn_style_curve():
    rng = np.random.default_rng(1)
    p = rng.random(2000)
    y = (rng.random(2000) < p).astype(int)
    d = reliability_diagram(p, y)
    assert len(d) == 15 and d["count"].sum() == 2000
    # Binary top-label confidences are >= 0.5: the lower bins are kept, empty, NaN.
    assert (d.loc[: 6, "count"] == 0).all() and d.loc[: 6, "accuracy"].isna().all()
    conf = np.maximum(p, 1 - p)
    ok = ((p > 0.5).astype(int) == y).astype(float)
    idx = np.searchsorted(np.linspace(0, 1, 16)[1:-1], conf)
    for b in range(7, 15):
        assert d.loc[b, "confidence"] == pytest.approx(conf[idx == b].mean())
        assert d.loc[b, "accuracy"] == pytest.approx(ok[idx == b].mean())
    np.testing.assert_allclose(d["gap"].dropna(), (d["accuracy"] - d["confidence"]).dropna())


def _murphy_by_loop(f, o, n_bins):
    edges = np.linspace(0, 1, n_bins + 1)
    n, obar = len(f), o.mean()
    rel = res = 0.0
    for b in range(n_bins):
        m = (f > edges[b]) & (f <= edges[b + 1]) if b else (f <= edges[1])
        if m.any():
            rel += m.sum() * (f[m].mean() - o[m].mean()) ** 2
            res += m.sum() * (o[m].mean() - obar) ** 2
    return rel / n, res / n, obar * (1 - obar)


@pytest.mark.parametrize("classes", [2, 3])
def test_brier_and_murphy_terms_against_loops(classes):
    rng = np.random.default_rng(7 + classes)
    n = 2500
    y = rng.integers(0, classes, n)
    p = rng.random(n) if classes == 2 else rng.dirichlet(np.ones(classes), n)
    b = brier_decomposition(p, y, n_bins=10)
    if classes == 2:
        rel, res, unc = _murphy_by_loop(p, (y == 1).astype(float), 10)
        brier = np.mean((p - y) ** 2)
    else:
        onehot = np.eye(classes)[y]
        brier = np.mean(((p - onehot) ** 2).sum(axis=1))
        terms = [_murphy_by_loop(p[:, k], onehot[:, k], 10) for k in range(classes)]
        rel, res, unc = (sum(t[i] for t in terms) for i in range(3))
    assert b.brier == pytest.approx(brier, rel=1e-12)
    assert (b.reliability, b.resolution, b.uncertainty) == pytest.approx((rel, res, unc), rel=1e-10)
    # The decomposition is exact once the within-bin residual is counted.
    assert b.reliability - b.resolution + b.uncertainty + b.residual == pytest.approx(b.brier, abs=1e-12)
    assert b.residual != 0.0


def test_residual_vanishes_when_forecasts_are_constant_within_bins():
    rng = np.random.default_rng(2)
    f = rng.choice([0.05, 0.35, 0.65, 0.95], 1000)
    y = (rng.random(1000) < f).astype(int)
    b = brier_decomposition(f, y, n_bins=10)
    assert b.residual == pytest.approx(0.0, abs=1e-14)
    assert b.reliability - b.resolution + b.uncertainty == pytest.approx(b.brier)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_auc_equals_mann_whitney_with_ties(dtype):
    rng = np.random.default_rng(4)
    n = 30_000  # above the float16 counting threshold
    y = rng.integers(0, 2, n)
    p = np.clip(rng.normal(0.4 + 0.2 * y, 0.2), 0, 1).astype(dtype)
    p[:100] = 0.5  # ties across classes
    u = mannwhitneyu(p[y == 1].astype(float), p[y == 0].astype(float)).statistic
    expected = u / ((y == 1).sum() * (y == 0).sum())
    assert binary_auc(p, y) == pytest.approx(expected, rel=1e-12)
    assert binary_auc(p[:500], y[:500]) == pytest.approx(
        mannwhitneyu(p[:500][y[:500] == 1].astype(float), p[:500][y[:500] == 0].astype(float)).statistic
        / ((y[:500] == 1).sum() * (y[:500] == 0).sum())
    )


def test_auc_edge_cases():
    assert math.isnan(binary_auc([0.2, 0.3], [1, 1]))
    assert binary_auc([0.1, 0.9], [0, 1]) == 1.0
    assert binary_auc(np.array([0.0, -0.0, 0.5], dtype=np.float16), [0, 1, 1]) == 0.75
    with pytest.raises(ArgumentError):
        binary_auc([[0.2, 0.8]], [1])


def test_bad_bins_rejected():
    with pytest.raises(ArgumentError, match="n_bins"):
        calibration_error([0.5], [1], n_bins=0)


def test_run_tables_stream_every_epoch():
    run = simulate_run("overconfident", n=600, epochs=6, seed=5)
    table = calibration_table(run)
    assert list(table.index) == list(range(1, 7))
    assert {"ece", "mce", "brier", "reliability", "resolution", "uncertainty", "residual", "auc"} <= set(table.columns)
    y = run.predictions.y_true
    bins = reliability_table(run)
    assert bins.index.names == ["epoch", "bin"] and len(bins) == 6 * 15
    for epoch, proba in zip(run.predictions.epochs, run.predictions.proba):
        p = np.asarray(proba, dtype=np.float64)
        conf, correct = np.maximum(p, 1 - p), ((p > 0.5) == (y == 1)).astype(float)
        ece, mce = _gpleiss_ece_mce(conf, correct)
        row = table.loc[epoch]
        assert (row["ece"], row["mce"]) == pytest.approx((ece, mce), rel=1e-9)
        assert row["brier"] == pytest.approx(np.mean((p - y) ** 2), rel=1e-9)  # one sigmoid output: one term
        u = mannwhitneyu(p[y == 1], p[y == 0]).statistic
        assert row["auc"] == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()), rel=1e-9)
        edges = np.linspace(0, 1, 16)
        counts = [int(((conf > lo) & (conf <= hi)).sum()) for lo, hi in zip(edges[:-1], edges[1:])]
        counts[0] += int((conf == 0).sum())
        assert bins.loc[epoch, "count"].tolist() == counts
