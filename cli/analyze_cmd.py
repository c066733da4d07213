"""``dynamics analyze SOURCE``: diagnose every run a log holds.

Terminal output (rich) by default: the verdict, findings grouped by topic
with their numbers and suggestions, and a compact epoch table. ``--json``
prints the same findings as data: ``{"runs": [Diagnosis.to_dict(), ...]}``.
"""

from __future__ import annotations

from typing import Annotated

import typer


def analyze(
    source: Annotated[str, typer.Argument(help="Log file, CSVLogger file, History JSON, run directory, or - for stdin.")],
    run: Annotated[int | None, typer.Option("--run", metavar="N", help="Only run N (1-based) of a multi-run log.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
    n_val: Annotated[
        int | None, typer.Option("--n-val", metavar="N", help="Validation samples, when the log does not say.")
    ] = None,
    classes: Annotated[
        int | None, typer.Option("--classes", metavar="K", help="Number of classes (2 = one sigmoid output).")
    ] = None,
    tables: Annotated[bool, typer.Option("--tables/--no-tables", help="Include the per-epoch tables in --json.")] = True,
) -> None:
    """Diagnose a training log: overfitting, noise, early stopping, confidence bounds."""
    from dynamics.diagnose import diagnose
    from dynamics.errors import ArgumentError
    from dynamics.io import load_runs

    if n_val is not None and n_val <= 0:
        raise ArgumentError(f"--n-val must be a positive number of samples. Received: --n-val {n_val}")
    if classes is not None and classes < 2:
        raise ArgumentError(f"--classes must be at least 2. Received: --classes {classes}")
    runs = load_runs(source)
    total = len(runs)
    if run is not None:
        if not 1 <= run <= total:
            raise ArgumentError(
                f"--run must be between 1 and {total} for this source ({total} run{'s' if total != 1 else ''}). "
                f"Received: --run {run}"
            )
        runs = [runs[run - 1]]
    diagnoses = [diagnose(r, n_val=n_val, classes=classes) for r in runs]
    if as_json:
        import json

        print(json.dumps({"runs": [d.to_dict(tables=tables) for d in diagnoses]}, indent=1, allow_nan=False))
        return
    from rich.console import Console

    from dynamics.report.terminal import render

    console = Console()
    for i, d in enumerate(diagnoses):
        if i:
            console.print()
        title = d.run.meta.source + (f" (run {d.run.meta.run_index + 1} of {total})" if total > 1 else "")
        render(d, console, title=title)
