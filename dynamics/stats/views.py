"""Views of recorded epochs, whatever their storage: full probabilities, float16 codes, compact records.

Apart from :mod:`.probabilities` because a compact record's view
(:class:`~dynamics.stats.compact.CompactView`) is itself an
:class:`~dynamics.stats.probabilities.EpochView`: this module knows both.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from dynamics.stats.compact import CompactView, is_compact
from dynamics.stats.probabilities import EpochView, check_labels

__all__ = ["iter_views", "view_at"]


def iter_views(predictions: Any) -> Iterator[EpochView]:
    """Yield an :class:`EpochView` per recorded epoch, one epoch in memory at a time.

    Examples
    --------
    >>> from dynamics.run import Predictions
    >>> preds = Predictions([1, 2], np.array([1, 0]), [np.array([0.4, 0.3]), np.array([0.7, 0.2])])
    >>> [float(v.correct.mean()) for v in iter_views(preds)]
    [0.5, 1.0]
    """
    y = check_labels(predictions.y_true)
    for i in range(len(predictions)):
        yield view_at(predictions, i, checked_labels=y)


def view_at(predictions: Any, i: int, *, checked_labels: np.ndarray | None = None) -> EpochView:
    """The view of recorded epoch number ``i`` (a position, not the epoch), whatever its storage.

    Float16 codes are handed on (a run directory's
    :class:`~dynamics.sources.rundir.encoding.EncodedEpochs`); compact records
    (:mod:`dynamics.sources.rundir.compact`) give a
    :class:`~dynamics.stats.compact.CompactView`.

    Examples
    --------
    >>> from dynamics.run import Predictions
    >>> view_at(Predictions([1, 2], np.array([1, 0]), [np.array([0.4, 0.3]), np.array([0.7, 0.2])]), -1).epoch
    2
    """
    y = checked_labels if checked_labels is not None else check_labels(predictions.y_true)
    i = range(len(predictions))[i]
    epoch, proba = int(predictions.epochs[i]), predictions.proba[i]
    if is_compact(proba):
        return CompactView(proba, y, n_classes=predictions.n_classes, epoch=epoch, checked_labels=True)
    coded_at = getattr(predictions.proba, "coded", None)  # stored as float16 codes (a run directory's EncodedEpochs)
    return EpochView(proba, y, epoch=epoch, checked_labels=True, coded=coded_at(i) if coded_at else None)
