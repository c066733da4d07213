"""``dynamics report SOURCE... --out PATH``: an HTML or Markdown report of every run.

``PATH`` ending in ``.html`` gives one self-contained file (figures embedded,
no script, nothing fetched); ``.md`` gives GitHub-flavoured Markdown with its
figures in ``<stem>_files/`` beside it. Each run gets its verdict and numbered
findings first, then the figures, then the tables -- the same findings and
tables ``dynamics analyze`` prints.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cli.options import ClassesOption, NValOption, check_counts


def report(
    sources: Annotated[list[str], typer.Argument(
        help="Log files, CSVLogger files, History JSON, TensorBoard log_dirs, Lightning metrics.csv, "
             "trainer_state.json, run folders, run directories, or - for stdin.", show_default=False)],
    out: Annotated[str, typer.Option("--out", "-o", metavar="PATH",
                                     help="Report file: .html (self-contained) or .md (images beside it).")],
    run: Annotated[int | None, typer.Option("--run", metavar="N", help="Only run N (1-based) of each source.")] = None,
    n_val: NValOption = None,
    classes: ClassesOption = None,
    title: Annotated[str | None, typer.Option("--title", help="Title of the report.")] = None,
) -> None:
    """Write an HTML or Markdown report: verdict and findings, plots, tables."""
    from dynamics.errors import ArgumentError
    from dynamics.report.writer import report_format

    fmt = report_format(out)  # a bad --out fails before any work
    check_counts(n_val, classes)
    if sources.count("-") > 1:
        raise ArgumentError("standard input can be read once. Received: - more than once")
    from dynamics.pipeline import run_reports
    from dynamics.report.document import run_document
    from dynamics.report.writer import write_document

    reports = run_reports(sources, run=run, n_val=n_val, classes=classes)
    doc = run_document(reports, title=title)
    path = write_document(doc, out)
    figures = sum(len(s.figures) for s in doc.sections)
    where = ""
    if fmt == "markdown":
        from dynamics.report.markdown import files_dir

        where = f", images in {files_dir(path)}"
    runs = len(reports)
    print(f"wrote {path} ({runs} run{'s' if runs != 1 else ''}, {figures} figure{'s' if figures != 1 else ''}{where})")
    from dynamics.sources.io import damage_error

    damaged = damage_error([r.run for r in reports])
    if damaged is not None:  # the report holds what was readable; the exit code still says the source is damaged
        raise damaged
