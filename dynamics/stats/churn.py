"""Churn: samples trading places while the accuracy stays flat.

Between two consecutive recorded epochs, every sample whose predicted class
changed moved wrong -> right, right -> wrong, or (k classes) from one wrong
class to another. The accuracy change is exactly
``wrong_to_right - right_to_wrong``, so a flat accuracy can hide many samples
flipping both ways -- the "borderline samples flip back and forth" story,
which a log cannot show. Per sample: how often its predicted class changed,
and whether it was always right, always wrong, or unstable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dynamics.errors import ArgumentError
from dynamics.stats.probabilities import EpochView, check_labels, require_predictions
from dynamics.stats.views import iter_views

if TYPE_CHECKING:
    from dynamics.run import Run

__all__ = [
    "STABILITY", "churn_between", "churn_table", "ChurnAccumulator", "flip_counts", "stability", "stability_table",
]

#: Labels of :func:`stability`.
STABILITY = ("always right", "always wrong", "unstable")


def churn_between(proba_before: Any, proba_after: Any, y_true: Any) -> dict[str, float]:
    """How predictions moved between two epochs, as fractions of all samples.

    Parameters
    ----------
    proba_before, proba_after : array-like, shape (n,) or (n, k)
        Predictions at two consecutive epochs.
    y_true : array-like of int, shape (n,)

    Returns
    -------
    dict
        ``changed`` (predicted class changed), ``wrong_to_right``,
        ``right_to_wrong``, ``wrong_to_other_wrong`` (k classes only; 0 for a
        binary model), ``accuracy_before``, ``accuracy_after`` and
        ``accuracy_change`` (= wrong_to_right - right_to_wrong).

    Examples
    --------
    >>> c = churn_between([0.9, 0.4, 0.6, 0.2], [0.8, 0.7, 0.3, 0.1], [1, 1, 1, 0])
    >>> c["changed"], c["wrong_to_right"], c["right_to_wrong"], c["accuracy_change"]
    (0.5, 0.25, 0.25, 0.0)
    """
    y = check_labels(y_true)
    before, after = EpochView(proba_before, y, checked_labels=True), EpochView(proba_after, y, checked_labels=True)
    return _pair_row(before.pred, before.correct, after.pred, after.correct)


def _pair_row(pred0: np.ndarray, ok0: np.ndarray, pred1: np.ndarray, ok1: np.ndarray) -> dict[str, float]:
    n = pred0.shape[0]
    if n == 0:
        return dict.fromkeys(
            ("changed", "wrong_to_right", "right_to_wrong", "wrong_to_other_wrong", "accuracy_before", "accuracy_after", "accuracy_change"),
            float("nan"),
        )
    changed = pred0 != pred1
    n_changed = int(np.count_nonzero(changed))
    w2r = int(np.count_nonzero(ok1 & ~ok0))
    r2w = int(np.count_nonzero(ok0 & ~ok1))
    acc0, acc1 = int(np.count_nonzero(ok0)), int(np.count_nonzero(ok1))
    return {
        "changed": n_changed / n,
        "wrong_to_right": w2r / n,
        "right_to_wrong": r2w / n,
        "wrong_to_other_wrong": (n_changed - w2r - r2w) / n,
        "accuracy_before": acc0 / n,
        "accuracy_after": acc1 / n,
        "accuracy_change": (acc1 - acc0) / n,
    }


def flip_counts(pred_stack: Any) -> np.ndarray:
    """Number of consecutive-epoch pairs in which each sample's class changed.

    Parameters
    ----------
    pred_stack : array-like of int, shape (E, n)
        Predicted class per epoch (see :func:`~dynamics.stats.probabilities.predicted_class`).

    Examples
    --------
    >>> flip_counts([[0, 1, 1], [1, 1, 0], [0, 1, 0]])
    array([2, 0, 1])
    """
    pred = np.asarray(pred_stack)
    if pred.ndim != 2:
        raise ArgumentError(f"pred_stack must have shape (E, n). Received: shape={pred.shape}")
    return np.count_nonzero(pred[1:] != pred[:-1], axis=0)


def stability(correct_stack: Any) -> np.ndarray:
    """Label each sample "always right", "always wrong" or "unstable".

    Examples
    --------
    >>> stability([[True, False, True], [True, False, False]]).tolist()
    ['always right', 'always wrong', 'unstable']
    """
    ok = np.asarray(correct_stack, dtype=bool)
    return _stability(np.count_nonzero(ok, axis=0), ok.shape[0])


def _stability(n_correct: np.ndarray, n_epochs: int) -> np.ndarray:
    labels = np.array(STABILITY, dtype=object)
    code = np.where(n_correct == n_epochs, 0, np.where(n_correct == 0, 1, 2))
    return labels[code]


class ChurnAccumulator:
    """Streaming churn: feed :class:`EpochView` objects in epoch order.

    Holds the previous epoch's predicted class and correctness and two
    per-sample counters; never more than two epochs.

    Examples
    --------
    >>> acc = ChurnAccumulator()
    >>> for e, p in enumerate([[0.9, 0.4], [0.8, 0.7], [0.3, 0.6]], start=1):
    ...     acc.update(EpochView(p, [1, 1], epoch=e))
    >>> acc.flips.tolist(), acc.table()["changed"].tolist()
    ([1, 1], [0.5, 0.5])
    """

    def __init__(self) -> None:
        self._pred: np.ndarray | None = None
        self._correct: np.ndarray | None = None
        self._epoch: int | None = None
        self.flips: np.ndarray | None = None
        self.n_correct: np.ndarray | None = None
        self.n_epochs = 0
        self.rows: dict[int, dict[str, float]] = {}

    def update(self, view: EpochView) -> None:
        pred, ok = view.pred, view.correct
        if self._pred is None:
            self.flips = np.zeros(view.n_samples, dtype=np.int32)
            self.n_correct = np.zeros(view.n_samples, dtype=np.int32)
        else:
            row = _pair_row(self._pred, self._correct, pred, ok)
            self.rows[int(view.epoch)] = {"from_epoch": self._epoch, **row}
            self.flips += pred != self._pred
        self.n_correct += ok
        self.n_epochs += 1
        self._pred, self._correct, self._epoch = pred, ok, view.epoch

    def table(self) -> pd.DataFrame:
        """One row per consecutive pair, indexed by the later epoch."""
        columns = ["from_epoch", "changed", "wrong_to_right", "right_to_wrong", "wrong_to_other_wrong",
                   "accuracy_before", "accuracy_after", "accuracy_change"]  # fmt: skip
        table = pd.DataFrame.from_dict(self.rows, orient="index", columns=columns)
        table.index.name = "epoch"
        return table

    def stability(self) -> np.ndarray:
        """Per-sample "always right" / "always wrong" / "unstable"."""
        return _stability(self.n_correct, self.n_epochs)


def churn_table(run: Run, split: str = "val") -> pd.DataFrame:
    """Churn between every pair of consecutive recorded epochs, streaming.

    Examples
    --------
    >>> from dynamics.simulate import simulate_run
    >>> list(churn_table(simulate_run("flipping", n=200, epochs=4)).index)
    [2, 3, 4]
    """
    acc = ChurnAccumulator()
    for view in iter_views(require_predictions(run, split)):
        acc.update(view)
    return acc.table()


def stability_table(run: Run, split: str = "val") -> pd.DataFrame:
    """Per-sample flip count, epochs correct and stability label, streaming.

    Examples
    --------
    >>> from dynamics.simulate import simulate_run
    >>> list(stability_table(simulate_run("flipping", n=200, epochs=4)).columns)
    ['flips', 'epochs_correct', 'stability']
    """
    acc = ChurnAccumulator()
    for view in iter_views(require_predictions(run, split)):
        acc.update(view)
    return pd.DataFrame({"flips": acc.flips, "epochs_correct": acc.n_correct, "stability": acc.stability()})

