"""Is the val_accuracy wobble more than the noise of a finite validation set?

A logged validation accuracy is ``k / n_val``: a count. Four things follow
from that alone, and this module computes them:

* the Wilson 95 % interval of each epoch's accuracy (how well ``k/n``
  estimates the accuracy on fresh data from the same source);
* whether the epoch-to-epoch spread is larger than binomial sampling noise
  would make it (a chi-square variance-ratio test);
* the fewest validation samples whose prediction must have changed between
  two epochs (the change in ``k``), and the smallest McNemar p-value such a
  change could possibly have;
* the validation-set size that would resolve a given difference.

What a log *cannot* show: successive epochs are scored on the same samples,
so whether a change between two epochs is real is a *paired* question
(McNemar's test on the samples whose prediction flipped), and the number of
flips in each direction is not in the log -- only their net difference is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dynamics.errors import ArgumentError
from dynamics.stats.result import Result

__all__ = [
    "count_range", "fits_denominator", "infer_n_val", "mcnemar_min_p", "min_changed_samples", "n_to_resolve",
    "NValInference", "variance_ratio_test", "VarianceRatio", "wilson_interval",
]

# -- intervals -----------------------------------------------------------------


def wilson_interval(p_hat: np.ndarray | float, n: int, *, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion.

    Hand-written (the closed form) because ``scipy.stats.binomtest`` needs an
    integer count and a printed accuracy is ``k/n`` only up to rounding; for
    integer counts it equals ``binomtest(k, n).proportion_ci(method="wilson")``.

    Parameters
    ----------
    p_hat : array_like
        Observed proportions in [0, 1].
    n : int
        Number of samples.
    confidence : float, default 0.95

    Returns
    -------
    (low, high) : tuple of ndarray

    Examples
    --------
    >>> lo, hi = wilson_interval(0.844, 2500)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.8292, 0.8577)
    """
    from scipy.stats import norm

    if n <= 0:
        raise ArgumentError(f"n must be > 0. Received: n={n}")
    p = np.asarray(p_hat, dtype=float)
    z = norm.ppf(0.5 + confidence / 2)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


# -- spread versus binomial noise ---------------------------------------------


@dataclass(frozen=True)
class VarianceRatio(Result):
    """Outcome of :func:`variance_ratio_test`.

    ``ratio`` is the observed variance over the binomial variance
    ``p(1-p)/n``; ``statistic`` = (m-1) * ratio is chi-square with m-1
    degrees of freedom if every epoch's accuracy were an independent binomial
    draw; ``n_significant`` is the smallest validation-set size at which the
    same spread would be significant at ``alpha``.
    """

    m: int
    mean: float
    sd: float
    binomial_sd: float
    ratio: float
    statistic: float
    df: int
    p_value: float
    n_significant: float



def variance_ratio_test(acc: np.ndarray, n: int, *, alpha: float = 0.05) -> VarianceRatio:
    """Is the spread of accuracies larger than binomial noise with ``n`` samples?

    H0: each epoch's accuracy is an independent draw ``Binomial(n, p)/n`` with
    a common p (estimated by the mean). Then ``(m-1) s^2 / (p(1-p)/n)`` is
    approximately chi-square with m-1 degrees of freedom; the p-value is its
    upper tail.

    Parameters
    ----------
    acc : array_like
        Accuracies of m >= 2 epochs (NaN dropped).
    n : int
        Validation samples.
    alpha : float, default 0.05
        Level used for ``n_significant``.

    Examples
    --------
    >>> r = variance_ratio_test([0.8372, 0.8384, 0.8132, 0.8211, 0.8234], 2500)
    >>> round(r.ratio, 2), round(r.p_value, 3)
    (2.06, 0.084)
    """
    from scipy.stats import chi2

    a = np.asarray(acc, dtype=float)
    a = a[np.isfinite(a)]
    m = len(a)
    if m < 2:
        raise ArgumentError(f"need at least 2 accuracies. Received: {m}")
    mean = float(a.mean())
    var = float(a.var(ddof=1))
    binom_var = mean * (1 - mean) / n
    if binom_var == 0:
        ratio = math.inf if var > 0 else 1.0
    else:
        ratio = var / binom_var
    stat = (m - 1) * ratio
    p = float(chi2.sf(stat, m - 1)) if math.isfinite(stat) else 0.0
    crit = float(chi2.isf(alpha, m - 1))
    n_sig = crit * mean * (1 - mean) / ((m - 1) * var) if var > 0 else math.inf
    return VarianceRatio(m, mean, math.sqrt(var), math.sqrt(binom_var), ratio, stat, m - 1, p, n_sig)


# -- counts ---------------------------------------------------------------------


def count_range(acc: float, n: int, halfwidth: float) -> tuple[int, int]:
    """Counts ``k`` with ``|k/n - acc| <= halfwidth``; ``(lo, hi)``, empty if lo > hi.

    >>> count_range(0.8440, 2500, 5e-5), count_range(0.8234, 2500, 5e-5)
    ((2110, 2110), (2059, 2058))
    """
    tol = 1e-9
    lo = math.ceil(n * (acc - halfwidth) - tol)
    hi = math.floor(n * (acc + halfwidth) + tol)
    return max(lo, 0), min(hi, n)


def min_changed_samples(acc1: float, acc2: float, n: int, halfwidth1: float = 5e-5, halfwidth2: float = 5e-5) -> int:
    """Fewest samples whose prediction must differ between two epochs.

    The net change in the number of correct samples is ``k2 - k1``; at least
    that many predictions changed (more if some went each way, which only
    per-sample data can show).

    Examples
    --------
    >>> min_changed_samples(0.8440, 0.8234, 2500)
    52
    """
    lo1, hi1 = count_range(acc1, n, halfwidth1)
    lo2, hi2 = count_range(acc2, n, halfwidth2)
    if lo1 > hi1 or lo2 > hi2:  # not k/n at print precision: use the real line
        return max(0, math.ceil(n * (abs(acc2 - acc1) - halfwidth1 - halfwidth2) - 1e-9))
    return max(0, lo2 - hi1, lo1 - hi2)


def mcnemar_min_p(changed: int) -> float:
    """Smallest exact two-sided McNemar p-value for a net change of ``changed``.

    With b samples going right-to-wrong and c wrong-to-right, c - b = d, the
    exact test gives ``2 P(Bin(b + c, 1/2) <= b)``; it is smallest when
    ``b = 0``, i.e. ``2 / 2**d``. If even that is above 0.05, no paired test
    on these samples could call the change significant.

    >>> mcnemar_min_p(5), mcnemar_min_p(6)
    (0.0625, 0.03125)
    """
    return min(1.0, 2.0 * 0.5 ** changed)


def n_to_resolve(delta: float, p: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Validation samples needed to tell two accuracies ``delta`` apart.

    Two accuracies ``p + delta/2`` and ``p - delta/2``, each measured on its
    own set of n samples, two-sided z-test at ``alpha`` with the given power
    (the standard two-proportion sample-size formula, without continuity
    correction). A paired comparison on one shared set can need fewer
    samples, depending on how many predictions flip -- unknown from a log.

    Examples
    --------
    >>> n_to_resolve(0.005, 0.83)
    88597
    """
    from scipy.stats import norm

    p1, p2 = p + delta / 2, p - delta / 2
    pbar = (p1 + p2) / 2
    za = norm.isf(alpha / 2)
    zb = norm.ppf(power)
    n = (za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / delta**2
    return math.ceil(n)


# -- n_val from the printed values ---------------------------------------------


def fits_denominator(values: np.ndarray, n: int, halfwidths: np.ndarray) -> np.ndarray:
    """Which values are ``k/n`` for a whole k, within their print half-width.

    >>> fits_denominator(np.array([0.8440, 0.8234]), 2500, np.array([5e-5, 5e-5])).tolist()
    [True, False]
    """
    v = np.asarray(values, dtype=float)
    h = np.asarray(halfwidths, dtype=float)
    k = np.round(v * n)
    return np.abs(k / n - v) <= h + 1e-12


@dataclass(frozen=True)
class NValInference(Result):
    """Outcome of :func:`infer_n_val`.

    ``n`` is the smallest denominator every informative value fits (None if
    none up to ``max_n`` does, or no value is informative); ``values`` is how
    many distinct values other than 0 and 1 were used; ``chance`` is an upper
    bound on the probability that that many unrelated values would all fit
    some denominator <= ``n`` (a union bound); ``certainty`` is
    ``"certain"`` (chance < 0.001), ``"likely"`` (< 0.05) or
    ``"not identifiable"``. The true size is ``n`` or a multiple of it.
    """

    n: int | None
    values: int
    chance: float
    certainty: str
    max_n: int



def infer_n_val(values: np.ndarray, halfwidths: np.ndarray | float = 5e-5, *, max_n: int | None = None) -> NValInference:
    """Smallest n for which every printed accuracy is a multiple of 1/n.

    A value printed to 4 decimals stands for an interval of width 1e-4, and
    ``k/n`` hits such an interval for about ``(n+1) * 1e-4`` of all printed
    values. So one value says little, but m distinct values that all fit a
    small n are unlikely to do so by chance: the chance that m unrelated
    values all fit *some* denominator up to n is at most
    ``sum_{n' <= n} prod_i min(1, (n'+1) * 2 h_i)``.

    Parameters
    ----------
    values : array_like
        Printed accuracies (NaN ignored).
    halfwidths : array_like or float
        Print half-widths (:func:`~dynamics.stats.precision.print_halfwidth`).
    max_n : int, optional
        Largest denominator tried; by default ``1 / (2 * max half-width)``
        (10 000 at 4 decimals), beyond which every value fits.

    Examples
    --------
    >>> r = infer_n_val(np.array([56, 61, 58, 60, 57]) / 75)
    >>> r.n, r.certainty
    (75, 'certain')
    """
    v = np.asarray(values, dtype=float)
    h = np.broadcast_to(np.asarray(halfwidths, dtype=float), v.shape)
    keep = np.isfinite(v) & (v > 0) & (v < 1)
    v, h = v[keep], h[keep]
    v, idx = np.unique(np.round(v, 12), return_index=True)
    h = h[idx]
    hmax = float(h.max()) if len(h) else 5e-5
    if max_n is None:
        max_n = int(min(1_000_000, 1 / (2 * hmax))) if hmax > 0 else 1_000_000
    if len(v) == 0:
        return NValInference(None, 0, 1.0, "not identifiable", max_n)
    ns = np.arange(1, max_n + 1)
    k = np.round(v[None, :] * ns[:, None])
    ok = (np.abs(k / ns[:, None] - v[None, :]) <= h[None, :] + 1e-12).all(axis=1)
    hits = np.flatnonzero(ok)
    if len(hits) == 0:
        return NValInference(None, len(v), 1.0, "not identifiable", max_n)
    n = int(ns[hits[0]])
    upto = ns[: hits[0] + 1].astype(float)
    q = np.minimum(1.0, (upto[:, None] + 1) * 2 * h[None, :])
    chance = float(min(1.0, np.prod(q, axis=1).sum()))
    certainty = "certain" if chance < 1e-3 else "likely" if chance < 0.05 else "not identifiable"
    return NValInference(n, len(v), chance, certainty, max_n)
