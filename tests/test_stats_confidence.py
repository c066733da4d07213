"""Confidence and entropy per epoch, against per-sample brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import entropy

from dynamics.simulate import simulate_run
from dynamics.stats.confidence import confidence_summary, confidence_table


@pytest.mark.parametrize("classes", [2, 3])
def test_summary_against_brute_force(classes):
    rng = np.random.default_rng(classes)
    n = 500
    y = rng.integers(0, classes, n)
    p = rng.random(n) ** 0.3 if classes == 2 else rng.dirichlet(np.full(classes, 0.3), n)
    s = confidence_summary(p, y)
    rows = np.column_stack([1 - p, p]) if classes == 2 else p
    conf = rows.max(axis=1)
    pred = rows.argmax(axis=1)
    if classes == 2:
        pred = (p > 0.5).astype(int)
    ok = pred == y
    ent = np.array([entropy(r) for r in rows])
    assert s["confidence_correct"] == pytest.approx(conf[ok].mean())
    assert s["confidence_wrong"] == pytest.approx(conf[~ok].mean())
    assert s["entropy"] == pytest.approx(ent.mean())
    assert s["entropy_wrong"] == pytest.approx(ent[~ok].mean())
    assert s["above_0.9"] == pytest.approx(np.mean(conf > 0.9))
    assert s["above_0.99"] == pytest.approx(np.mean(conf > 0.99))
    assert s["wrong_above_0.9"] == pytest.approx(np.mean(conf[~ok] > 0.9))


def test_all_correct_leaves_wrong_columns_nan():
    s = confidence_summary([0.95, 0.05], [1, 0])
    assert math.isnan(s["confidence_wrong"]) and math.isnan(s["wrong_above_0.9"])
    assert s["above_0.9"] == 1.0


def test_table_shows_growing_confidence_of_mistakes_in_the_overconfident_story():
    run = simulate_run("overconfident", n=2000, epochs=15, seed=1)
    table = confidence_table(run)
    assert list(table.index) == list(range(1, 16))
    assert table["confidence_wrong"].iloc[-1] > table["confidence_wrong"].iloc[3] + 0.05
    assert table["entropy_wrong"].iloc[-1] < table["entropy_wrong"].iloc[3]
