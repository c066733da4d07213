"""``dynamics compare SOURCE SOURCE...``: runs side by side, in the terminal or as a report.

Every run of every source is diagnosed; the comparison reads each diagnosis
(best and last val_loss and val_accuracy, the rise, the recommended early
stop) into one table, groups seeds of one configuration
(:func:`dynamics.diagnosis.configuration.group_runs`, the groups ``dynamics analyze``
shows; ``--group-by`` names the keys) and sets their spread beside the
sampling noise. ``--out report.html`` / ``report.md`` writes the
comparison as a report; ``--json`` prints it as data.
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


def compare(
    sources: Annotated[list[str], typer.Argument(
        help="Two or more logs, CSVLogger files, History JSON or run directories (every run of each is compared).",
        show_default=False)],
    out: Annotated[str | None, typer.Option("--out", "-o", metavar="PATH",
                                            help="Also write a report: .html or .md.")] = None,
    group_by: GroupByOption = None,
    n_val: NValOption = None,
    classes: ClassesOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Compare runs side by side: which overfits later, and is it more than the seed?"""
    from dynamics.errors import ArgumentError

    if out is not None:
        from dynamics.report.writer import report_format

        report_format(out)
    check_counts(n_val, classes)
    if sources.count("-") > 1:
        raise ArgumentError("standard input can be read once. Received: - more than once")
    keys = group_keys(group_by)
    from dynamics.pipeline import compare_report, run_reports

    reports = run_reports(sources, n_val=n_val, classes=classes)
    if len(reports) < 2:
        raise ArgumentError(f"compare needs at least 2 runs; the sources hold {len(reports)}. Received: {' '.join(sources)}")
    result = compare_report(reports, group_by=keys, n_val=n_val)
    if as_json:
        import json

        print(json.dumps(result.comparison.to_dict(), indent=1, allow_nan=False))
    else:
        from rich.console import Console

        from dynamics.report.compare_terminal import render_comparison

        render_comparison(result.comparison, Console())
    if out is not None:
        from dynamics.report.writer import write_compare_report

        path = write_compare_report(result, out)
        message = f"wrote {path}"
        if as_json:
            import sys

            print(message, file=sys.stderr)
        else:
            print(message)
