"""The IMDB LSTM trainer: tiny runs of each pooling on the synthetic reviews,
the saved progress output parsed back, same seed -> same predictions."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

pytestmark = pytest.mark.train
if importlib.util.find_spec("keras") is None:
    pytest.skip("needs the [train] extra (keras)", allow_module_level=True)

from dynamics.keras.synthetic import decode  # noqa: E402
from dynamics.keras.training import TrainConfig, build_model, train  # noqa: E402
from dynamics.sources.io import load_run, load_runs  # noqa: E402
from dynamics.sources.rundir import read_run_dir, read_vocabulary, sample_texts  # noqa: E402
from dynamics.stats.decomposition import decomposition_table  # noqa: E402

TINY = dict(dataset="synthetic", epochs=2, max_samples=120, train_subset=40, verbose=1, label_noise=0.1)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    config = TrainConfig(poolings=("last", "mean", "max"), out=str(out), **TINY)
    lines: list[str] = []
    paths = train(config, echo=lines.append)
    return config, paths, lines


@pytest.mark.slow
def test_each_pooling_records_a_loadable_run(runs):
    config, paths, lines = runs
    assert [p.name for p in paths] == ["synthetic-last-seed0", "synthetic-mean-seed0", "synthetic-max-seed0"]
    assert lines[0].startswith("synthetic: 120 training and 120 validation samples (test), backend jax")
    for path, pooling in zip(paths, ("last", "mean", "max")):
        run = load_run(path)  # the project's loader dispatches directories to read_run_dir
        assert run.meta.format == "recorded" and run.meta.extra["pooling"] == pooling
        assert list(run.epochs.index) == [1, 2]
        assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(run.epochs.columns)
        assert (run.meta.n_train, run.meta.n_val, run.meta.classes) == (120, 120, 2)
        extra = run.meta.extra
        assert extra["backend"] == "jax" and extra["keras_version"].startswith("3.")
        assert extra["seed"] == 0 and extra["dataset"] == "synthetic" and extra["options"]["label_noise"] == 0.1
        assert f"imdb_lstm_{pooling}" in extra["model"]["summary"] and extra["model"]["params"] > 2_560_000
        assert len(extra["val_flipped_ids"]) == 12  # 10% of the 120 validation labels
        preds = run.predictions
        assert preds.proba[0].shape == (120,) and preds.proba[0].dtype == np.float32  # decoded float16 logits
        assert extra["prediction_encoding"] == "logit-float16"
        assert np.load(path / "val" / "epoch_0001.npy").dtype == np.float16
        # the val_loss recomputed from the stored predictions is the one Keras's loss gave
        recomputed = decomposition_table(run)["val_loss"]
        np.testing.assert_allclose(recomputed, run.epochs["val_loss"], rtol=1e-4)
        assert np.isfinite(preds.stacked()).all() and list(preds.sample_ids) == list(range(120))
        assert run.train_predictions.proba[1].shape == (40,)
        assert run.timing["seconds"].gt(0).all()
        texts = sample_texts(path)
        inputs = np.load(path / "val" / "inputs.npy")
        assert len(texts) == 120 and texts[5] == decode(inputs[5], read_vocabulary(path))
        assert len(texts[5].split()) == np.count_nonzero(inputs[5]) <= 80


@pytest.mark.slow
def test_saved_progress_output_parses_back_to_the_recorded_table(runs):
    _, paths, _ = runs
    for path in paths:
        recorded = read_run_dir(path).epochs
        raw = (path / "progress.log").read_text()
        assert "\x1b" not in raw and "\b" not in raw and "\r" not in raw  # verbose=1, as the terminal showed it
        parsed = load_runs(path / "progress.log")
        assert len(parsed) == 1
        table = parsed[0].epochs
        assert list(table.index) == list(recorded.index)
        for column in recorded.columns:
            # Keras 3's Progbar prints "%.4f", or "%.4e" below 1e-3
            printed = [float(f"{v:.4f}" if abs(v) > 1e-3 else f"{v:.4e}") for v in recorded[column]]
            assert table[column].tolist() == printed, column


@pytest.mark.slow
def test_same_seed_gives_the_same_predictions(runs, tmp_path):
    config, paths, _ = runs
    again = train(TrainConfig(poolings=("last",), out=str(tmp_path), **TINY), echo=lambda line: None)[0]
    first, second = read_run_dir(paths[0]), read_run_dir(again)
    for a, b in zip(first.predictions.proba, second.predictions.proba):
        assert np.array_equal(a, b)
    assert first.epochs.equals(second.epochs)


def test_mean_and_max_pooling_ignore_padding():
    from dynamics.keras.env import import_keras

    keras = import_keras()
    config = TrainConfig(maxlen=12, max_features=50, embedding_dim=4, units=3)
    x = np.array([[0, 0, 0, 0, 0, 5, 9, 3, 7, 1, 2, 8], [0] * 9 + [4, 4, 6]], dtype="int32")
    mask = x != 0
    for pooling, reduce in (("mean", np.mean), ("max", np.max)):
        keras.utils.set_random_seed(1)
        model = build_model(config, pooling, keras)
        lstm = next(layer for layer in model.layers if isinstance(layer, keras.layers.LSTM))
        pool = model.layers[model.layers.index(lstm) + 1]
        # eager calls (no XLA compilation): dropout is off outside training
        steps = np.asarray(keras.Model(model.inputs[0], lstm.output)(x, training=False))
        pooled = np.asarray(keras.Model(model.inputs[0], pool.output)(x, training=False))
        expected = np.stack([reduce(steps[i][mask[i]], axis=0) for i in range(len(x))])
        np.testing.assert_allclose(pooled, expected, rtol=1e-5, atol=1e-6)
        assert model.count_params() == 50 * 4 + 4 * (3 * (4 + 3) + 3) + 3 + 1
