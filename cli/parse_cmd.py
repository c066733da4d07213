"""``dynamics parse SOURCE``: the epoch table(s) a log holds, for a person or a program.

For a person: per run, a header saying what was read (source, format, era,
verbosity, sample or step counts, epochs declared, elided ranges, inferred
epochs, the interrupted epoch), the epoch table, then the events.
``--json`` prints ``{"runs": [...]}`` (strict JSON, ``Run.to_dict``);
``--csv PATH`` (or ``-``) writes the tidy long table ``run,epoch,metric,value``.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

if TYPE_CHECKING:
    from dynamics.run import Run


def parse(
    source: Annotated[str, typer.Argument(help="Log file, CSVLogger file, History JSON, TensorBoard log_dir, Lightning metrics.csv, "
                                        "trainer_state.json, a run folder of those, run directory, or - for stdin.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON.")] = False,
    csv_path: Annotated[
        str | None, typer.Option("--csv", metavar="PATH", help="Write the tidy table run,epoch,metric,value to PATH (- for stdout).")
    ] = None,
    run: Annotated[int | None, typer.Option("--run", metavar="N", help="Only run N (1-based, as shown) of a multi-run log.")] = None,
) -> None:
    """Parse a training log into epoch tables."""
    from dynamics.errors import ArgumentError
    from dynamics.sources.io import load_runs

    if as_json and csv_path == "-":
        raise ArgumentError("--json and --csv - both want stdout; give --csv a file path. Received: --csv -")
    runs = load_runs(source)
    total = len(runs)
    if run is not None:
        if not 1 <= run <= len(runs):
            raise ArgumentError(
                f"--run must be between 1 and {len(runs)} for this source ({len(runs)} run{'s' if len(runs) != 1 else ''}). "
                f"Received: --run {run}"
            )
        runs = [runs[run - 1]]
    from dynamics.sources.io import damage_error

    damaged = damage_error(runs)  # shown first, then said: what was read before the damage is not lost
    if csv_path is not None:
        _write_csv(runs, csv_path)
        if csv_path == "-":
            if damaged:
                raise damaged
            return
    if as_json:
        import json

        from dynamics.run import runs_to_json_dict

        print(json.dumps(runs_to_json_dict(runs), indent=1, allow_nan=False))
    else:
        print("\n\n".join(render_run(r, total) for r in runs))
    if damaged:
        raise damaged


def _write_csv(runs: list[Run], path: str) -> None:
    from dynamics.errors import DynamicsError

    if path == "-":
        write_tidy_csv(runs, sys.stdout)
        return
    try:
        with open(path, "w", newline="", encoding="utf-8") as out:
            write_tidy_csv(runs, out)
    except OSError as exc:
        raise DynamicsError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_tidy_csv(runs: list[Run], out: TextIO) -> None:
    """The long table ``run,epoch,metric,value`` (run from 1; printed nan kept as ``nan``)."""
    import csv

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["run", "epoch", "metric", "value"])
    for r in runs:
        nan_cells = {(m, e) for m, eps in r.meta.printed_nan.items() for e in eps}
        for epoch, row in r.epochs.iterrows():
            for metric, value in row.items():
                value = float(value)
                if math.isnan(value) and (metric, int(epoch)) not in nan_cells:
                    continue
                writer.writerow([r.meta.run_index + 1, int(epoch), metric, repr(value)])


def _value(value: float, printed_nan: bool) -> str:
    if math.isnan(value):
        return "nan" if printed_nan else ""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    # As Keras printed it (%.4f, or %.4e below 1e-3) when that loses nothing.
    if round(value, 4) == value and (abs(value) >= 1e-3 or value == 0):
        return f"{value:.4f}"
    if float(f"{value:.4e}") == value:
        return f"{value:.4e}"
    return f"{value:.6g}"


def _ranges(ranges: list[tuple[int, int]]) -> str:
    return ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in ranges) or "none"


def _epochs_list(epochs: list[int]) -> str:
    if not epochs:
        return "none"
    spans, start, prev = [], epochs[0], epochs[0]
    for e in epochs[1:] + [None]:
        if e is not None and e == prev + 1:
            prev = e
            continue
        spans.append((start, prev))
        if e is not None:
            start = prev = e
    return _ranges(spans)


_FORMATS = {
    "progbar": "printed log",
    "csvlogger": "CSVLogger file",
    "csv": "CSV table",
    "table": "printed table",
    "history-json": "History JSON",
    "recorded": "recorded run",
}


def render_run(r: Run, total: int | None = None) -> str:
    """The human view of one run: header, epoch table, events."""
    m = r.meta
    title = m.source if total == 1 else f"{m.source} -- run {m.run_index + 1}" + (f" of {total}" if total else "")
    what = _FORMATS.get(m.format, m.format)
    details = [d for d in (m.era, f"verbose={m.verbose}" if m.verbose else None) if d]
    lines = [title, f"  format:       {what}" + (f" ({', '.join(details)})" if details else "")]
    sizes = []
    if m.n_train is not None:
        sizes.append(f"{m.n_train} training samples")
    if m.n_val is not None:
        sizes.append(f"{m.n_val} validation samples")
    if m.steps_train is not None:
        sizes.append(f"{m.steps_train} training steps")
    if m.steps_val is not None:
        sizes.append(f"{m.steps_val} validation steps")
    lines.append(f"  data:         {', '.join(sizes) if sizes else 'sizes not printed'}")
    epochs = [int(e) for e in r.epochs.index]
    declared = f" of {m.epochs_declared} declared" if m.epochs_declared else ""
    lines.append(f"  epochs:       {len(epochs)} complete ({_epochs_list(epochs)}){declared}")
    lines.append(f"  elided:       {_ranges(m.elided)}")
    lines.append(f"  inferred:     {_epochs_list(sorted(m.inferred_epochs))}")
    lines.append(f"  interrupted:  {m.interrupted_epoch if m.interrupted_epoch is not None else 'no'}")
    if m.seconds_per_epoch is not None:
        lines.append(f"  time:         {m.seconds_per_epoch:g} s per epoch (median)")
    for note in m.notes:
        lines.append(f"  note:         {note}")
    lines.append("")
    lines.append(_table(r))
    if r.events:
        lines.append("")
        lines.append("events:")
        for e in r.events:
            at = f"epoch {e.epoch}" if e.epoch is not None else "epoch ?"
            lines.append(f"  {at:<11} {e.kind:<24} {e.message}")
    return "\n".join(lines)


def _table(r: Run) -> str:
    nan_cells = {(c, e) for c, eps in r.meta.printed_nan.items() for e in eps}
    columns = list(r.epochs.columns)
    header = ["epoch"] + columns
    body = [
        [str(int(epoch))] + [_value(float(v), (c, int(epoch)) in nan_cells) for c, v in row.items()]
        for epoch, row in r.epochs.iterrows()
    ]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths))]
    previous: int | None = None
    for row in body:
        epoch = int(row[0])
        if previous is not None and epoch > previous + 1:
            gap = f"... {epoch - previous - 1} epoch{'s' if epoch - previous - 1 != 1 else ''} not in the log ..."
            lines.append(gap.center(len(lines[0])))
        lines.append("  ".join(cell.rjust(w) for cell, w in zip(row, widths)))
        previous = epoch
    return "\n".join(lines)
