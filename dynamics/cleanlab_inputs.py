"""A recorded run as the inputs of cleanlab's ``find_label_issues(labels, pred_probs)``.

cleanlab (Northcutt et al. 2021, confident learning) asks for
*out-of-sample* predicted probabilities ``pred_probs`` of shape ``(N, K)``,
rows summing to 1, values in [0, 1], and integer labels of shape ``(N,)`` in
``0..K-1`` (docs.cleanlab.ai, "How do I format classification labels for
cleanlab?"; ``cleanlab.internal.validation.assert_valid_inputs``).
Validation predictions are out-of-sample by construction, so one recorded
epoch is exactly that. :func:`cleanlab_inputs` adds what cleanlab does not
have: each sample's training dynamics over every recorded epoch (data-map
confidence and variability, forgetting events, flips), so the issues
cleanlab flags can be read against how the samples behaved.

cleanlab itself is not a dependency; this module imports numpy and pandas.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from dynamics.errors import ArgumentError


class CleanlabInputs(NamedTuple):
    """What ``cleanlab.filter.find_label_issues`` takes, and the samples' dynamics."""

    pred_probs: np.ndarray  #: float32 (N, K), rows summing to 1 (a sigmoid model: [P(0), P(1)])
    labels: np.ndarray  #: int64 (N,), in 0..K-1
    samples: pd.DataFrame  #: one row per sample, in the same order (see :func:`cleanlab_inputs`)
    epoch: int  #: the recorded epoch the probabilities are from


def cleanlab_inputs(run: Any, *, epoch: int | None = None) -> CleanlabInputs:
    """``pred_probs``, ``labels`` and per-sample dynamics of a recorded run's validation split.

    Parameters
    ----------
    run : Run
        A recorded run with full probability vectors.
    epoch : int, optional
        1-based epoch of the probabilities; by default the kept epoch (the
        lowest validation loss, the weights EarlyStopping would restore).

    Returns
    -------
    CleanlabInputs
        ``samples`` columns: ``sample_id``, ``label``, ``predicted``,
        ``self_confidence`` (P(label) at ``epoch``), ``loss`` (at ``epoch``),
        ``confidence`` and ``variability`` (mean and standard deviation of
        P(label) over all recorded epochs, Swayamdipta et al. 2020),
        ``correctness``, ``region`` (easy-to-learn, ambiguous, hard-to-learn or other),
        ``forgetting_events``, ``forgetting_count`` (never-learned samples
        count every epoch) and ``never_learned`` (Toneva et al. 2019),
        ``flips`` (predicted class changes between recorded epochs).

    Examples
    --------
    >>> from dynamics.simulate import simulate_run
    >>> pred_probs, labels, samples, epoch = cleanlab_inputs(simulate_run("healthy", n=300, epochs=4, classes=3))
    >>> pred_probs.shape, labels.shape, len(samples), epoch
    ((300, 3), (300,), 300, 4)
    """
    from dynamics.stats.analysis import analyze_predictions
    from dynamics.stats.probabilities import require_predictions
    from dynamics.stats.temperature import epoch_position
    from dynamics.stats.views import view_at

    preds = require_predictions(run, "val")
    if getattr(preds, "compact", False):
        raise ArgumentError("cleanlab needs every class's probability, and this run was stored compactly "
                            f"(the top {preds.proba.top_k} of {preds.n_classes} classes)")
    pos = epoch_position(preds, epoch)
    view = view_at(preds, pos)
    p = view.proba  # float64, k-class rows divided by their sum
    pred_probs = np.column_stack([1.0 - p, p]) if p.ndim == 1 else p
    a = analyze_predictions(preds, calibration=False)
    s = a.arrays
    samples = pd.DataFrame({
        "sample_id": s["sample_id"],
        "label": view.y_true,
        "predicted": view.pred,
        "self_confidence": view.p_true,
        "loss": view.loss,
        "confidence": s["confidence"],
        "variability": s["variability"],
        "correctness": s["correctness"],
        "region": s["region"],
        "forgetting_events": s["forgetting_events"],
        "forgetting_count": s["forgetting_count"],
        "never_learned": s["never_learned"],
        "flips": s["flips"],
    })
    samples.index.name = "sample"
    return CleanlabInputs(pred_probs.astype(np.float32), view.y_true.astype(np.int64), samples, int(preds.epochs[pos]))
