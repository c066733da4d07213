"""Trend tests for short, gappy epoch series: Mann-Kendall and Theil-Sen.

The Mann-Kendall test is Kendall's tau between the series and time
(docs/methods.md#trends-mann-kendall-and-theil-sen). Keras logs hold 5 to 100 epochs, often with gaps, so
the test here

* uses the *real epoch numbers* as x (an elided stretch is a long step in x,
  not a neighbour),
* takes scipy's exact null distribution (``kendalltau(method="exact")``)
  whenever the series has no ties, the normal approximation with the tie
  correction otherwise (pymannkendall only has the latter), and
* says "too few epochs" when no outcome could reach the significance level:
  with n points the smallest exact two-sided p-value is ``2 / n!``, so
  fewer than 5 epochs can never show a trend at 5 %.

The slope is Theil-Sen's (median of pairwise slopes, per epoch) with
scipy's confidence interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dynamics.stats.result import Result

if TYPE_CHECKING:
    from dynamics.run import Run

__all__ = ["VERDICTS", "mann_kendall_s", "min_attainable_p", "trend_test", "trend_test_of_run", "TrendResult"]

#: Verdicts of :func:`trend_test`.
VERDICTS = ("rising", "falling", "flat", "too few epochs")


@dataclass(frozen=True)
class TrendResult(Result):
    """Outcome of :func:`trend_test`.

    Attributes
    ----------
    n : int
        Number of epochs tested.
    s : int
        Mann-Kendall S = sum over pairs i < j of sign(y_j - y_i).
    tau : float
        Kendall's tau-b (NaN for a constant series).
    p_value : float
        Two-sided p-value (1.0 for a constant series).
    method : str
        ``"exact"`` or ``"asymptotic"`` (ties present).
    slope, slope_low, slope_high, intercept : float
        Theil-Sen slope per epoch, its confidence interval, and intercept.
    verdict : str
        One of :data:`VERDICTS`.
    first_epoch, last_epoch : int
        The epochs the test spans.
    """

    n: int
    s: int
    tau: float
    p_value: float
    method: str
    slope: float
    slope_low: float
    slope_high: float
    intercept: float
    verdict: str
    first_epoch: int
    last_epoch: int



def mann_kendall_s(y: np.ndarray) -> int:
    """The Mann-Kendall statistic S of a series in time order.

    Examples
    --------
    >>> mann_kendall_s(np.array([1.0, 3.0, 2.0, 4.0]))
    4
    """
    y = np.asarray(y, dtype=float)
    diff = y[None, :] - y[:, None]
    return int(np.sign(diff[np.triu_indices(len(y), k=1)]).sum())


def min_attainable_p(n: int) -> float:
    """Smallest two-sided exact Mann-Kendall p-value with ``n`` points (``2/n!``).

    >>> min_attainable_p(4), round(min_attainable_p(5), 4)
    (0.08333333333333333, 0.0167)
    """
    if n < 2:
        return 1.0
    return min(1.0, 2.0 / math.factorial(n))


def trend_test(x: np.ndarray, y: np.ndarray, *, alpha: float = 0.05, confidence: float = 0.95) -> TrendResult:
    """Mann-Kendall trend test and Theil-Sen slope of ``y`` over epochs ``x``.

    Parameters
    ----------
    x : array_like of int
        Epoch numbers (gaps allowed), strictly increasing.
    y : array_like of float
        Metric values; NaN entries are dropped with their epochs.
    alpha : float, default 0.05
        Significance level of the verdict.
    confidence : float, default 0.95
        Confidence degree of the Theil-Sen interval.

    Returns
    -------
    TrendResult
        ``verdict`` is ``rising``/``falling`` when p < alpha, ``flat``
        otherwise, and ``too few epochs`` when even a perfectly monotone
        series of this length could not reach p < alpha.

    Examples
    --------
    >>> r = trend_test([4, 5, 75, 76, 77], [0.4206, 0.3844, 0.9045, 0.9078, 0.9105])
    >>> r.s, round(r.p_value, 4), r.verdict, round(r.slope, 5)
    (8, 0.0833, 'flat', 0.00674)
    """
    from scipy import stats

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    keep = np.isfinite(y)
    x, y = x[keep], y[keep]
    n = len(y)
    first = int(x[0]) if n else 0
    last = int(x[-1]) if n else 0
    nan = float("nan")
    if n < 3:
        return TrendResult(n, 0, nan, nan, "none", nan, nan, nan, nan, "too few epochs", first, last)
    s = mann_kendall_s(y)
    if np.all(y == y[0]):
        tau, p, method = nan, 1.0, "exact"
    else:
        ties = len(np.unique(y)) < n
        method = "asymptotic" if ties else "exact"
        res = stats.kendalltau(x, y, method=method)
        tau, p = float(res.statistic), float(res.pvalue)
    ts = stats.theilslopes(y, x, alpha=confidence)
    if min_attainable_p(n) >= alpha:
        verdict = "too few epochs"
    elif p < alpha:
        verdict = "rising" if s > 0 else "falling"
    else:
        verdict = "flat"
    return TrendResult(n, s, tau, p, method, float(ts.slope), float(ts.low_slope), float(ts.high_slope),
                       float(ts.intercept), verdict, first, last)


def trend_test_of_run(run: Run, metric: str, *, after: int | None = None, alpha: float = 0.05) -> TrendResult:
    """:func:`trend_test` of one column of a :class:`~dynamics.run.Run`.

    Parameters
    ----------
    run : Run
    metric : str
        Column name (``"val_loss"``).
    after : int, optional
        Test only the epochs strictly after this one (the best epoch). The
        best epoch itself is left out on purpose: starting the series at its
        minimum would add n-1 concordant pairs by construction and make the
        p-value too small.

    Examples
    --------
    >>> from dynamics.run import Run, make_epoch_table
    >>> run = Run(make_epoch_table({e: {"loss": 1.0 / e} for e in range(1, 9)}))
    >>> trend_test_of_run(run, "loss").verdict
    'falling'
    """
    series = run.series(metric).dropna()
    if after is not None:
        series = series[series.index > after]
    return trend_test(series.index.to_numpy(), series.to_numpy(), alpha=alpha)


#: The name :func:`trend_test_of_run` had before the stats API's naming rule (still used outside stats).
metric_trend = trend_test_of_run
