"""Where the validation loss comes from: correct versus misclassified samples.

Per epoch, Keras's validation loss splits exactly into

    val_loss = accuracy * (mean loss of correct samples)
             + (1 - accuracy) * (mean loss of misclassified samples),

the split Mukhoti et al. (2020, Sec. 3) use to show that a rising test NLL comes
from the misclassified samples. Across epochs, the *rise* of the loss since
its best epoch, ``mean_i(loss_i,end - loss_i,best)``, is a sum over samples, so
it can be attributed exactly: to the samples misclassified at the end, to those
already wrong at the best epoch, and to the few samples whose loss grew most
(Venter et al. 2021: "a small minority of samples" carries the rise while most
samples' loss falls).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dynamics.errors import ArgumentError
from dynamics.stats.probabilities import EpochView, require_predictions
from dynamics.stats.result import Result
from dynamics.stats.views import iter_views, view_at

if TYPE_CHECKING:
    from dynamics.run import Run

__all__ = [
    "TOP_FRACTIONS", "decomposition_row", "decomposition_table", "loss_decomposition", "loss_rise",
    "loss_rise_of_run", "LossRise",
]

#: Top fractions of samples (by loss increase) whose share of the rise is reported.
TOP_FRACTIONS = (0.01, 0.05, 0.10)


def loss_decomposition(proba: Any, y_true: Any) -> dict[str, float]:
    """Split one epoch's mean loss into its correct and misclassified parts.

    Parameters
    ----------
    proba : array-like, shape (n,) or (n, k)
        P(class 1) of a binary model, or class probabilities.
    y_true : array-like of int, shape (n,)

    Returns
    -------
    dict
        ``val_loss`` (mean Keras cross-entropy), ``accuracy``, ``n_correct``,
        ``n_wrong``, ``loss_correct`` and ``loss_wrong`` (group means, NaN for
        an empty group), and ``from_correct`` / ``from_wrong``, the two terms
        ``accuracy * loss_correct`` and ``(1 - accuracy) * loss_wrong`` that
        add up to ``val_loss``.

    Examples
    --------
    >>> d = loss_decomposition([0.9, 0.6, 0.3, 0.8], [1, 1, 1, 0])
    >>> round(d["accuracy"], 2), round(d["loss_correct"], 4), round(d["loss_wrong"], 4)
    (0.5, 0.3081, 1.4067)
    >>> round(d["from_correct"] + d["from_wrong"], 6) == round(d["val_loss"], 6)
    True
    """
    return decomposition_row(EpochView(proba, y_true))


def decomposition_row(view: EpochView) -> dict[str, float]:
    """:func:`loss_decomposition` of an :class:`EpochView` (shares its arrays)."""
    loss, correct = view.loss, view.correct
    n = view.n_samples
    n_correct = int(np.count_nonzero(correct))
    n_wrong = n - n_correct
    sum_correct = float(loss[correct].sum()) if n_correct else 0.0
    sum_total = float(loss.sum())
    sum_wrong = sum_total - sum_correct
    return {
        "val_loss": sum_total / n if n else math.nan,
        "accuracy": n_correct / n if n else math.nan,
        "n_correct": n_correct,
        "n_wrong": n_wrong,
        "loss_correct": sum_correct / n_correct if n_correct else math.nan,
        "loss_wrong": sum_wrong / n_wrong if n_wrong else math.nan,
        "from_correct": sum_correct / n if n else math.nan,
        "from_wrong": sum_wrong / n if n else math.nan,
    }


def decomposition_table(run: Run, split: str = "val") -> pd.DataFrame:
    """:func:`loss_decomposition` for every recorded epoch of a run, streaming.

    Returns a DataFrame indexed by the 1-based epoch.

    Examples
    --------
    >>> from dynamics.simulate import simulate_run
    >>> table = decomposition_table(simulate_run("overconfident", n=200, epochs=4))
    >>> bool(np.allclose(table["from_correct"] + table["from_wrong"], table["val_loss"]))
    True
    """
    preds = require_predictions(run, split)
    rows = {view.epoch: decomposition_row(view) for view in iter_views(preds)}
    return _table(rows)


def _table(rows: dict[int, dict[str, float]]) -> pd.DataFrame:
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "epoch"
    return table


@dataclass(frozen=True)
class LossRise(Result):
    """How the mean loss changed from a reference (best) epoch to the end.

    Attributes
    ----------
    best_epoch, end_epoch : int
        The two epochs compared.
    loss_best, loss_end : float
        Mean loss at each.
    rise : float
        ``loss_end - loss_best`` (= mean per-sample increase).
    share_wrong_end : float
        Share of the rise (sum of per-sample increases) from samples
        misclassified at ``end_epoch``; NaN when the loss did not rise.
    share_wrong_best : float
        Share from samples already misclassified at ``best_epoch``.
    top_shares : dict
        ``{fraction: share}`` -- share carried by the top ``fraction`` of
        samples ranked by their loss increase.
    fraction_for_half : float
        Smallest fraction of samples (largest increases first) whose
        increases add up to half the rise.
    fraction_increased : float
        Fraction of samples whose loss went up at all.
    transitions : DataFrame
        Count, summed increase and share of the rise for the four groups
        (correct/wrong at the best epoch x correct/wrong at the end).
    """

    best_epoch: int
    end_epoch: int
    loss_best: float
    loss_end: float
    rise: float
    share_wrong_end: float
    share_wrong_best: float
    top_shares: dict[float, float]
    fraction_for_half: float
    fraction_increased: float
    transitions: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("transitions", "top_shares")}
        out["top_shares"] = {f"{f:g}": v for f, v in self.top_shares.items()}
        out["transitions"] = self.transitions.reset_index().to_dict(orient="records")
        return out


def loss_rise(
    loss_best: Any,
    loss_end: Any,
    correct_best: Any,
    correct_end: Any,
    *,
    best_epoch: int = 0,
    end_epoch: int = 0,
    fractions: tuple[float, ...] = TOP_FRACTIONS,
) -> LossRise:
    """Attribute the rise of the mean loss between two epochs to samples.

    Parameters
    ----------
    loss_best, loss_end : array-like of float, shape (n,)
        Per-sample loss at the reference (best) epoch and at the end.
    correct_best, correct_end : array-like of bool, shape (n,)
        Whether each sample was classified correctly at those epochs.
    best_epoch, end_epoch : int
        Labels for the result.
    fractions : tuple of float
        Top fractions whose share is reported (``int(ceil(f * n))`` samples).

    Returns
    -------
    LossRise
        Shares are fractions of the total rise; they can exceed 1 when the
        other samples' loss fell, and are NaN when the loss did not rise.

    Examples
    --------
    Four samples; the one wrong at both epochs carries the whole rise:

    >>> r = loss_rise([0.1, 0.2, 1.0, 0.5], [0.05, 0.1, 3.0, 0.6],
    ...               [True, True, False, True], [True, True, False, True])
    >>> round(r.rise, 4), round(r.share_wrong_end, 4), r.fraction_for_half
    (0.4875, 1.0256, 0.25)
    """
    lb = np.asarray(loss_best, dtype=np.float64)
    le = np.asarray(loss_end, dtype=np.float64)
    cb = np.asarray(correct_best, dtype=bool)
    ce = np.asarray(correct_end, dtype=bool)
    n = lb.shape[0]
    if not (le.shape == cb.shape == ce.shape == lb.shape) or lb.ndim != 1:
        raise ArgumentError("loss_best, loss_end, correct_best and correct_end must be 1-D arrays of one length")
    delta = le - lb
    total = float(delta.sum())
    rose = total > 0 and n > 0

    def share(x: float) -> float:
        return x / total if rose else math.nan

    order = np.sort(delta)[::-1]  # largest increase first
    cum = np.cumsum(order)
    tops = {}
    for f in fractions:
        k = min(n, max(1, math.ceil(f * n - 1e-9)))
        tops[f] = share(float(cum[k - 1])) if n else math.nan
    if rose:
        # The cumulative sum rises only over the positive increases; search there.
        n_up = int(np.count_nonzero(order > 0))
        m = int(np.searchsorted(cum[:n_up], 0.5 * total, side="left")) + 1
        half = min(m, n_up) / n
    else:
        half = math.nan
    groups = []
    for b_ok in (True, False):
        for e_ok in (True, False):
            mask = (cb == b_ok) & (ce == e_ok)
            s = float(delta[mask].sum())
            groups.append(
                {
                    "at_best": "correct" if b_ok else "wrong",
                    "at_end": "correct" if e_ok else "wrong",
                    "n": int(mask.sum()),
                    "loss_change": s / n if n else math.nan,
                    "share": share(s),
                }
            )
    transitions = pd.DataFrame(groups).set_index(["at_best", "at_end"])
    return LossRise(
        best_epoch=int(best_epoch),
        end_epoch=int(end_epoch),
        loss_best=float(lb.mean()) if n else math.nan,
        loss_end=float(le.mean()) if n else math.nan,
        rise=total / n if n else math.nan,
        share_wrong_end=share(float(delta[~ce].sum())),
        share_wrong_best=share(float(delta[~cb].sum())),
        top_shares=tops,
        fraction_for_half=half,
        fraction_increased=float(np.mean(delta > 0)) if n else math.nan,
        transitions=transitions,
    )


def loss_rise_of_run(run: Run, split: str = "val", *, best_epoch: int | None = None) -> LossRise:
    """:func:`loss_rise` from the best (lowest mean loss) epoch to the last one.

    Streams once over the epochs for the per-epoch loss, then reads the
    best and last epochs' predictions again (two epochs, not the stack).

    Examples
    --------
    >>> from dynamics.simulate import simulate_run
    >>> r = loss_rise_of_run(simulate_run("minority", n=500, epochs=10))
    >>> r.end_epoch, r.rise > 0
    (10, True)
    """
    preds = require_predictions(run, split)
    if best_epoch is None:
        means = [float(v.loss.mean()) for v in iter_views(preds)]
        best_pos = int(np.argmin(means))
    else:
        matches = np.flatnonzero(preds.epochs == best_epoch)
        if not matches.size:
            raise ArgumentError(f"epoch {best_epoch} was not recorded. Received: best_epoch={best_epoch}")
        best_pos = int(matches[0])
    vb, ve = view_at(preds, best_pos), view_at(preds, -1)
    return loss_rise(
        vb.loss, ve.loss, vb.correct, ve.correct, best_epoch=int(preds.epochs[best_pos]), end_epoch=int(preds.epochs[-1])
    )
