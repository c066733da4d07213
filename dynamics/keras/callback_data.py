"""Array handling of :class:`~dynamics.keras.callback.PredictionRecorder` (numpy only).

``(x, y)`` pairs whose ``x`` may be an array, a dict or a list of arrays;
class labels from 0/1, sparse or one-hot targets; padding so that batches
divide among devices; logits to probabilities; the recorded training rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from dynamics.errors import ArgumentError


def n_rows(x: Any) -> int:
    if isinstance(x, Mapping):
        return n_rows(next(iter(x.values())))
    if isinstance(x, (list, tuple)) and x and hasattr(x[0], "shape"):
        return n_rows(x[0])
    return len(x)


def take(x: Any, index: np.ndarray) -> Any:
    if isinstance(x, Mapping):
        return {k: take(v, index) for k, v in x.items()}
    if isinstance(x, (list, tuple)) and x and hasattr(x[0], "shape"):
        return type(x)(take(v, index) for v in x)
    return np.asarray(x)[index]


def pad_rows(x: Any, n: int, pad: int) -> Any:
    """``x`` with its last row repeated ``pad`` times (so batches divide evenly)."""
    return take(x, np.concatenate([np.arange(n), np.full(pad, n - 1)]))


def check_pair(name: str, data: Any) -> tuple[Any, np.ndarray]:
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ArgumentError(
            f"{name} must be a tuple (x, y) of arrays. Received: {name}={type(data).__name__}"
        )
    x, y = data
    try:
        n = n_rows(x)
        y = np.asarray(y)
    except TypeError:
        raise ArgumentError(
            f"{name} must hold arrays (not a dataset or generator). Received: {name}=({type(x).__name__}, ...)"
        ) from None
    if y.ndim == 0 or y.shape[0] != n or n == 0:
        raise ArgumentError(
            f"{name} needs as many labels as samples (at least one). "
            f"Received: {name} with {n} samples and labels of shape {y.shape}"
        )
    return x, y


def class_labels(y: np.ndarray) -> np.ndarray:
    """Class index of each sample from 0/1, sparse or one-hot labels."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1).astype(np.int64)
    return np.rint(y.reshape(len(y))).astype(np.int64)


def sigmoid(z: np.ndarray) -> np.ndarray:
    out = np.empty_like(z, dtype=np.float64)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def probabilities(raw: np.ndarray, *, from_logits: bool, check: bool = True) -> np.ndarray:
    """The model's outputs as float64 probabilities: (n,) P(class 1), or (n, k).

    With ``check``, outputs outside [0, 1] (logits, without ``from_logits``)
    are refused.

    >>> probabilities(np.array([[0.0], [2.0]]), from_logits=True).round(3).tolist()
    [0.5, 0.881]
    """
    raw = np.asarray(raw, dtype=np.float64)
    width = 1 if raw.ndim == 1 else int(np.prod(raw.shape[1:]))
    if width == 1:
        z = raw.reshape(len(raw))
        proba = sigmoid(z) if from_logits else z
    else:
        z = raw.reshape(len(raw), width)
        proba = softmax(z) if from_logits else z
    if check:
        finite = proba[np.isfinite(proba)]
        if finite.size and (finite.min() < -1e-6 or finite.max() > 1 + 1e-6):
            raise ArgumentError(
                "the model's outputs are not probabilities (they fall outside [0, 1]); "
                "if it outputs logits, pass from_logits=True. Received: from_logits=False"
            )
    return np.clip(proba, 0.0, 1.0)


def train_rows(train_subset: Any, n: int, seed: int) -> np.ndarray:
    """The rows of ``n`` training samples to record: all, ``k`` drawn with ``seed``, or the given indices."""
    if train_subset is None:
        return np.arange(n)
    if isinstance(train_subset, (int, np.integer)) and not isinstance(train_subset, bool):
        if not 1 <= train_subset <= n:
            raise ArgumentError(
                f"train_subset must be between 1 and the {n} training samples. "
                f"Received: train_subset={train_subset}"
            )
        return np.sort(np.random.default_rng(seed).choice(n, size=int(train_subset), replace=False))
    index = np.asarray(train_subset)
    if index.ndim != 1 or index.size == 0 or index.dtype.kind not in "iu" or index.min() < 0 or index.max() >= n:
        raise ArgumentError(
            f"train_subset must be an int or row indices in [0, {n}). Received: train_subset={train_subset!r}"
        )
    return index
