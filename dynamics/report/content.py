"""What a report is made of, computed once: each run's diagnosis and per-sample analysis.

:func:`run_report` diagnoses a run; when the run carries recorded
predictions it also analyses them once (:func:`dynamics.explain.analyze`) and
adds the per-sample findings (:func:`dynamics.explain.explain`, fed that same
analysis) to the diagnosis as an extra producer. The terminal, HTML and
Markdown reports and every plot then read these objects; nothing downstream
computes a statistic again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dynamics.errors import ArgumentError
from dynamics.run import Run

if TYPE_CHECKING:
    from dynamics.compare import Comparison
    from dynamics.diagnose import Diagnosis
    from dynamics.stats.analysis import RunAnalysis

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
    """

    run: Run
    diagnosis: Diagnosis
    analysis: RunAnalysis | None = None
    decoder: Callable[[int], str] | None = field(default=None, repr=False)

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
        from dynamics.explain import analyze

        analysis = analyze(run)  # once, for the findings and for the figures
        decoder = decoder or _run_dir_texts(run)
    diagnosis = diagnose(run, n_val=n_val, classes=classes, sample_analysis=analysis)
    return RunReport(run, diagnosis, analysis, decoder)


def _run_dir_texts(run: Run) -> Callable[[int], str] | None:
    """The validation samples' text of a run directory that keeps its inputs and vocabulary, else None."""
    if run.meta.format != "recorded" or not Path(run.meta.source).is_dir():
        return None
    try:
        from dynamics.rundir import sample_texts
    except ImportError:  # a tree without the recorder
        return None
    texts = sample_texts(run.meta.source, "val")
    return texts.__getitem__ if texts else None


def load_sources(sources: Iterable[Source], *, run: int | None = None) -> list[Run]:
    """Every run of every source, in order; ``run`` (1-based) picks one run of each source.

    Raises :class:`~dynamics.errors.ArgumentError` when ``run`` is out of range.
    """
    from dynamics.io import load_runs

    out: list[Run] = []
    for source in sources:
        runs = [source] if isinstance(source, Run) else load_runs(source)
        if run is not None:
            if not 1 <= run <= len(runs):
                name = source.label if isinstance(source, Run) else str(source)
                raise ArgumentError(
                    f"--run must be between 1 and {len(runs)} for {name} ({len(runs)} run"
                    f"{'s' if len(runs) != 1 else ''}). Received: --run {run}"
                )
            runs = [runs[run - 1]]
        out.extend(runs)
    return out


def run_reports(
    sources: Iterable[Source],
    *,
    run: int | None = None,
    n_val: int | None = None,
    classes: int | None = None,
    decoder: Callable[[int], str] | None = None,
) -> list[RunReport]:
    """:func:`run_report` of every run in ``sources``."""
    return [run_report(r, n_val=n_val, classes=classes, decoder=decoder) for r in load_sources(sources, run=run)]


def compare_report(
    reports: Sequence[RunReport], *, group_by: Sequence[str] | None = None, n_val: int | None = None
) -> CompareReport:
    """Compare the runs of several reports (:func:`dynamics.compare.compare`)."""
    from dynamics.compare import compare

    reports = list(reports)
    comparison = compare([r.diagnosis for r in reports], analyses=[r.analysis for r in reports], group_by=group_by,
                         n_val=n_val)
    return CompareReport(comparison, reports)
