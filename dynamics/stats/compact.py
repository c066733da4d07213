"""One epoch stored compactly (:mod:`dynamics.sources.rundir.compact`) seen as an :class:`EpochView`.

Each per-sample quantity the statistics share comes from the stored record:

* ``p_true`` = ``exp(true_logp)`` and the loss ``-log clip(p_true)`` (Keras's
  clipping): the decomposition of val_loss, the rise since the best epoch,
  the data map (mean and spread of ``p_true``), label-issue candidates;
* ``pred`` = the top-1 class, so ``correct``, accuracy, churn, forgetting
  and McNemar tests are exact;
* ``confidence`` = the top-1 probability: confidence tables, top-label
  reliability bins, ECE and MCE;
* ``entropy`` as stored; the Brier score as the mean of the stored
  per-sample scores, and its uncertainty term from the labels alone.

``proba`` -- the full vector -- does not exist; asking for it raises
:class:`~dynamics.errors.InputError` naming what compact storage keeps.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np

from dynamics.errors import InputError
from dynamics.stats.probabilities import CLIP_HIGH, CLIP_LOW, EpochView

#: What compact storage cannot compute, and why (the findings quote it).
__all__ = ["FIELDS", "UNAVAILABLE", "CompactView", "is_compact"]

UNAVAILABLE = {
    "temperature": (
        "temperature scaling divides every class's log-probability by T and renormalises over all K classes, "
        "and only the top-k of them are stored"
    ),
    "brier_decomposition": (
        "Murphy's reliability and resolution bin every class's one-vs-rest forecast, "
        "and only the top-k classes' probabilities are stored"
    ),
}
#: Field names that mark an array as compact records.
FIELDS = frozenset({"top_class", "top_logp", "true_logp", "entropy", "brier"})


def is_compact(array: Any) -> bool:
    """True for a structured array of compact records.

    Examples
    --------
    >>> is_compact(np.zeros(3)), is_compact(np.zeros(3, dtype=[("true_logp", "f2")]))
    (False, False)
    """
    names = getattr(getattr(array, "dtype", None), "names", None)
    return names is not None and FIELDS <= set(names)


class CompactView(EpochView):
    """Per-sample quantities of one compactly stored epoch (see the module docstring).

    Parameters
    ----------
    records : ndarray of compact records, shape (n,)
    y_true : array-like of int, shape (n,)
    n_classes : int
        K, which the records do not carry.

    Examples
    --------
    >>> from dynamics.sources.rundir.compact import encode_compact
    >>> p = np.array([[0.7, 0.2, 0.1], [0.3, 0.3, 0.4]])
    >>> v = CompactView(encode_compact(p, [0, 0], 1), [0, 0], n_classes=3)
    >>> v.pred.tolist(), v.correct.tolist(), v.p_true.round(3).tolist()
    ([0, 2], [True, False], [0.7, 0.3])
    """

    def __init__(self, records: Any, y_true: Any, *, n_classes: int, epoch: int | None = None,
                 checked_labels: bool = False) -> None:
        super().__init__(records, y_true, epoch=epoch, checked_labels=checked_labels)
        if records.shape != (self.n_samples,):
            raise InputError(f"compact predictions{_at(epoch)} hold {records.shape[0]} samples "
                             f"but there are {self.n_samples} labels")
        if self.y_true.size and int(self.y_true.max()) >= n_classes:
            raise InputError(f"class label {int(self.y_true.max())} does not exist in a {n_classes}-class model "
                             f"(labels must be < {n_classes})")
        self._n_classes = int(n_classes)
        self.top_k = int(records.dtype["top_class"].shape[0])

    @property
    def proba(self) -> np.ndarray:  # type: ignore[override]
        raise InputError(
            f"the full probability vectors{_at(self.epoch)} were not stored: compact storage keeps the top "
            f"{self.top_k} of {self._n_classes} classes, the true class's probability, the entropy and the Brier "
            "score of each sample"
        )

    @property
    def binary(self) -> bool:
        return False

    @property
    def n_classes(self) -> int:
        return self._n_classes

    @property
    def coded(self) -> Any:  # type: ignore[override]
        return None

    def _field(self, name: str) -> np.ndarray:
        return np.asarray(self.raw[name], dtype=np.float64)

    @cached_property
    def pred(self) -> np.ndarray:
        return np.asarray(self.raw["top_class"][:, 0], dtype=np.int64)

    @cached_property
    def p_true(self) -> np.ndarray:
        return np.exp(self._field("true_logp"))

    @cached_property
    def confidence(self) -> np.ndarray:
        return np.exp(np.asarray(self.raw["top_logp"][:, 0], dtype=np.float64))

    @cached_property
    def loss(self) -> np.ndarray:
        return -np.log(np.clip(self.p_true, CLIP_LOW, CLIP_HIGH))

    @cached_property
    def entropy(self) -> np.ndarray:
        return self._field("entropy")

    @cached_property
    def brier(self) -> np.ndarray:
        """Each sample's Brier score ``sum_k (p_k - [y = k])**2``."""
        return self._field("brier")

    def top_k_correct(self) -> np.ndarray:
        """Whether the label is among the stored top-k classes (top-k accuracy per sample)."""
        return (np.asarray(self.raw["top_class"]) == self.y_true[:, None]).any(axis=1)


def _at(epoch: int | None) -> str:
    return f" at epoch {epoch}" if epoch is not None else ""
