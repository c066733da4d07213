"""Forgetting events: against a transcription of Toneva et al.'s reference code."""

from __future__ import annotations

import numpy as np
import pytest

from dynamics.simulate import simulate_run
from dynamics.stats.forgetting import (
    ForgettingAccumulator,
    combine_forgetting,
    forgetting_statistics,
    forgetting_table,
)
from dynamics.stats.views import iter_views


def _toneva(acc_matrix):
    """mtoneva/example_forgetting compute_forgetting_statistics + sort_examples_by_forgetting, one run."""
    npresentations = acc_matrix.shape[0]
    counts, needed, first = [], [], []
    for column in acc_matrix.T:
        presentation_acc = np.array(column, dtype=int)
        transitions = presentation_acc[1:] - presentation_acc[:-1]
        unlearned = np.where(transitions == -1)[0] + 2 if len(np.where(transitions == -1)[0]) > 0 else []
        zeros = np.where(presentation_acc == 0)[0]
        needed.append(zeros[-1] + 1 if len(zeros) > 0 else 0)
        ones = np.where(presentation_acc == 1)[0]
        first.append(ones[0] if len(ones) > 0 else np.nan)
        counts.append(npresentations if np.isnan(first[-1]) else len(unlearned))
    return np.array(counts), np.array(needed), np.array(first, dtype=float)


def test_matches_the_reference_code_on_random_histories():
    rng = np.random.default_rng(0)
    ok = rng.random((12, 2000)) < rng.random(2000)[None, :]
    ok[:, :20] = False  # never learned
    ok[:, 20:40] = True  # unforgettable
    table = forgetting_statistics(ok)
    counts, needed, first = _toneva(ok)
    np.testing.assert_array_equal(table["forgetting_count"], counts)
    np.testing.assert_array_equal(table["epochs_to_learn"], needed)
    np.testing.assert_array_equal(table["first_learned"], first + 1)  # reported as 1-based epochs
    assert table["never_learned"][:20].all() and (table["forgetting_count"][:20] == 12).all()
    assert table["unforgettable"][20:40].all()
    assert int(table["unforgettable"].sum()) == int(np.sum(counts == 0))  # the script's printed number
    transitions = np.diff(ok.astype(int), axis=0)
    np.testing.assert_array_equal(table["learning_events"], (transitions == 1).sum(axis=0))


def test_accumulator_equals_the_stacked_computation():
    run = simulate_run("flipping", n=500, epochs=10, seed=3, n_train=300)
    preds = run.train_predictions
    acc = ForgettingAccumulator()
    correct = []
    for view in iter_views(preds):
        acc.update(view)
        correct.append(view.correct)
    streamed = acc.table()
    stacked = forgetting_statistics(np.array(correct), preds.epochs)
    assert streamed.equals(stacked.astype(streamed.dtypes.to_dict()))
    table = forgetting_table(run)
    assert "sample_id" in table.columns and len(table) == 300
    assert len(forgetting_table(run, split="val")) == 500


def test_counts_add_up_over_seeds():
    a = forgetting_statistics([[1, 1, 0], [0, 1, 0], [1, 1, 0]])
    b = forgetting_statistics([[1, 0, 1], [1, 0, 1], [1, 0, 1]])
    combined = combine_forgetting([a, b])
    assert combined["forgetting_count"].tolist() == [1 + 0, 0 + 3, 3 + 0]
    assert combined["unforgettable"].tolist() == [False, False, False]
    with pytest.raises(ValueError):
        combine_forgetting([])
