"""Write a report file: HTML (one self-contained file) or Markdown (with an images folder).

:func:`write_report` is what ``dynamics report`` and ``dynamics train`` call;
:func:`write_compare_report` is what ``dynamics compare --out`` calls. The
format follows the file name: ``.html`` / ``.htm`` or ``.md`` / ``.markdown``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from dynamics.errors import ArgumentError, InputError
from dynamics.pipeline import (
    CompareReport,
    RunReport,
    Source,
    compare_report,
    run_reports,
)
from dynamics.report.document import Document, compare_document, run_document

FORMATS = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown"}


def report_format(path: str | Path) -> str:
    """``"html"`` or ``"markdown"`` from the file name.

    >>> report_format("out/report.HTML"), report_format("notes.md")
    ('html', 'markdown')
    """
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise ArgumentError(f"the report path must end in .html or .md. Received: --out {path}")
    return fmt


def _check_target(path: Path) -> None:
    if path.is_dir():
        raise ArgumentError(f"--out must be a file name, not a folder. Received: --out {path}")
    # A new user names a folder that is not there yet (``--out new/folder/r.md``): make it. This runs
    # only once the report is laid out, so a source that fails to load leaves no empty folders behind.
    for parent in (path.parent, *path.parent.parents):
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"cannot write {path}: {parent} is a file, not a folder")
            break
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot write {path}: cannot create the folder {path.parent} ({exc.strerror or exc})") from None


def write_document(doc: Document, path: str | Path) -> Path:
    """Write a laid-out document to ``path`` in the format its name asks for."""
    path = Path(path)
    fmt = report_format(path)
    _check_target(path)
    try:
        if fmt == "html":
            from dynamics.report.html import write_html

            return write_html(doc, path)
        from dynamics.report.markdown import write_markdown

        return write_markdown(doc, path)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_report(
    sources: Source | Iterable[Source] | Sequence[RunReport],
    out: str | Path,
    *,
    run: int | None = None,
    n_val: int | None = None,
    classes: int | None = None,
    decoder: Callable[[int], str] | None = None,
    title: str | None = None,
) -> Path:
    """Diagnose every run of ``sources`` and write the report to ``out`` (.html or .md).

    Parameters
    ----------
    sources : path, Run, or a sequence of them (or of RunReport)
        Anything ``dynamics analyze`` accepts: log files, CSVLogger files,
        History JSON, run directories, ``"-"`` for stdin, or loaded runs.
    out : path
        ``report.html`` (one self-contained file) or ``report.md`` (plus a
        ``report_files/`` folder of images beside it).
    run : int, optional
        Only run ``run`` (1-based) of each source.
    n_val, classes : int, optional
        What the log does not say (as ``--n-val`` and ``--classes``).
    decoder : callable, optional
        Position of a validation sample -> its text, for the tables of samples
        (a run directory that keeps its inputs and vocabulary is decoded without it).
    title : str, optional

    Returns
    -------
    Path
        The file written.

    Examples
    --------
    A trainer writes the report of its run directory when it finishes:

    >>> from dynamics.simulate import simulate_run
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "report.html"
    >>> write_report(simulate_run("healthy", n=200, epochs=4, n_train=20), out).stat().st_size > 10_000
    True
    """
    report_format(out)
    if isinstance(sources, (str, Path)) or not isinstance(sources, Iterable) or hasattr(sources, "epochs"):
        sources = [sources]  # type: ignore[list-item]
    items = list(sources)  # type: ignore[arg-type]
    if items and all(isinstance(i, RunReport) for i in items):
        reports = items
    else:
        reports = run_reports(items, run=run, n_val=n_val, classes=classes, decoder=decoder)
    if not reports:
        raise InputError("there is nothing to report: the sources hold no run")
    return write_document(run_document(reports, title=title), out)  # type: ignore[arg-type]


def write_compare_report(report: CompareReport | Sequence[RunReport], out: str | Path, *,
                         group_by: Sequence[str] | None = None, title: str | None = None) -> Path:
    """Write the comparison of several runs to ``out`` (.html or .md)."""
    report_format(out)
    if not isinstance(report, CompareReport):
        report = compare_report(list(report), group_by=group_by)
    return write_document(compare_document(report, title=title), out)
