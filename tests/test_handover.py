"""Handing the fix over: cleanlab's inputs, and the kept epoch's temperature as a Keras layer."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from scipy.special import expit, softmax

from dynamics.errors import ArgumentError
from dynamics.run import Predictions, Run, RunMeta
from dynamics.simulate import simulate_run
from dynamics.sources.rundir.compact import CompactEpochs, encode_compact
from dynamics.stats.temperature import kept_temperature


def _kept_by_hand(run):
    """Lowest mean Keras cross-entropy over recorded epochs, computed here from the stacked probabilities."""
    y = run.predictions.y_true
    stack = run.predictions.stacked(np.float64)
    if stack.ndim == 2:
        p_true = np.where(y == 1, stack, 1 - stack)
    else:
        stack = stack / stack.sum(axis=2, keepdims=True)
        p_true = stack[:, np.arange(len(y)), y]
    f32 = np.float32
    losses = -np.log(np.clip(p_true, float(f32(1e-7)), float(f32(1) - f32(1e-7)))).mean(axis=1)
    return int(np.argmin(losses)), stack


def _assert_cleanlab_accepts(labels, pred_probs, k):
    """The rules cleanlab states for ``find_label_issues(labels, pred_probs)``.

    docs.cleanlab.ai FAQ ("How do I format classification labels for cleanlab?") and
    ``cleanlab.internal.validation.assert_valid_inputs`` / ``assert_valid_class_labels``.
    """
    assert isinstance(pred_probs, np.ndarray) and isinstance(labels, np.ndarray)
    assert pred_probs.ndim == 2 and pred_probs.shape == (len(labels), k)
    assert pred_probs.dtype.kind == "f" and labels.dtype.kind == "i" and labels.ndim == 1
    assert pred_probs.min() >= 0 and pred_probs.max() <= 1
    np.testing.assert_allclose(pred_probs.sum(axis=1), 1.0, atol=1e-6)
    assert np.array_equal(np.unique(labels), np.arange(k))  # zero-indexed, every class present


@pytest.mark.parametrize("classes", [2, 4])
def test_to_cleanlab_gives_what_find_label_issues_expects(classes):
    run = simulate_run("overconfident", n=400, epochs=8, classes=classes, label_noise=0.05, n_train=20)
    pred_probs, labels, samples, epoch = run.to_cleanlab()
    _assert_cleanlab_accepts(labels, pred_probs, classes)
    pos, stack = _kept_by_hand(run)
    assert epoch == run.predictions.epochs[pos]
    expected = np.column_stack([1 - stack[pos], stack[pos]]) if classes == 2 else stack[pos]
    np.testing.assert_allclose(pred_probs, expected, rtol=1e-6, atol=1e-7)
    # the dynamics columns, counted here from the per-epoch predicted classes
    pred = stack.argmax(axis=2) if classes > 2 else (stack > 0.5).astype(int)
    correct = pred == labels
    assert len(samples) == len(labels) and np.array_equal(samples["label"], labels)
    np.testing.assert_array_equal(samples["flips"], (pred[1:] != pred[:-1]).sum(axis=0))
    np.testing.assert_array_equal(samples["forgetting_events"], (correct[:-1] & ~correct[1:]).sum(axis=0))
    np.testing.assert_allclose(samples["self_confidence"], pred_probs[np.arange(len(labels)), labels], rtol=1e-6)
    np.testing.assert_allclose(samples["correctness"], correct.mean(axis=0))
    assert set(samples["region"]) <= {"easy-to-learn", "ambiguous", "hard-to-learn", "other"}


def test_to_cleanlab_of_another_epoch_and_refusals():
    run = simulate_run("healthy", n=200, epochs=4, classes=3, n_train=20)
    assert run.to_cleanlab(epoch=2).epoch == 2
    with pytest.raises(ArgumentError, match="epoch 9 was not recorded"):
        run.to_cleanlab(epoch=9)
    y = run.predictions.y_true
    compact = Predictions(run.predictions.epochs, y,
                          CompactEpochs([encode_compact(p, y, 2) for p in run.predictions.proba], top_k=2, n_classes=3))
    compact_run = Run(run.epochs, RunMeta(format="recorded"), predictions=compact)
    with pytest.raises(ArgumentError, match="stored compactly"):
        compact_run.to_cleanlab()
    with pytest.raises(ArgumentError, match="not available|compact storage"):
        kept_temperature(compact_run)


@pytest.mark.parametrize("classes", [2, 5])
def test_kept_temperature_minimises_the_nll_on_a_grid(classes):
    run = simulate_run("overconfident", n=1500, epochs=10, classes=classes, n_train=20)
    kept = kept_temperature(run, epoch=10)
    p = run.predictions.stacked(np.float64)[-1]
    y = run.predictions.y_true
    lo, hi = float(np.float32(1e-7)), float(np.float32(1) - np.float32(1e-7))

    def nll(t):
        if classes == 2:
            z = np.log(np.clip(p, lo, hi)) - np.log1p(-np.clip(p, lo, hi))
            q = expit(z / t)
            return -np.mean(np.log(np.where(y == 1, q, 1 - q)))
        q = softmax(np.log(np.clip(p / p.sum(1, keepdims=True), lo, hi)) / t, axis=1)
        return -np.mean(np.log(q[np.arange(len(y)), y]))

    grid = np.exp(np.linspace(np.log(0.5), np.log(8), 2001))
    best = grid[np.argmin([nll(t) for t in grid])]
    assert kept.temperature == pytest.approx(best, rel=3e-3) and kept.temperature > 1.5
    assert kept.loss_scaled < kept.loss


needs_keras = pytest.mark.skipif(importlib.util.find_spec("keras") is None, reason="needs the [train] extra")


@needs_keras
@pytest.mark.train
def test_the_layer_reproduces_the_calibrated_probabilities():
    from dynamics.keras.temperature_layer import TemperatureScaling, keras
    from dynamics.stats.temperature import scale_temperature

    rng = np.random.default_rng(0)
    z = rng.normal(0, 3, (64, 5)).astype("float32")
    t = 2.3
    by_hand = softmax(z.astype(np.float64) / t, axis=1)
    scaled_logits = keras.ops.convert_to_numpy(TemperatureScaling(t)(z))
    np.testing.assert_allclose(softmax(scaled_logits.astype(np.float64), axis=1), by_hand, rtol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.softmax(z / t)), by_hand, rtol=1e-5)  # the one-liner
    probs = softmax(z.astype(np.float64), axis=1).astype("float32")
    from_probs = keras.ops.convert_to_numpy(TemperatureScaling(t, inputs="probabilities")(probs))
    np.testing.assert_allclose(from_probs, by_hand, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(from_probs, scale_temperature(probs, t), rtol=1e-4, atol=1e-6)
    s = expit(z[:, :1].astype(np.float64)).astype("float32")  # a sigmoid output (n, 1)
    from_sigmoid = keras.ops.convert_to_numpy(TemperatureScaling(t, inputs="probabilities")(s))
    np.testing.assert_allclose(from_sigmoid[:, 0], expit(z[:, 0].astype(np.float64) / t), rtol=1e-4, atol=1e-6)
    layer = keras.layers.deserialize(keras.layers.serialize(TemperatureScaling(t, inputs="probabilities")))
    assert (layer.temperature, layer.inputs) == (t, "probabilities")
    for bad in (0, -1, float("nan"), "warm"):
        with pytest.raises(ArgumentError, match="temperature must be a positive number"):
            TemperatureScaling(bad)


@needs_keras
@pytest.mark.train
def test_calibrated_model_applies_the_kept_epoch_s_temperature(tmp_path):
    from dynamics.keras.callback import PredictionRecorder
    from dynamics.keras.temperature_layer import calibrated_model, keras
    from dynamics.stats.temperature import scale_temperature

    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 6)).astype("float32")
    y = (x[:, :3].sum(axis=1) + rng.normal(0, 1.0, 400) > 0).astype("int64") + (x[:, 3] > 0.5)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    recorder = PredictionRecorder((x[200:], y[200:]), dtype="float32")
    model.fit(x[:200], y[:200], epochs=3, batch_size=32, verbose=0, callbacks=[recorder])
    run = recorder.run
    kept = kept_temperature(run, epoch=3)
    calibrated = calibrated_model(model, run, epoch=3)
    got = calibrated.predict(x[200:], verbose=0)
    expected = scale_temperature(model.predict(x[200:], verbose=0), kept.temperature)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    assert np.array_equal(got.argmax(axis=1), model.predict(x[200:], verbose=0).argmax(axis=1))
