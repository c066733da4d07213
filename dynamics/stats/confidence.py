"""How confident the predictions are, right ones and wrong ones, epoch by epoch.

Guo et al. (2017) and Mukhoti et al. (2020) explain "val_loss up, val_acc
flat" by confidence that keeps growing after accuracy stops improving, most
harmfully on the misclassified samples ("peak at the wrong place": their
entropy keeps falling). These per-epoch numbers show whether that happens:
the mean top-class probability of correct and of wrong predictions, the
predictive entropy, and the fraction of predictions above 0.9 and 0.99.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dynamics.stats.probabilities import EpochView, require_predictions
from dynamics.stats.views import iter_views

if TYPE_CHECKING:
    from dynamics.run import Run

__all__ = ["THRESHOLDS", "confidence_row", "confidence_summary", "confidence_table"]

#: Confidence levels whose exceedance fraction is reported (strictly above).
THRESHOLDS = (0.9, 0.99)


def confidence_summary(proba: Any, y_true: Any) -> dict[str, float]:
    """Confidence and entropy of one epoch's predictions, split by correctness.

    Parameters
    ----------
    proba : array-like, shape (n,) or (n, k)
        P(class 1) of a binary model, or class probabilities.
    y_true : array-like of int, shape (n,)

    Returns
    -------
    dict
        ``confidence`` (mean top-class probability), ``confidence_correct``,
        ``confidence_wrong`` (NaN for an empty group), ``entropy``,
        ``entropy_correct``, ``entropy_wrong`` (nats), ``above_0.9`` and
        ``above_0.99`` (fraction of all predictions whose confidence is
        strictly above the level), ``wrong_above_0.9`` and
        ``wrong_above_0.99`` (the same among misclassified samples).

    Examples
    --------
    >>> s = confidence_summary([0.95, 0.6, 0.995, 0.3], [1, 1, 0, 1])
    >>> s["confidence_correct"], s["confidence_wrong"], s["above_0.9"], s["above_0.99"]
    (0.775, 0.8475, 0.5, 0.25)
    """
    return confidence_row(EpochView(proba, y_true))


def confidence_row(view: EpochView) -> dict[str, float]:
    """:func:`confidence_summary` of an :class:`EpochView`."""
    conf, ent, correct = view.confidence, view.entropy, view.correct
    wrong = ~correct
    n_wrong = int(np.count_nonzero(wrong))

    def mean(values: np.ndarray, mask: np.ndarray | None = None) -> float:
        if mask is None:
            return float(values.mean()) if values.size else math.nan
        m = int(np.count_nonzero(mask))
        return float(values[mask].sum() / m) if m else math.nan

    row = {
        "confidence": mean(conf),
        "confidence_correct": mean(conf, correct),
        "confidence_wrong": mean(conf, wrong),
        "entropy": mean(ent),
        "entropy_correct": mean(ent, correct),
        "entropy_wrong": mean(ent, wrong),
    }
    for t in THRESHOLDS:
        above = conf > t
        row[f"above_{t:g}"] = float(np.count_nonzero(above)) / view.n_samples if view.n_samples else math.nan
        row[f"wrong_above_{t:g}"] = float(np.count_nonzero(above & wrong)) / n_wrong if n_wrong else math.nan
    return row


def confidence_table(run: Run, split: str = "val") -> pd.DataFrame:
    """:func:`confidence_summary` for every recorded epoch, streaming.

    Returns a DataFrame indexed by the 1-based epoch.

    Examples
    --------
    >>> from dynamics.simulate import simulate_run
    >>> confidence_table(simulate_run("overconfident", n=200, epochs=3)).shape
    (3, 10)
    """
    preds = require_predictions(run, split)
    table = pd.DataFrame.from_dict({v.epoch: confidence_row(v) for v in iter_views(preds)}, orient="index")
    table.index.name = "epoch"
    return table
