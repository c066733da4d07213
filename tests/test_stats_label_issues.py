"""Candidate label problems: cleanlab's self-confidence ranking, re-derived."""

from __future__ import annotations

import numpy as np
import pytest

from dynamics.errors import ArgumentError
from dynamics.simulate import simulate_run
from dynamics.stats.label_issues import (
    imdb_vocabulary,
    label_issue_candidates,
    label_issues_table,
    self_confidence,
    sequence_decoder,
)


def test_self_confidence_is_cleanlabs_score_on_stacked_binary_probabilities():
    rng = np.random.default_rng(0)
    p = rng.random(300)
    y = rng.integers(0, 2, 300)
    pred_probs = np.column_stack([1 - p, p])  # what cleanlab needs for a sigmoid model
    np.testing.assert_allclose(self_confidence(p, y), pred_probs[np.arange(300), y])
    q = rng.dirichlet(np.ones(4), 300)
    k = rng.integers(0, 4, 300)
    np.testing.assert_allclose(self_confidence(q, k), q[np.arange(300), k])


def test_candidates_follow_the_rules_and_rank_ascending():
    rng = np.random.default_rng(1)
    n = 2000
    sc = rng.random(n) ** 3
    wrong = rng.random(n)
    correct = rng.random(n) < 0.5
    got = label_issue_candidates(sc, wrong, correct, min_wrong_fraction=0.8, max_self_confidence=0.2)
    expected = sorted((i for i in range(n) if not correct[i] and wrong[i] >= 0.8 and sc[i] <= 0.2), key=lambda i: (sc[i], i))
    assert got.tolist() == expected
    with pytest.raises(ArgumentError, match="max_self_confidence"):
        label_issue_candidates(sc, wrong, correct, max_self_confidence=2)


def test_flipped_labels_are_found_in_a_run_with_label_noise():
    run = simulate_run("healthy", n=3000, epochs=15, seed=4, label_noise=0.05)
    preds = run.predictions
    clean_pred = preds.proba[-1].astype(float) > 0.5
    issues = label_issues_table(run)
    assert len(issues) > 20
    # Recorded labels that disagree with a confident final prediction are the flipped ones:
    flipped = np.flatnonzero(preds.y_true != clean_pred)
    assert set(issues["sample"]) <= set(flipped)
    assert (np.diff(issues["self_confidence"]) >= 0).all()
    assert (issues["wrong_fraction"] >= 0.9).all() and (issues["self_confidence"] <= 0.1).all()
    np.testing.assert_allclose(issues["loss"], -np.log(np.clip(issues["self_confidence"], 1.0000000116860974e-07, None)))
    assert len(label_issues_table(run, limit=5)) == 5


def test_text_hook_decodes_imdb_style_sequences():
    word_index = {"the": 1, "movie": 17, "great": 84}
    vocab = imdb_vocabulary(word_index)
    sequences = [[0, 1, 4, 20, 87], [1, 2, 20]]
    decode = sequence_decoder(sequences, vocab)
    assert decode(0) == "<start> the movie great"
    assert decode(1) == "<start> <oov> movie"
    listed = sequence_decoder([[3, 1]], ["pad", "good", "bad", "not"])
    assert listed(0) == "not good"
    run = simulate_run("healthy", n=400, epochs=6, seed=1, label_noise=0.1)
    texts = {i: f"review {i}" for i in range(400)}
    issues = label_issues_table(run, decoder=texts.__getitem__)
    assert (issues["text"] == [f"review {i}" for i in issues["sample_id"]]).all()
