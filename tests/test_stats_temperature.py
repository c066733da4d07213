"""Temperature scaling: the fit, the float16 shortcut and the cross-fitted loss."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit, log_softmax

from dynamics.errors import ArgumentError
from dynamics.simulate import simulate_run
from dynamics.stats.temperature import (
    cross_fitted_temperature,
    default_halves,
    fit_temperature,
    scale_temperature,
    temperature_table,
)

LO, HI = 1.0000000116860974e-07, 0.9999998807907104


def _binary_nll(t, p, y):
    pc = np.clip(p, LO, HI)
    z = np.log(pc / (1 - pc)) / t
    return float(np.mean(np.where(y == 1, np.logaddexp(0, -z), np.logaddexp(0, z))))


def _keras_loss(q, y):
    qc = np.clip(q, LO, HI)
    return float(np.mean(-np.log(np.where(y == 1, qc, 1 - qc))))


def _binary_data(n, temperature, seed):
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, n)
    y = (rng.random(n) < expit(z)).astype(int)
    return expit(temperature * z), y


def test_fit_matches_a_generic_optimiser_on_the_written_out_nll():
    p, y = _binary_data(5000, 2.5, 0)
    t = fit_temperature(p, y)
    ref = minimize(lambda v: _binary_nll(math.exp(v[0]), p, y), x0=[0.0], method="Nelder-Mead", tol=1e-10)
    assert t == pytest.approx(math.exp(ref.x[0]), rel=1e-3)
    assert 2.2 < t < 2.8


def test_float16_counts_give_the_same_fit_as_float64():
    p, y = _binary_data(20000, 3.0, 1)
    p16 = p.astype(np.float16)
    assert fit_temperature(p16, y) == pytest.approx(fit_temperature(p16.astype(np.float64), y), rel=1e-5)
    halves = default_halves(len(y), 3)
    a = cross_fitted_temperature(p16, y, halves=halves)
    b = cross_fitted_temperature(p16.astype(np.float64), y, halves=halves)
    assert a.loss_scaled == pytest.approx(b.loss_scaled, rel=1e-6)
    assert a.temperature_a == pytest.approx(b.temperature_a, rel=1e-5)


def test_cross_fit_scores_each_half_with_the_other_halfs_temperature():
    p, y = _binary_data(4000, 2.0, 2)
    halves = default_halves(len(y), 0)
    fit = cross_fitted_temperature(p, y, halves=halves)
    t_a = fit_temperature(p[halves], y[halves])
    t_b = fit_temperature(p[~halves], y[~halves])
    assert (fit.temperature_a, fit.temperature_b) == pytest.approx((t_a, t_b), rel=1e-6)
    scaled = np.empty(len(y))
    scaled[~halves] = expit(np.log(np.clip(p[~halves], LO, HI) / (1 - np.clip(p[~halves], LO, HI))) / t_a)
    scaled[halves] = expit(np.log(np.clip(p[halves], LO, HI) / (1 - np.clip(p[halves], LO, HI))) / t_b)
    assert fit.loss_scaled == pytest.approx(_keras_loss(scaled, y), rel=1e-9)
    assert fit.loss == pytest.approx(_keras_loss(p, y), rel=1e-12)
    assert fit.loss_scaled < fit.loss


def test_multiclass_fit_and_scaling_keep_the_argmax():
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 1.5, (3000, 4))
    y = np.array([rng.choice(4, p=np.exp(r - np.logaddexp.reduce(r))) for r in logits])
    p = np.exp(log_softmax(3.0 * logits, axis=1))
    t = fit_temperature(p, y)
    ref = minimize(
        lambda v: -np.mean(log_softmax(np.log(np.clip(p, LO, HI)) / math.exp(v[0]), axis=1)[np.arange(3000), y]),
        x0=[0.0],
        method="Nelder-Mead",
        tol=1e-10,
    )
    assert t == pytest.approx(math.exp(ref.x[0]), rel=1e-3)
    q = scale_temperature(p, t)
    np.testing.assert_array_equal(q.argmax(axis=1), p.argmax(axis=1))
    fit = cross_fitted_temperature(p, y)
    assert fit.loss_scaled < fit.loss


def test_scaling_by_one_is_the_identity_and_bad_arguments_raise():
    p = np.array([0.2, 0.7])
    np.testing.assert_allclose(scale_temperature(p, 1.0), p)
    with pytest.raises(ArgumentError, match="temperature must be > 0"):
        scale_temperature(p, 0.0)
    with pytest.raises(ArgumentError, match="bounds"):
        fit_temperature(p, [0, 1], bounds=(2.0, 1.0))
    with pytest.raises(ArgumentError, match="halves"):
        cross_fitted_temperature(p, [0, 1], halves=[True, True])


def test_temperature_table_uses_one_split_for_all_epochs():
    run = simulate_run("overconfident", n=800, epochs=10, seed=4)
    table = temperature_table(run)
    assert list(table.columns) == ["temperature", "temperature_a", "temperature_b", "loss", "loss_scaled"]
    np.testing.assert_allclose(table["loss"], run.epochs["val_loss"], rtol=1e-12)
    # Sharpening after epoch 2 makes the model overconfident: T grows above 1.
    assert table["temperature"].iloc[-1] > 2 > table["temperature"].iloc[1]
    # Every epoch against a generic optimiser on the written-out NLL, one split (default_halves(n, 0)) throughout.
    halves = default_halves(800, 0)
    y = run.predictions.y_true

    def fitted(p, y):
        return math.exp(minimize(lambda v: _binary_nll(math.exp(v[0]), p, y), x0=[0.0], method="Nelder-Mead",
                                 tol=1e-10).x[0])

    for epoch, proba in zip(run.predictions.epochs, run.predictions.proba):
        p = np.asarray(proba, dtype=np.float64)
        t_all, t_a, t_b = fitted(p, y), fitted(p[halves], y[halves]), fitted(p[~halves], y[~halves])
        z = np.log(np.clip(p, LO, HI) / (1 - np.clip(p, LO, HI)))
        scaled = np.where(halves, expit(z / t_b), expit(z / t_a))
        row = table.loc[epoch]
        assert (row["temperature"], row["temperature_a"], row["temperature_b"]) == pytest.approx((t_all, t_a, t_b),
                                                                                               rel=1e-3)
        assert row["loss_scaled"] == pytest.approx(_keras_loss(scaled, y), rel=1e-5)
