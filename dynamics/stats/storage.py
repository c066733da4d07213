"""What float16 *probabilities* leave unknown about the loss.

Run directories of run format 1 (the recorder before it stored float16
logits, see :mod:`dynamics.encoding`) hold float16 probabilities, and
so may predictions built by hand. A float16 number has 11 significant bits:
near 0 it is fine (subnormals reach 6e-8, below Keras's 1e-7 clipping), but
just below 1 its spacing is 2**-11 = 4.9e-4, so every probability above
0.99976 is stored as exactly 1.0. For a binary (sigmoid)
model that is the probability of class 1: a sample of class 0 that the model
calls class 1 with confidence above 0.99976 -- a confident mistake, the very
thing a rising val_loss is made of -- is stored as P(class 1) = 1, and its
loss, which Keras computed from the float32 value (anything from 8.3 to
15.9 nats), is recomputed as the clipping limit 15.94. Close to 1 the
rounding still matters: at a stored 0.9995 the loss is only known to within
about 0.3 nats.

:func:`loss_interval` gives, for each stored value, the range of Keras
losses of every float32 probability that rounds to it; averaged over a
group of samples it is the range the group's true mean loss lies in. A
logged val_loss outside the range of the stored values means something else
differs (a different validation set, sample weights, a regularization term).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from dynamics.stats.probabilities import CLIP_HIGH, CLIP_LOW
from dynamics.stats.result import Result

__all__ = ["FLOAT16_TOP", "loss_interval", "rounding_interval", "stored_loss", "StoredLoss"]

#: Probabilities of class 1 stored as float16 at or above this are within one
#: rounding step of 1 (the first float16 below 1 is 1 - 2**-11).
FLOAT16_TOP = float(np.float16(1.0) - np.float16(2.0**-11))


def rounding_interval(stored: Any) -> tuple[np.ndarray, np.ndarray]:
    """The range of real numbers that round to each stored float16 value (round to nearest).

    Parameters
    ----------
    stored : array-like of float16
        Stored probabilities.

    Returns
    -------
    (low, high) : ndarray of float64
        Midpoints to the neighbouring float16 numbers, clipped to [0, 1].

    Examples
    --------
    >>> lo, hi = rounding_interval(np.array([1.0, 0.5, 0.0], dtype=np.float16))
    >>> lo.tolist(), hi.tolist()
    ([0.999755859375, 0.4998779296875, 0.0], [1.0, 0.500244140625, 2.9802322387695312e-08])
    """
    v = np.asarray(stored, dtype=np.float16)
    down = np.nextafter(v, np.float16(-np.inf))
    up = np.nextafter(v, np.float16(np.inf))
    x = v.astype(np.float64)
    low = np.clip((x + down.astype(np.float64)) / 2, 0.0, 1.0)
    high = np.clip((x + up.astype(np.float64)) / 2, 0.0, 1.0)
    return low, high


def _binary_loss(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    pc = np.clip(p, CLIP_LOW, CLIP_HIGH)
    return -np.log(np.where(y == 1, pc, 1.0 - pc))


def loss_interval(stored: Any, y_true: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample range of Keras's binary cross-entropy given float16-stored P(class 1).

    The loss is monotone in p (falling for class 1, rising for class 0), so
    its extremes are at the ends of :func:`rounding_interval`.

    Parameters
    ----------
    stored : array-like of float16, shape (n,)
        Stored P(class 1) of a sigmoid model.
    y_true : array-like of int, shape (n,)

    Returns
    -------
    (low, high) : ndarray of float64
        The least and the largest loss consistent with the stored value.

    Examples
    --------
    A class-0 sample stored as P(class 1) = 1.0 is a mistake of 8.3 to 15.9 nats:

    >>> lo, hi = loss_interval(np.array([1.0, 0.25], dtype=np.float16), [0, 1])
    >>> np.round(lo, 2).tolist(), np.round(hi, 2).tolist()
    ([8.32, 1.39], [15.94, 1.39])
    """
    y = np.asarray(y_true)
    low_p, high_p = rounding_interval(stored)
    a, b = _binary_loss(low_p, y), _binary_loss(high_p, y)
    return np.minimum(a, b), np.maximum(a, b)


@dataclass(frozen=True)
class StoredLoss(Result):
    """One epoch of a float16-stored binary model: how well the stored values pin the loss down.

    ``stored_mean`` is the mean loss recomputed from the stored values;
    ``low``/``high`` the range of the true mean; ``wrong_low``/``wrong_high``
    the same for the mean over the samples misclassified as stored;
    ``saturated`` counts class-0 samples stored as P(class 1) = 1.
    """

    stored_mean: float
    low: float
    high: float
    wrong_low: float
    wrong_high: float
    saturated: int


@lru_cache(maxsize=1)
def _tables() -> tuple[np.ndarray, np.ndarray]:
    """Per float16 bit pattern: loss (stored, least, largest) for class 0 and 1, and whether it predicts class 1.

    There are only 65,536 float16 values, so a lookup replaces per-sample
    logarithms: one gather per sample and statistic (hand-written for speed:
    ``stored_loss`` runs on every recorded epoch of a run).
    """
    v = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    # Only [0, 1] is a probability (as_proba clips small excursions the same way).
    x = np.clip(np.where(np.isfinite(v), v, np.float16(0)), np.float16(0), np.float16(1))
    low_p, high_p = rounding_interval(x)
    mid = x.astype(np.float64)
    loss = np.empty((3, 2, 1 << 16))
    for y in (0, 1):
        a, b = _binary_loss(low_p, np.full(x.shape, y)), _binary_loss(high_p, np.full(x.shape, y))
        loss[0, y], loss[1, y], loss[2, y] = _binary_loss(mid, np.full(x.shape, y)), np.minimum(a, b), np.maximum(a, b)
    wrong = np.stack([mid > 0.5, ~(mid > 0.5)])  # by label: class 0 is wrong when class 1 is predicted
    return loss.reshape(3, -1), wrong.reshape(-1)


def stored_loss(stored: Any, y_true: Any) -> StoredLoss:
    """Summarise :func:`loss_interval` for one epoch of float16 P(class 1).

    Parameters
    ----------
    stored : array-like of float16, shape (n,)
    y_true : array-like of int (0 or 1), shape (n,)

    Examples
    --------
    >>> s = stored_loss(np.array([1.0, 0.75], dtype=np.float16), [0, 1])
    >>> s.saturated, round(s.stored_mean, 3), round(s.low, 2), round(s.high, 2), round(s.wrong_low, 2)
    (1, 8.115, 4.3, 8.11, 8.32)
    """
    bits = np.ascontiguousarray(np.asarray(stored, dtype=np.float16)).view(np.uint16)
    y = np.asarray(y_true).astype(np.intp)
    loss, wrong = _tables()
    # How often each (label, stored value) occurs; every sum below is a dot product with a table.
    counts = np.bincount(y * (1 << 16) + bits, minlength=2 << 16)
    seen = np.flatnonzero(counts)  # at most 131,072 cells; far fewer in practice
    c = counts[seen].astype(np.float64)
    # Elementwise products and sums, not ``@``: BLAS dot products on this size stall under thread contention.
    lo, hi, mid, wr = loss[1][seen], loss[2][seen], loss[0][seen], wrong[seen]
    n, n_wrong = c.sum(), c[wr].sum()
    nan = float("nan")
    return StoredLoss(
        stored_mean=float((c * mid).sum() / n) if n else nan,
        low=float((c * lo).sum() / n) if n else nan,
        high=float((c * hi).sum() / n) if n else nan,
        wrong_low=float((c[wr] * lo[wr]).sum() / n_wrong) if n_wrong else nan,
        wrong_high=float((c[wr] * hi[wr]).sum() / n_wrong) if n_wrong else nan,
        saturated=int(counts[_ONE]),
    )


_ONE = int(np.array(1.0, dtype=np.float16).view(np.uint16))
