"""Candidate label problems: validation samples persistently and confidently wrong.

Validation predictions are out-of-sample for the model that made them, the
setting cleanlab asks for. A sample is a candidate when it was misclassified
at the last epoch and in at least ``min_wrong_fraction`` of the recorded
epochs, and its *self-confidence* -- the probability the model gives its
given label, cleanlab's ``rank.get_label_quality_scores(...,
method="self_confidence")`` -- is at most ``max_self_confidence`` at the end.
Candidates are ranked by that score, most suspicious (lowest) first, as
cleanlab's ``find_label_issues(..., return_indices_ranked_by=
"self_confidence")`` orders its output. Such samples also carry much of a
rising validation loss: each costs ``-log(self_confidence)``.

A decoder (a callable from sample id to text) attaches the review's text;
:func:`sequence_decoder` and :func:`imdb_vocabulary` build one for token
sequences.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dynamics.errors import ArgumentError
from dynamics.stats.datamap import DataMapAccumulator
from dynamics.stats.probabilities import EpochView, require_predictions
from dynamics.stats.views import iter_views, view_at

if TYPE_CHECKING:
    from dynamics.run import Run

__all__ = [
    "MAX_SELF_CONFIDENCE", "MIN_WRONG_FRACTION", "candidates_table", "imdb_vocabulary", "label_issue_candidates",
    "label_issues_table", "self_confidence", "sequence_decoder",
]

#: Defaults of :func:`label_issue_candidates`.
MIN_WRONG_FRACTION = 0.9
MAX_SELF_CONFIDENCE = 0.1


def self_confidence(proba: Any, y_true: Any) -> np.ndarray:
    """cleanlab's self-confidence label-quality score: P(given label).

    Examples
    --------
    >>> self_confidence([0.9, 0.9], [1, 0]).round(2)
    array([0.9, 0.1])
    """
    return EpochView(proba, y_true).p_true


def label_issue_candidates(
    self_confidence_end: Any,
    wrong_fraction: Any,
    correct_end: Any,
    *,
    min_wrong_fraction: float = MIN_WRONG_FRACTION,
    max_self_confidence: float = MAX_SELF_CONFIDENCE,
) -> np.ndarray:
    """Positions of candidate label issues, most suspicious first.

    Parameters
    ----------
    self_confidence_end : array-like of float, shape (n,)
        Probability of the given label at the last epoch.
    wrong_fraction : array-like of float, shape (n,)
        Fraction of recorded epochs in which the sample was misclassified.
    correct_end : array-like of bool, shape (n,)
        Whether the sample was classified correctly at the last epoch.
    min_wrong_fraction, max_self_confidence : float
        The persistence and confidence rules (see the module docstring).

    Returns
    -------
    ndarray of int
        Sample positions sorted by ascending self-confidence (ties by position).

    Examples
    --------
    >>> label_issue_candidates([0.02, 0.6, 0.05, 0.08], [1.0, 0.0, 0.95, 0.5], [False, True, False, False])
    array([0, 2])
    """
    for name, value in (("min_wrong_fraction", min_wrong_fraction), ("max_self_confidence", max_self_confidence)):
        if not 0 <= value <= 1:
            raise ArgumentError(f"{name} must be in [0, 1]. Received: {name}={value!r}")
    sc = np.asarray(self_confidence_end, dtype=np.float64)
    wrong = np.asarray(wrong_fraction, dtype=np.float64)
    ok = np.asarray(correct_end, dtype=bool)
    flagged = np.flatnonzero(~ok & (wrong >= min_wrong_fraction - 1e-12) & (sc <= max_self_confidence))
    return flagged[np.argsort(sc[flagged], kind="stable")]


def sequence_decoder(
    sequences: Any, vocabulary: Mapping[int, str] | Sequence[str], *, skip: tuple[int, ...] = (0,), unknown: str = "?"
) -> Callable[[int], str]:
    """A decoder from sample id to text for token-id sequences.

    Parameters
    ----------
    sequences : sequence of sequences of int
        Token ids of each sample, indexed by sample id.
    vocabulary : mapping or sequence
        Token id -> word.
    skip : tuple of int
        Token ids left out (padding).
    unknown : str
        Shown for ids missing from the vocabulary.

    Examples
    --------
    >>> decode = sequence_decoder([[0, 0, 5, 6], [7]], {5: "not", 6: "good"})
    >>> decode(0), decode(1)
    ('not good', '?')
    """

    def lookup(token: int) -> str:
        if isinstance(vocabulary, Mapping):
            return vocabulary.get(token, unknown)
        return vocabulary[token] if 0 <= token < len(vocabulary) else unknown

    def decode(sample_id: int) -> str:
        return " ".join(lookup(int(t)) for t in sequences[int(sample_id)] if int(t) not in skip)

    return decode


def imdb_vocabulary(word_index: Mapping[str, int], *, start_char: int = 1, oov_char: int = 2, index_from: int = 3) -> dict[int, str]:
    """Token id -> word for sequences from ``keras.datasets.imdb.load_data``.

    ``word_index`` is ``keras.datasets.imdb.get_word_index()`` (word -> rank);
    ``load_data`` shifts ranks by ``index_from`` and reserves 0 (padding),
    ``start_char`` and ``oov_char``.

    Examples
    --------
    >>> imdb_vocabulary({"the": 1, "film": 19})[22]
    'film'
    """
    vocab = {rank + index_from: word for word, rank in word_index.items()}
    vocab[start_char] = "<start>"
    vocab[oov_char] = "<oov>"
    return vocab


def label_issues_table(
    run: Run,
    *,
    decoder: Callable[[int], str] | None = None,
    min_wrong_fraction: float = MIN_WRONG_FRACTION,
    max_self_confidence: float = MAX_SELF_CONFIDENCE,
    limit: int | None = None,
) -> pd.DataFrame:
    """Candidate label problems among a recorded run's validation samples.

    Streams once over the epochs (mean self-confidence and wrong fraction per
    sample), then reads the last epoch again.

    Returns
    -------
    DataFrame, one row per candidate, most suspicious first
        ``sample`` (position), ``sample_id`` (when recorded), ``label``,
        ``predicted`` and ``predicted_confidence`` at the end,
        ``self_confidence`` at the end, ``mean_self_confidence`` over epochs,
        ``wrong_fraction``, ``loss`` (Keras loss at the end) and ``text``
        when a decoder is given.

    Examples
    --------
    >>> from dynamics.simulate import simulate_run
    >>> issues = label_issues_table(simulate_run("healthy", n=1000, epochs=8, label_noise=0.05), limit=3)
    >>> len(issues), bool((issues["wrong_fraction"] >= 0.9).all())
    (3, True)
    """
    preds = require_predictions(run, "val")
    acc = DataMapAccumulator()
    for view in iter_views(preds):
        acc.update(view)
    end = view_at(preds, -1)
    return candidates_table(
        end,
        acc.confidence,
        1.0 - acc.correctness,
        sample_ids=preds.sample_ids,
        decoder=decoder,
        min_wrong_fraction=min_wrong_fraction,
        max_self_confidence=max_self_confidence,
        limit=limit,
    )


def candidates_table(
    end: EpochView,
    mean_self_confidence: np.ndarray,
    wrong_fraction: np.ndarray,
    *,
    sample_ids: Any = None,
    decoder: Callable[[int], str] | None = None,
    min_wrong_fraction: float = MIN_WRONG_FRACTION,
    max_self_confidence: float = MAX_SELF_CONFIDENCE,
    limit: int | None = None,
) -> pd.DataFrame:
    """The candidates table from the last epoch's view and per-sample means."""
    order = label_issue_candidates(
        end.p_true,
        wrong_fraction,
        end.correct,
        min_wrong_fraction=min_wrong_fraction,
        max_self_confidence=max_self_confidence,
    )
    if limit is not None:
        order = order[: max(0, int(limit))]
    ids = np.asarray(sample_ids)[order] if sample_ids is not None else order
    table = pd.DataFrame(
        {
            "sample": order,
            "sample_id": ids,
            "label": end.y_true[order],
            "predicted": end.pred[order],
            "predicted_confidence": end.confidence[order],
            "self_confidence": end.p_true[order],
            "mean_self_confidence": np.asarray(mean_self_confidence)[order],
            "wrong_fraction": np.asarray(wrong_fraction)[order],
            "loss": end.loss[order],
        }
    )
    if decoder is not None:
        table["text"] = [decoder(int(i)) for i in ids]
    return table
