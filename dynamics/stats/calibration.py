"""Calibration of one epoch's predictions: ECE, MCE, reliability, Brier, AUC.

Definitions (docs/methods.md#calibration):

* **Top-label** reliability (Guo et al. 2017, Sec. 2): each sample's
  confidence is its top-class probability, binned into ``n_bins`` (15, as
  Guo et al.) equal-width, right-closed bins ``((m-1)/M, m/M]`` (0 goes to the
  first bin, as in gpleiss/temperature_scaling and sklearn). ECE is the
  count-weighted mean of ``|accuracy - confidence|`` over bins, MCE the
  largest gap over non-empty bins. For a sigmoid model the top label is the
  predicted class, so confidences lie in [0.5, 1] -- this is *not* netcal's
  or sklearn's positive-class curve.
* **Brier score** (mean squared error of the forecast; binary: of P(class 1),
  k-class: summed over classes) with **Murphy's decomposition**
  ``BS = REL - RES + UNC + residual``: REL (calibration, lower is better),
  RES (discrimination, higher is better), UNC (base-rate uncertainty); the
  residual is exact bookkeeping for forecasts that differ inside a bin:
  within-bin variance minus twice the within-bin covariance of forecast and
  outcome (Stephenson et al. 2008). k-class: the sum of the one-vs-rest
  binary decompositions.
* **AUC** (binary): the Mann-Whitney probability that a positive sample gets a
  higher P(class 1) than a negative one, ties counting one half.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dynamics.errors import ArgumentError
from dynamics.stats.probabilities import (
    EpochView,
    _dot,
    as_proba,
    check_labels,
    require_predictions,
)
from dynamics.stats.result import Result
from dynamics.stats.views import iter_views

if TYPE_CHECKING:
    from dynamics.run import Run

__all__ = [
    "N_BINS", "bin_index", "binary_auc", "brier_decomposition", "BrierDecomposition", "calibration_error",
    "calibration_row", "calibration_table", "CalibrationError", "reliability_diagram", "reliability_rows",
    "reliability_table",
]

#: Guo et al.'s number of bins.
N_BINS = 15
#: From this many samples on, a float16 AUC is counted per value (O(n))
#: rather than ranked (O(n log n)); below it ranking is faster.
_COUNTS_FROM = 20_000


def _check_bins(n_bins: int) -> int:
    if int(n_bins) != n_bins or n_bins < 1:
        raise ArgumentError(f"n_bins must be a positive integer. Received: n_bins={n_bins!r}")
    return int(n_bins)


def bin_index(values: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """Right-closed equal-width bin of each value in [0, 1] (0 goes to bin 0).

    Same assignment as ``np.searchsorted(np.linspace(0, 1, n_bins + 1)[1:-1],
    values, side="left")`` (sklearn's ``calibration_curve``), computed with a
    multiply and a one-step correction because a binary search over a
    million values per epoch costs ten times more.

    Examples
    --------
    >>> bin_index(np.array([0.0, 0.1, 0.2, 0.21, 1.0]), 5)
    array([0, 0, 0, 1, 4])
    """
    n_bins = _check_bins(n_bins)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.ceil(values * n_bins).astype(np.int64) - 1
    np.clip(idx, 0, n_bins - 1, out=idx)
    # ceil(x * M) can be one off near an edge because x * M is rounded.
    idx += (values > edges[idx + 1]) & (idx < n_bins - 1)
    idx -= (values <= edges[idx]) & (idx > 0)
    return idx


def _bin_sums(conf: np.ndarray, correct: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    idx = bin_index(conf, n_bins)
    counts = np.bincount(idx, minlength=n_bins).astype(np.float64)
    sum_conf = np.bincount(idx, weights=conf, minlength=n_bins)
    sum_acc = np.bincount(idx, weights=correct.astype(np.float64), minlength=n_bins)
    return counts, sum_conf, sum_acc


def reliability_diagram(proba: Any, y_true: Any, *, n_bins: int = N_BINS) -> pd.DataFrame:
    """Top-label reliability-diagram data, one row per bin, empty bins kept.

    Parameters
    ----------
    proba : array-like, shape (n,) or (n, k)
        P(class 1) of a binary model, or class probabilities.
    y_true : array-like of int, shape (n,)
    n_bins : int
        Equal-width bins over [0, 1] (15, as Guo et al.).

    Returns
    -------
    DataFrame
        Columns ``lower``, ``upper`` (bin ``(lower, upper]``), ``count``,
        ``accuracy``, ``confidence`` (means in the bin, NaN when empty) and
        ``gap`` = accuracy - confidence.

    Examples
    --------
    >>> d = reliability_diagram([0.9, 0.8, 0.3, 0.55], [1, 0, 0, 1], n_bins=5)
    >>> d[["count", "accuracy", "confidence"]].round(3).to_numpy().tolist()[2:]
    [[1.0, 1.0, 0.55], [2.0, 0.5, 0.75], [1.0, 1.0, 0.9]]
    """
    return reliability_rows(EpochView(proba, y_true), n_bins=n_bins)


def _view_bin_sums(view: EpochView, n_bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-label bin sums of a view, computed once per view and bin count."""
    cache = view.__dict__.setdefault("_confidence_bins", {})
    if n_bins not in cache:
        cache[n_bins] = _bin_sums(view.confidence, view.correct, n_bins)
    return cache[n_bins]


def reliability_rows(view: EpochView, *, n_bins: int = N_BINS) -> pd.DataFrame:
    """:func:`reliability_diagram` of an :class:`EpochView`."""
    n_bins = _check_bins(n_bins)
    counts, sum_conf, sum_acc = _view_bin_sums(view, n_bins)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(counts > 0, sum_acc / counts, np.nan)
        conf = np.where(counts > 0, sum_conf / counts, np.nan)
    table = pd.DataFrame(
        {"lower": edges[:-1], "upper": edges[1:], "count": counts.astype(np.int64), "accuracy": acc, "confidence": conf}
    )
    table["gap"] = table["accuracy"] - table["confidence"]
    table.index.name = "bin"
    return table


@dataclass(frozen=True)
class CalibrationError(Result):
    """Top-label expected and maximum calibration error of one epoch."""

    ece: float
    mce: float


def calibration_error(proba: Any, y_true: Any, *, n_bins: int = N_BINS) -> CalibrationError:
    """Top-label ECE and MCE with equal-width right-closed bins (Guo et al.).

    Examples
    --------
    >>> e = calibration_error([0.9, 0.8, 0.3, 0.55], [1, 0, 0, 1], n_bins=5)
    >>> round(e.ece, 4), round(e.mce, 4)
    (0.2625, 0.45)
    """
    return _calibration_error(EpochView(proba, y_true), _check_bins(n_bins))


def _calibration_error(view: EpochView, n_bins: int) -> CalibrationError:
    counts, sum_conf, sum_acc = _view_bin_sums(view, n_bins)
    n = counts.sum()
    if n == 0:
        return CalibrationError(math.nan, math.nan)
    # |B_m| * |acc_m - conf_m| = |sum_acc - sum_conf|; empty bins contribute 0.
    weighted = np.abs(sum_acc - sum_conf)
    nonempty = counts > 0
    gaps = weighted[nonempty] / counts[nonempty]
    return CalibrationError(float(weighted.sum() / n), float(gaps.max()))


@dataclass(frozen=True)
class BrierDecomposition(Result):
    """Brier score and Murphy's partition: ``brier = rel - res + unc + residual``."""

    brier: float
    reliability: float
    resolution: float
    uncertainty: float
    residual: float


def brier_decomposition(proba: Any, y_true: Any, *, n_bins: int = N_BINS) -> BrierDecomposition:
    """Brier score with its Murphy (1973) decomposition over equal-width bins.

    Binary: forecasts are P(class 1), outcomes ``y == 1``. k-class: the Brier
    score summed over classes (Brier 1950) and each term the sum of the
    one-vs-rest binary terms. The residual is zero when every forecast in a
    bin is equal.

    Examples
    --------
    Forecasts constant within bins leave no residual:

    >>> b = brier_decomposition([0.2, 0.2, 0.8, 0.8], [0, 1, 1, 1], n_bins=5)
    >>> [round(x, 4) for x in b.to_dict().values()]
    [0.19, 0.065, 0.0625, 0.1875, 0.0]
    """
    p = as_proba(proba)
    y = check_labels(y_true, 2 if p.ndim == 1 else p.shape[1])
    if p.shape[0] != y.shape[0]:
        raise ArgumentError(f"proba has {p.shape[0]} samples but y_true has {y.shape[0]}")
    return _brier(p, y, _check_bins(n_bins))


def _brier(p: np.ndarray, y: np.ndarray, n_bins: int) -> BrierDecomposition:
    if p.ndim == 1:
        return _brier_binary(p, (y == 1).astype(np.float64), n_bins)
    parts = [_brier_binary(p[:, k], (y == k).astype(np.float64), n_bins) for k in range(p.shape[1])]
    names = [f.name for f in fields(BrierDecomposition)]
    return BrierDecomposition(*(float(sum(getattr(part, k) for part in parts)) for k in names))


def _brier_binary(f: np.ndarray, o: np.ndarray, n_bins: int) -> BrierDecomposition:
    n = f.shape[0]
    if n == 0:
        return BrierDecomposition(*([math.nan] * 5))
    idx = bin_index(f, n_bins)
    nk = np.bincount(idx, minlength=n_bins).astype(np.float64)
    sf = np.bincount(idx, weights=f, minlength=n_bins)
    so = np.bincount(idx, weights=o, minlength=n_bins)
    ne = nk > 0
    fbar = np.divide(sf, nk, out=np.zeros(n_bins), where=ne)
    obar_k = np.divide(so, nk, out=np.zeros(n_bins), where=ne)
    obar = float(o.mean())
    brier = float(np.mean((f - o) ** 2))
    rel = float(np.sum(nk * (fbar - obar_k) ** 2) / n)
    res = float(np.sum(nk * (obar_k - obar) ** 2) / n)
    unc = obar * (1.0 - obar)
    # Within-bin variance of the forecasts minus twice their covariance with the
    # outcome, from the same bin sums (Stephenson et al. 2008, eq. 5):
    # sum_i (f_i - fbar_k)^2 - 2 sum_i (f_i - fbar_k) o_i.
    dev = f - fbar[idx]
    residual = float((_dot(dev, dev) - 2.0 * _dot(dev, o)) / n)
    return BrierDecomposition(brier, rel, res, unc, residual)


def _brier_compact(view: EpochView) -> BrierDecomposition:
    """The Brier score from per-sample scores, and the uncertainty term from the labels alone.

    UNC is ``sum_k obar_k (1 - obar_k)`` over the class frequencies
    ``obar_k``, which needs no forecast; reliability, resolution and the
    residual bin every class's forecast and are NaN
    (:data:`dynamics.sources.rundir.compact.UNAVAILABLE`).
    """
    n = view.n_samples
    if n == 0:
        return BrierDecomposition(*([math.nan] * 5))
    obar = np.bincount(view.y_true, minlength=view.n_classes) / n
    unc = float(np.sum(obar * (1.0 - obar)))
    return BrierDecomposition(float(view.brier.mean()), math.nan, math.nan, unc, math.nan)


def binary_auc(proba: Any, y_true: Any) -> float:
    """Area under the ROC curve of a binary model (ties count one half).

    Float16 predictions take only 65,536 values, so their AUC is computed
    exactly from value counts in one pass (as for epochs stored as float16
    codes, in the streaming analysis); other dtypes go through ranks
    (``scipy.stats.rankdata``). NaN when one class is absent.

    Examples
    --------
    >>> binary_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    0.75
    """
    raw = np.asarray(proba)
    if raw.ndim == 2 and raw.shape[1] == 1:
        raw = raw[:, 0]
    if raw.ndim != 1:
        raise ArgumentError(f"binary_auc needs P(class 1) of shape (n,). Received: shape={raw.shape}")
    y = check_labels(y_true, 2)
    as_proba(raw, y.shape[0])  # validation only
    return _auc(raw, y == 1)


def _auc(raw: np.ndarray, positive: np.ndarray, coded: Any = None) -> float:
    from dynamics.encoding import coded as coded_of
    from dynamics.encoding import value_ranks

    n_pos = int(np.count_nonzero(positive))
    n_neg = positive.shape[0] - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    if raw.shape[0] >= _COUNTS_FROM:
        coded = coded if coded is not None else coded_of(raw)
        if coded is not None:
            # Float16 codes: the rank of each code's value (ties shared) keys
            # the counts, so the AUC is exact without a sort.
            key = value_ranks(coded.encoding)[coded.codes.reshape(-1)]
            return _auc_from_keys(key, positive, n_pos, n_neg)
    from scipy.stats import rankdata

    ranks = rankdata(np.asarray(raw, dtype=np.float64))
    u = float(ranks[positive].sum()) - n_pos * (n_pos + 1) / 2.0
    return u / (float(n_pos) * float(n_neg))


def _auc_from_keys(key: np.ndarray, positive: np.ndarray, n_pos: int, n_neg: int) -> float:
    size = int(key.max()) + 1
    pos = np.bincount(key[positive], minlength=size).astype(np.float64)
    neg = np.bincount(key[~positive], minlength=size).astype(np.float64)
    neg_below = np.cumsum(neg) - neg
    wins = _dot(pos, neg_below + 0.5 * neg)
    return wins / (float(n_pos) * float(n_neg))


def calibration_row(view: EpochView, *, n_bins: int = N_BINS) -> dict[str, float]:
    """ECE, MCE, Brier terms and (binary) AUC of one epoch as a table row."""
    err = _calibration_error(view, n_bins)
    if getattr(view, "brier", None) is not None:  # compact storage: per-sample scores, no vectors to bin
        return {"ece": err.ece, "mce": err.mce, **_brier_compact(view)._asdict(), "auc": math.nan}
    brier = _brier(view.proba, view.y_true, n_bins)
    raw = np.asarray(view.raw)
    if raw.ndim == 2 and raw.shape[1] == 1:
        raw = raw[:, 0]
    auc = _auc(raw, view.y_true == 1, view.coded) if view.binary else math.nan
    return {"ece": err.ece, "mce": err.mce, **brier.to_dict(), "auc": auc}


def calibration_table(run: Run, split: str = "val", *, n_bins: int = N_BINS) -> pd.DataFrame:
    """ECE, MCE, Brier decomposition and AUC for every recorded epoch, streaming.

    Temperature scaling is in :func:`dynamics.stats.temperature.temperature_table`.

    Examples
    --------
    >>> from dynamics.simulate import simulate_run
    >>> list(calibration_table(simulate_run("healthy", n=200, epochs=2)).columns)
    ['ece', 'mce', 'brier', 'reliability', 'resolution', 'uncertainty', 'residual', 'auc']
    """
    n_bins = _check_bins(n_bins)
    preds = require_predictions(run, split)
    table = pd.DataFrame.from_dict(
        {v.epoch: calibration_row(v, n_bins=n_bins) for v in iter_views(preds)}, orient="index"
    )
    table.index.name = "epoch"
    return table


def reliability_table(run: Run, split: str = "val", *, n_bins: int = N_BINS) -> pd.DataFrame:
    """Reliability-diagram data of every recorded epoch in long form (epoch, bin).

    Examples
    --------
    >>> from dynamics.simulate import simulate_run
    >>> reliability_table(simulate_run("healthy", n=200, epochs=2)).shape
    (30, 6)
    """
    n_bins = _check_bins(n_bins)
    preds = require_predictions(run, split)
    parts = {v.epoch: reliability_rows(v, n_bins=n_bins) for v in iter_views(preds)}
    return pd.concat(parts, names=["epoch", "bin"])
