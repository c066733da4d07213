"""Temperature scaling (Guo et al. 2017, Sec. 4.2), fitted honestly per epoch.

One temperature ``T > 0`` divides the logits: a sigmoid model's
``log(p / (1 - p))`` or a softmax model's ``log p`` (equal to the logits up to
a per-sample constant, which softmax ignores). ``T`` is fitted by minimising
the negative log-likelihood over ``log T`` with ``scipy.optimize.
minimize_scalar`` (bounded Brent; the NLL is convex in ``1/T``, so unimodal in
``log T``). Dividing logits by ``T`` never changes the predicted class, so
accuracy is unchanged: whatever loss a temperature removes was
miscalibration, and what remains is lost discrimination.

Fitted and scored on the same samples the loss after scaling is optimistic,
so :func:`cross_fitted_temperature` fits on one half of the samples and scores
the other, both ways round, and reports the mean loss over all samples.

Probabilities are clipped to Keras's float32 bounds before taking logits, so
a saturated prediction has a finite logit (about +-15.9), as in Keras's loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from dynamics.errors import ArgumentError
from dynamics.stats.probabilities import (
    CLIP_HIGH,
    CLIP_LOW,
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
    "T_BOUNDS", "cross_fitted_temperature", "default_halves", "fit_temperature", "scale_temperature",
    "temperature_row", "temperature_table", "TemperatureFit", "epoch_position", "kept_epoch", "kept_temperature", "KeptTemperature",
]

#: Temperatures searched (a factor of 100 either way of 1).
T_BOUNDS = (1e-2, 1e2)


class _Problem(NamedTuple):
    """Logits and labels, possibly compressed into weighted distinct values.

    Binary: ``z`` (m,) logits, ``sign`` +1 for class 1 / -1 for class 0,
    ``weight`` (m,) counts. k-class: ``z`` (m, k) log-probabilities shifted
    so that each row's maximum is 0 (softmax ignores the shift), ``sign``
    holds the labels, ``weight`` is None (one sample per row) and ``z_true``
    the shifted log-probability of the label.
    """

    z: np.ndarray
    sign: np.ndarray
    weight: np.ndarray | None
    z_true: np.ndarray | None = None


def _binary_logit(p: np.ndarray) -> np.ndarray:
    pc = np.clip(p, CLIP_LOW, CLIP_HIGH)
    return np.log(pc) - np.log1p(-pc)


def _nll(problem: _Problem, inv_t: float) -> float:
    z, sign, w, z_true = problem
    if z.ndim == 1:
        losses = np.logaddexp(0.0, -sign * z * inv_t)
        return _dot(w, losses) / float(w.sum())
    # Rows have maximum 0, so the log-sum-exp needs no further shift (and is
    # written out because scipy's logsumexp costs five times more per call).
    return float(np.mean(np.log(np.exp(z * inv_t).sum(axis=1)) - z_true * inv_t))


def _keras_loss(problem: _Problem, inv_t: float) -> float:
    """Mean Keras cross-entropy of the temperature-scaled probabilities."""
    z, sign, w, _ = problem
    if z.ndim == 1:
        from scipy.special import expit

        q = np.clip(expit(z * inv_t), CLIP_LOW, CLIP_HIGH)
        losses = -np.log(np.where(sign > 0, q, 1.0 - q))
        return _dot(w, losses) / float(w.sum())
    from scipy.special import softmax

    return float(EpochView(softmax(z * inv_t, axis=1), sign, checked_labels=True).loss.mean())


def _fit(problem: _Problem, bounds: tuple[float, float]) -> float:
    from scipy.optimize import minimize_scalar

    lo, hi = math.log(bounds[0]), math.log(bounds[1])
    result = minimize_scalar(
        lambda log_t: _nll(problem, math.exp(-log_t)), bounds=(lo, hi), method="bounded", options={"xatol": 1e-6}
    )
    return float(math.exp(result.x))


def _problems(
    raw: Any, y: np.ndarray, halves: np.ndarray | None, p: np.ndarray | None = None, coded: Any = None
) -> list[_Problem]:
    """One problem per part of the samples (all of them, or the two halves).

    ``p`` is ``as_proba(raw)`` when the caller has it already (validated);
    ``coded`` the epoch's float16 codes (:class:`~dynamics.encoding.Coded`)
    when it was stored so (raw float16 arrays are their own codes).
    """
    from dynamics.encoding import coded as coded_of

    arr = np.asarray(raw)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if p is None:
        p = as_proba(arr, y.shape[0])
    parts = [np.ones(y.shape[0], dtype=bool)] if halves is None else [halves, ~halves]
    if coded is None:
        coded = coded_of(arr)
    if arr.ndim == 1 and coded is not None:
        # Float16 codes take at most 65,536 distinct values: the NLL is a
        # weighted sum over (value, label) pairs, exact and independent of n.
        key = coded.codes.reshape(-1).astype(np.int64) + 65536 * y
        out = []
        for part in parts:
            counts = np.bincount(key[part], minlength=2 * 65536)
            occupied = np.flatnonzero(counts)
            values = coded.values[occupied % 65536].astype(np.float64)
            p = np.clip(values, 0.0, 1.0)
            sign = np.where(occupied >= 65536, 1.0, -1.0)
            out.append(_Problem(_binary_logit(p), sign, counts[occupied].astype(np.float64)))
        return out
    if p.ndim == 1:
        z = _binary_logit(p)
        sign = np.where(y == 1, 1.0, -1.0)
        return [_Problem(z[part], sign[part], np.ones(int(part.sum()))) for part in parts]
    z = np.log(np.clip(p, CLIP_LOW, CLIP_HIGH))
    z -= z.max(axis=1, keepdims=True)
    z_true = z[np.arange(z.shape[0]), y]
    return [_Problem(z[part], y[part], None, z_true[part]) for part in parts]


def _check_bounds(bounds: tuple[float, float]) -> tuple[float, float]:
    lo, hi = float(bounds[0]), float(bounds[1])
    if not (0 < lo < hi < math.inf):
        raise ArgumentError(f"bounds must satisfy 0 < low < high. Received: bounds={bounds!r}")
    return lo, hi


def fit_temperature(proba: Any, y_true: Any, *, bounds: tuple[float, float] = T_BOUNDS) -> float:
    """The temperature that minimises the NLL of these predictions.

    Parameters
    ----------
    proba : array-like, shape (n,) or (n, k)
        P(class 1) of a binary model, or class probabilities.
    y_true : array-like of int, shape (n,)
    bounds : (float, float)
        Search interval for ``T``.

    Returns
    -------
    float
        ``T > 1`` means the predictions were overconfident.

    Examples
    --------
    Predictions made from logits that are twice too large give T near 2:

    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(0, 2, 20000)
    >>> y = (rng.random(20000) < 1 / (1 + np.exp(-z))).astype(int)
    >>> round(fit_temperature(1 / (1 + np.exp(-2 * z)), y), 1)
    2.0
    """
    y = check_labels(y_true)
    (problem,) = _problems(proba, y, None)
    return _fit(problem, _check_bounds(bounds))


def scale_temperature(proba: Any, temperature: float) -> np.ndarray:
    """Apply a temperature to probabilities (logits divided by ``temperature``).

    Examples
    --------
    >>> scale_temperature([0.9, 0.5], 2.0).round(4)
    array([0.75, 0.5 ])
    """
    if not temperature > 0:
        raise ArgumentError(f"temperature must be > 0. Received: temperature={temperature!r}")
    p = as_proba(proba)
    if p.ndim == 1:
        from scipy.special import expit

        return expit(_binary_logit(p) / temperature)
    from scipy.special import softmax

    return softmax(np.log(np.clip(p, CLIP_LOW, CLIP_HIGH)) / temperature, axis=1)


@dataclass(frozen=True)
class TemperatureFit(Result):
    """Temperature scaling of one epoch, fitted on all samples and cross-fitted.

    ``temperature`` is fitted on all samples; ``temperature_a`` and
    ``temperature_b`` on each half; ``loss`` is the Keras loss before scaling
    and ``loss_scaled`` the mean loss of every sample scaled with the
    temperature fitted on the *other* half.
    """

    temperature: float
    temperature_a: float
    temperature_b: float
    loss: float
    loss_scaled: float


def default_halves(n: int, seed: int = 0) -> np.ndarray:
    """A fixed random split of ``n`` samples into two halves (True = first half).

    Examples
    --------
    >>> int(default_halves(10).sum())
    5
    """
    return np.random.default_rng(seed).permutation(n) < (n + 1) // 2


def cross_fitted_temperature(
    proba: Any,
    y_true: Any,
    *,
    halves: Any = None,
    seed: int = 0,
    bounds: tuple[float, float] = T_BOUNDS,
) -> TemperatureFit:
    """Fit a temperature on each half of the samples and score the other half.

    Parameters
    ----------
    proba : array-like, shape (n,) or (n, k)
    y_true : array-like of int, shape (n,)
    halves : array-like of bool, shape (n,), optional
        Which samples form the first half; by default :func:`default_halves`
        with ``seed`` (use the same split for every epoch of a run).
    bounds : (float, float)
        Search interval for ``T``.

    Returns
    -------
    TemperatureFit

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> z = rng.normal(0, 2, 20000)
    >>> y = (rng.random(20000) < 1 / (1 + np.exp(-z))).astype(int)
    >>> fit = cross_fitted_temperature(1 / (1 + np.exp(-3 * z)), y)
    >>> round(fit.temperature), fit.loss_scaled < fit.loss
    (3, True)
    """
    y = check_labels(y_true)
    n = y.shape[0]
    if n < 2:
        raise ArgumentError(f"cross-fitting needs at least 2 samples. Received: n={n}")
    mask = default_halves(n, seed) if halves is None else np.asarray(halves, dtype=bool)
    if mask.shape != (n,) or mask.all() or not mask.any():
        raise ArgumentError("halves must be a boolean mask of one entry per sample with both halves non-empty")
    return _cross_fit(proba, y, mask, _check_bounds(bounds))


def _cross_fit(
    raw: Any, y: np.ndarray, mask: np.ndarray, bounds: tuple[float, float], p: np.ndarray | None = None,
    coded: Any = None,
) -> TemperatureFit:
    part_a, part_b = _problems(raw, y, mask, p, coded)
    full = _merge(part_a, part_b)
    t_all = _fit(full, bounds)
    t_a, t_b = _fit(part_a, bounds), _fit(part_b, bounds)
    n_a, n_b = _size(part_a), _size(part_b)
    loss_b_with_a = _keras_loss(part_b, 1.0 / t_a)
    loss_a_with_b = _keras_loss(part_a, 1.0 / t_b)
    scaled = (n_a * loss_a_with_b + n_b * loss_b_with_a) / (n_a + n_b)
    return TemperatureFit(t_all, t_a, t_b, _keras_loss(full, 1.0), float(scaled))


def _size(problem: _Problem) -> float:
    return float(problem.weight.sum()) if problem.weight is not None else float(problem.z.shape[0])


def _merge(a: _Problem, b: _Problem) -> _Problem:
    weight = None if a.weight is None else np.concatenate([a.weight, b.weight])
    z_true = None if a.z_true is None else np.concatenate([a.z_true, b.z_true])
    return _Problem(np.concatenate([a.z, b.z]), np.concatenate([a.sign, b.sign]), weight, z_true)


def temperature_row(view: EpochView, halves: np.ndarray, *, bounds: tuple[float, float] = T_BOUNDS) -> dict[str, float]:
    """:func:`cross_fitted_temperature` of an :class:`EpochView` as a table row."""
    return _cross_fit(view.raw, view.y_true, halves, bounds, view.proba, view.coded).to_dict()


def temperature_table(run: Run, split: str = "val", *, seed: int = 0) -> pd.DataFrame:
    """Cross-fitted temperature scaling of every recorded epoch, streaming.

    The same random halves (``seed``) are used for every epoch. Columns are
    those of :class:`TemperatureFit`; the index is the 1-based epoch.

    Examples
    --------
    >>> from dynamics.simulate import simulate_run
    >>> t = temperature_table(simulate_run("overconfident", n=2000, epochs=10))
    >>> bool(t["temperature"].iloc[-1] > 1.5)
    True
    """
    preds = require_predictions(run, split)
    halves = default_halves(preds.n_samples, seed)
    table = pd.DataFrame.from_dict({v.epoch: temperature_row(v, halves) for v in iter_views(preds)}, orient="index")
    table.index.name = "epoch"
    return table


class KeptTemperature(NamedTuple):
    """The temperature of the epoch a run would keep, fitted on all its validation samples."""

    epoch: int  #: the kept epoch (lowest mean validation loss of the recorded predictions, earliest on ties)
    temperature: float  #: fitted on all samples (divide the logits by it)
    loss: float  #: the Keras loss at that epoch before scaling
    loss_scaled: float  #: after scaling, cross-fitted (each half scaled with the other half's temperature)


def kept_epoch(preds: Any) -> int:
    """Position of the recorded epoch with the lowest mean loss (earliest on ties), streaming once."""
    means = [float(v.loss.mean()) for v in iter_views(preds)]
    return int(np.argmin(means))


def epoch_position(preds: Any, epoch: int | None) -> int:
    """Position of a recorded ``epoch`` in ``preds`` (the kept epoch, lowest val_loss, when None).

    >>> from dynamics.run import Predictions
    >>> preds = Predictions([1, 2, 3], np.array([1, 0]), [np.array([0.6, 0.4])] * 3)
    >>> epoch_position(preds, 3)
    2
    """
    if epoch is None:
        return kept_epoch(preds)
    matches = np.flatnonzero(np.asarray(preds.epochs) == epoch)
    if not matches.size:
        raise ArgumentError(f"epoch {epoch} was not recorded (recorded: {preds.epochs[0]}-{preds.epochs[-1]}). "
                            f"Received: epoch={epoch!r}")
    return int(matches[0])


def kept_temperature(run: Any, *, epoch: int | None = None, seed: int = 0) -> KeptTemperature:
    """Temperature scaling of the epoch to keep: what :mod:`dynamics.keras.temperature_layer` hands to Keras.

    Parameters
    ----------
    run : Run
        A recorded run with full probability vectors (compact storage
        cannot be rescaled: see :data:`dynamics.stats.compact.UNAVAILABLE`).
    epoch : int, optional
        The 1-based epoch; by default the one with the lowest validation
        loss, i.e. the weights ``EarlyStopping(restore_best_weights=True)``
        would keep.

    Examples
    --------
    >>> from dynamics.simulate import simulate_run
    >>> k = kept_temperature(simulate_run("overconfident", n=2000, epochs=10), epoch=10)
    >>> k.epoch, k.temperature > 1.5, k.loss_scaled < k.loss
    (10, True, True)
    """
    from dynamics.stats.views import view_at

    preds = require_predictions(run, "val")
    if getattr(preds, "compact", False):
        from dynamics.stats.compact import UNAVAILABLE

        raise ArgumentError(f"no temperature can be fitted with compact storage: {UNAVAILABLE['temperature']}")
    pos = epoch_position(preds, epoch)
    view = view_at(preds, pos)
    fit = temperature_row(view, default_halves(view.n_samples, seed))
    return KeptTemperature(int(preds.epochs[pos]), fit["temperature"], fit["loss"], fit["loss_scaled"])
