"""The one pipeline every command runs: sources -> runs -> diagnosis (and the per-sample analysis, once).

``dynamics analyze``, ``report``, ``compare`` and ``train`` all go through
:func:`run_reports`: each source (a path, ``-``, log text, a folder of run
directories, or a :class:`~dynamics.run.Run`) is loaded
(:func:`load_sources`), each run is diagnosed, and a run that carries
recorded predictions is analysed once (:func:`dynamics.diagnosis.samples.stories.analyze`),
that analysis feeding both the per-sample findings of the diagnosis and,
later, the figures. :func:`compare_report` sets several reports side by side
(:func:`dynamics.diagnosis.compare.compare`). The terminal, HTML and Markdown reports
and every plot then read these objects; nothing downstream computes a
statistic again, and nothing here prints or draws (the report modules build
the figures from a :class:`RunReport` when a report asks for them, so
analysing a log never imports matplotlib).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dynamics.errors import ArgumentError
from dynamics.run import Run

if TYPE_CHECKING:
    from dynamics.diagnose import Diagnosis
    from dynamics.diagnosis.compare import Comparison
    from dynamics.stats.analysis import RunAnalysis

__all__ = ["CompareReport", "RunReport", "Source", "compare_report", "expand_sources", "load_sources", "run_report",
           "run_reports"]

#: A source: a path, ``"-"`` (stdin), log text, or a Run already loaded.
Source = str | Path | Run


@dataclass
class RunReport:
    """One run with everything a report shows about it.

    Attributes
    ----------
    run : Run
    diagnosis : Diagnosis
        Log-level findings, verdict and tables; for a recorded run also the
        per-sample findings (topic ``"samples"``).
    analysis : RunAnalysis or None
        The per-sample analysis of a recorded run (None for a log).
    decoder : callable or None
        Position of a sample in the recorded validation split -> its text
        (a review), for the tables of samples.
    runs_in_source : int
        How many runs the run's source holds (a log may hold several).
    """

    run: Run
    diagnosis: Diagnosis
    analysis: RunAnalysis | None = None
    decoder: Callable[[int], str] | None = field(default=None, repr=False)
    runs_in_source: int = 1

    @property
    def label(self) -> str:
        return self.run.label

    @property
    def recorded(self) -> bool:
        return self.analysis is not None


@dataclass
class CompareReport:
    """Several runs side by side: the comparison and each run's report."""

    comparison: Comparison
    reports: list[RunReport]


def run_report(
    run: Run, *, n_val: int | None = None, classes: int | None = None, decoder: Callable[[int], str] | None = None
) -> RunReport:
    """Diagnose a run (and analyse its recorded predictions once).

    Examples
    --------
    >>> from dynamics.simulate import simulate_run
    >>> r = run_report(simulate_run("overconfident", n=300, epochs=6, n_train=50))
    >>> r.recorded, "val_loss_rise" in r.diagnosis.codes()
    (True, True)
    """
    from dynamics.diagnose import diagnose

    analysis = None
    if run.predictions is not None and len(run.predictions):
        from dynamics.diagnosis.samples.stories import analyze

        analysis = analyze(run)  # once, for the findings and for the figures
        decoder = decoder or _run_dir_texts(run)
    diagnosis = diagnose(run, n_val=n_val, classes=classes, sample_analysis=analysis)
    return RunReport(run, diagnosis, analysis, decoder)


def _run_dir_texts(run: Run) -> Callable[[int], str] | None:
    """The validation samples' text of a run directory that keeps its inputs and vocabulary, else None.

    The texts are decoded on the first call, not here: most commands never
    show one (decoding every review of IMDB takes a second).
    """
    from dynamics.sources.rundir.layout import VOCABULARY

    root = Path(run.meta.source)
    if run.meta.format != "recorded" or not (root / VOCABULARY).is_file() or not (root / "val" / "inputs.npy").is_file():
        return None
    from dynamics.sources.rundir import sample_texts

    @functools.cache
    def texts() -> list[str]:
        return sample_texts(root, "val") or []  # a damaged vocabulary: no text rather than an error

    def decode(position: int) -> str:
        return texts()[position] if position < len(texts()) else ""

    return decode


def expand_sources(sources: Sequence[str]) -> list[str]:
    """Replace each folder by the runs' sources in it (:func:`dynamics.sources.folders.expand_folder`).

    A folder of run directories gives its run directories (sorted by name),
    a keras-tuner tree its executions' TensorBoard folders, a
    ``lightning_logs`` folder its versions' ``metrics.csv``. A run directory
    (it has ``meta.json``), a file and ``"-"`` stay as they are. A folder
    holding nothing dynamics reads is an :class:`~dynamics.errors.InputError`.

    Examples
    --------
    >>> expand_sources(["log.txt", "-"])
    ['log.txt', '-']
    """
    out: list[str] = []
    for source in sources:
        path = Path(source)
        if source != "-" and path.is_dir() and not (path / "meta.json").is_file():
            from dynamics.sources.folders import expand_folder

            out.extend(expand_folder(path))  # a tuner tree, Lightning versions, run directories...
        else:
            out.append(source)
    return out


def load_sources(sources: Iterable[Source], *, run: int | None = None) -> list[tuple[Run, int]]:
    """Every run of every source, in order, with the number of runs in its source.

    A folder of run directories stands for the run directories in it
    (:func:`expand_sources`); ``run`` (1-based) picks one run of each source.
    Raises :class:`~dynamics.errors.ArgumentError` when ``run`` is out of range.
    """
    from dynamics.sources.io import load_runs

    expanded: list[Source] = []
    for source in sources:
        if isinstance(source, str | os.PathLike) and "\n" not in os.fspath(source):  # a path, not log text
            expanded.extend(expand_sources([os.fspath(source)]))
        else:
            expanded.append(source)
    out: list[tuple[Run, int]] = []
    for source in expanded:
        runs = [source] if isinstance(source, Run) else load_runs(source)
        total = len(runs)
        if run is not None:
            if not 1 <= run <= total:
                name = source.label if isinstance(source, Run) else str(source)
                where = f" for {name}" if len(expanded) > 1 else " for this source"
                raise ArgumentError(
                    f"--run must be between 1 and {total}{where} ({total} run"
                    f"{'s' if total != 1 else ''}). Received: --run {run}"
                )
            runs = [runs[run - 1]]
        out.extend((r, total) for r in runs)
    return out


def run_reports(
    sources: Iterable[Source],
    *,
    run: int | None = None,
    n_val: int | None = None,
    classes: int | None = None,
    decoder: Callable[[int], str] | None = None,
) -> list[RunReport]:
    """:func:`run_report` of every run in ``sources`` (see :func:`load_sources`).

    Examples
    --------
    >>> from dynamics.simulate import simulate_run
    >>> [(r.label, r.recorded) for r in run_reports([simulate_run("healthy", n=100, epochs=3)])]
    [('simulated:healthy', True)]
    """
    out = []
    for r, total in load_sources(sources, run=run):
        report = run_report(r, n_val=n_val, classes=classes, decoder=decoder)
        report.runs_in_source = total
        out.append(report)
    return out


def compare_report(
    reports: Sequence[RunReport], *, group_by: Sequence[str] | None = None, n_val: int | None = None
) -> CompareReport:
    """Compare the runs of several reports (:func:`dynamics.diagnosis.compare.compare`)."""
    from dynamics.diagnosis.compare import compare

    reports = list(reports)
    comparison = compare([r.diagnosis for r in reports], analyses=[r.analysis for r in reports], group_by=group_by,
                         n_val=n_val)
    return CompareReport(comparison, reports)
