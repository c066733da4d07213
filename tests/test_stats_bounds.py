"""Bounds on the loss of misclassified / correct samples from (loss, accuracy) alone."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dynamics.stats.bounds import KERAS_EPSILON, group_loss_bounds
from dynamics.stats.precision import print_halfwidth


def _keras_print(v: float) -> float:
    """A value as Keras's progress bar prints it and a log parser reads it back."""
    return float(f"{v:.4f}") if abs(v) > 1e-3 else float(f"{v:.4e}")


def _keras_binary(p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample binary cross-entropy and correctness as Keras computes them."""
    q = np.clip(p, KERAS_EPSILON, 1 - KERAS_EPSILON)
    loss = -(y * np.log(q) + (1 - y) * np.log(1 - q))
    correct = (p > 0.5).astype(int) == y
    return loss, correct


def _keras_softmax(P: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q = np.clip(P, KERAS_EPSILON, 1 - KERAS_EPSILON)
    loss = -np.log(q[np.arange(len(y)), y])
    correct = np.argmax(P, axis=1) == y
    return loss, correct


def _check(loss: np.ndarray, correct: np.ndarray, classes: int) -> None:
    L, a = _keras_print(float(loss.mean())), _keras_print(float(correct.mean()))
    b = group_loss_bounds(L, a, classes=classes, loss_halfwidth=print_halfwidth(L), acc_halfwidth=print_halfwidth(a))
    assert b["feasible"][0] == "ok"
    tol = 1e-9
    if (~correct).any():
        w = loss[~correct].mean()
        assert b["wrong_low"][0] - tol <= w <= b["wrong_high"][0] + tol
        gm = math.exp(np.log(np.exp(-loss[~correct])).mean())
        assert b["gm_wrong_low"][0] - tol <= gm <= b["gm_wrong_high"][0] + tol
    if correct.any():
        c = loss[correct].mean()
        assert b["correct_low"][0] - tol <= c <= b["correct_high"][0] + tol


# Probabilities with mass near 0, 1/2 and 1, where the bounds are tight.
_prob = st.one_of(st.floats(0, 1), st.sampled_from([0.0, 1e-9, 1e-7, 0.4999999, 0.5, 0.5000001, 1 - 1e-7, 1.0]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_prob, st.integers(0, 1)), min_size=1, max_size=200))
def test_binary_bounds_contain_the_true_group_means(samples):
    p = np.array([s[0] for s in samples])
    y = np.array([s[1] for s in samples])
    _check(*_keras_binary(p, y), classes=2)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, 6).flatmap(lambda k: st.tuples(
    st.just(k),
    st.lists(st.tuples(st.lists(st.floats(0, 1e3), min_size=k, max_size=k), st.integers(0, k - 1)), min_size=1, max_size=120),
    st.floats(0.01, 30.0))))
def test_softmax_bounds_contain_the_true_group_means(case):
    k, rows, sharpness = case
    logits = np.array([r[0] for r in rows]) / 1e3 * sharpness
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = np.array([r[1] for r in rows])
    _check(*_keras_softmax(P, y), classes=k)


def test_seed_epochs_3_and_77_by_hand():
    b = group_loss_bounds([0.3736, 0.9105], [0.8440, 0.8234])
    # epoch 77: (0.9105 - 0.8234 ln 2) / 0.1766 = 1.9239 before rounding; the 4-decimal box lowers it to 1.9233
    assert (0.9105 - 0.8234 * math.log(2)) / 0.1766 == pytest.approx(1.92391, abs=1e-5)
    assert b["wrong_low"][1] == pytest.approx(1.9233, abs=1e-4)
    assert b["gm_wrong_high"][1] == pytest.approx(math.exp(-1.9233), abs=1e-4) and b["gm_wrong_high"][1] <= 0.15
    assert b["wrong_low"][0] == pytest.approx(math.log(2), abs=1e-5)  # epoch 3: only "a mistake costs >= ln 2"
    assert b["wrong_high"][1] == pytest.approx(0.91055 / (1 - 0.82345), rel=1e-4)  # all of the loss on the mistakes


def test_bounds_are_attained_by_two_point_configurations():
    # 80 correct samples exactly at p_true = 1/2 (ln 2 each) and 20 mistakes at 3 nats: the lower bound is 3.
    a, w = 0.8, 3.0
    L = a * math.log(2) + (1 - a) * w
    b = group_loss_bounds(L, a, loss_halfwidth=0.0, acc_halfwidth=0.0)
    assert b["wrong_low"][0] == pytest.approx(w, abs=1e-5)
    # correct samples at loss 0 and the mistakes carrying everything: the upper bound L / e
    b = group_loss_bounds(0.6, 0.8, loss_halfwidth=0.0, acc_halfwidth=0.0)
    assert b["wrong_high"][0] == pytest.approx(0.6 / 0.2, abs=1e-5)


def test_infeasible_pairs_are_flagged():
    too_low = group_loss_bounds(0.0078, 0.0)  # regression loss with an accuracy of 0
    assert too_low["feasible"][0] == "too_low" and math.isnan(too_low["wrong_low"][0])
    too_high = group_loss_bounds(12.0, 0.97, classes=10)  # logits fed to a probability loss
    assert too_high["feasible"][0] == "too_high"
    assert group_loss_bounds(12.0, 0.97, classes=10, clip_eps=None)["feasible"][0] == "ok"


def test_accuracy_printed_as_one_may_still_hide_mistakes():
    b = group_loss_bounds(0.0012, 1.0)  # 1.0000 stands for [0.99995, 1]: a few mistakes are possible
    assert b["wrong_low"][0] == pytest.approx(math.log(2), abs=1e-5)
    assert b["wrong_high"][0] == pytest.approx(-math.log(KERAS_EPSILON))  # as wrong as clipping allows
    exact = group_loss_bounds(0.0012, 1.0, loss_halfwidth=0.0, acc_halfwidth=0.0)
    assert math.isnan(exact["wrong_low"][0])  # an exact 1 leaves no mistakes to bound
