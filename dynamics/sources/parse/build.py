"""Turn placed rows into :class:`~dynamics.run.Run` objects.

Names are made canonical here, once (``acc`` -> ``accuracy``, ``lr`` ->
``learning_rate``), with the printed name kept in ``meta.metric_names``;
times become seconds; a printed ``nan`` is remembered in
``meta.printed_nan`` so it can be told apart from a value that is absent.
"""

from __future__ import annotations

import math
import statistics

import pandas as pd

from dynamics.run import Run, RunMeta, canonical_metric_name, make_epoch_table
from dynamics.sources.parse.place import Placed, Unit, run_style


def _columns(units: list[Unit]) -> dict[str, str]:
    """Printed name -> column name; a second spelling of a canonical name keeps its own."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for unit in units:
        for printed, _ in unit.row.metrics:
            if printed in mapping:
                continue
            name = canonical_metric_name(printed)
            if name in taken:
                name = printed
            mapping[printed] = name
            taken.add(name)
    return mapping


def _cut_short(units: list[Unit]) -> list[str]:
    """Leave out the last value of rows the paste cut short (in place); say so.

    A row that ends in a value with fewer digits than Keras prints
    (``loss: 0.38``) and holds only the first of the names other rows hold
    stops where the paste was cut: its last value is not what Keras printed.
    (A log whose every row prints short values was written by hand; it stays.)
    """
    notes = []
    lists = {tuple(name for name, _ in u.row.metrics) for u in units}
    for unit in units:
        if not unit.row.maybe_cut:
            continue
        mine = tuple(name for name, _ in unit.row.metrics)
        if any(len(other) > len(mine) and other[: len(mine)] == mine for other in lists):
            name, _ = unit.row.metrics.pop()
            unit.row.maybe_cut = False
            notes.append(f"the row of epoch {unit.epoch} stops inside its {name} value, which is left out")
    return notes


def _timing(units: list[Unit]) -> pd.DataFrame | None:
    rows: dict[int, dict[str, float]] = {}
    for unit in units:
        row = unit.timing_row or unit.row
        times: dict[str, float] = {}
        seconds = row.epoch_seconds if row.epoch_seconds is not None else row.elapsed
        if seconds is not None:
            times["seconds"] = seconds
        if row.per_unit is not None:
            times[f"seconds_per_{row.unit}"] = row.per_unit
        if times and unit.epoch is not None:
            rows[unit.epoch] = times
    if not rows:
        return None
    return make_epoch_table(rows)


def _verbose(units: list[Unit]) -> int | None:
    if not units:
        return None
    bars = sum(1 for u in units if u.row.bar is not None)
    return 1 if bars * 2 >= len(units) else 2


def build_run(placed: Placed, *, source: str, run_index: int) -> Run:
    """One :class:`Run` from a placed run (which must hold at least one row)."""
    units = placed.units
    raw = placed.raw
    names = _columns(units)
    notes = _cut_short(units)
    table_rows: dict[int, dict[str, float]] = {}
    printed_nan: dict[str, list[int]] = {}
    for unit in units:
        values: dict[str, float] = {}
        for printed, text in unit.row.metrics:
            column = names[printed]
            if column in values:
                continue
            value = float(text)
            values[column] = value
            if math.isnan(value):
                printed_nan.setdefault(column, []).append(unit.epoch)
        table_rows[unit.epoch] = values
    table = make_epoch_table(table_rows, columns=list(dict.fromkeys(names.values())))
    timing = _timing(units)

    totals = {s.total for s in raw.slots if s.header is not None}
    epochs = [u.epoch for u in units]
    elided = [(a + 1, b - 1) for a, b in zip(epochs, epochs[1:]) if b > a + 1]
    seconds = timing["seconds"].dropna().tolist() if timing is not None and "seconds" in timing else []
    meta = RunMeta(
        source=source,
        format="progbar",
        era=None if run_style(raw) == "unknown" else run_style(raw),
        verbose=_verbose(units),
        run_index=run_index,
        epochs_declared=totals.pop() if len(totals) == 1 else None,
        seconds_per_epoch=float(statistics.median(seconds)) if seconds else None,
        metric_names={column: printed for printed, column in names.items()},
        inferred_epochs=[u.epoch for u in units if u.inferred],
        elided=elided,
        interrupted_epoch=placed.interrupted,
        printed_nan=printed_nan,
        notes=list(placed.notes) + notes,
    )
    if raw.train_on is not None:
        meta.n_train = raw.train_on.n_train
        meta.n_val = raw.train_on.n_val
        meta.steps_train = raw.train_on.steps_train
        meta.steps_val = raw.train_on.steps_val
    targets = {u.row.target for u in units if u.row.target is not None}
    if len(targets) == 1:
        meta.extra["counter_target"] = targets.pop()
    if placed.zero_based and placed.events:
        meta.notes.append("callback messages were numbered from 0 (Keras <= 2.0.8); their epochs are shown 1-based")
    stale = [u.epoch for u in units if u.row.stale]
    if stale:
        meta.notes.append(
            f"the row(s) of epoch(s) {', '.join(map(str, stale))} end in text an earlier, longer update left on screen; "
            "it was dropped"
        )
    if raw.ellipses and not elided:
        meta.notes.append("the log has '....' but no epoch number is missing around it")
    return Run(table, meta, list(placed.events), timing)
