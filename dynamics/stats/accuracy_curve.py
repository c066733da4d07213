"""What a validation-accuracy curve does: rises, declines for real, stays within noise, sits at chance, or froze.

Every epoch scores the same ``n`` validation samples, so two epochs'
accuracies are paired. The log shows only their net difference, and the
exact paired test (McNemar) needs per-sample flips. What the log does allow
is a conservative test: the paired standard error of a difference is never
larger than the unpaired one, ``sqrt(2 p (1 - p) / n)`` (positively
correlated predictions only shrink it), so a change of more than
:data:`CHANGE_Z` unpaired standard errors is beyond sampling noise whatever
the flips were. A change is measured between levels, not single epochs: the
median of the later epochs (:func:`~dynamics.stats.curves.tail_length`)
against the best or the first epoch.

When ``n_val`` is not known, the printed values still bound it from below:
two different accuracies of one set differ by at least ``1 / n``, so
``n >= 1 / (smallest difference + 2 half-widths)`` (:func:`n_lower_bound`).
A smaller ``n`` means more noise, so a change that is beyond noise at that
bound is beyond noise at the true ``n``.

A *frozen* accuracy (the same printed value for :data:`FROZEN_MIN_EPOCHS`
epochs or more, up to the end) means that in net no sample changed class.
It is a one-class model only when the training side is stuck too (its
accuracy frozen, or no higher than the frozen share while the loss sits at
the entropy of that share); when the training set is fitted it means the
predictions settled (``stuck_converged``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dynamics.stats.curves import tail_length
from dynamics.stats.noise import wilson_interval
from dynamics.stats.result import Result
from dynamics.stats.sanity import frozen_stretches, prior_entropy_range

__all__ = [
    "ACCURACY_PATTERNS",
    "AccuracyCurve",
    "classify_accuracy_curve",
    "n_lower_bound",
    "difference_se",
]

#: The accuracy patterns (``unknown`` when the accuracy cannot be read).
ACCURACY_PATTERNS = ("rising", "flat_within_noise", "real_decline", "chance_level", "stuck_one_class",
                     "stuck_converged", "unknown")

#: A change between levels counts when it exceeds this many unpaired standard errors.
CHANGE_Z = 3.0
#: An accuracy printed identically at this many epochs up to the end is frozen.
FROZEN_MIN_EPOCHS = 4
#: A training accuracy this high (or this far above the frozen validation value) means the training set is fitted.
FITTED_ACCURACY = 0.999
FITTED_MARGIN = 0.05
#: A loss within this many nats (or this fraction) of the prior entropy is "predicting the class shares".
PRIOR_ENTROPY_TOL = 0.02
PRIOR_ENTROPY_REL_TOL = 0.05
#: A training accuracy no more than this above a frozen validation share counts as stuck at that share.
STUCK_MARGIN = 0.03
#: Fewer epochs than this cannot show a trend.
MIN_EPOCHS = 3

THRESHOLDS = {
    "change_z": CHANGE_Z,
    "frozen_min_epochs": FROZEN_MIN_EPOCHS,
    "fitted_accuracy": FITTED_ACCURACY,
    "fitted_margin": FITTED_MARGIN,
    "prior_entropy_tol": PRIOR_ENTROPY_TOL,
    "stuck_margin": STUCK_MARGIN,
    "min_epochs": MIN_EPOCHS,
}


def n_lower_bound(values: np.ndarray, halfwidth: float = 5e-5) -> int | None:
    """Smallest validation size consistent with the printed accuracies' spacing.

    Examples
    --------
    >>> n_lower_bound(np.array([0.7737, 0.7800, 0.7758, 0.7767]))
    1000
    >>> n_lower_bound(np.array([0.5, 0.5])) is None
    True
    """
    v = np.unique(np.round(np.asarray(values, dtype=float)[np.isfinite(values)], 10))
    if len(v) < 2:
        return None
    gap = float(np.min(np.diff(v)))
    return int(math.ceil(1 / (gap + 2 * halfwidth) - 1e-9))


def difference_se(p1: float, p2: float, n: int) -> float:
    """Unpaired standard error of the difference of two accuracies on ``n`` samples each.

    ``sqrt((p1 (1 - p1) + p2 (1 - p2)) / n)``, each ``p`` kept half a sample
    away from 0 and 1 so that a perfect score still has some noise.

    >>> round(difference_se(0.5802, 0.5556, 11952), 5)
    0.00641
    """
    def var(p: float) -> float:
        p = min(max(p, 0.5 / n), 1 - 0.5 / n)
        return p * (1 - p)

    return math.sqrt((var(p1) + var(p2)) / n)


@dataclass(frozen=True)
class AccuracyCurve(Result):
    """Outcome of :func:`classify_accuracy_curve`.

    Attributes
    ----------
    pattern : str
        One of :data:`ACCURACY_PATTERNS`.
    rule : str
        The rule that decided.
    n : int or None
        The validation size used; ``n_source`` says where it came from
        (``"given"`` or ``"lower bound"`` from the printed spacing).
    best_epoch, best_value, first_value, last_value : int, float
    tail_epochs : list of int
    tail_level : float
        Median of the later epochs.
    change, change_se : float
        The change that decided (decline from the best, or rise from the
        first epoch) and its size in unpaired standard errors.
    chance : float or None
        ``1 / classes`` when the number of classes is known or assumed.
    frozen : tuple (first, last, value) or None
    thresholds : dict
    """

    pattern: str
    rule: str
    n: int | None = None
    n_source: str | None = None
    best_epoch: int | None = None
    best_value: float | None = None
    first_value: float | None = None
    last_value: float | None = None
    tail_epochs: list[int] = field(default_factory=list)
    tail_level: float | None = None
    change: float | None = None
    change_se: float | None = None
    chance: float | None = None
    frozen: tuple[int, int, float] | None = None
    train_value: float | None = None
    prior_entropy: tuple[float, float] | None = None
    thresholds: dict[str, float] = field(default_factory=lambda: dict(THRESHOLDS))



def classify_accuracy_curve(
    epochs: np.ndarray,
    val_accuracy: np.ndarray,
    *,
    n_val: int | None = None,
    train_accuracy: np.ndarray | None = None,
    val_loss: np.ndarray | None = None,
    classes: int | None = None,
    halfwidth: float = 5e-5,
    rise_from_epoch: int | None = None,
) -> AccuracyCurve:
    """Classify a validation-accuracy curve.

    Parameters
    ----------
    epochs : array_like of int
    val_accuracy : array_like
        Non-finite values are left out.
    n_val : int, optional
        Validation samples; without it the printed spacing bounds it
        (:func:`n_lower_bound`) and claims of "within noise" say so.
    train_accuracy : array_like, optional
        Consulted before any claim that the model is stuck.
    val_loss : array_like, optional
        A cross-entropy of the same predictions, for the chance and prior-entropy checks.
    classes : int, optional
        Known or assumed number of classes (chance = 1 / classes).
    halfwidth : float
        Print half-width of the accuracies.
    rise_from_epoch : int, optional
        Measure a rise from this epoch instead of the first (the epoch of
        lowest val_loss when val_loss rose after it: a rise before the loss
        turned says nothing about the epochs after it).

    Examples
    --------
    The keras#3766 seed: val_accuracy 0.8440 at its best, the last epochs
    0.8132-0.8234 on 2,500 samples: 2.1 standard errors, within noise.

    >>> ep = [1, 2, 3, 4, 5, 75, 76, 77]
    >>> acc = [0.8076, 0.8332, 0.8440, 0.8372, 0.8384, 0.8132, 0.8211, 0.8234]
    >>> c = classify_accuracy_curve(ep, acc, n_val=2500, classes=2)
    >>> c.pattern, c.best_epoch, round(c.change_se, 1)
    ('flat_within_noise', 3, -2.2)

    A 3.5-point drop on 11,952 samples is real:

    >>> acc = [0.5802, 0.5796, 0.5801, 0.5599, 0.5591, 0.5556, 0.5456]
    >>> classify_accuracy_curve(range(1, 8), acc, n_val=11952, classes=2).pattern
    'real_decline'
    """
    e = np.asarray(list(epochs), dtype=int)
    a = np.asarray(val_accuracy, dtype=float)
    ok = np.isfinite(a)
    if val_loss is not None:
        ok &= np.isfinite(np.asarray(val_loss, dtype=float))  # NaN outputs are not predictions
    tr = None if train_accuracy is None else np.asarray(train_accuracy, dtype=float)[ok]
    vl = None if val_loss is None else np.asarray(val_loss, dtype=float)[ok]
    e, a = e[ok], a[ok]
    chance = 1 / classes if classes else None
    if not len(a):
        return AccuracyCurve("unknown", "no_values", chance=chance)
    if (a >= 1 - halfwidth).all():
        return AccuracyCurve("unknown", "saturated", best_value=float(a.max()), chance=chance)
    n, n_source = (int(n_val), "given") if n_val else (n_lower_bound(a, halfwidth), "lower bound")
    ib = int(np.argmax(a))
    base: dict[str, Any] = dict(n=n, n_source=n_source if n else None, best_epoch=int(e[ib]), best_value=float(a[ib]),
                                first_value=float(a[0]), last_value=float(a[-1]), chance=chance)

    # A frozen stretch reaching the last epoch: stuck, settled, or merely still.
    stretches = [s for s in frozen_stretches(e, a, min_length=FROZEN_MIN_EPOCHS) if s[1] == e[-1]]
    if stretches:
        first, last, value = stretches[0]
        base["frozen"] = (int(first), int(last), float(value))
        span_mask = (e >= first) & (e <= last)
        if tr is not None and np.isfinite(tr[span_mask]).all():
            t_span = tr[span_mask]
            base["train_value"] = float(t_span[-1])
            if np.ptp(t_span) <= 2 * halfwidth and t_span[-1] < FITTED_ACCURACY and value >= (chance or 0) and value > 0:
                return AccuracyCurve("stuck_one_class", "train_frozen_too", **base)
            if t_span[-1] >= FITTED_ACCURACY or t_span[-1] >= value + FITTED_MARGIN:
                return AccuracyCurve("stuck_converged", "train_fitted", **base)
        if vl is not None and value >= (chance or 0.5) and value > 0:
            lo, hi = prior_entropy_range(value, classes=classes or 2)
            lo, hi = float(lo), float(hi)
            base["prior_entropy"] = (lo, hi)
            tol = max(PRIOR_ENTROPY_TOL, PRIOR_ENTROPY_REL_TOL * lo)
            at_prior = lo - tol <= vl[-1] <= hi + tol
            train_at_share = tr is None or not np.isfinite(tr[-1]) or tr[-1] <= value + STUCK_MARGIN
            if at_prior and train_at_share:
                return AccuracyCurve("stuck_one_class", "loss_at_prior_entropy", **base)
        return AccuracyCurve("flat_within_noise", "frozen", **base)

    # Chance: never distinguishable from 1/K, and the loss no better than guessing uniformly. Without a
    # known K, the K that the best accuracy would be chance for, when the loss agrees (>= ln K).
    # Only K = 2 is implied this way: accuracies all near 1/2 with a loss at or above ln 2.
    if chance is None and vl is not None and np.isfinite(vl).any() and 0.4 <= a.min() and a.max() <= 0.6:
        if bool((vl >= math.log(2) - 0.01).all()):
            classes, chance = 2, 0.5
            base["chance"] = chance
    if chance is not None:
        # The typical epoch within noise of chance, and no epoch clearly above it.
        if n:
            low, _ = wilson_interval(float(np.median(a)), n)
            near = float(low) <= chance and a.max() <= chance + CHANGE_Z * math.sqrt(chance * (1 - chance) / n)
        else:
            near = float(a.max()) <= chance + 0.02
        no_better = vl is None or bool((vl >= math.log(classes) - 0.01).all())
        if near and no_better:
            return AccuracyCurve("chance_level", "never_above_chance", **base)

    if len(a) < MIN_EPOCHS or not n:
        return AccuracyCurve("unknown", "too_few_epochs" if len(a) < MIN_EPOCHS else "n_unknown", **base)
    n_after = len(a) - 1 - ib
    if n_after >= 2:
        k = tail_length(n_after)
        level = float(np.median(a[-k:]))
        se = difference_se(float(a[ib]), level, n)
        drop = float(a[ib]) - level
        base.update(tail_epochs=[int(x) for x in e[-k:]], tail_level=level, change=-drop, change_se=-drop / se)
        if drop > CHANGE_Z * se and float(a[-k:].max()) < float(a[ib]) - se:
            return AccuracyCurve("real_decline", "sustained_drop", **base)
    start = 0
    if rise_from_epoch is not None and rise_from_epoch in e:
        start = int(np.flatnonzero(e == rise_from_epoch)[0])
    k = tail_length(max(len(a) - 1 - start, 1))
    level = float(np.median(a[-k:]))
    se = difference_se(float(a[start]), level, n)
    rise = level - float(a[start])
    base["first_value"] = float(a[start])
    if rise > CHANGE_Z * se:
        base.update(tail_epochs=[int(x) for x in e[-k:]], tail_level=level, change=rise, change_se=rise / se)
        return AccuracyCurve("rising", "rise_from_first", **base)
    if "change_se" not in base:
        base.update(tail_epochs=[int(x) for x in e[-k:]], tail_level=level, change=rise, change_se=rise / se)
    return AccuracyCurve("flat_within_noise", "within_noise", **base)
