"""Data maps: streaming Welford against numpy on the stack, regions against cartography's ranking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dynamics.errors import ArgumentError
from dynamics.simulate import epoch_arrays, load_npy, save_npy, simulate_run
from dynamics.stats.datamap import DataMapAccumulator, data_map, data_map_regions, data_map_table
from dynamics.stats.probabilities import EpochView, iter_views


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


def test_table_of_a_run():
    run = simulate_run("flipping", n=200, epochs=5, n_train=120)
    table = data_map_table(run)
    assert len(table) == 120 and {"sample_id", "confidence", "variability", "correctness", "region"} <= set(table)
    assert (table["variability"] <= 0.5).all()
    assert len(data_map_table(run, split="val")) == 200
