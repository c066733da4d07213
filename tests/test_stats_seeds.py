"""Seeds: run-to-run spread beside within-run and binomial noise."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dynamics.errors import ArgumentError, InputError
from dynamics.run import Run, RunMeta, make_epoch_table
from dynamics.stats.seeds import seed_spread, seed_spread_of_runs, von_neumann_sd


def test_columns_against_numpy():
    rng = np.random.default_rng(0)
    acc = 0.8 + rng.normal(0, 0.01, (5, 20))
    s = seed_spread(acc, 5000)
    np.testing.assert_allclose(s.table["run_sd"], acc.std(axis=0, ddof=1))
    np.testing.assert_allclose(s.table["mean"], acc.mean(axis=0))
    np.testing.assert_allclose(s.table["binomial_se"], np.sqrt(acc.mean(axis=0) * (1 - acc.mean(axis=0)) / 5000))
    np.testing.assert_allclose(s.table["min"], acc.min(axis=0))
    assert s.summary["from_epoch"] == 11
    for r in range(5):
        d = np.diff(acc[r, 10:])
        assert s.within_run[r] == pytest.approx(math.sqrt((d**2).mean() / 2))
    assert s.summary["run_sd"] == pytest.approx(acc.std(axis=0, ddof=1)[10:].mean())


def test_pure_binomial_runs_spread_like_the_binomial_noise():
    rng = np.random.default_rng(1)
    n_val, p = 2000, 0.8
    acc = rng.binomial(n_val, p, (400, 10)) / n_val
    s = seed_spread(acc, n_val, from_epoch=1)
    se = math.sqrt(p * (1 - p) / n_val)
    assert s.summary["run_sd"] == pytest.approx(se, rel=0.05)
    assert s.summary["within_run_sd"] == pytest.approx(se, rel=0.05)
    assert s.summary["binomial_se"] == pytest.approx(se, rel=0.01)


def test_von_neumann_ignores_a_linear_trend_that_plain_sd_does_not():
    rng = np.random.default_rng(2)
    x = np.linspace(0.7, 0.8, 400) + rng.normal(0, 0.005, 400)
    assert von_neumann_sd(x) == pytest.approx(0.005, rel=0.1)
    assert np.std(x) > 0.02
    assert math.isnan(von_neumann_sd([0.5]))


def _run(values, n_val=1000):
    return Run(make_epoch_table({i + 1: {"val_accuracy": v} for i, v in enumerate(values)}), RunMeta(n_val=n_val))


def test_runs_are_aligned_on_shared_epochs_and_checked():
    a, b = _run([0.7, 0.8, 0.81]), _run([0.72, 0.79])
    s = seed_spread_of_runs([a, b], from_epoch=1)
    assert list(s.table.index) == [1, 2] and s.summary["n_val"] == 1000
    with pytest.raises(ArgumentError, match="at least 2 runs"):
        seed_spread_of_runs([a])
    with pytest.raises(InputError, match="different validation sets"):
        seed_spread_of_runs([a, _run([0.7, 0.8], n_val=999)])
    with pytest.raises(InputError, match="no val_accuracy"):
        seed_spread_of_runs([a, Run(make_epoch_table({1: {"loss": 0.3}}))])
    assert math.isnan(seed_spread([[0.5, 0.6], [0.5, 0.7]], None).table["binomial_se"].iloc[0])
