"""Data maps: streaming Welford against numpy on the stack, regions against cartography's ranking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dynamics.errors import ArgumentError, InputError
from dynamics.simulate import epoch_arrays, load_npy, save_npy, simulate_run
from dynamics.stats.datamap import (
    DataMapAccumulator,
    data_map,
    data_map_regions,
    data_map_table,
)
from dynamics.stats.probabilities import EpochView
from dynamics.stats.views import iter_views


@pytest.mark.parametrize("classes", [2, 3])
def test_streaming_over_float16_memory_maps_equals_numpy_on_the_stack(tmp_path, classes):
    y, arrays = epoch_arrays("minority", n=1500, epochs=12, classes=classes, seed=classes)
    preds = load_npy(save_npy(y, arrays, tmp_path))
    assert isinstance(preds.proba[0], np.memmap) and preds.proba[0].dtype == np.float16
    acc = DataMapAccumulator()
    for view in iter_views(preds):
        acc.update(view)
    stack = preds.stacked(np.float64)
    if classes == 2:
        p_true = np.where(y[None, :] == 1, stack, 1 - stack)
        ok = (stack > 0.5) == (y[None, :] == 1)
    else:
        stack = stack / stack.sum(axis=2, keepdims=True)
        p_true = np.take_along_axis(stack, y[None, :, None], axis=2)[..., 0]
        ok = stack.argmax(axis=2) == y[None, :]
    np.testing.assert_allclose(acc.confidence, p_true.mean(axis=0), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(acc.variability, np.std(p_true, axis=0, ddof=0), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(acc.correctness, ok.mean(axis=0))
    pd.testing.assert_frame_equal(acc.table(), data_map(p_true, ok), rtol=1e-9, atol=1e-12)


def test_constant_predictions_have_zero_variability():
    acc = DataMapAccumulator()
    for _ in range(7):
        acc.update(EpochView(np.array([0.3, 0.9], dtype=np.float16), [1, 1]))
    assert (acc.variability == 0).all()


def test_regions_match_cartographys_sort_and_head():
    rng = np.random.default_rng(0)
    metrics = pd.DataFrame({"confidence": rng.random(1000), "variability": rng.random(1000) * 0.5})
    regions = data_map_regions(metrics["confidence"], metrics["variability"], fraction=0.33)
    k = int(0.33 * 1000)
    hard = metrics.sort_values(by="confidence", ascending=True, kind="stable").head(k).index
    easy = metrics.sort_values(by="confidence", ascending=False, kind="stable").head(k).index
    ambiguous = metrics.sort_values(by="variability", ascending=False, kind="stable").head(k).index
    assert set(np.flatnonzero(regions["hard_to_learn"])) == set(hard)
    assert set(np.flatnonzero(regions["easy_to_learn"])) == set(easy)
    assert set(np.flatnonzero(regions["ambiguous"])) == set(ambiguous)
    assert (regions.loc[regions["ambiguous"], "region"] == "ambiguous").all()
    with pytest.raises(ArgumentError):
        data_map_regions([0.1], [0.1], fraction=0)


def _recorded(y, epochs_proba, *, train=None, sample_ids=None):
    from dynamics.run import Predictions, Run, RunMeta, make_epoch_table

    epochs = list(range(1, len(epochs_proba) + 1))
    table = make_epoch_table({e: {"val_loss": 0.5} for e in epochs})
    val = Predictions(epochs, np.asarray(y), [np.asarray(p, dtype=np.float32) for p in epochs_proba],
                      sample_ids=sample_ids)
    tr = None if train is None else Predictions(epochs, np.asarray(train[0]), [np.asarray(p, dtype=np.float32) for p in train[1]])
    return Run(table, RunMeta(format="recorded"), predictions=val, train_predictions=tr)


def test_table_of_a_run_hand_worked():
    # Three epochs, three binary samples (labels 1, 0, 1); P(class 1) per epoch:
    #   sample 0: 0.2 0.4 0.6 -> p_true 0.2 0.4 0.6: confidence 0.4, variability sqrt(0.08 / 3) = 0.16330, right once
    #   sample 1: 0.9 0.9 0.9 -> p_true 0.1 0.1 0.1: confidence 0.1, variability 0, never right
    #   sample 2: 0.7 0.8 0.9 -> p_true 0.7 0.8 0.9: confidence 0.8, variability 0.08165, always right
    run = _recorded([1, 0, 1], [[0.2, 0.9, 0.7], [0.4, 0.9, 0.8], [0.6, 0.9, 0.9]], sample_ids=[10, 11, 12])
    table = data_map_table(run, split="val", fraction=0.34)  # one sample per region (int(0.34 * 3) = 1)
    assert table["sample_id"].tolist() == [10, 11, 12]
    assert table["confidence"].tolist() == pytest.approx([0.4, 0.1, 0.8], abs=1e-7)
    assert table["variability"].tolist() == pytest.approx([0.163299, 0.0, 0.081650], abs=1e-6)
    assert table["correctness"].tolist() == pytest.approx([1 / 3, 0.0, 1.0])
    # easy: highest confidence (2); hard: lowest (1); ambiguous: most variable (0).
    assert table["region"].tolist() == ["ambiguous", "hard-to-learn", "easy-to-learn"]
    with pytest.raises(InputError, match="training-subset"):
        data_map_table(run)  # the default split is the training subset, not recorded here


def test_table_of_a_simulated_run_equals_numpy_on_its_stacked_predictions():
    run = simulate_run("flipping", n=200, epochs=5, n_train=120)
    table = data_map_table(run)
    stack = run.train_predictions.stacked(np.float64)
    y = run.train_predictions.y_true
    p_true = np.where(y[None, :] == 1, stack, 1 - stack)
    assert len(table) == 120
    np.testing.assert_allclose(table["confidence"], p_true.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(table["variability"], p_true.std(axis=0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(table["correctness"], ((stack > 0.5) == (y[None, :] == 1)).mean(axis=0))
    assert len(data_map_table(run, split="val")) == 200
