"""Generalization gap, best epochs and the onset of overfitting.

The *gap* of a metric is how much worse it is on validation than on
training: ``val - train`` for a loss (lower is better), ``train - val`` for an
accuracy (higher is better), so a positive gap always means "worse on
validation". Keras's training numbers are running means over the epoch with
dropout active while the validation numbers are measured at the end of the
epoch in inference mode, so a small *negative* gap early on is an artefact of
that, not better generalization (keras#2330).

*Overfitting onset* is the first logged epoch after the epoch of lowest
``val_loss``, provided that at the end of the log ``val_loss`` is above its
minimum by more than print rounding while the training loss is not above
its value at the best epoch. The magnitude of that rise is a measurement on the
validation set itself (successive epochs score the same samples, so it has
no sampling error on this set); the Mann-Kendall tests of the epochs after
the best one say whether the rise is a trend or a wobble.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dynamics.errors import ArgumentError
from dynamics.stats.precision import (
    EXACT_FORMATS,
    is_count_metric,
    metric_direction,
    print_halfwidth,
)
from dynamics.stats.result import Result
from dynamics.stats.trends import TrendResult, trend_test

if TYPE_CHECKING:
    from dynamics.run import Run

__all__ = ["best_epoch", "gap_table", "generalization_gap", "Onset", "overfitting_onset", "overfitting_onset_of_run"]


def generalization_gap(train: np.ndarray, val: np.ndarray, direction: str) -> np.ndarray:
    """Per-epoch gap, positive when validation is worse.

    Parameters
    ----------
    train, val : array_like
        The training and validation values of one metric.
    direction : {"min", "max"}
        Whether lower (``"min"``) or higher (``"max"``) is better.

    Examples
    --------
    >>> generalization_gap([0.3099, 0.0129], [0.3736, 0.9105], "min").round(4).tolist()
    [0.0637, 0.8976]
    >>> generalization_gap([0.8716], [0.8440], "max").round(4).tolist()
    [0.0276]
    """
    t = np.asarray(train, dtype=float)
    v = np.asarray(val, dtype=float)
    if direction == "min":
        return v - t
    if direction == "max":
        return t - v
    raise ArgumentError(f"direction must be 'min' or 'max'. Received: direction={direction!r}")


def gap_table(run: Run) -> pd.DataFrame:
    """Gap of every metric with a ``val_`` twin and a known direction.

    Columns are the metric names (``loss``, ``accuracy``...); confusion
    counts (``tp``...) are left out because they scale with the split size.

    Examples
    --------
    >>> from dynamics.run import Run, make_epoch_table
    >>> run = Run(make_epoch_table({1: {"loss": 0.5, "accuracy": 0.7, "val_loss": 0.4, "val_accuracy": 0.8}}))
    >>> gap_table(run).round(2).to_dict("records")
    [{'loss': -0.1, 'accuracy': -0.1}]
    """
    cols = {}
    for train, val in run.train_val_pairs():
        direction = metric_direction(train)
        if direction is None or is_count_metric(train):
            continue
        cols[train] = generalization_gap(run.series(train).to_numpy(), run.series(val).to_numpy(), direction)
    return pd.DataFrame(cols, index=run.epochs.index)


def best_epoch(epochs: np.ndarray, values: np.ndarray, direction: str) -> tuple[int, float] | None:
    """First epoch with the best value (as Keras's strict improvement keeps the first).

    >>> best_epoch([1, 2, 3, 4], [0.43, 0.38, 0.37, 0.42], "min")
    (3, 0.37)
    """
    e = np.asarray(epochs)
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    if not ok.any():
        return None
    idx = np.flatnonzero(ok)
    pick = idx[np.argmin(v[ok])] if direction == "min" else idx[np.argmax(v[ok])]
    return int(e[pick]), float(v[pick])


@dataclass(frozen=True)
class Onset(Result):
    """Outcome of :func:`overfitting_onset`.

    ``status`` is one of

    * ``"overfitting"``: val_loss ends above its minimum (beyond rounding)
      while the training loss does not end above its value at the best
      epoch;
    * ``"both rising"``: val_loss and training loss both end above their
      values at the best epoch, beyond rounding (an optimisation problem,
      not overfitting);
    * ``"still improving"``: the lowest val_loss is at the last logged epoch
      (or within rounding of it);
    * ``"no data"``: fewer than two epochs with both losses.
    """

    status: str
    best_epoch: int | None = None
    best_val: float | None = None
    onset_epoch: int | None = None
    onset_known: bool = True
    last_epoch: int | None = None
    last_val: float | None = None
    rise: float | None = None
    rise_pct: float | None = None
    train_at_best: float | None = None
    train_last: float | None = None
    val_trend: TrendResult | None = None
    train_trend: TrendResult | None = None
    extra: dict[str, Any] = field(default_factory=dict)



def overfitting_onset(
    epochs: np.ndarray,
    val_loss: np.ndarray,
    train_loss: np.ndarray,
    *,
    val_halfwidth: np.ndarray | float = 5e-5,
    train_halfwidth: np.ndarray | float = 5e-5,
) -> Onset:
    """Where val_loss starts rising while training loss keeps falling.

    Parameters
    ----------
    epochs : array_like of int
        Logged epochs (gaps allowed).
    val_loss, train_loss : array_like
        The two losses per epoch.
    val_halfwidth, train_halfwidth : float or array_like
        Print half-widths.

    Returns
    -------
    Onset
        With Mann-Kendall / Theil-Sen tests of both losses over the epochs
        strictly after the best one.

    Examples
    --------
    >>> ep = [1, 2, 3, 4, 5, 75, 76, 77]
    >>> vl = [0.4305, 0.3791, 0.3736, 0.4206, 0.3844, 0.9045, 0.9078, 0.9105]
    >>> tl = [0.5438, 0.3843, 0.3099, 0.2458, 0.2120, 0.0134, 0.0156, 0.0129]
    >>> o = overfitting_onset(ep, vl, tl)
    >>> o.status, o.best_epoch, o.onset_epoch, round(o.rise_pct)
    ('overfitting', 3, 4, 144)
    """
    e = np.asarray(epochs, dtype=int)
    v = np.asarray(val_loss, dtype=float)
    t = np.asarray(train_loss, dtype=float)
    hv = np.broadcast_to(np.asarray(val_halfwidth, dtype=float), v.shape)
    ht = np.broadcast_to(np.asarray(train_halfwidth, dtype=float), t.shape)
    ok = np.isfinite(v) & np.isfinite(t)
    if ok.sum() < 2:
        return Onset("no data")
    e, v, t, hv, ht = e[ok], v[ok], t[ok], hv[ok], ht[ok]
    i = int(np.argmin(v))
    last = len(v) - 1
    after = slice(i + 1, None)
    val_trend = trend_test(e[after], v[after]) if i < last else None
    train_trend = trend_test(e[after], t[after]) if i < last else None
    base = dict(best_epoch=int(e[i]), best_val=float(v[i]), last_epoch=int(e[last]), last_val=float(v[last]),
                train_at_best=float(t[i]), train_last=float(t[last]), val_trend=val_trend, train_trend=train_trend)
    rise_certain = v[last] - hv[last] > v[i] + hv[i]
    if i == last or not rise_certain:
        return Onset("still improving", **base, rise=float(v[last] - v[i]),
                     rise_pct=float(100 * (v[last] / v[i] - 1)) if v[i] > 0 else None)
    onset = int(e[i + 1])
    known = onset == e[i] + 1
    train_rose = t[last] - ht[last] > t[i] + ht[i]
    status = "both rising" if train_rose else "overfitting"
    return Onset(status, **base, onset_epoch=onset, onset_known=bool(known), rise=float(v[last] - v[i]),
                 rise_pct=float(100 * (v[last] / v[i] - 1)) if v[i] > 0 else None)


def overfitting_onset_of_run(run: Run, *, val: str = "val_loss", train: str = "loss") -> Onset:
    """:func:`overfitting_onset` of a :class:`~dynamics.run.Run`.

    Examples
    --------
    >>> from dynamics.run import Run, make_epoch_table
    >>> run = Run(make_epoch_table({e: {"loss": 1 / e, "val_loss": 1 / e} for e in range(1, 6)}))
    >>> overfitting_onset_of_run(run).status
    'still improving'
    """
    exact = run.meta.format in EXACT_FORMATS
    vs, ts = run.series(val), run.series(train)
    return overfitting_onset(run.epochs.index.to_numpy(), vs.to_numpy(), ts.to_numpy(),
                             val_halfwidth=np.nan_to_num(print_halfwidth(vs.to_numpy(), exact=exact)),
                             train_halfwidth=np.nan_to_num(print_halfwidth(ts.to_numpy(), exact=exact)))


#: The name :func:`overfitting_onset_of_run` had before the stats API's naming rule (still used outside stats).
run_onset = overfitting_onset_of_run
