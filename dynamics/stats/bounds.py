r"""How confidently wrong must the mistakes be? Bounds from loss and accuracy alone.

An epoch's mean cross-entropy ``L`` and accuracy ``a`` are two numbers, but
together they pin down a lot about the two groups of samples they average:
the misclassified ones (``W``, a fraction ``e = 1 - a``) and the correctly
classified ones (``C``).

Derivation
----------
Write ``l_i = -ln p_i`` for sample i's cross-entropy, ``p_i`` the probability
the model gave its true class, and ``L_W``, ``L_C`` for the group means, so
that

.. math:: L = a L_C + e L_W .

Three facts bound every ``l_i``:

1. *A mistake has* ``p_i <= 1/2``, so ``l_i >= ln 2``. Binary sigmoid:
   Keras predicts class 1 iff ``p > 1/2`` (``K.round`` / ``p > 0.5``), so a
   wrong prediction leaves at most 1/2 to the true class. k-class softmax: the
   argmax is another class j with ``p_j >= p_true``, and ``p_true + p_j <= 1``.
2. *A correct prediction has* ``p_i >= 1/k`` (it is the largest of k
   probabilities; 1/2 for binary), so ``l_i <= ln k``.
3. ``l_i >= 0``; and Keras computes cross-entropy on probabilities clipped to
   ``[1e-7, 1 - 1e-7]`` (``backend.epsilon()``), so ``l_i <= -ln 1e-7 =
   16.118``. (A loss computed from logits, ``from_logits=True``, has no such
   cap: pass ``clip_eps=None``.)

Solving the mean for one group and bounding the other with 1-3:

.. math::

   L_W = \frac{L - a L_C}{e} \in
         \Big[\max\big(\ln 2, \tfrac{L - a \ln k}{e}\big),\;
              \min\big(16.118, \tfrac{L}{e}\big)\Big]

   L_C = \frac{L - e L_W}{a} \in
         \Big[\max\big(0, \tfrac{L - 16.118\, e}{a}\big),\;
              \min\big(\ln k, \tfrac{L - e \ln 2}{a}\big)\Big]

Each bound is attained by a two-point configuration (all of one group at a
limit), so none can be tightened from ``(L, a)`` alone. The geometric-mean
probability of the true class over the mistakes is ``exp(-L_W)``, so the
same interval maps to ``[exp(-upper), exp(-lower)]``.

*Rounding.* A log prints ``L`` and ``a`` rounded (``%.4f``); the true values
lie in a box ``[L +- h_L] x [a +- h_a]``. Every expression above has the form
``(L - X)/(1 - a) + X`` or ``(L - Y)/a + Y`` with constant X, Y: monotone in
L and, for fixed sign of ``L - X``, in a. So its extremes over the box are at
the box's corners, and the bounds here take the weakest corner: they hold
for every pair of true values that prints as the logged pair.

*When the numbers are impossible.* If even the most favourable corner gives
``L < e ln 2`` the loss is too small for a cross-entropy at that accuracy;
if ``L > e 16.118 + a ln k`` it is too large for clipped probabilities (see
:mod:`dynamics.stats.sanity`). The bounds then do not apply.

*Assumptions.* ``L`` is the plain mean cross-entropy over the same samples as
``a`` (no regularization penalty or label smoothing inside it, no sample
weights), and accuracy is Keras's argmax / 0.5-threshold accuracy.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dynamics.errors import ArgumentError

if TYPE_CHECKING:
    from dynamics.run import Run

__all__ = ["COLUMNS", "KERAS_EPSILON", "group_loss_bounds", "group_loss_bounds_table"]

#: Keras's fuzz factor (``keras.config.epsilon()``).
KERAS_EPSILON = 1e-7
_LN2 = math.log(2.0)
#: float32 arithmetic slack on per-sample losses near ln 2 (``-ln(0.5 + eps)``).
_SLACK = 1e-6

COLUMNS = ("wrong_low", "wrong_high", "correct_low", "correct_high", "gm_wrong_low", "gm_wrong_high", "feasible")


def _towards_a_is_one(L: np.ndarray, a: np.ndarray, X: float) -> np.ndarray:
    """``(L - X)/(1 - a) + X`` with its limits at ``a = 1``."""
    e = 1.0 - a
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (L - X) / e + X
    limit = np.where(L > X, np.inf, np.where(L < X, -np.inf, X))
    return np.where(e <= 0, limit, out)


def _towards_a_is_zero(L: np.ndarray, a: np.ndarray, Y: float) -> np.ndarray:
    """``(L - Y)/a + Y`` with its limits at ``a = 0``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (L - Y) / a + Y
    limit = np.where(L > Y, np.inf, np.where(L < Y, -np.inf, Y))
    return np.where(a <= 0, limit, out)


def group_loss_bounds(
    loss: np.ndarray | float,
    accuracy: np.ndarray | float,
    *,
    classes: int = 2,
    loss_halfwidth: np.ndarray | float = 5e-5,
    acc_halfwidth: np.ndarray | float = 5e-5,
    clip_eps: float | None = KERAS_EPSILON,
) -> dict[str, np.ndarray]:
    """Bounds on the mean cross-entropy of the wrong and the correct samples.

    Parameters
    ----------
    loss, accuracy : array_like
        Mean cross-entropy and accuracy per epoch, as printed.
    classes : int, default 2
        2 for a binary sigmoid model, k for a k-class softmax.
    loss_halfwidth, acc_halfwidth : array_like or float, default 5e-5
        Print half-widths (:func:`~dynamics.stats.precision.print_halfwidth`).
    clip_eps : float or None, default 1e-7
        Keras's probability clipping; None if the loss is computed from logits.

    Returns
    -------
    dict of ndarray
        ``wrong_low``/``wrong_high``: bounds on the mean loss of misclassified
        samples (nats); ``correct_low``/``correct_high``: the same for the
        correctly classified; ``gm_wrong_low``/``gm_wrong_high``: bounds on the
        geometric-mean probability given to the true class on mistakes;
        ``feasible``: ``"ok"``, ``"too_low"`` or ``"too_high"`` (then the other
        entries are NaN). Groups that may be empty (accuracy 1 or 0) get NaN.

    Examples
    --------
    The seed log, epochs 3 and 77 (binary, n_val = 2500):

    >>> b = group_loss_bounds([0.3736, 0.9105], [0.8440, 0.8234])
    >>> np.round(b["wrong_low"], 2).tolist(), np.round(b["gm_wrong_high"], 3).tolist()
    ([0.69, 1.92], [0.5, 0.146])
    """
    if classes < 2:
        raise ArgumentError(f"classes must be >= 2. Received: classes={classes}")
    L = np.atleast_1d(np.asarray(loss, dtype=float))
    a = np.atleast_1d(np.asarray(accuracy, dtype=float))
    hL = np.broadcast_to(np.asarray(loss_halfwidth, dtype=float), L.shape) + _SLACK * np.abs(L)
    ha = np.broadcast_to(np.asarray(acc_halfwidth, dtype=float), a.shape)
    L_lo, L_hi = np.maximum(L - hL, 0.0), L + hL
    a_lo, a_hi = np.clip(a - ha, 0.0, 1.0), np.clip(a + ha, 0.0, 1.0)

    c_w = _LN2 - _SLACK  # least loss of a mistake
    c_c = math.log(classes)  # largest loss of a correct sample
    big = -math.log(clip_eps) if clip_eps else math.inf  # largest loss of any sample

    corners_a = (a_lo, a_hi)

    def extreme(fn: Any, L_end: np.ndarray, X: float, pick: Any) -> np.ndarray:
        return pick(np.stack([fn(L_end, ac, X) for ac in corners_a]), axis=0)

    wrong_low = np.maximum(c_w, extreme(_towards_a_is_one, L_lo, c_c, np.min))
    wrong_high = np.minimum(big, extreme(_towards_a_is_one, L_hi, 0.0, np.max))
    correct_low = np.maximum(0.0, extreme(_towards_a_is_zero, L_lo, big, np.min)) if math.isfinite(big) else np.zeros_like(L)
    correct_high = np.minimum(c_c, extreme(_towards_a_is_zero, L_hi, c_w, np.max))

    too_low = L_hi < (1.0 - a_hi) * c_w
    too_high = L_lo > (1.0 - a_lo) * big + a_lo * c_c
    feasible = np.where(too_low, "too_low", np.where(too_high, "too_high", "ok"))
    bad = feasible != "ok"
    no_wrong = a_lo >= 1.0
    no_correct = a_hi <= 0.0
    nan = np.nan
    wrong_low = np.where(bad | no_wrong | np.isnan(L) | np.isnan(a), nan, wrong_low)
    wrong_high = np.where(bad | no_wrong | np.isnan(L) | np.isnan(a), nan, wrong_high)
    correct_low = np.where(bad | no_correct | np.isnan(L) | np.isnan(a), nan, correct_low)
    correct_high = np.where(bad | no_correct | np.isnan(L) | np.isnan(a), nan, correct_high)
    return {
        "wrong_low": wrong_low,
        "wrong_high": wrong_high,
        "correct_low": correct_low,
        "correct_high": correct_high,
        "gm_wrong_low": np.exp(-wrong_high),
        "gm_wrong_high": np.exp(-wrong_low),
        "feasible": np.where(np.isnan(L) | np.isnan(a), "missing", feasible),
    }


def group_loss_bounds_table(
    run: Run,
    *,
    classes: int = 2,
    loss: str = "val_loss",
    accuracy: str = "val_accuracy",
    clip_eps: float | None = KERAS_EPSILON,
) -> pd.DataFrame:
    """:func:`group_loss_bounds` for every epoch of a run, as a DataFrame.

    Print half-widths come from the run's source (4-decimal progress lines,
    or full-precision CSVLogger / History files).

    Examples
    --------
    >>> from dynamics.run import Run, make_epoch_table
    >>> run = Run(make_epoch_table({3: {"val_loss": 0.3736, "val_accuracy": 0.8440},
    ...                             77: {"val_loss": 0.9105, "val_accuracy": 0.8234}}))
    >>> group_loss_bounds_table(run)["wrong_low"].round(2).tolist()
    [0.69, 1.92]
    """
    from dynamics.stats.precision import EXACT_FORMATS, print_halfwidth

    exact = run.meta.format in EXACT_FORMATS
    L = run.series(loss).to_numpy()
    a = run.series(accuracy).to_numpy()
    out = group_loss_bounds(L, a, classes=classes, loss_halfwidth=print_halfwidth(L, exact=exact),
                            acc_halfwidth=print_halfwidth(a, exact=exact), clip_eps=clip_eps)
    table = pd.DataFrame({name: out[name] for name in COLUMNS}, index=run.epochs.index)
    table.insert(0, "accuracy", a)
    table.insert(0, "loss", L)
    return table


#: The name :func:`group_loss_bounds_table` had before the stats API's naming rule (still used outside stats).
confidence_bounds = group_loss_bounds_table
