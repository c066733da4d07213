"""Early-stopping what-ifs: Keras 3 ``EarlyStopping`` replayed on a log.

:func:`replay_early_stopping` follows ``keras/src/callbacks/early_stopping.py``
(Keras 3.15) decision by decision (docs/methods.md#early-stopping-replayed):

* epochs whose 0-based index is below ``start_from_epoch``, or whose monitor
  value is absent, are skipped entirely;
* every monitored epoch does ``wait += 1``; the first monitored value is
  always an improvement (``best`` starts as None); later ones improve iff
  ``current + min_delta < best`` (min mode) or ``current - min_delta > best``
  (max mode), with ``min_delta`` made non-negative; a NaN never improves;
* on improvement ``best`` and the best epoch move, and ``wait`` resets to 0
  only if the value also beats ``baseline``;
* training stops after an epoch with ``wait >= patience`` (never after the
  first epoch);
* with ``restore_best_weights`` the weights of the best epoch are restored at
  the end -- also when training ran to completion -- and a snapshot is taken
  at the first monitored epoch even if no later epoch improves.

A log adds two kinds of doubt, and the replay reports them instead of
guessing. *Missing epochs*: when the decision walks into an elided stretch
(``....`` in a paste) the answer depends on numbers that are not there.
*Rounding*: two values that print the same at 4 decimals may differ; where a
comparison could go either way, both ways are followed, and the answer is
only given if every branch agrees.

:func:`prechelt_criteria` evaluates Prechelt's (1998) GL_alpha, PQ_alpha and
UP_s stopping criteria with strips of k = 5 epochs, with the same care.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dynamics.errors import ArgumentError
from dynamics.stats.result import Result

if TYPE_CHECKING:
    from dynamics.run import Run

__all__ = ["STATUSES", "early_stopping_table", "missing_ranges", "replay_early_stopping", "StopOutcome"]

#: Statuses of a replay.
STATUSES = ("stopped", "completed", "undetermined")


@dataclass(frozen=True)
class StopOutcome(Result):
    """What a stopping rule would have done on this run.

    Attributes
    ----------
    rule : str
        ``"EarlyStopping(patience=2)"``, ``"GL_2"``...
    status : str
        ``"stopped"`` (it stops at ``stop_epoch``), ``"completed"`` (it never
        stops and the run trains to its last epoch) or ``"undetermined"``
        (the log cannot tell; ``reason`` says why).
    stop_epoch : int or None
        Last epoch trained (1-based).
    kept_epoch : int or None
        Epoch whose weights the model ends with (the best epoch with
        ``restore_best_weights``, else the last epoch trained).
    reason : str or None
        Why the outcome is undetermined.
    epochs_saved : int or None
        Epochs not trained compared to the full run (needs its length).
    """

    rule: str
    status: str
    stop_epoch: int | None = None
    kept_epoch: int | None = None
    reason: str | None = None
    epochs_saved: int | None = None



def missing_ranges(epochs: Sequence[int], upto: int | None = None) -> list[tuple[int, int]]:
    """Inclusive ranges of epochs absent from ``epochs`` (from epoch 1 on).

    >>> missing_ranges([1, 2, 3, 4, 5, 75, 76, 77], upto=100)
    [(6, 74), (78, 100)]
    """
    present = sorted(set(int(e) for e in epochs))
    out: list[tuple[int, int]] = []
    expected = 1
    for e in present:
        if e > expected:
            out.append((expected, e - 1))
        expected = e + 1
    if upto is not None and upto >= expected:
        out.append((expected, upto))
    return out


def _span(first: int, last: int) -> str:
    return f"epoch {first}" if first == last else f"epochs {first}-{last}"


class _Walk:
    """Values by epoch with their print half-widths, and why an epoch is unknown."""

    def __init__(self, epochs: np.ndarray, values: np.ndarray, halfwidths: np.ndarray | None, name: str):
        epochs = np.asarray(epochs, dtype=int)
        values = np.asarray(values, dtype=float)
        hw = np.zeros_like(values) if halfwidths is None else np.asarray(halfwidths, dtype=float)
        if len(epochs) != len(values) or len(hw) != len(values):
            raise ArgumentError(f"epochs, values and halfwidths must have the same length. Received: "
                                f"{len(epochs)}, {len(values)}, {len(hw)}")
        if len(epochs) and np.any(np.diff(epochs) <= 0):
            raise ArgumentError("epochs must be strictly increasing")
        self.value = dict(zip(epochs.tolist(), values.tolist()))
        self.hw = dict(zip(epochs.tolist(), np.nan_to_num(hw).tolist()))
        self.last = int(epochs[-1]) if len(epochs) else 0
        self.gaps = missing_ranges(epochs.tolist())
        self.name = name

    def why_unknown(self, epoch: int) -> str:
        for first, last in self.gaps:
            if first <= epoch <= last:
                return f"{_span(first, last)} are missing from the log" if first != last else f"epoch {first} is missing from the log"
        return f"{self.name} is missing at epoch {epoch}"


def replay_early_stopping(
    epochs: Sequence[int],
    values: Sequence[float],
    *,
    patience: int = 0,
    mode: str = "min",
    min_delta: float = 0.0,
    baseline: float | None = None,
    restore_best_weights: bool = False,
    start_from_epoch: int = 0,
    halfwidths: Sequence[float] | None = None,
    final_epoch: int | None = None,
    monitor: str = "val_loss",
    printed_nan: Sequence[int] = (),
) -> StopOutcome:
    """Replay Keras 3 ``EarlyStopping`` on a logged metric.

    Parameters
    ----------
    epochs : sequence of int
        1-based logged epochs, increasing (gaps allowed).
    values : sequence of float
        The monitored metric; NaN where absent (or printed ``nan``, see
        ``printed_nan``).
    patience, mode, min_delta, baseline, restore_best_weights, start_from_epoch
        As in ``keras.callbacks.EarlyStopping`` (``mode`` is ``"min"`` or
        ``"max"``; resolve ``"auto"`` with
        :func:`~dynamics.stats.precision.metric_direction`).
    halfwidths : sequence of float, optional
        Print half-widths of ``values``; comparisons within them branch.
    final_epoch : int, optional
        Epochs the run was set to train (``Epoch k/N``'s N). Without it a
        run that never stops inside the log is undetermined.
    monitor : str
        Name used in messages.
    printed_nan : sequence of int
        Epochs where the log printed ``nan`` (Keras sees NaN, which never
        improves) rather than leaving the value out.

    Returns
    -------
    StopOutcome

    Examples
    --------
    The seed log's val_loss (epochs 6-74 elided, 100 declared):

    >>> ep = [1, 2, 3, 4, 5, 75, 76, 77]
    >>> vl = [0.4305, 0.3791, 0.3736, 0.4206, 0.3844, 0.9045, 0.9078, 0.9105]
    >>> o = replay_early_stopping(ep, vl, patience=2, restore_best_weights=True, final_epoch=100)
    >>> o.status, o.stop_epoch, o.kept_epoch, o.epochs_saved
    ('stopped', 5, 3, 95)
    >>> replay_early_stopping(ep, vl, patience=3, final_epoch=100).reason
    'epochs 6-74 are missing from the log'
    """
    if patience < 0:
        raise ArgumentError(f"patience must be >= 0. Received: patience={patience}")
    if mode not in ("min", "max"):
        raise ArgumentError(f"mode must be 'min' or 'max'. Received: mode={mode!r}")
    walk = _Walk(np.asarray(epochs), np.asarray(values), None if halfwidths is None else np.asarray(halfwidths), monitor)
    nan_epochs = set(int(e) for e in printed_nan)
    delta = abs(min_delta)
    sign = -1.0 if mode == "min" else 1.0  # improvement iff sign * (current - best) > delta
    rule = f'EarlyStopping(monitor="{monitor}", patience={patience}' + (
        f", min_delta={min_delta}" if min_delta else "") + (f", baseline={baseline}" if baseline is not None else "") + (
        f", start_from_epoch={start_from_epoch}" if start_from_epoch else "") + (
        ", restore_best_weights=True" if restore_best_weights else "") + ")"

    def improves(cur: float, hc: float, ref: float | None, hr: float) -> bool | None:
        """True / False, or None when rounding leaves it open."""
        if ref is None:
            return True
        if math.isnan(cur) or math.isnan(ref):
            return False
        margin = sign * (cur - ref) - delta
        slack = hc + hr
        if margin > slack:
            return True
        if margin <= -slack:
            return False
        return None

    Outcome = tuple  # (status, stop_epoch, kept_epoch, reason)
    outcomes: set[Outcome] = set()
    # A state is (next epoch, wait, best value, its half-width, snapshot epoch).
    stack: list[tuple[int, int, float | None, float, int | None]] = [(1, 0, None, 0.0, None)]
    branches = 0

    def kept(stop: int, snap: int | None) -> int:
        return snap if restore_best_weights and snap is not None else stop

    while stack:
        epoch, wait, best, best_hw, snap = stack.pop()
        while True:
            if epoch > walk.last:
                if final_epoch is not None and walk.last >= final_epoch:
                    outcomes.add(("completed", walk.last, kept(walk.last, snap), None))
                else:
                    end = f"the log ends at epoch {walk.last}" + (f" of {final_epoch}" if final_epoch else "")
                    outcomes.add(("undetermined", None, None, f"{end} before the rule stops"))
                break
            if epoch - 1 < start_from_epoch:  # Keras compares its 0-based epoch
                epoch += 1
                continue
            cur = walk.value.get(epoch, math.nan)
            if math.isnan(cur) and epoch not in nan_epochs:
                outcomes.add(("undetermined", None, None, walk.why_unknown(epoch)))
                break
            hc = walk.hw.get(epoch, 0.0)
            if restore_best_weights and snap is None:
                snap = epoch
            wait += 1
            verdict = improves(cur, hc, best, best_hw)
            if verdict is None:  # rounding leaves it open: follow both ways
                branches += 1
                if branches > 4096:
                    outcomes.add(("undetermined", None, None, "too many values tie at print precision"))
                    stack.clear()
                    break
                if wait >= patience and epoch > 1:
                    outcomes.add(("stopped", epoch, kept(epoch, snap), None))
                else:
                    stack.append((epoch + 1, wait, best, best_hw, snap))
                verdict = True
            if verdict:
                best, best_hw = cur, hc
                if restore_best_weights:
                    snap = epoch
                beats = True if baseline is None else improves(cur, hc, float(baseline), 0.0)
                if beats is None:
                    branches += 1
                    stack.append((epoch + 1, wait, best, best_hw, snap))  # baseline not beaten
                    beats = True
                if beats:
                    wait = 0
                epoch += 1
                continue
            if wait >= patience and epoch > 1:
                outcomes.add(("stopped", epoch, kept(epoch, snap), None))
                break
            epoch += 1
    saved = None
    if len(outcomes) == 1:
        status, stop, kept, reason = outcomes.pop()
        if status == "stopped" and final_epoch is not None:
            saved = final_epoch - stop
        elif status == "completed":
            saved = 0
        return StopOutcome(rule, status, stop, kept, reason, saved)
    reasons = sorted({o[3] for o in outcomes if o[3]})
    if reasons:
        return StopOutcome(rule, "undetermined", reason=reasons[0])
    stops = sorted({o[1] for o in outcomes if o[1] is not None})
    return StopOutcome(rule, "undetermined", reason="values that print the same at 4 decimals decide it: "
                       f"it stops at epoch {' or '.join(str(s) for s in stops)}")


def early_stopping_table(
    run: Run,
    *,
    monitor: str = "val_loss",
    patiences: Sequence[int] = tuple(range(11)),
    mode: str | None = None,
    min_delta: float = 0.0,
    baseline: float | None = None,
    restore_best_weights: bool = True,
    start_from_epoch: int = 0,
) -> pd.DataFrame:
    """:func:`replay_early_stopping` of a run for several patiences.

    Returns one row per patience: ``status``, ``stop_epoch``, ``kept_epoch``,
    ``epochs_saved``, ``reason``, and the run's validation metrics at the
    kept epoch (``kept_val_loss``, ``kept_val_accuracy``...).

    Examples
    --------
    >>> from dynamics.run import Run, make_epoch_table
    >>> run = Run(make_epoch_table({e: {"val_loss": v} for e, v in enumerate([0.5, 0.4, 0.45, 0.46], 1)}))
    >>> early_stopping_table(run, patiences=[0, 2, 3])[["status", "stop_epoch", "kept_epoch"]]
                    status  stop_epoch  kept_epoch
    patience
    0              stopped           3           2
    2              stopped           4           2
    3         undetermined        <NA>        <NA>
    """
    from dynamics.stats.precision import (
        EXACT_FORMATS,
        metric_direction,
        print_halfwidth,
    )

    if mode is None:
        mode = metric_direction(monitor)
        if mode is None:
            raise ArgumentError(f"cannot tell whether {monitor} should fall or rise; pass mode='min' or 'max'. "
                                f"Received: monitor={monitor!r}")
    series = run.series(monitor)
    exact = run.meta.format in EXACT_FORMATS
    final = run.meta.epochs_declared
    nan_epochs = run.meta.printed_nan.get(monitor, [])
    val_cols = [c for c in run.metrics if c.startswith("val_")]
    rows = []
    for p in patiences:
        o = replay_early_stopping(series.index.to_numpy(), series.to_numpy(), patience=p, mode=mode, min_delta=min_delta,
                                  baseline=baseline, restore_best_weights=restore_best_weights,
                                  start_from_epoch=start_from_epoch, halfwidths=print_halfwidth(series.to_numpy(), exact=exact),
                                  final_epoch=final, monitor=monitor, printed_nan=nan_epochs)
        row: dict[str, Any] = {"patience": p, "rule": o.rule, "status": o.status, "stop_epoch": o.stop_epoch,
                               "kept_epoch": o.kept_epoch, "epochs_saved": o.epochs_saved, "reason": o.reason}
        for c in val_cols:
            row["kept_" + c] = float(run.epochs.at[o.kept_epoch, c]) if o.kept_epoch in run.epochs.index else math.nan
        rows.append(row)
    table = pd.DataFrame(rows).set_index("patience")
    for c in ("stop_epoch", "kept_epoch", "epochs_saved"):
        table[c] = table[c].astype("Int64")
    return table
