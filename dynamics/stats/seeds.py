"""Seeds: is a run's val_accuracy wobble bigger than chance?

Across runs of one configuration that differ only in the seed, three numbers
sit side by side for each epoch:

* the **run-to-run spread**: standard deviation of val_accuracy across runs
  (ddof = 1);
* the **within-run fluctuation**: how much one run's val_accuracy moves from
  epoch to epoch on its plateau, as the von Neumann estimate
  ``sqrt(mean(diff^2) / 2)``, the standard deviation of independent noise
  around a slowly moving level (differences cancel the slow trend);
* the **binomial sampling noise** ``sqrt(acc (1 - acc) / n_val)``: how far
  an accuracy measured on ``n_val`` samples is from the model's accuracy on
  the whole population (docs/methods.md#seeds: 0.0025 at n = 25,000,
  acc = 0.81).

When the run-to-run spread is no bigger than the binomial noise, the choice
of seed does not matter at the resolution of the validation set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dynamics.errors import ArgumentError, InputError
from dynamics.stats.result import Result

if TYPE_CHECKING:
    from dynamics.run import Run

__all__ = ["seed_spread", "seed_spread_of_runs", "SeedSpread", "von_neumann_sd"]


@dataclass(frozen=True)
class SeedSpread(Result):
    """Result of :func:`seed_spread`.

    ``table``: per epoch ``n_runs``, ``mean``, ``run_sd``, ``min``, ``max``,
    ``binomial_se``. ``within_run``: per run, the von Neumann fluctuation over
    the plateau epochs. ``summary``: the plateau averages (``run_sd``,
    ``within_run_sd``, ``binomial_se``, ``from_epoch``, ``n_runs``, ``n_val``).
    """

    table: pd.DataFrame
    within_run: pd.Series
    summary: dict[str, float]


def von_neumann_sd(values: Any) -> float:
    """``sqrt(mean(diff^2) / 2)``: noise sd of a series around a slow trend.

    Examples
    --------
    >>> von_neumann_sd([0.80, 0.82, 0.80, 0.82])
    0.01414213562373
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return math.nan
    return float(np.sqrt(np.mean(np.diff(x) ** 2) / 2.0))


def seed_spread(
    val_accuracy: Any, n_val: int | None, *, epochs: Any = None, from_epoch: int | None = None
) -> SeedSpread:
    """Run-to-run spread of val_accuracy next to within-run and binomial noise.

    Parameters
    ----------
    val_accuracy : array-like, shape (R, E)
        val_accuracy of R runs (rows) at E common epochs (NaN where absent).
    n_val : int or None
        Validation samples; None leaves the binomial column NaN.
    epochs : array-like of int, shape (E,), optional
        1-based epochs of the columns (default 1..E).
    from_epoch : int, optional
        First epoch of the plateau the summary averages over (default: the
        second half of the epochs).

    Returns
    -------
    SeedSpread

    Examples
    --------
    >>> s = seed_spread([[0.80, 0.82, 0.81], [0.78, 0.80, 0.79]], 10000, from_epoch=1)
    >>> s.table["run_sd"].round(4).tolist(), round(s.summary["binomial_se"], 4)
    ([0.0141, 0.0141, 0.0141], 0.004)
    """
    acc = np.atleast_2d(np.asarray(val_accuracy, dtype=np.float64))
    if acc.ndim != 2:
        raise ArgumentError(f"val_accuracy must have shape (runs, epochs). Received: shape={acc.shape}")
    n_runs, n_epochs = acc.shape
    epochs = np.arange(1, n_epochs + 1) if epochs is None else np.asarray(epochs, dtype=int)
    if epochs.shape != (n_epochs,):
        raise ArgumentError(f"epochs must have one entry per column ({n_epochs}). Received: {epochs.shape[0]} entries")
    if n_val is not None and n_val < 1:
        raise ArgumentError(f"n_val must be >= 1. Received: n_val={n_val}")
    counts = np.isfinite(acc).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, np.nansum(acc, axis=0) / np.maximum(counts, 1), np.nan)
        dev = np.where(np.isfinite(acc), acc - mean, 0.0)
        run_sd = np.where(counts > 1, np.sqrt((dev**2).sum(axis=0) / np.maximum(counts - 1, 1)), np.nan)
    binom = np.sqrt(mean * (1 - mean) / n_val) if n_val else np.full(n_epochs, np.nan)
    table = pd.DataFrame(
        {
            "n_runs": counts,
            "mean": mean,
            "run_sd": run_sd,
            "min": np.where(counts > 0, np.nanmin(np.where(np.isfinite(acc), acc, np.inf), axis=0), np.nan),
            "max": np.where(counts > 0, np.nanmax(np.where(np.isfinite(acc), acc, -np.inf), axis=0), np.nan),
            "binomial_se": binom,
        },
        index=pd.Index(epochs, name="epoch"),
    )
    start = int(epochs[n_epochs // 2]) if from_epoch is None else int(from_epoch)
    plateau = epochs >= start
    within = pd.Series([von_neumann_sd(row[plateau]) for row in acc], name="within_run_sd")
    within.index.name = "run"
    plateau_mean = float(np.nanmean(acc[:, plateau])) if plateau.any() and np.isfinite(acc[:, plateau]).any() else math.nan
    summary = {
        "n_runs": n_runs,
        "n_val": n_val,
        "from_epoch": start,
        "mean": plateau_mean,
        "run_sd": float(np.nanmean(run_sd[plateau])) if np.isfinite(run_sd[plateau]).any() else math.nan,
        "within_run_sd": float(np.nanmean(within)) if np.isfinite(within).any() else math.nan,
        "binomial_se": math.sqrt(plateau_mean * (1 - plateau_mean) / n_val) if n_val and math.isfinite(plateau_mean) else math.nan,
    }
    return SeedSpread(table, within, summary)


def seed_spread_of_runs(runs: Sequence[Run], *, from_epoch: int | None = None) -> SeedSpread:
    """:func:`seed_spread` of runs of one configuration (epochs they all have).

    ``n_val`` comes from the runs' metadata or recorded predictions; it must
    agree across runs.

    Examples
    --------
    >>> from dynamics.simulate import simulate_run
    >>> runs = [simulate_run("healthy", n=1000, epochs=6, seed=s) for s in range(3)]
    >>> spread = seed_spread_of_runs(runs)
    >>> spread.summary["n_runs"], spread.summary["n_val"]
    (3, 1000)
    """
    if len(runs) < 2:
        raise ArgumentError(f"comparing seeds needs at least 2 runs. Received: {len(runs)} run(s)")
    series = []
    for run in runs:
        if not run.has("val_accuracy"):
            raise InputError(f"{run.label} has no val_accuracy column to compare across seeds")
        series.append(run.series("val_accuracy"))
    common = series[0].index
    for s in series[1:]:
        common = common.intersection(s.index)
    if len(common) == 0:
        raise InputError("the runs share no epoch to compare")
    sizes = {_n_val(run) for run in runs} - {None}
    if len(sizes) > 1:
        raise InputError(f"the runs have different validation sets (n_val = {sorted(sizes)})")
    acc = np.vstack([s.reindex(common).to_numpy(dtype=float) for s in series])
    return seed_spread(acc, sizes.pop() if sizes else None, epochs=np.asarray(common), from_epoch=from_epoch)


def _n_val(run: Run) -> int | None:
    if run.meta.n_val:
        return int(run.meta.n_val)
    if run.predictions is not None:
        return run.predictions.n_samples
    return None
