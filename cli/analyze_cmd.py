"""``dynamics analyze SOURCE...``: diagnose every run, sample by sample where recorded, and compare seeds.

Each SOURCE is a log file (any Keras era, CSVLogger, History JSON), ``-``
for stdin, a recorded run directory, a folder of run directories (as
``dynamics train --seeds N`` writes them), or a folder another tool wrote
(:mod:`dynamics.sources.folders`: a TensorBoard log_dir, a keras-tuner tree -- one
run per execution, grouped by trial --, ``lightning_logs``, a Hugging Face
output folder, W&B's ``wandb/``). Every run gets the log-level
diagnosis; a recorded run also gets the per-sample findings
(:mod:`dynamics.diagnosis.samples`), in the same report. When the runs come
from two or more sources, or from a folder holding several runs, an "Across
runs" section follows: the runs grouped by configuration, and for each group
the run-to-run spread of val_accuracy beside the within-run fluctuation and
the binomial noise (:func:`dynamics.diagnosis.configuration.group_runs`, the groups
``dynamics compare`` uses; ``--group-by`` names the keys). One source behaves as it
always did. A damaged source (a truncated event file) is diagnosed on what
was read before the damage, then the command ends with one error line and a
non-zero exit.

Terminal output (rich) by default; ``--json`` prints
``{"runs": [Diagnosis.to_dict(), ...]}``, plus ``"seeds": [...]`` when runs
were compared. The tables with one row per validation sample are left out of
``--json`` unless ``--per-sample`` is given.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cli.options import (
    ClassesOption,
    GroupByOption,
    NValOption,
    check_counts,
    group_keys,
)


def analyze(
    sources: Annotated[list[str], typer.Argument(
        help="Log file, CSVLogger file, History JSON, TensorBoard log_dir or keras-tuner tree, Lightning metrics.csv, "
             "trainer_state.json, W&B or Lightning run folder, run directory, folder of run directories, or - for stdin. "
             "Several: each is diagnosed, then runs of one configuration are compared across seeds.",
        metavar="SOURCE...")],
    run: Annotated[int | None, typer.Option("--run", metavar="N", help="Only run N (1-based) of each multi-run log.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
    n_val: NValOption = None,
    classes: ClassesOption = None,
    group_by: GroupByOption = None,
    tables: Annotated[bool, typer.Option("--tables/--no-tables", help="Include the per-epoch tables in --json.")] = True,
    per_sample: Annotated[bool, typer.Option(
        "--per-sample", help="Include the tables with one row per validation sample in --json (large).")] = False,
    full: Annotated[bool, typer.Option(
        "--full", help="Print every finding with its tests and intervals, not only the verdict and the epoch table.")] = False,
) -> None:
    """Diagnose training runs: overfitting, noise, early stopping, confidence; sample by sample when recorded."""
    from dynamics.diagnosis import samples
    from dynamics.errors import ArgumentError
    from dynamics.pipeline import expand_sources, run_reports

    check_counts(n_val, classes)
    keys = group_keys(group_by)
    if sources.count("-") > 1:
        raise ArgumentError("standard input (-) can be read only once. Received: - given "
                            f"{sources.count('-')} times")
    expanded = expand_sources(sources)
    reports = run_reports(expanded, run=run, n_val=n_val, classes=classes)
    diagnoses = [r.diagnosis for r in reports]
    groups = None
    if len(expanded) > 1 or len(expanded) > len(sources):
        from dynamics.diagnosis.configuration import group_runs

        groups = group_runs([r.run for r in reports], keys=keys, n_val=n_val)
    if as_json:
        import json

        skip = () if per_sample else samples.PER_SAMPLE_TABLES
        out = {"runs": [d.to_dict(tables=tables, skip_tables=skip) for d in diagnoses]}
        if groups is not None:
            out["seeds"] = [g.to_dict() for g in groups]
        print(json.dumps(out, indent=1, allow_nan=False))
        _end_if_damaged([r.run for r in reports])
        return
    from rich.console import Console

    from dynamics.report.terminal import render, render_seeds

    console = Console()
    for i, report in enumerate(reports):
        if i:
            console.print()
        r, total = report.run, report.runs_in_source
        title = r.meta.source + (f" (run {r.meta.run_index + 1} of {total})" if total > 1 else "")
        render(report.diagnosis, console, title=title, full=full, command=_rerun_command(sources, r, total))
    if groups is not None:
        console.print()
        render_seeds(groups, console)
    _end_if_damaged([r.run for r in reports])


def _end_if_damaged(runs: list) -> None:  # type: ignore[type-arg]
    """Exit with an error once the report is out when a source was damaged (what was readable is shown)."""
    from dynamics.sources.io import damage_error

    error = damage_error(runs)
    if error is not None:
        raise error


def _rerun_command(sources: list[str], run: object, total: int) -> str:
    """The command that prints this run's full report (named on the first screen)."""
    import shlex

    src = getattr(run.meta, "source", None) or (sources[0] if sources else "-")  # type: ignore[attr-defined]
    one = f" --run {run.meta.run_index + 1}" if total > 1 else ""  # type: ignore[attr-defined]
    return f"dynamics analyze {shlex.quote(str(src))}{one} --full"
