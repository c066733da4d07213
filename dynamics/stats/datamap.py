"""Data maps (Swayamdipta et al., EMNLP 2020, "Dataset Cartography").

Per sample, over the recorded epochs: **confidence** = mean probability of the
true class, **variability** = its standard deviation (population, ddof = 0,
as ``np.std`` in allenai/cartography), **correctness** = fraction of epochs
classified correctly (the paper's definition; the reference code keeps the
count). Regions are defined by ranking, as the reference code's
``write_filtered_data`` does, not by thresholds: *hard-to-learn* = the
lowest-confidence fraction, *ambiguous* = the highest-variability fraction,
*easy-to-learn* = the highest-confidence fraction (33% subsets in the paper's
headline experiments).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dynamics.errors import ArgumentError
from dynamics.stats.probabilities import EpochView, require_predictions
from dynamics.stats.views import iter_views

if TYPE_CHECKING:
    from dynamics.run import Run

__all__ = [
    "CARTOGRAPHY_FRACTIONS", "REGION_FRACTION", "data_map", "data_map_regions", "data_map_table",
    "DataMapAccumulator",
]

#: Subset fraction of the paper's headline experiments.
REGION_FRACTION = 0.33
#: Subset fractions the reference code writes.
CARTOGRAPHY_FRACTIONS = (0.01, 0.05, 0.10, 0.1667, 0.25, 0.3319, 0.50, 0.75)


def data_map(p_true_stack: Any, correct_stack: Any) -> pd.DataFrame:
    """Confidence, variability and correctness of each sample.

    Parameters
    ----------
    p_true_stack : array-like of float, shape (E, n)
        Probability of the true class at each epoch.
    correct_stack : array-like of bool, shape (E, n)
        Whether each sample was classified correctly at each epoch.

    Returns
    -------
    DataFrame with columns ``confidence``, ``variability``, ``correctness``.

    Examples
    --------
    >>> data_map([[0.9, 0.2], [0.7, 0.6]], [[True, False], [True, True]]).round(3).to_numpy().tolist()
    [[0.8, 0.1, 1.0], [0.4, 0.2, 0.5]]
    """
    p = np.asarray(p_true_stack, dtype=np.float64)
    ok = np.asarray(correct_stack, dtype=bool)
    if p.ndim != 2 or p.shape != ok.shape:
        raise ArgumentError("p_true_stack and correct_stack must both have shape (E, n)")
    return pd.DataFrame({"confidence": p.mean(axis=0), "variability": p.std(axis=0), "correctness": ok.mean(axis=0)})


class DataMapAccumulator:
    """Streaming :func:`data_map` (Welford's running mean and variance).

    Examples
    --------
    >>> acc = DataMapAccumulator()
    >>> acc.update(EpochView([0.9, 0.2], [1, 1]))
    >>> acc.update(EpochView([0.7, 0.6], [1, 1]))
    >>> acc.table().round(3).to_numpy().tolist()
    [[0.8, 0.1, 1.0], [0.4, 0.2, 0.5]]
    """

    def __init__(self) -> None:
        self.n_epochs = 0
        self._mean: np.ndarray | None = None

    def update(self, view: EpochView) -> None:
        x = view.p_true
        if self._mean is None:
            self._mean = np.zeros(view.n_samples)
            self._m2 = np.zeros(view.n_samples)
            self._correct = np.zeros(view.n_samples, dtype=np.int32)
        self.n_epochs += 1
        # Welford: exact to rounding, no E[p^2] - E[p]^2 cancellation.
        delta = x - self._mean
        self._mean += delta / self.n_epochs
        self._m2 += delta * (x - self._mean)
        self._correct += view.correct

    @property
    def confidence(self) -> np.ndarray:
        return self._mean

    @property
    def variability(self) -> np.ndarray:
        return np.sqrt(np.maximum(self._m2, 0.0) / self.n_epochs)

    @property
    def correctness(self) -> np.ndarray:
        return self._correct / self.n_epochs

    def table(self) -> pd.DataFrame:
        if self._mean is None:
            raise ArgumentError("no epoch was fed to the accumulator")
        return pd.DataFrame({"confidence": self.confidence, "variability": self.variability, "correctness": self.correctness})


def data_map_regions(confidence: Any, variability: Any, *, fraction: float = REGION_FRACTION) -> pd.DataFrame:
    """Easy-to-learn, ambiguous and hard-to-learn samples, by ranking.

    Each region holds ``int(fraction * n)`` samples (ties broken by sample
    order): the highest confidence, the highest variability, the lowest
    confidence. A sample can be in two regions (ambiguous and easy, say);
    ``region`` names one, in the order ambiguous, hard-to-learn,
    easy-to-learn, else ``"other"``.

    Examples
    --------
    >>> r = data_map_regions([0.9, 0.5, 0.1], [0.05, 0.4, 0.1], fraction=0.34)
    >>> r["region"].tolist()
    ['easy-to-learn', 'ambiguous', 'hard-to-learn']
    """
    if not 0 < fraction <= 1:
        raise ArgumentError(f"fraction must be in (0, 1]. Received: fraction={fraction!r}")
    conf = np.asarray(confidence, dtype=np.float64)
    var = np.asarray(variability, dtype=np.float64)
    n = conf.shape[0]
    k = int(fraction * n)

    def top(values: np.ndarray) -> np.ndarray:
        mask = np.zeros(n, dtype=bool)
        mask[np.argsort(-values, kind="stable")[:k]] = True
        return mask

    easy, ambiguous, hard = top(conf), top(var), top(-conf)
    region = np.full(n, "other", dtype=object)
    region[easy] = "easy-to-learn"
    region[hard] = "hard-to-learn"
    region[ambiguous] = "ambiguous"
    return pd.DataFrame({"easy_to_learn": easy, "ambiguous": ambiguous, "hard_to_learn": hard, "region": region})


def data_map_table(run: Run, split: str = "train", *, fraction: float = REGION_FRACTION) -> pd.DataFrame:
    """Data map of a recorded run's ``split`` with regions, streaming.

    Swayamdipta et al. map the training set; ``split="val"`` maps the
    validation samples instead.

    Examples
    --------
    >>> from dynamics.simulate import simulate_run
    >>> data_map_table(simulate_run("healthy", n=200, epochs=4, n_train=60))["region"].value_counts()["ambiguous"]
    np.int64(19)
    """
    preds = require_predictions(run, split)
    acc = DataMapAccumulator()
    for view in iter_views(preds):
        acc.update(view)
    table = acc.table()
    table = pd.concat([table, data_map_regions(table["confidence"], table["variability"], fraction=fraction)], axis=1)
    if preds.sample_ids is not None:
        table.insert(0, "sample_id", np.asarray(preds.sample_ids))
    return table
