"""Per-sample quantities: Keras's loss, true-class probability, errors on bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dynamics.errors import ArgumentError
from dynamics.stats.probabilities import (
    CLIP_HIGH,
    CLIP_LOW,
    EpochView,
    as_proba,
    check_labels,
    predicted_class,
    predictive_entropy,
    sample_loss,
    true_class_proba,
)


def test_binary_loss_matches_hand_formula_with_float32_clip_bounds():
    p = np.array([0.0, 1.0, 0.25, 0.999999999, 1e-12])
    y = np.array([1, 0, 1, 1, 0])
    lo, hi = np.float32(1e-7), np.float32(1) - np.float32(1e-7)
    expected = []
    for pi, yi in zip(p, y):
        c = min(max(pi, float(lo)), float(hi))
        expected.append(-math.log(c) if yi == 1 else -math.log(1 - c))
    np.testing.assert_allclose(sample_loss(p, y), expected, rtol=1e-12)
    # Keras's float32 clip makes the two saturated mistakes cost different amounts.
    assert sample_loss([0.0], [1])[0] == pytest.approx(16.1180954)
    assert sample_loss([1.0], [0])[0] == pytest.approx(15.9423847)
    assert CLIP_LOW == float(np.float32(1e-7)) and CLIP_HIGH < 1 - 1e-7


def test_categorical_loss_normalises_rows_then_clips_like_keras():
    p = np.array([[0.2, 0.2, 0.5], [0.0, 1.0, 0.0]])  # first row sums to 0.9
    y = np.array([2, 0])
    expected = [-math.log(0.5 / 0.9), -math.log(CLIP_LOW)]
    np.testing.assert_allclose(sample_loss(p, y), expected, rtol=1e-12)


@pytest.mark.train
def test_mean_loss_equals_keras_own_losses():
    import os

    os.environ.setdefault("KERAS_BACKEND", "jax")  # the project's default backend
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    p = rng.random(500).astype(np.float32)
    p[:5] = [0.0, 1.0, 1.0, 0.0, 0.5]
    y = rng.integers(0, 2, 500)
    y[:5] = [1, 0, 1, 0, 1]
    ours = sample_loss(p, y)
    theirs = np.asarray(keras.losses.binary_crossentropy(y[:, None].astype("float32"), p[:, None]))
    np.testing.assert_allclose(ours, theirs, rtol=2e-6, atol=2e-6)
    logits = rng.normal(size=(300, 4)).astype(np.float32)
    q = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    q[0] = [1.0, 0.0, 0.0, 0.0]
    k = rng.integers(0, 4, 300)
    k[0] = 2
    theirs = np.asarray(keras.losses.sparse_categorical_crossentropy(k, q))
    np.testing.assert_allclose(sample_loss(q, k), theirs, rtol=2e-6, atol=2e-6)


def test_view_quantities_binary_and_multiclass():
    v = EpochView(np.array([0.5, 0.7, 0.1], dtype=np.float16), [0, 0, 0])
    assert v.pred.tolist() == [0, 1, 0]  # p = 0.5 is class 0, as Keras's binary_accuracy
    assert v.correct.tolist() == [True, False, True]
    np.testing.assert_allclose(v.p_true, [0.5, 1 - 0.7, 1 - 0.1], atol=1e-3)
    np.testing.assert_allclose(v.confidence, [0.5, 0.7, 0.9], atol=1e-3)
    m = EpochView([[0.1, 0.45, 0.45], [0.6, 0.3, 0.1]], [2, 0])
    assert m.pred.tolist() == [1, 0]  # first argmax on ties
    assert m.correct.tolist() == [False, True]
    np.testing.assert_allclose(m.p_true, [0.45, 0.6])
    assert m.n_classes == 3 and not m.binary


def test_entropy_matches_scipy():
    from scipy.stats import entropy

    p = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(predictive_entropy(p), [entropy(r) for r in p])
    np.testing.assert_allclose(predictive_entropy([0.3]), [entropy([0.7, 0.3])])


def test_helpers_agree_with_view():
    p, y = [0.2, 0.9], [1, 1]
    np.testing.assert_allclose(true_class_proba(p, y), [0.2, 0.9])
    assert predicted_class(p).tolist() == [0, 1]


@pytest.mark.parametrize(
    ("proba", "labels", "message"),
    [
        ([0.2, np.nan], [0, 1], "NaN"),
        ([0.2, 1.7], [0, 1], "not probabilities"),
        ([-3.0, 2.0], [0, 1], "logits"),
        ([0.2, 0.3, 0.4], [0, 1], "3 samples but there are 2 labels"),
        ([[0.2, 0.8]], [2], "does not exist in a 2-class model"),
        ([0.2], [2], "does not exist in a 2-class model"),
        ([[[0.2]]], [0], "shape"),
    ],
)
def test_bad_predictions_raise_a_one_line_argument_error(proba, labels, message):
    with pytest.raises(ArgumentError, match=message) as info:
        EpochView(np.array(proba), labels).loss
    assert "\n" not in str(info.value)


def test_labels_are_checked():
    with pytest.raises(ArgumentError, match="integer"):
        check_labels([0.5, 1.0])
    with pytest.raises(ArgumentError, match=">= 0"):
        check_labels([-1, 0])
    assert check_labels(np.array([[1], [0]])).tolist() == [1, 0]


def test_rounding_excursions_are_clipped_not_rejected():
    np.testing.assert_allclose(as_proba([1.0004, -0.0002]), [1.0, 0.0])
