"""Checks an expert makes before reading a curve: is this even possible?

* **Loss limits at an accuracy.** A cross-entropy with accuracy ``a`` is at
  least ``(1 - a) ln 2`` (every mistake gives the true class at most 1/2) and,
  with Keras's clipping of probabilities to ``[1e-7, 1 - 1e-7]``, at most
  ``(1 - a) 16.118 + a ln k`` (see :mod:`dynamics.stats.bounds`). A loss
  outside those limits is not a cross-entropy of these predictions: below,
  the loss is something else (MSE, hinge) or the accuracy is not of the same
  outputs; above, the loss is computed from logits (``from_logits=True``, no
  clipping), carries a regularization penalty, or logits were fed where
  probabilities were expected.
* **Chance and constant predictions.** A model that predicts the same
  probabilities for every sample scores the entropy of those probabilities;
  predicting the class prior, the entropy of the prior, ``ln k`` when classes
  are balanced. An accuracy that stays at exactly the same printed value for
  many epochs while the loss moves means that, in net, no validation
  prediction changed class -- typical of a model predicting one class.
* **What the metric names reveal.** A separately compiled cross-entropy
  metric, or per-output losses that do not add up to ``loss``, show that the
  loss holds more than the cross-entropy (a regularization penalty, loss
  weights), which weakens what the loss says about confidence.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from dynamics.stats.bounds import KERAS_EPSILON

if TYPE_CHECKING:
    from dynamics.run import Run

__all__ = ["frozen_stretches", "loss_excess_table", "loss_limits", "prior_entropy_range"]


def loss_limits(accuracy: np.ndarray | float, *, classes: int = 2, clip_eps: float | None = KERAS_EPSILON) -> tuple[np.ndarray, np.ndarray]:
    """Smallest and largest mean cross-entropy possible at an accuracy.

    Examples
    --------
    >>> lo, hi = loss_limits(0.97, classes=10)
    >>> round(float(lo), 4), round(float(hi), 3)
    (0.0208, 2.717)
    """
    a = np.asarray(accuracy, dtype=float)
    big = -math.log(clip_eps) if clip_eps else math.inf
    return (1 - a) * math.log(2), (1 - a) * big + a * math.log(classes)


def prior_entropy_range(majority: np.ndarray | float, *, classes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Range of the entropy of a k-class prior whose largest share is ``majority``.

    A model predicting the prior for every sample scores exactly this entropy
    as its cross-entropy. The rest ``1 - majority`` can sit in one other class
    (lowest entropy) or spread evenly over the other k - 1 (highest).

    Examples
    --------
    >>> lo, hi = prior_entropy_range(0.5)
    >>> round(float(lo), 4) == round(float(hi), 4) == round(math.log(2), 4)
    True
    """
    m = np.asarray(majority, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        h2 = -(m * np.log(m) + np.where(m < 1, (1 - m) * np.log(1 - m), 0.0))
    h2 = np.where(m >= 1, 0.0, h2)
    spread = (1 - m) * math.log(classes - 1) if classes > 2 else 0.0
    return h2, h2 + spread


def frozen_stretches(epochs: np.ndarray, values: np.ndarray, *, min_length: int = 3) -> list[tuple[int, int, float]]:
    """Runs of consecutive logged epochs with the same printed value.

    Returns ``(first_epoch, last_epoch, value)`` for each run of at least
    ``min_length`` epochs (consecutive epoch numbers, identical values).

    Examples
    --------
    >>> frozen_stretches([1, 2, 3, 4, 5, 6], [0.72, 0.7198, 0.7188, 0.7188, 0.7188, 0.7188])
    [(3, 6, 0.7188)]
    """
    e = np.asarray(epochs, dtype=int)
    v = np.asarray(values, dtype=float)
    out = []
    start = 0
    for j in range(1, len(e) + 1):
        same = j < len(e) and e[j] == e[j - 1] + 1 and v[j] == v[j - 1] and np.isfinite(v[j])
        if not same:
            if j - start >= min_length and np.isfinite(v[start]):
                out.append((int(e[start]), int(e[j - 1]), float(v[start])))
            start = j
    return out


def loss_excess_table(run: Run, *, val: bool = True) -> pd.Series | None:
    """How much the loss exceeds the cross-entropy the metric names reveal.

    If the run also logs a cross-entropy *metric* (``binary_crossentropy``,
    ``categorical_crossentropy``, ``sparse_categorical_crossentropy``,
    ``crossentropy``), the loss minus that metric is what else the loss
    holds (a regularization penalty, label smoothing, loss weights). If the
    run has per-output losses (``<output>_loss``), the loss minus their sum is
    the same. None when the names reveal nothing.

    Examples
    --------
    >>> from dynamics.run import Run, make_epoch_table
    >>> run = Run(make_epoch_table({1: {"val_loss": 0.52, "val_binary_crossentropy": 0.40}}))
    >>> loss_excess_table(run).round(2).tolist()
    [0.12]
    """
    prefix = "val_" if val else ""
    loss = prefix + "loss"
    if not run.has(loss):
        return None
    names = [c for c in run.metrics if c.startswith(prefix) and (val or not c.startswith("val_"))]
    base = [c[len(prefix):] for c in names]
    ce = [n for n, b in zip(names, base) if b.endswith("crossentropy")]
    if ce:
        return run.series(loss) - run.series(ce[0])
    parts = [n for n, b in zip(names, base) if b.endswith("_loss") and b != "loss"]
    if parts:
        return run.series(loss) - sum(run.series(p) for p in parts)
    return None


#: The name :func:`loss_excess_table` had before the stats API's naming rule (still used outside stats).
loss_excess = loss_excess_table
