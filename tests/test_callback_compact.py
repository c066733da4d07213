"""The recorder's compact storage: what a real softmax model writes, record for record."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

pytestmark = pytest.mark.train
if importlib.util.find_spec("keras") is None:
    pytest.skip("needs the [train] extra (keras)", allow_module_level=True)

from dynamics.errors import ArgumentError  # noqa: E402
from dynamics.keras.callback import PredictionRecorder, keras  # noqa: E402
from dynamics.sources.rundir import read_run_dir  # noqa: E402
from dynamics.sources.rundir.compact import encode_compact  # noqa: E402

K = 12


def test_compact_records_equal_the_encoding_of_the_full_outputs(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6)).astype("float32")
    y = (np.abs(x[:, :2]).sum(axis=1) * 3).astype("int64") % K
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(K, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    full = PredictionRecorder((x[200:], y[200:]), dtype="float32")
    compact = PredictionRecorder((x[200:], y[200:]), tmp_path / "run", top_k=4)
    model.fit(x[:200], y[:200], epochs=2, batch_size=50, verbose=0, callbacks=[full, compact])
    run = read_run_dir(tmp_path / "run")
    assert run.predictions.compact and run.predictions.n_classes == K and run.meta.extra["compact_top_k"] == 4
    for stored, outputs in zip(run.predictions.proba, full.val_proba):
        np.testing.assert_array_equal(stored, encode_compact(outputs, y[200:], 4))
    assert run.epochs["val_loss"].tolist() == [logs["val_loss"] for logs in full.logs]


def test_compact_storage_needs_a_directory():
    with pytest.raises(ArgumentError, match="Received: top_k=3, directory=None"):
        PredictionRecorder((np.zeros((3, 2)), np.zeros(3)), top_k=3)
