"""Array handling of :class:`~dynamics.callback.PredictionRecorder` (numpy only).

``(x, y)`` pairs whose ``x`` may be an array, a dict or a list of arrays;
class labels from 0/1, sparse or one-hot targets; padding so that batches
divide among devices; logits to probabilities.
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
