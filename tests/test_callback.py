"""PredictionRecorder inside model.fit: one validation pass whose metrics equal
model.evaluate, callbacks that read val_loss, argument checks, other backends."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import ROOT

pytestmark = pytest.mark.train
if importlib.util.find_spec("keras") is None:
    pytest.skip("needs the [train] extra (keras)", allow_module_level=True)

from dynamics.errors import ArgumentError  # noqa: E402
from dynamics.keras.callback import PredictionRecorder, keras  # noqa: E402  (JAX unless KERAS_BACKEND says otherwise)
from dynamics.keras.storage import RecordingStorage  # noqa: E402


def _data(n=240, n_val=101, vocab=300, length=12, seed=0, classes=2):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, vocab, size=(n + n_val, length)).astype("int32")
    signal = (x < vocab // 3).sum(axis=1) - (x > 2 * vocab // 3).sum(axis=1)
    if classes == 2:
        y = (signal + rng.normal(0, 1.5, len(x)) > 0).astype("float32")
    else:
        y = np.digitize(signal + rng.normal(0, 1.5, len(x)), [-1.5, 1.5]).astype("int64")
    return (x[:n], y[:n]), (x[n:], y[n:])


def _model(*, outputs=1, activation="sigmoid", loss="binary_crossentropy", metrics=("accuracy",), l2=0.0):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((12,), dtype="int32"),
        keras.layers.Embedding(300, 8),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(outputs, activation=activation,
                           kernel_regularizer=keras.regularizers.L2(l2) if l2 else None),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=loss, metrics=list(metrics))
    return model


class EvaluateEachEpoch(keras.callbacks.Callback):
    """After the recorder: what model.evaluate says about the same weights."""

    def __init__(self, x_val, y_val):
        super().__init__()
        self.x_val, self.y_val, self.pairs = x_val, y_val, []

    def on_epoch_end(self, epoch, logs=None):
        truth = self.model.evaluate(self.x_val, self.y_val, verbose=0, return_dict=True)
        # the recorder's batch size: on a GPU, kernels (TF32 matmuls) differ with the batch shape
        # (seen on an H200: up to 4.8e-5 apart at batch 32 against 256); on a CPU they do not
        predicted = self.model.predict(self.x_val, verbose=0, batch_size=256)
        self.pairs.append((dict(logs), truth, predicted))


@pytest.mark.parametrize(
    "case",
    ["sigmoid", "logits+l2", "softmax3"],
)
def test_injected_metrics_equal_evaluate_every_epoch(case, tmp_path):
    if case == "sigmoid":
        (x, y), (xv, yv) = _data()
        model, from_logits = _model(), False
    elif case == "logits+l2":  # outputs logits; the L2 penalty is part of evaluate's loss
        (x, y), (xv, yv) = _data()
        model = _model(activation=None, loss=keras.losses.BinaryCrossentropy(from_logits=True),
                       metrics=(keras.metrics.BinaryAccuracy(threshold=0.0),), l2=0.01)
        from_logits = True
    else:
        (x, y), (xv, yv) = _data(classes=3)
        model = _model(outputs=3, activation="softmax", loss="sparse_categorical_crossentropy",
                       metrics=("accuracy",))
        from_logits = False
    recorder = PredictionRecorder((xv, yv), from_logits=from_logits, dtype="float32")
    check = EvaluateEachEpoch(xv, yv)
    history = model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[recorder, check])
    assert len(check.pairs) == 2
    for epoch, (logs, truth, raw) in enumerate(check.pairs):
        for name, value in truth.items():
            assert logs[f"val_{name}"] == pytest.approx(value, rel=1e-5, abs=1e-6), (epoch, name)
        expected = raw[:, 0] if raw.shape[1] == 1 else raw
        if from_logits:
            expected = 1 / (1 + np.exp(-expected))
        np.testing.assert_allclose(recorder.val_proba[epoch], expected, rtol=1e-5, atol=1e-6)
    assert history.history["val_loss"] == [logs["val_loss"] for logs, _, _ in check.pairs]
    run = recorder.run
    assert list(run.epochs.index) == [1, 2] and "val_loss" in run.epochs
    assert run.predictions.n_classes == (3 if case == "softmax3" else 2)
    if case == "softmax3":
        np.testing.assert_allclose(run.predictions.proba[0].sum(axis=1), 1.0, rtol=1e-5)


def test_default_storage_gives_back_evaluate_s_loss_of_confident_mistakes(tmp_path):
    """Mistakes far more confident than float16 probabilities can hold (P(class 1) > 0.99976 for class 0).

    The val_loss recomputed from what the recorder stored by default (float16
    logits), in memory and in a run directory, is evaluate's to 1e-4;
    from float16 probabilities it is not.
    """
    from dynamics.sources.rundir import read_run_dir
    from dynamics.stats.decomposition import decomposition_table

    rng = np.random.default_rng(0)
    x = np.column_stack([rng.uniform(-1, 1, 700), rng.normal(0, 0.1, (700, 3))]).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    flip = rng.random(700) < 0.2
    y[flip] = 1 - y[flip]  # wrong labels: the mistakes of a model with logits up to +-14
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(1e-4), loss="binary_crossentropy", metrics=["accuracy"])
    model.layers[0].set_weights([np.array([[14.0], [0.0], [0.0], [0.0]], dtype="float32"), np.zeros(1, "float32")])
    (x_train, y_train), (xv, yv) = (x[:300], y[:300]), (x[300:], y[300:])
    in_memory, on_disk = PredictionRecorder((xv, yv)), PredictionRecorder((xv, yv), tmp_path / "run")
    check = EvaluateEachEpoch(xv, yv)
    model.fit(x_train, y_train, epochs=2, batch_size=50, verbose=0, callbacks=[in_memory, on_disk, check])
    truth = [t["loss"] for _, t, _ in check.pairs]
    outputs = [p[:, 0] for _, _, p in check.pairs]
    assert min(int(((p > 0.99976) & (yv == 0)).sum()) for p in outputs) >= 5

    def keras_bce(p):
        pc = np.clip(p.astype(np.float32), np.float32(1e-7), np.float32(1) - np.float32(1e-7)).astype(np.float64)
        return float(np.mean(-np.where(yv == 1, np.log(pc), np.log(1 - pc))))

    for run in (in_memory.run, read_run_dir(tmp_path / "run")):
        assert run.predictions.proba[0].dtype == np.float32
        np.testing.assert_allclose(decomposition_table(run)["val_loss"], truth, rtol=1e-4)
    assert in_memory.val_proba[-1].dtype == np.float32 and len(in_memory.val_proba) == 2
    np.testing.assert_allclose([keras_bce(p) for p in outputs], truth, rtol=1e-5)  # evaluate clips as written here
    assert min(keras_bce(p.astype(np.float16)) / t - 1 for p, t in zip(outputs, truth)) > 0.01


def test_callbacks_after_it_see_val_loss_even_when_listed_first(tmp_path, capsys):
    (x, y), (xv, yv) = _data()
    model = _model()
    # mode="max" with a huge min_delta: val_loss "never improves" after epoch 1,
    # so training stops after epoch 2 -- if and only if EarlyStopping sees val_loss
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", mode="max", min_delta=10.0, patience=1)
    logger = keras.callbacks.CSVLogger(str(tmp_path / "log.csv"))
    recorder = PredictionRecorder((xv, yv), tmp_path / "run")
    model.fit(x, y, epochs=6, batch_size=32, verbose=2, callbacks=[stopper, logger, recorder])
    out = capsys.readouterr().out
    assert "val_loss:" in out and "Epoch 2/6" in out and "Epoch 3/6" not in out
    header = (tmp_path / "log.csv").read_text().splitlines()[0].split(",")
    assert "val_loss" in header and "val_accuracy" in header
    from dynamics.sources.rundir import read_run_dir

    run = read_run_dir(tmp_path / "run")
    assert list(run.epochs.index) == [1, 2] and run.meta.extra["status"] == "finished"
    assert [(e.kind, e.epoch, e.monitor) for e in run.events] == [("early_stopping", 2, "val_loss")]
    assert (tmp_path / "run" / "progress.log").read_text().count("val_loss:") == 2


def test_keras_validation_is_kept_and_state_resets(tmp_path):
    (x, y), (xv, yv) = _data()
    model = _model()
    recorder = PredictionRecorder((xv, yv), train_data=(x, y), train_subset=40, batch_size=16)
    model.fit(x, y, epochs=2, batch_size=32, verbose=0, validation_data=(xv, yv), callbacks=[recorder])
    assert len(recorder.epochs) == 2 and recorder.train_proba[0].shape == (40,)
    assert len(set(recorder.run.train_predictions.sample_ids)) == 40
    model.fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[recorder])  # reused: starts over
    assert recorder.epochs == [1] and len(recorder.val_proba) == 1


def test_a_storage_built_by_hand_and_close_after_a_failed_fit(tmp_path):
    (x, y), (xv, yv) = _data()
    storage = RecordingStorage(tmp_path / "run", dtype="float32", metadata={"seed": 5})
    recorder = PredictionRecorder((xv, yv), storage=storage)
    assert recorder.storage is storage and recorder.directory == tmp_path / "run"
    saved = sys.stdout

    class Boom(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("the user's callback fails in epoch 2")

    try:
        with pytest.raises(RuntimeError, match="fails in epoch 2"):
            _model().fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=[recorder, Boom()])
        assert sys.stdout is not saved  # fit raised after the recorder: the capture still runs...
    finally:
        recorder.close()  # ...until the caller closes it, as dynamics.keras.training does
    assert sys.stdout is saved
    run = recorder.run
    assert list(run.epochs.index) == [1, 2] and run.meta.extra["status"] == "running"
    assert run.meta.extra["seed"] == 5 and run.predictions.proba[0].dtype == np.float32
    assert run.meta.interrupted_epoch == 3


def test_logits_without_from_logits_are_refused():
    (x, y), (xv, yv) = _data()
    model = _model(activation=None, loss=keras.losses.BinaryCrossentropy(from_logits=True), metrics=())
    with pytest.raises(ArgumentError, match="pass from_logits=True"):
        model.fit(x, y, epochs=2, verbose=0, callbacks=[PredictionRecorder((xv, yv))])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"validation_data": "x"}, "Received: validation_data=str"),
        ({"validation_data": (np.zeros((3, 2)), np.zeros(4))}, "3 samples and labels of shape (4,)"),
        ({"batch_size": 0}, "Received: batch_size=0"),
        ({"dtype": "float64"}, "Received: dtype='float64'"),
        ({"train_subset": 5}, "Received: train_subset=5, train_data=None"),
        ({"train_data": (np.zeros((4, 2)), np.zeros(4)), "train_subset": 9}, "Received: train_subset=9"),
        ({"sample_ids": [1, 2]}, "sample_ids must be 3 integers"),
        ({"steps": 2}, "steps applies to a dataset or generator, not to arrays. Received: steps=2"),
        ({"storage": "runs/x"}, "Received: storage=str"),
        ({"storage": RecordingStorage(), "dtype": "float32"},
         "pass dtype to the RecordingStorage, not beside it. Received: storage and dtype='float32'"),
        ({"storage": RecordingStorage(), "directory": "runs/x"}, "Received: storage and directory='runs/x'"),
    ],
)
def test_arguments_are_checked(kwargs, message):
    kwargs = {"validation_data": (np.zeros((3, 2)), np.zeros(3)), **kwargs}
    with pytest.raises(ArgumentError) as info:
        PredictionRecorder(kwargs.pop("validation_data"), **kwargs)
    assert message in str(info.value)


_OTHER_BACKEND = textwrap.dedent("""
    import sys, numpy as np
    sys.path.insert(0, {root!r})
    import keras
    from dynamics.keras.callback import PredictionRecorder
    assert keras.backend.backend() == {backend!r}, keras.backend.backend()
    rng = np.random.default_rng(0)
    x = rng.integers(1, 200, size=(96, 10)).astype("int32"); y = (x[:, -1] > 100).astype("float32")
    xv = rng.integers(1, 200, size=(33, 10)).astype("int32"); yv = (xv[:, -1] > 100).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((10,), dtype="int32"), keras.layers.Embedding(200, 8),
                              keras.layers.LSTM(8), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    rec = PredictionRecorder((xv, yv), {directory!r})
    model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[rec])
    truth = model.evaluate(xv, yv, verbose=0, return_dict=True)
    logs = rec.logs[-1]
    assert abs(logs["val_loss"] - truth["loss"]) < 1e-5 and abs(logs["val_accuracy"] - truth["accuracy"]) < 1e-6
    proba = model.predict(xv, verbose=0)[:, 0]
    run = rec.run
    assert np.allclose(np.asarray(run.predictions.proba[-1], dtype=float), proba, atol=1e-3)
    print("OK", run.meta.extra["backend"], len(run.epochs))
""")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "tensorflow"])
def test_recorder_on_another_backend(backend, tmp_path):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"the {backend} backend is not installed")
    code = _OTHER_BACKEND.format(root=str(ROOT), backend=backend, directory=str(tmp_path / "run"))
    env = {**os.environ, "KERAS_BACKEND": backend, "KERAS_HOME": str(tmp_path / "kh")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert f"OK {backend} 2" in result.stdout
