"""Example forgetting (Toneva et al., ICLR 2019), at recorded epoch ends.

A *forgetting event* is a sample going from correct to incorrect between two
consecutive recorded epochs; a *learning event* the reverse. Counted as the
reference code ``mtoneva/example_forgetting`` does
(``order_examples_by_forgetting.py``): a sample never classified correctly
gets the count ``npresentations`` -- the number of epochs -- so it sorts
after every forgettable sample; *unforgettable* samples have count 0 (learned
and never forgotten). Counts of several runs (seeds) add up.

Toneva et al. record accuracy at each presentation during training; a
recorded run here has end-of-epoch predictions in inference mode, on the
recorded training subset and on validation (on validation, forgetting events
are the right -> wrong half of the churn).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dynamics.errors import ArgumentError
from dynamics.stats.probabilities import EpochView, require_predictions
from dynamics.stats.views import iter_views

if TYPE_CHECKING:
    from dynamics.run import Run

__all__ = ["combine_forgetting", "forgetting_statistics", "forgetting_table", "ForgettingAccumulator"]


def forgetting_statistics(correct_stack: Any, epochs: Any = None) -> pd.DataFrame:
    """Forgetting and learning events of each sample over epochs.

    Parameters
    ----------
    correct_stack : array-like of bool, shape (E, n)
        Whether each sample was classified correctly at each epoch.
    epochs : array-like of int, shape (E,), optional
        The 1-based epochs of the rows (default 1..E).

    Returns
    -------
    DataFrame, one row per sample
        ``forgetting_events`` (1 -> 0 transitions), ``learning_events``
        (0 -> 1), ``first_learned`` (epoch of the first correct
        prediction, NaN if never), ``epochs_to_learn`` (position of the last
        incorrect epoch, 0 if never wrong: Toneva's
        ``presentations_needed_to_learn``), ``never_learned``,
        ``forgetting_count`` (forgetting events, or E for a never-learned
        sample) and ``unforgettable`` (count 0).

    Examples
    --------
    >>> t = forgetting_statistics([[1, 0, 1, 0], [0, 0, 1, 1], [1, 0, 0, 1]])
    >>> t[["forgetting_events", "learning_events", "forgetting_count", "unforgettable"]].to_numpy().tolist()
    [[1, 1, 1, False], [0, 0, 3, False], [1, 0, 1, False], [0, 1, 0, True]]
    """
    ok = np.asarray(correct_stack).astype(np.int8)
    if ok.ndim != 2:
        raise ArgumentError(f"correct_stack must have shape (E, n). Received: shape={ok.shape}")
    n_epochs = ok.shape[0]
    epochs = np.arange(1, n_epochs + 1) if epochs is None else np.asarray(epochs, dtype=int)
    transitions = ok[1:] - ok[:-1]
    ever = ok.any(axis=0)
    ever_wrong = (ok == 0).any(axis=0)
    first = np.where(ever, epochs[np.argmax(ok == 1, axis=0)].astype(float), np.nan)
    last_wrong = n_epochs - 1 - np.argmax(ok[::-1] == 0, axis=0)
    return _table(
        forgetting=np.count_nonzero(transitions == -1, axis=0),
        learning=np.count_nonzero(transitions == 1, axis=0),
        first_learned=first,
        epochs_to_learn=np.where(ever_wrong, last_wrong + 1, 0),
        n_epochs=n_epochs,
    )


def _table(
    *, forgetting: np.ndarray, learning: np.ndarray, first_learned: np.ndarray, epochs_to_learn: np.ndarray, n_epochs: int
) -> pd.DataFrame:
    never = np.isnan(first_learned)
    count = np.where(never, n_epochs, forgetting)
    return pd.DataFrame(
        {
            "forgetting_events": forgetting.astype(np.int64),
            "learning_events": learning.astype(np.int64),
            "first_learned": first_learned,
            "epochs_to_learn": epochs_to_learn.astype(np.int64),
            "never_learned": never,
            "forgetting_count": count.astype(np.int64),
            "unforgettable": count == 0,
        }
    )


class ForgettingAccumulator:
    """Streaming :func:`forgetting_statistics`: feed epoch views in order.

    Examples
    --------
    >>> acc = ForgettingAccumulator()
    >>> for e, p in enumerate([[0.9, 0.2], [0.3, 0.1], [0.8, 0.4]], start=1):
    ...     acc.update(EpochView(p, [1, 1], epoch=e))
    >>> acc.table()["forgetting_count"].tolist()
    [1, 3]
    """

    def __init__(self) -> None:
        self.n_epochs = 0
        self._prev: np.ndarray | None = None

    def update(self, view: EpochView) -> None:
        ok = view.correct
        if self._prev is None:
            n = view.n_samples
            self._forgetting = np.zeros(n, dtype=np.int32)
            self._learning = np.zeros(n, dtype=np.int32)
            self._first = np.full(n, np.nan)
            self._last_wrong = np.zeros(n, dtype=np.int32)  # 1-based position, 0 = never wrong
        else:
            self._forgetting += self._prev & ~ok
            self._learning += ~self._prev & ok
        self.n_epochs += 1
        epoch = float(view.epoch if view.epoch is not None else self.n_epochs)
        self._first[np.isnan(self._first) & ok] = epoch
        self._last_wrong[~ok] = self.n_epochs
        self._prev = ok

    def table(self) -> pd.DataFrame:
        """The :func:`forgetting_statistics` table of the epochs seen so far."""
        if self._prev is None:
            raise ArgumentError("no epoch was fed to the accumulator")
        return _table(
            forgetting=self._forgetting,
            learning=self._learning,
            first_learned=self._first,
            epochs_to_learn=self._last_wrong,
            n_epochs=self.n_epochs,
        )


def combine_forgetting(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Sum forgetting counts over runs (seeds) of the same samples, as Toneva et al.

    Returns ``forgetting_count`` (summed, never-learned runs counting their
    number of epochs) and ``unforgettable`` (total 0).

    Examples
    --------
    >>> a = forgetting_statistics([[1, 0], [1, 0]])
    >>> b = forgetting_statistics([[1, 1], [0, 0]])
    >>> combine_forgetting([a, b]).to_numpy().tolist()
    [[1, False], [3, False]]
    """
    if not tables:
        raise ArgumentError("combine_forgetting needs at least one table")
    total = sum(t["forgetting_count"].to_numpy() for t in tables)
    return pd.DataFrame({"forgetting_count": total, "unforgettable": total == 0})


def forgetting_table(run: Run, split: str = "train") -> pd.DataFrame:
    """:func:`forgetting_statistics` of a recorded run's ``split``, streaming.

    ``split="train"`` uses the recorded training subset, ``"val"`` the
    validation samples. Rows follow the recorded samples; ``sample_id`` is
    added when the run recorded sample ids.

    Examples
    --------
    >>> from dynamics.simulate import simulate_run
    >>> len(forgetting_table(simulate_run("healthy", n=200, epochs=4, n_train=50)))
    50
    """
    preds = require_predictions(run, split)
    acc = ForgettingAccumulator()
    for view in iter_views(preds):
        acc.update(view)
    table = acc.table()
    if preds.sample_ids is not None:
        table.insert(0, "sample_id", np.asarray(preds.sample_ids))
    return table
