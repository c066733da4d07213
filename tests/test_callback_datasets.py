"""PredictionRecorder on the validation inputs Keras accepts besides arrays: a
PyDataset, a generator, batches carrying their ids, a torch DataLoader -- each
records the run the array path records for the same data and seed."""

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

from test_callback import _data, _model  # noqa: E402

from dynamics.errors import ArgumentError  # noqa: E402
from dynamics.keras.callback import PredictionRecorder, keras  # noqa: E402
from dynamics.sources.rundir import read_run_dir  # noqa: E402

BATCH = 32


class Batches(keras.utils.PyDataset):
    """x, y in batches of BATCH; ``shuffle`` reorders them after every epoch, as a careless loader would."""

    def __init__(self, x, y, *, shuffle=False, shrink=False, weights=None):
        super().__init__()
        self.x, self.y, self.weights = x, y, weights
        self.order = np.arange(len(x))
        self.shuffle, self.shrink, self.epoch = shuffle, shrink, 0

    @property
    def num_batches(self):
        n = len(self.x) - (BATCH if self.shrink and self.epoch else 0)
        return -(-n // BATCH)

    def __getitem__(self, i):
        rows = self.order[i * BATCH:(i + 1) * BATCH]
        batch = (self.x[rows], self.y[rows])
        return batch + (self.weights[rows],) if self.weights is not None else batch

    def on_epoch_end(self):
        self.epoch += 1
        if self.shuffle:
            self.order = np.random.default_rng(self.epoch).permutation(len(self.x))


class ReshuffledWithIds:
    """An iterable of (x, y, ids) batches in a new order every pass (ids name the samples)."""

    def __init__(self, x, y):
        self.x, self.y, self.passes = x, y, 0

    def __len__(self):
        return -(-len(self.x) // BATCH)

    def __iter__(self):
        self.passes += 1
        order = np.random.default_rng(self.passes).permutation(len(self.x))
        for i in range(0, len(order), BATCH):
            rows = order[i:i + BATCH]
            yield self.x[rows], self.y[rows], rows + 1000


def _record(validation_data, directory, **kwargs):
    (x, y), _ = _data()
    recorder = PredictionRecorder(validation_data, directory, **kwargs)
    _model().fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=[recorder])
    return read_run_dir(directory)


@pytest.fixture(scope="module")
def array_run(tmp_path_factory):
    """The reference: (x_val, y_val) arrays, predicted in batches of BATCH (the datasets' batch shape)."""
    _, (xv, yv) = _data()
    return _record((xv, yv), tmp_path_factory.mktemp("arrays") / "run", batch_size=BATCH)


@pytest.mark.parametrize("kind", ["pydataset", "generator", "reshuffled-with-ids"])
def test_a_dataset_records_the_array_run(kind, array_run, tmp_path):
    _, (xv, yv) = _data()
    back = np.arange(len(yv))  # recorded row of each array row
    if kind == "pydataset":
        run = _record(Batches(xv, yv), tmp_path / "run")
    elif kind == "generator":  # endless, as fit(validation_steps=...) wants it: steps per pass
        batches = Batches(xv, yv)
        stream = (batches[i] for _ in range(10) for i in range(batches.num_batches))
        run = _record(stream, tmp_path / "run", steps=batches.num_batches)
    else:
        run = _record(ReshuffledWithIds(xv, yv), tmp_path / "run", sample_ids=2)
        # the first pass's order is the recorded order: the array rows permuted once, named by their ids
        order = np.random.default_rng(1).permutation(len(yv))
        assert run.predictions.sample_ids.tolist() == (order + 1000).tolist()
        back = np.argsort(order)
    assert run.meta.n_val == len(yv) and run.meta.extra["validation_input"] != "arrays"
    np.testing.assert_array_equal(run.predictions.stacked()[:, back], array_run.predictions.stacked())
    np.testing.assert_array_equal(run.predictions.y_true[back], array_run.predictions.y_true)
    if kind == "reshuffled-with-ids":  # the same losses, summed in another order
        np.testing.assert_allclose(run.epochs.to_numpy(), array_run.epochs.to_numpy(), rtol=1e-6)
    else:
        assert run.epochs.equals(array_run.epochs)  # val_loss, val_accuracy: bit for bit
        assert run.predictions.sample_ids.tolist() == list(range(len(yv)))


@pytest.mark.parametrize(
    "dataset, message",
    [
        (lambda xv, yv: Batches(xv, yv, shuffle=True), "came in another order in epoch 2 than in epoch 1"),
        (lambda xv, yv: Batches(xv, yv, shrink=True), "gave 96 samples in epoch 2 and 101 in epoch 1"),
    ],
)
def test_a_shuffled_or_shrinking_loader_stops_training_with_one_line(dataset, message, tmp_path):
    (x, y), (xv, yv) = _data()
    saved = sys.stdout
    recorder = PredictionRecorder(dataset(xv, yv), tmp_path / "run")
    with pytest.raises(ArgumentError) as info:
        _model().fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=[recorder])
    assert message in str(info.value) and "\n" not in str(info.value)
    assert sys.stdout is saved  # the progress capture was given back
    run = read_run_dir(tmp_path / "run")  # what was recorded before is intact; nothing after it
    assert list(run.epochs.index) == [1] and list(run.predictions.epochs) == [1]
    assert run.meta.extra["status"] == "running"


def test_sample_weights_of_the_batches_weigh_val_loss_as_evaluate_does():
    (x, y), (xv, yv) = _data()
    weights = np.random.default_rng(3).uniform(0.1, 2.0, len(yv)).astype("float32")
    model = _model()
    recorder = PredictionRecorder(Batches(xv, yv, weights=weights))
    model.fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[recorder])
    weighted = model.evaluate(xv, yv, sample_weight=weights, batch_size=BATCH, verbose=0, return_dict=True)
    plain = model.evaluate(xv, yv, batch_size=BATCH, verbose=0, return_dict=True)
    assert recorder.logs[-1]["val_loss"] == pytest.approx(weighted["loss"], rel=1e-5)
    assert abs(weighted["loss"] - plain["loss"]) > 1e-3  # the weights matter here


_TORCH = textwrap.dedent("""
    import sys, numpy as np
    sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
    import keras, torch
    from torch.utils.data import DataLoader, TensorDataset
    from dynamics.keras.callback import PredictionRecorder
    from test_callback import _data, _model
    assert keras.backend.backend() == "torch"
    (x, y), (xv, yv) = _data()
    runs = {{}}
    for kind in ("arrays", "dataloader", "shuffled"):
        if kind == "arrays":
            data = (xv, yv)
        else:
            data = DataLoader(TensorDataset(torch.from_numpy(xv), torch.from_numpy(yv)), batch_size=32,
                              shuffle=kind == "shuffled", generator=torch.Generator().manual_seed(0))
        rec = PredictionRecorder(data, batch_size=32)
        try:
            _model().fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[rec])
        except Exception as exc:
            print("REFUSED", kind, type(exc).__name__, str(exc).splitlines()[0])
            continue
        runs[kind] = rec.run
    a, d = runs["arrays"], runs["dataloader"]
    assert a.epochs.equals(d.epochs), (a.epochs, d.epochs)
    assert np.array_equal(a.predictions.stacked(), d.predictions.stacked())
    # recording leaves the training as it is: predict's DataLoader draws from torch's global generator
    bare = _model().fit(x, y, epochs=2, batch_size=32, verbose=0).history
    assert bare["loss"] == d.epochs["loss"].tolist(), (bare["loss"], d.epochs["loss"].tolist())
    print("OK torch", len(d.epochs), d.predictions.stacked().shape)
""")


@pytest.mark.slow
def test_torch_dataloader_records_the_array_run(tmp_path):
    if importlib.util.find_spec("torch") is None:
        pytest.skip("the torch backend is not installed")
    code = _TORCH.format(root=str(ROOT), tests=str(ROOT / "tests"))
    env = {**os.environ, "KERAS_BACKEND": "torch", "KERAS_HOME": str(tmp_path / "kh")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert "OK torch 2 (2, 101)" in result.stdout
    assert "REFUSED shuffled ArgumentError validation_data=DataLoader came in another order in epoch 2" \
        in result.stdout


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="TensorFlow is not installed")
def test_tf_data_dataset_records_the_array_run(array_run, tmp_path):  # pragma: no cover - no TF here
    import tensorflow as tf

    _, (xv, yv) = _data()
    run = _record(tf.data.Dataset.from_tensor_slices((xv, yv)).batch(BATCH), tmp_path / "run")
    assert run.epochs.equals(array_run.epochs)
    np.testing.assert_array_equal(run.predictions.stacked(), array_run.predictions.stacked())
    with pytest.raises(ArgumentError, match="has no end the recorder can see"):
        PredictionRecorder(tf.data.Dataset.from_tensor_slices((xv, yv)).batch(BATCH).repeat())
