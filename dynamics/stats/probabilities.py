"""One epoch's predictions seen sample by sample: what every statistic shares.

A binary (sigmoid) model gives ``proba`` of shape ``(n,)`` = P(class 1); a
k-class model gives ``(n, k)``. :class:`EpochView` turns one epoch's array into
float64 per-sample quantities -- probability of the true class, predicted
class, correctness, top-class confidence, entropy and Keras's cross-entropy --
each computed at most once, on first use, so that the statistics streaming
over the epochs of a run share them instead of recomputing them.

Conventions (the ones Keras uses, so the numbers match what ``fit`` prints):

* the predicted class of a binary model is 1 when ``p > 0.5`` (Keras's
  ``binary_accuracy`` threshold), of a k-class model the first argmax;
* the per-sample loss is Keras's cross-entropy on probabilities: clip to
  ``[1e-7, 1 - 1e-7]`` *as float32 numbers* (Keras clips in the model's
  float32, so the upper bound is 0.99999988 and the largest binary loss is
  15.942, not 16.118), then ``-log`` of the true-class probability; k-class
  rows are first divided by their sum, as ``categorical_crossentropy`` does;
* k-class rows are normalised the same way for every other statistic, so that
  float16 storage (rows summing to 0.999) does not bias confidences.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from dynamics.errors import ArgumentError, InputError

if TYPE_CHECKING:
    from dynamics.run import Run

__all__ = [
    "CLIP_HIGH", "CLIP_LOW", "KERAS_EPSILON", "as_proba", "check_labels", "EpochView",
    "predicted_class", "predictive_entropy", "require_predictions", "sample_loss", "true_class_proba",
]

#: Keras's fuzz factor (``keras.config.epsilon()``).
KERAS_EPSILON = 1e-7
#: The clip bounds as Keras applies them: float32 numbers.
CLIP_LOW = float(np.float32(KERAS_EPSILON))
CLIP_HIGH = float(np.float32(1.0) - np.float32(KERAS_EPSILON))
#: Probabilities may exceed [0, 1] by this much (float rounding) before they
#: are rejected; they are clipped to [0, 1] afterwards.
_RANGE_TOLERANCE = 1e-3


def check_labels(y_true: Any, n_classes: int | None = None) -> np.ndarray:
    """Return ``y_true`` as a 1-D int64 array, checking it against ``n_classes``.

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, 1)
        Integer class labels (floats that are whole numbers are accepted).
    n_classes : int, optional
        Labels must lie in ``[0, n_classes)``.

    Returns
    -------
    ndarray of int64, shape (n,)

    Examples
    --------
    >>> check_labels([0.0, 1.0, 1.0])
    array([0, 1, 1])
    """
    y = np.asarray(y_true)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ArgumentError(f"y_true must be one label per sample (shape (n,)). Received: shape={y.shape}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ArgumentError("y_true must hold integer class labels; it holds non-integer numbers")
    elif y.dtype.kind not in "iub":
        raise ArgumentError(f"y_true must hold integer class labels. Received: dtype={y.dtype}")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise ArgumentError(f"class labels must be >= 0. Received: min label={int(y.min())}")
    if n_classes is not None and y.size and y.max() >= n_classes:
        raise ArgumentError(
            f"class label {int(y.max())} does not exist in a {n_classes}-class model "
            f"(labels must be < {n_classes})"
        )
    return y


def as_proba(proba: Any, n_samples: int | None = None, *, epoch: int | None = None) -> np.ndarray:
    """Validate one epoch's probabilities and return them as float64.

    Binary ``(n,)`` or ``(n, 1)`` arrays become ``(n,)``; k-class rows are
    divided by their sum. Values may exceed ``[0, 1]`` by float rounding
    (1e-3) and are then clipped; NaN, infinities or larger excursions raise
    :class:`~dynamics.errors.ArgumentError`.

    Examples
    --------
    >>> as_proba(np.array([[0.2, 0.6], [0.5, 0.5]], dtype=np.float16))
    array([[0.25, 0.75],
           [0.5 , 0.5 ]])
    """
    where = f" at epoch {epoch}" if epoch is not None else ""
    p = np.asarray(proba)
    if p.ndim == 2 and p.shape[1] == 1:
        p = p[:, 0]
    if p.ndim not in (1, 2) or (p.ndim == 2 and p.shape[1] < 2):
        raise ArgumentError(f"predictions{where} must have shape (n,) or (n, k>=2). Received: shape={p.shape}")
    if n_samples is not None and p.shape[0] != n_samples:
        raise ArgumentError(f"predictions{where} hold {p.shape[0]} samples but there are {n_samples} labels")
    p = p.astype(np.float64)
    if p.size:
        lo, hi = float(p.min()), float(p.max())
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ArgumentError(f"predictions{where} contain NaN or infinite values (did training diverge?)")
        if lo < -_RANGE_TOLERANCE or hi > 1 + _RANGE_TOLERANCE:
            raise ArgumentError(
                f"predictions{where} are not probabilities: values range from {lo:.4g} to {hi:.4g} "
                "(logits? record probabilities, or convert them with a sigmoid/softmax)"
            )
        if lo < 0 or hi > 1:
            np.clip(p, 0.0, 1.0, out=p)
    if p.ndim == 2:
        total = p.sum(axis=1, keepdims=True)
        if np.any(total <= 0):
            raise ArgumentError(f"predictions{where} have a row of zeros; class probabilities must sum to 1")
        p /= total
    return p


def sample_loss(proba: Any, y_true: Any) -> np.ndarray:
    """Per-sample cross-entropy exactly as Keras computes it from probabilities.

    The mean of the result is what ``model.fit`` prints as ``val_loss`` for
    ``binary_crossentropy`` / ``(sparse_)categorical_crossentropy`` (no
    regularisation terms), up to Keras's float32 rounding.

    Parameters
    ----------
    proba : array-like, shape (n,) or (n, k)
        P(class 1) for a binary model, or class probabilities.
    y_true : array-like of int, shape (n,)

    Returns
    -------
    ndarray of float64, shape (n,)

    Examples
    --------
    >>> sample_loss([0.8, 0.8, 1.0], [1, 0, 0]).round(4)
    array([ 0.2231,  1.6094, 15.9424])
    """
    return EpochView(proba, y_true).loss


def true_class_proba(proba: Any, y_true: Any) -> np.ndarray:
    """Probability the model gives the true class of each sample.

    Examples
    --------
    >>> true_class_proba([0.8, 0.3], [1, 0])
    array([0.8, 0.7])
    """
    return EpochView(proba, y_true).p_true


def predicted_class(proba: Any) -> np.ndarray:
    """Class Keras's accuracy counts as predicted: ``p > 0.5`` or the first argmax.

    Examples
    --------
    >>> predicted_class([0.5, 0.51])
    array([0, 1])
    >>> predicted_class([[0.2, 0.4, 0.4]])
    array([1])
    """
    p = as_proba(proba)
    return _predicted(p)


def _predicted(p: np.ndarray) -> np.ndarray:
    if p.ndim == 1:
        return (p > 0.5).astype(np.int64)
    return np.argmax(p, axis=1).astype(np.int64)


class EpochView:
    """Per-sample quantities of one epoch's predictions, computed on first use.

    Parameters
    ----------
    proba : array-like, shape (n,) or (n, k)
        One epoch's predictions (may be a float16 memory map).
    y_true : array-like of int, shape (n,)
    epoch : int, optional
        1-based epoch, for error messages and tables.
    checked_labels : bool
        True when ``y_true`` is already a validated int64 array (streaming
        callers validate the labels once, not every epoch).
    coded : Coded, optional
        The epoch as float16 codes (:class:`dynamics.encoding.Coded`)
        when it was stored so; raw float16 arrays are their own codes.
        Statistics that count values (AUC, temperature fits) use them.

    Attributes (lazy)
    -----------------
    proba : float64 probabilities (k-class rows normalised).
    pred, correct, p_true, confidence, loss, entropy : per-sample arrays.

    Examples
    --------
    >>> v = EpochView([0.9, 0.2, 0.6], [1, 1, 0])
    >>> v.correct, v.confidence
    (array([ True, False, False]), array([0.9, 0.8, 0.6]))
    """

    def __init__(
        self, proba: Any, y_true: Any, *, epoch: int | None = None, checked_labels: bool = False, coded: Any = None
    ) -> None:
        self.epoch = epoch
        self.raw = proba
        self.y_true = y_true if checked_labels else check_labels(y_true)
        self.n_samples = int(self.y_true.shape[0])
        self._coded = coded

    @cached_property
    def coded(self) -> Any:
        """The epoch's float16 codes and their values (:class:`~dynamics.encoding.Coded`), or None."""
        from dynamics.encoding import coded

        c = self._coded if self._coded is not None else coded(self.raw)
        if c is not None and c.codes.ndim == 2 and c.codes.shape[1] == 1:
            c = c._replace(codes=c.codes[:, 0])
        return c

    @cached_property
    def proba(self) -> np.ndarray:
        p = as_proba(self.raw, self.n_samples, epoch=self.epoch)
        if p.ndim == 1:
            bad = self.y_true > 1
        else:
            bad = self.y_true >= p.shape[1]
        if bad.any():
            k = 2 if p.ndim == 1 else p.shape[1]
            raise ArgumentError(
                f"class label {int(self.y_true[bad][0])} does not exist in a {k}-class model "
                f"(labels must be < {k})"
            )
        return p

    @property
    def binary(self) -> bool:
        return self.proba.ndim == 1

    @property
    def n_classes(self) -> int:
        return 2 if self.binary else int(self.proba.shape[1])

    @cached_property
    def pred(self) -> np.ndarray:
        return _predicted(self.proba)

    @cached_property
    def correct(self) -> np.ndarray:
        return self.pred == self.y_true

    @cached_property
    def p_true(self) -> np.ndarray:
        p = self.proba
        if p.ndim == 1:
            return np.where(self.y_true == 1, p, 1.0 - p)
        return p[np.arange(self.n_samples), self.y_true]

    @cached_property
    def confidence(self) -> np.ndarray:
        p = self.proba
        if p.ndim == 1:
            return np.maximum(p, 1.0 - p)
        return p.max(axis=1)

    @cached_property
    def loss(self) -> np.ndarray:
        p = self.proba
        if p.ndim == 1:
            # Keras clips P(class 1), then takes log(p) or log(1 - p).
            clipped = np.clip(p, CLIP_LOW, CLIP_HIGH)
            q = np.where(self.y_true == 1, clipped, 1.0 - clipped)
        else:
            q = np.clip(self.p_true, CLIP_LOW, CLIP_HIGH)
        return -np.log(q)

    @cached_property
    def entropy(self) -> np.ndarray:
        """Predictive entropy in nats (0 log 0 = 0)."""
        p = self.proba
        if p.ndim == 1:
            return _xlogx(p) + _xlogx(1.0 - p)
        return _xlogx(p).sum(axis=1)


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product of two 1-D float arrays without BLAS.

    ``np.dot`` hands 1-D products to the BLAS library, whose threads cost
    milliseconds per call on a busy machine (2 ms for 12,000 numbers,
    measured here); ``einsum`` loops in numpy's own C code.
    """
    return float(np.einsum("i,i->", a, b))


def _xlogx(p: np.ndarray) -> np.ndarray:
    """``-p log p`` with the limit 0 at p = 0 (scipy.special.entr, float64)."""
    from scipy.special import entr

    return entr(p)


def predictive_entropy(proba: Any) -> np.ndarray:
    """Entropy of each prediction in nats (binary: of the Bernoulli P(class 1)).

    Examples
    --------
    >>> predictive_entropy([0.5, 1.0]).round(4)
    array([0.6931, 0.    ])
    """
    p = as_proba(proba)
    return _xlogx(p) + _xlogx(1.0 - p) if p.ndim == 1 else _xlogx(p).sum(axis=1)


def require_predictions(run: Run, split: str = "val") -> Any:
    """The run's :class:`~dynamics.run.Predictions` for ``split`` ("val" or "train").

    Raises :class:`~dynamics.errors.InputError` with one line saying why
    when the run has none (a parsed log) or the split was not recorded.
    """
    if split not in ("val", "train"):
        raise ArgumentError(f"split must be 'val' or 'train'. Received: split={split!r}")
    preds = run.predictions if split == "val" else run.train_predictions
    if preds is None:
        what = "validation" if split == "val" else "training-subset"
        raise InputError(
            f"{run.label} has no recorded {what} predictions: per-sample statistics need a run "
            "recorded with dynamics.PredictionRecorder or `dynamics train`, not a log"
        )
    if len(preds) == 0:
        raise InputError(f"{run.label} has recorded predictions but no finished epoch")
    return preds
