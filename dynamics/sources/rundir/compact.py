"""Compact storage for many classes: a few numbers per sample instead of K probabilities.

With K = 1,000 classes the log-space float16 storage costs 2,000 bytes per
sample and epoch (50,000 samples x 100 epochs: 10 GB). Almost every
statistic of :func:`dynamics.diagnosis.samples.stories.explain` needs only a handful of numbers
per sample, so ``compact-float16`` stores one record per sample:

``top_class`` (uint16, or uint32 above 65,536 classes), shape ``(top_k,)``
    the ``top_k`` most probable classes, most probable first (ties: the
    lower class first, so ``top_class[0]`` is Keras's first argmax);
``top_logp`` (float16, ``(top_k,)``)
    their log-probabilities;
``true_logp`` (float16)
    the log-probability of the sample's label;
``entropy`` (float16)
    the predictive entropy in nats;
``brier`` (float16)
    the sample's multi-class Brier score ``sum_k (p_k - [y = k])**2``
    (from ``sum_k p_k**2 - 2 p_y + 1``).

Log-probabilities are clipped at ``log 1e-7`` as in ``logprob-float16``, so
the loss of every sample is kept to 0.004 nats. Rows are divided by their
sum (in float64) before anything is computed, as the full-vector statistics
do. With ``top_k = 3`` a record is 18 bytes (26 with ``top_k = 5``).

What a record cannot give: the other K - top_k probabilities. Hence the
statistics that need every class -- the Murphy decomposition of the Brier
score into reliability / resolution (binned one-vs-rest forecasts of every
class) and temperature scaling (the softmax normaliser of ``p ** (1/T)``
sums over all K classes) -- are reported as not available
(:data:`dynamics.stats.compact.UNAVAILABLE`), never approximated.

This module imports numpy and the standard library only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from dynamics.encoding import COMPACT16, EPSILON

#: Rows encoded at a time: bounds the float64 temporaries to ~40 MB at K = 1,000.
_CHUNK = 5_000



def compact_dtype(top_k: int, n_classes: int) -> np.dtype:
    """The record of one sample for ``top_k`` of ``n_classes`` classes.

    Examples
    --------
    >>> compact_dtype(3, 1000).itemsize, compact_dtype(5, 1000).itemsize
    (18, 26)
    """
    index = np.uint16 if n_classes <= 1 << 16 else np.uint32
    return np.dtype([("top_class", index, (int(top_k),)), ("top_logp", np.float16, (int(top_k),)),
                     ("true_logp", np.float16), ("entropy", np.float16), ("brier", np.float16)])


def check_top_k(top_k: Any, n_classes: int | None = None) -> int:
    """``top_k`` as an int, checked against the number of classes when known."""
    if not isinstance(top_k, (int, np.integer)) or isinstance(top_k, bool) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer. Received: top_k={top_k!r}")
    if n_classes is not None and top_k >= n_classes:
        raise ValueError(
            f"compact storage keeps the top_k of the classes, so top_k must be below the {n_classes} classes "
            f"(store all of them with the default storage). Received: top_k={top_k}"
        )
    return int(top_k)


def encode_compact(proba: Any, y_true: Any, top_k: int) -> np.ndarray:
    """One epoch's class probabilities ``(n, K)`` as compact records ``(n,)``.

    Examples
    --------
    >>> r = encode_compact(np.array([[0.1, 0.6, 0.3], [0.5, 0.25, 0.25]]), np.array([2, 0]), 2)
    >>> r["top_class"].tolist(), np.exp(r["true_logp"].astype(float)).round(3).tolist()
    ([[1, 2], [0, 1]], [0.3, 0.5])
    >>> r["brier"].astype(float).round(3).tolist()  # (0.01 + 0.36 + 0.49), (0.25 + 0.0625 + 0.0625)
    [0.86, 0.375]
    """
    p_all = np.asarray(proba)
    y_all = np.asarray(y_true).astype(np.int64)
    if p_all.ndim != 2 or p_all.shape[1] < 2:
        raise ValueError(f"compact storage stores class probabilities of shape (n, k). Received: shape={p_all.shape}")
    n, k = p_all.shape
    top_k = check_top_k(top_k, k)
    if y_all.shape != (n,):
        raise ValueError(f"compact storage needs one label per sample: {n} rows but labels of shape {y_all.shape}")
    out = np.empty(n, dtype=compact_dtype(top_k, k))
    log_eps = np.log(EPSILON)
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        p = p_all[start:stop].astype(np.float64)
        y = y_all[start:stop]
        total = p.sum(axis=1, keepdims=True)
        np.divide(p, total, out=p, where=total > 0)
        rows = np.arange(stop - start)
        top = np.argpartition(-p, top_k - 1, axis=1)[:, :top_k]
        vals = np.take_along_axis(p, top, axis=1)
        order = np.lexsort((top, -vals), axis=1)  # by probability, then the lower class first
        top = np.take_along_axis(top, order, axis=1)
        _first_argmax(top, p)
        vals = p[rows[:, None], top]
        p_true = p[rows, y]
        from scipy.special import entr

        chunk = out[start:stop]
        chunk["top_class"] = top
        chunk["top_logp"] = np.maximum(np.log(np.maximum(vals, EPSILON)), log_eps)
        chunk["true_logp"] = np.log(np.maximum(p_true, EPSILON))
        chunk["entropy"] = entr(p).sum(axis=1)
        chunk["brier"] = np.maximum(np.einsum("ij,ij->i", p, p) - 2.0 * p_true + 1.0, 0.0)
    return out


def _first_argmax(top: np.ndarray, p: np.ndarray) -> None:
    """Put each row's first argmax first (ties beyond the kept classes can hide it)."""
    first = np.argmax(p, axis=1)
    bad = np.flatnonzero(top[:, 0] != first)
    for i in bad:  # only rows whose maximum is tied: rare
        row = top[i]
        where = np.flatnonzero(row == first[i])
        if where.size:
            row[where[0]] = row[0]
        row[0] = first[i]


class CompactEpochs(Sequence):
    """Per-epoch compact records (memory maps or arrays), with the facts needed to read them.

    The value of :attr:`dynamics.run.Predictions.proba` for a run stored
    compactly: ``epochs[i]`` is epoch ``i``'s structured array of
    :func:`compact_dtype`. There are no full probability vectors to give;
    :func:`dynamics.stats.views.view_at` turns a record array into a
    view that computes what the records allow.

    Examples
    --------
    >>> e = CompactEpochs([encode_compact(np.eye(4)[[0, 1]] * 0.7 + 0.075, [0, 1], 2)], top_k=2, n_classes=4)
    >>> len(e), e.n_classes, e[0]["top_class"][:, 0].tolist()
    (1, 4, [0, 1])
    """

    encoding = COMPACT16

    def __init__(self, stored: Sequence[np.ndarray], *, top_k: int, n_classes: int) -> None:
        self.stored = stored
        self.top_k = int(top_k)
        self.n_classes = int(n_classes)

    def __len__(self) -> int:
        return len(self.stored)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self.stored[range(len(self))[index]]

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"CompactEpochs({len(self)} epochs, top {self.top_k} of {self.n_classes} classes)"
