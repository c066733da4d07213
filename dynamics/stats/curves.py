"""What shape a loss curve has: improving, plateau, overfitting, early sign, volatile, both rising.

A Keras log gives one value per epoch, printed to 4 decimals, for 3 to a few
hundred epochs, and the curves are noisy in a way no textbook noise model
describes: mini-batch order, dropout and the learning rate make val_loss
jump between epochs, sometimes by a factor of several. So a rise after the
minimum is judged against the curve's *own* behaviour, never against the
last value alone:

* **Noise of the curve.** A robust scale of its second differences,
  ``sigma = 1.4826 * MAD(d2) / sqrt(6)`` (for white noise of sd sigma, a
  second difference ``y[t+1] - 2 y[t] + y[t-1]`` has sd ``sqrt(6) sigma``;
  second differences leave a smooth trend or a smooth turn almost untouched,
  and the median ignores isolated spikes), floored at the print half-width.
  Only triples of consecutive epochs count, so an elided stretch is no
  "difference".
* **Sustained, not a spike.** A rise counts as sustained when the *last
  several* logged epochs after the minimum (the later half of them, at least
  two) all stay above the level at the minimum (the median of the minimum and
  its two neighbours, so a single low outlier is not a level) by more than
  :data:`NOISE_MULTIPLE` times that noise. One high last epoch between low
  ones is a spike.
* **Not the curve's ordinary wandering.** Before its minimum, a plateauing
  or volatile curve has already risen and come back down; a rise after the
  minimum no larger than the largest such reversed swing before it
  (:func:`reversed_swing`) is the same wandering, not a turn.
* **Improving** needs the fall from the first epoch to the minimum to
  exceed :data:`IMPROVING_DROP_NOISE` noise units and, from 5 epochs on, a
  falling Mann-Kendall trend over the whole curve.
* **Material.** A sustained, new rise is overfitting only when the later
  epochs sit at least :data:`MATERIAL_RISE_PCT` above the minimum.

The thresholds are named constants, carried in every result's evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dynamics.stats.result import Result
from dynamics.stats.trends import trend_test

__all__ = [
    "LOSS_PATTERNS",
    "LossCurve",
    "classify_loss_curve",
    "curve_noise",
    "reversed_swing",
    "tail_length",
]

#: The loss patterns :func:`classify_loss_curve` returns (the verdict adds
#: ``invalid``, ``diverged`` and ``no_validation`` from the sanity checks).
LOSS_PATTERNS = ("improving", "plateau", "overfitting", "early_sign", "volatile", "both_rising", "too_short")

#: Fewer finite epochs than this cannot show a pattern.
MIN_EPOCHS = 3
#: A change counts when it exceeds this many times the curve's noise.
NOISE_MULTIPLE = 2.0
#: The later epochs must sit at least this far (percent of the minimum) above it for overfitting.
MATERIAL_RISE_PCT = 5.0
#: Overfitting needs at least this many logged epochs after the minimum; fewer make an early sign.
MIN_EPOCHS_AFTER = 3
#: A fall from the first epoch to the minimum of more than this many noise units is improvement.
IMPROVING_DROP_NOISE = 3.0
#: A curve that has made and undone swings of this many percent (or spikes this far above its
#: smoothed level) is volatile rather than flat.
VOLATILE_SWING_PCT = 20.0

THRESHOLDS = {
    "min_epochs": MIN_EPOCHS,
    "noise_multiple": NOISE_MULTIPLE,
    "material_rise_pct": MATERIAL_RISE_PCT,
    "min_epochs_after": MIN_EPOCHS_AFTER,
    "improving_drop_noise": IMPROVING_DROP_NOISE,
    "volatile_swing_pct": VOLATILE_SWING_PCT,
}


def curve_noise(epochs: np.ndarray, values: np.ndarray, *, halfwidth: float = 0.0) -> float:
    """Robust epoch-to-epoch noise of a curve, from its second differences.

    ``1.4826 * MAD(d2) / sqrt(6)`` over triples of consecutive epochs (all
    logged values in order when fewer than 3 such triples exist), floored at
    the print half-width.

    Examples
    --------
    A straight line has no noise beyond its print rounding; white noise of
    sd 0.01 comes back at about 0.01:

    >>> curve_noise(np.arange(1, 9), np.linspace(1, 0.3, 8), halfwidth=5e-5)
    5e-05
    >>> rng = np.random.default_rng(0)
    >>> round(curve_noise(np.arange(1, 2001), 0.5 + 0.01 * rng.standard_normal(2000)), 3)
    0.01
    """
    e = np.asarray(epochs, dtype=int)
    v = np.asarray(values, dtype=float)
    d2 = [v[i + 1] - 2 * v[i] + v[i - 1] for i in range(1, len(v) - 1) if e[i + 1] - e[i] == 1 and e[i] - e[i - 1] == 1]
    if len(d2) < 3 and len(v) >= 3:
        d2 = list(np.diff(v, 2))
    if not d2:
        return float(halfwidth)
    d2a = np.asarray(d2)
    mad = float(np.median(np.abs(d2a - np.median(d2a))))
    return max(1.4826 * mad / math.sqrt(6), float(halfwidth))


def reversed_swing(values: np.ndarray) -> tuple[float, int | None, int | None]:
    """The largest rise a curve made and undid, in percent of the low it rose from.

    For a stretch that ends at its own minimum every rise inside it was later
    undone. Returns ``(percent, i_low, i_high)`` (positions), ``(0, None,
    None)`` for a stretch that only fell.

    Examples
    --------
    >>> pct, low, high = reversed_swing(np.array([0.0120, 0.0111, 0.0114, 0.0122, 0.0119, 0.0111, 0.0108]))
    >>> round(pct, 2), low, high
    (9.91, 1, 3)
    >>> reversed_swing(np.array([1.0, 0.8, 0.65, 0.55, 0.5]))
    (0.0, None, None)
    """
    v = np.asarray(values, dtype=float)
    best, low_i, pair = 0.0, 0, (None, None)
    for j in range(1, len(v)):
        if v[j] < v[low_i]:
            low_i = j
            continue
        if v[low_i] > 0:
            rise = 100 * (v[j] / v[low_i] - 1)
            if rise > best:
                best, pair = float(rise), (low_i, j)
    return best, pair[0], pair[1]


def tail_length(n_after: int) -> int:
    """How many of the last epochs must stay up for a rise to be sustained: the later half, at least 2.

    >>> [tail_length(n) for n in (2, 3, 5, 8)]
    [2, 2, 3, 4]
    """
    return max(2, math.ceil(n_after / 2))


@dataclass(frozen=True)
class LossCurve(Result):
    """Outcome of :func:`classify_loss_curve`: the pattern, the rule that fired, and its numbers.

    Attributes
    ----------
    pattern : str
        One of :data:`LOSS_PATTERNS`.
    rule : str
        Which rule decided (``"sustained_rise"``, ``"spike"``, ``"within_earlier_swings"``...).
    best_epoch, best_value : int, float
        The minimum (first, as Keras keeps the first).
    last_epoch, last_value : int, float
    epochs_after : int
        Logged epochs after the minimum.
    noise : float
        :func:`curve_noise` of the curve.
    threshold : float
        ``NOISE_MULTIPLE * noise``: what a change must exceed to count.
    tail_epochs : list of int
        The later epochs after the minimum that were checked for a sustained rise.
    best_level : float or None
        The level at the minimum: the median of it and its two neighbours.
    tail_rise, tail_rise_pct : float
        How far the lowest of them (``tail_rise``) and their median
        (``tail_rise_pct``, percent) sit above ``best_level``.
    last_rise, last_rise_pct : float
        The last epoch against the minimum.
    first_drop : float
        First logged value minus the minimum.
    earlier_swing_pct : float
        The largest rise the curve made and undid in the epochs before its minimum.
    earlier_swing_epochs : tuple of int or None
    max_swing_pct : float
        The largest rise made and undone anywhere in the curve.
    train_rise, train_threshold : float or None
        How far the training loss at the tail sits above its lowest value
        from the minimum on, and what it had to exceed to count.
    thresholds : dict
        The constants in force.
    """

    pattern: str
    rule: str
    best_epoch: int | None = None
    best_value: float | None = None
    last_epoch: int | None = None
    last_value: float | None = None
    epochs_after: int = 0
    noise: float | None = None
    threshold: float | None = None
    tail_epochs: list[int] = field(default_factory=list)
    best_level: float | None = None
    tail_rise: float | None = None
    tail_rise_pct: float | None = None
    last_rise: float | None = None
    last_rise_pct: float | None = None
    first_drop: float | None = None
    earlier_swing_pct: float = 0.0
    earlier_swing_epochs: tuple[int, int] | None = None
    max_swing_pct: float = 0.0
    train_rise: float | None = None
    train_threshold: float | None = None
    thresholds: dict[str, float] = field(default_factory=lambda: dict(THRESHOLDS))



def _pct(value: float, base: float) -> float:
    return 100 * value / abs(base) if base else math.inf


def classify_loss_curve(
    epochs: np.ndarray,
    val_loss: np.ndarray,
    train_loss: np.ndarray | None = None,
    *,
    val_halfwidth: float = 5e-5,
    train_halfwidth: float = 5e-5,
) -> LossCurve:
    """Classify a validation-loss curve (non-finite values are left out).

    Parameters
    ----------
    epochs : array_like of int
        Logged epochs, gaps allowed.
    val_loss : array_like
        The monitored loss (lower is better).
    train_loss : array_like, optional
        The training loss of the same epochs; with it, a sustained rise of
        both is ``both_rising`` (an optimisation problem), not overfitting.
    val_halfwidth, train_halfwidth : float
        Print half-widths (5e-5 for 4 decimals, 0 for exact sources).

    Returns
    -------
    LossCurve

    Examples
    --------
    The seed log (imdb_lstm, epochs 1-5 and 75-77): a sustained rise.

    >>> ep = [1, 2, 3, 4, 5, 75, 76, 77]
    >>> vl = [0.4305, 0.3791, 0.3736, 0.4206, 0.3844, 0.9045, 0.9078, 0.9105]
    >>> tl = [0.5438, 0.3843, 0.3099, 0.2458, 0.2120, 0.0134, 0.0156, 0.0129]
    >>> c = classify_loss_curve(ep, vl, tl)
    >>> c.pattern, c.rule, c.best_epoch, c.tail_epochs
    ('overfitting', 'sustained_rise', 3, [75, 76, 77])

    Improving lows with one spike at the end are volatile, not overfitting:

    >>> v = [0.9, 0.7, 0.75, 0.6, 0.8, 0.55, 0.58, 0.56, 0.9]
    >>> c = classify_loss_curve(range(1, 10), v)
    >>> c.pattern, c.rule
    ('volatile', 'spike')
    """
    e = np.asarray(list(epochs), dtype=int)
    v = np.asarray(val_loss, dtype=float)
    t = None if train_loss is None else np.asarray(train_loss, dtype=float)
    ok = np.isfinite(v)
    e, v = e[ok], v[ok]
    if t is not None:
        t = t[ok]
    if len(v) < MIN_EPOCHS:
        return LossCurve("too_short", "fewer_epochs", epochs_after=0,
                         best_epoch=int(e[np.argmin(v)]) if len(v) else None,
                         best_value=float(v.min()) if len(v) else None,
                         last_epoch=int(e[-1]) if len(v) else None, last_value=float(v[-1]) if len(v) else None)
    i = int(np.argmin(v))
    n_after = len(v) - 1 - i
    noise = curve_noise(e, v, halfwidth=val_halfwidth)
    threshold = max(NOISE_MULTIPLE * noise, 2 * val_halfwidth)
    # Swings before the minimum: any rise there was undone (the minimum comes after it).
    window = v[:i + 1]
    swing, lo, hi = reversed_swing(window)
    offset = 0
    max_swing = max(reversed_swing(v[: k + 1])[0] for k in range(len(v)))
    base = dict(best_epoch=int(e[i]), best_value=float(v[i]), last_epoch=int(e[-1]), last_value=float(v[-1]),
                epochs_after=n_after, noise=noise, threshold=threshold,
                last_rise=float(v[-1] - v[i]), last_rise_pct=_pct(v[-1] - v[i], v[i]),
                first_drop=float(v[0] - v[i]), earlier_swing_pct=swing,
                earlier_swing_epochs=(int(e[offset + lo]), int(e[offset + hi])) if lo is not None else None,
                max_swing_pct=max_swing)
    volatile = max_swing >= VOLATILE_SWING_PCT
    # Improvement needs a fall beyond noise and, given enough epochs to test, a falling trend
    # (a flat noisy curve can start high by chance).
    dropped = v[0] - v[i] > IMPROVING_DROP_NOISE * noise and v[0] - v[i] > 2 * val_halfwidth
    falling = len(v) < 5 or trend_test(e, v).verdict == "falling"
    improved = dropped and falling

    if v[-1] - v[i] <= threshold:
        # The last epoch is at the minimum, or within the curve's noise of it.
        if improved:
            return LossCurve("improving", "ends_at_minimum", **base)
        return LossCurve("plateau", "no_fall_beyond_noise", **base)
    if n_after < MIN_EPOCHS_AFTER:
        if volatile and _pct(v[-1] - v[i], v[i]) <= swing:
            return LossCurve("volatile", "within_earlier_swings", **base)
        if _pct(v[-1] - v[i], v[i]) >= MATERIAL_RISE_PCT:
            return LossCurve("early_sign", "few_epochs_after", **base)
        if improved:
            return LossCurve("improving", "small_bump_after_fall", **base)
        return LossCurve("plateau", "small_rise", **base)
    k = tail_length(n_after)
    tail = v[-k:]
    # The level at the minimum: the median of it and its two neighbours, so that a single low outlier
    # (a downward spike) is not taken for a level the curve later rose from.
    level = float(np.median(v[i - 1:i + 2])) if 0 < i < len(v) - 1 else float(v[i])
    tail_rise = float(tail.min() - level)
    tail_pct = _pct(float(np.median(tail)) - level, level)
    base.update(tail_epochs=[int(x) for x in e[-k:]], tail_rise=tail_rise, tail_rise_pct=tail_pct, best_level=level)
    sustained = tail_rise > threshold
    if not sustained:
        if volatile:
            return LossCurve("volatile", "spike", **base)
        return LossCurve("plateau", "not_sustained", **base)
    if _pct(tail_rise, level) <= swing:
        return LossCurve("volatile" if volatile else "plateau", "within_earlier_swings", **base)
    if tail_pct < MATERIAL_RISE_PCT:
        return LossCurve("plateau", "small_rise", **base)
    if t is not None and np.isfinite(t[i:]).all():
        t_noise = curve_noise(e, t, halfwidth=train_halfwidth)
        t_threshold = max(NOISE_MULTIPLE * t_noise, 2 * train_halfwidth)
        t_rise = float(t[-k:].min() - t[i:].min())
        base.update(train_rise=t_rise, train_threshold=t_threshold)
        if t_rise > t_threshold and _pct(float(np.median(t[-k:])) - t[i:].min(), t[i:].min()) >= MATERIAL_RISE_PCT:
            return LossCurve("both_rising", "train_rose_too", **base)
    return LossCurve("overfitting", "sustained_rise", **base)
