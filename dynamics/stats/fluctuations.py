"""Training-loss fluctuations: epochs where the training loss went up.

A Keras training loss is the running mean over the epoch's mini-batches, with
dropout active and the weights changing along the way. Once the loss is
small, mini-batch noise and optimizer steps (Adam's effective step does not
shrink with the loss) make small rises from one epoch to the next ordinary.
What tells an ordinary wobble from instability is its size *against the loss
scale*: this module reports each rise absolutely, relative to the epoch
before, relative to the epoch-1 loss and to the total decrease so far, and
whether the loss came back down.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from dynamics.run import Run

__all__ = ["COLUMNS", "loss_rises", "loss_rises_of_run"]

COLUMNS = ("previous", "value", "rise", "rise_pct", "pct_of_initial", "pct_of_decrease", "recovered_at")


def loss_rises(epochs: np.ndarray, loss: np.ndarray, *, halfwidth: np.ndarray | float = 5e-5) -> pd.DataFrame:
    """Rises of a loss between consecutive logged epochs.

    Only pairs of *consecutive* epochs count (a rise across an elided stretch
    is not a fluctuation), and only rises larger than the print rounding of
    the two values.

    Parameters
    ----------
    epochs : array_like of int
    loss : array_like of float
    halfwidth : float or array_like
        Print half-widths of ``loss``.

    Returns
    -------
    DataFrame
        Indexed by the epoch at which the loss rose, with columns
        ``previous``, ``value``, ``rise`` (absolute), ``rise_pct`` (relative
        to the previous epoch), ``pct_of_initial`` (rise as a percentage of
        the first logged loss), ``pct_of_decrease`` (of the decrease from the
        first logged loss to the previous epoch), ``recovered_at`` (first
        later epoch with a loss at or below ``previous``; NaN if none).

    Examples
    --------
    The seed log, epochs 75-77:

    >>> r = loss_rises([1, 2, 75, 76, 77], [0.5438, 0.3843, 0.0134, 0.0156, 0.0129])
    >>> r.loc[76, ["rise", "rise_pct", "recovered_at"]].round(4).tolist()
    [0.0022, 16.4179, 77.0]
    """
    e = np.asarray(epochs, dtype=int)
    v = np.asarray(loss, dtype=float)
    h = np.broadcast_to(np.asarray(halfwidth, dtype=float), v.shape)
    finite = np.flatnonzero(np.isfinite(v))
    rows: dict[int, dict[str, Any]] = {}
    if len(finite) == 0:
        return pd.DataFrame(columns=list(COLUMNS), index=pd.Index([], name="epoch", dtype=int))
    initial = v[finite[0]]
    for j in range(1, len(e)):
        if e[j] != e[j - 1] + 1 or not (np.isfinite(v[j]) and np.isfinite(v[j - 1])):
            continue
        rise = v[j] - v[j - 1]
        if rise <= h[j] + h[j - 1]:
            continue
        later = [int(e[m]) for m in range(j + 1, len(e)) if np.isfinite(v[m]) and v[m] <= v[j - 1]]
        decrease = initial - v[j - 1]
        rows[int(e[j])] = {
            "previous": float(v[j - 1]),
            "value": float(v[j]),
            "rise": float(rise),
            "rise_pct": float(100 * rise / v[j - 1]) if v[j - 1] > 0 else np.nan,
            "pct_of_initial": float(100 * rise / initial) if initial > 0 else np.nan,
            "pct_of_decrease": float(100 * rise / decrease) if decrease > 0 else np.nan,
            "recovered_at": float(later[0]) if later else np.nan,
        }
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(COLUMNS))
    table.index = table.index.astype(int)
    table.index.name = "epoch"
    return table


def loss_rises_of_run(run: Run, metric: str = "loss") -> pd.DataFrame:
    """:func:`loss_rises` of one column of a run.

    Examples
    --------
    >>> from dynamics.run import Run, make_epoch_table
    >>> run = Run(make_epoch_table({1: {"loss": 0.5}, 2: {"loss": 0.3}, 3: {"loss": 0.4}}))
    >>> loss_rises_of_run(run).index.tolist()
    [3]
    """
    from dynamics.stats.precision import EXACT_FORMATS, print_halfwidth

    s = run.series(metric)
    hw = np.nan_to_num(print_halfwidth(s.to_numpy(), exact=run.meta.format in EXACT_FORMATS))
    return loss_rises(s.index.to_numpy(), s.to_numpy(), halfwidth=hw)


#: The name :func:`loss_rises_of_run` had before the stats API's naming rule (still used outside stats).
run_loss_rises = loss_rises_of_run
