"""A report as a document: sections of verdict, numbered findings, figures and tables.

:func:`run_document` and :func:`compare_document` lay out what
:mod:`dynamics.pipeline` computed; :mod:`dynamics.report.html` and
:mod:`dynamics.report.markdown` only format a :class:`Document`. Strings here
are plain text, never markup: each writer escapes them for its own format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dynamics.findings import Finding
from dynamics.report.figures import RenderedFigure, compare_figures, run_figures
from dynamics.report.tables import TableSpec, compare_tables, run_tables

if TYPE_CHECKING:
    from dynamics.diagnosis.compare import Comparison
    from dynamics.pipeline import CompareReport, RunReport

#: Titles of topics the diagnosis does not name.
EXTRA_TOPICS = {
    "samples": "Sample by sample (recorded predictions)",
    "compare": "Comparison",
}

#: Severity words shown next to each finding.
SEVERITY_WORDS = {
    "critical": "critical",
    "warning": "warning",
    "info": "info",
    "undetermined": "cannot tell",
}


@dataclass
class NumberedFinding:
    """A finding with its number in the section (1-based)."""

    number: int
    finding: Finding


@dataclass
class Section:
    """One run (or the comparison): everything shown about it, in reading order."""

    anchor: str
    title: str
    context: str
    verdict: list[str]
    findings: list[tuple[str, list[NumberedFinding]]]
    figures: list[RenderedFigure] = field(default_factory=list)
    tables: list[TableSpec] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Document:
    """A whole report: a title and its sections."""

    title: str
    sections: list[Section]
    kind: str = "report"


def topic_title(topic: str) -> str:
    from dynamics.diagnose import TOPIC_TITLES

    return TOPIC_TITLES.get(topic) or EXTRA_TOPICS.get(topic) or topic.replace("_", " ").capitalize()


def number_findings(findings: Sequence[Finding], topics: Sequence[str] = ()) -> list[tuple[str, list[NumberedFinding]]]:
    """Group findings by topic (``topics`` order first) and number them 1, 2, ... in that order."""
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        groups.setdefault(f.topic, []).append(f)
    order = [t for t in topics if t in groups] + [t for t in groups if t not in topics]
    out, n = [], 0
    for topic in order:
        items = []
        for f in groups[topic]:
            n += 1
            items.append(NumberedFinding(n, f))
        out.append((topic_title(topic), items))
    return out


def context_line(report: RunReport) -> str:
    """Epochs logged, n_val and classes with where they came from (as the terminal report says)."""
    from dynamics.diagnosis.wording import context_bits

    bits = context_bits(report.diagnosis.context, [int(e) for e in report.run.epochs.index])
    fmt = report.run.meta.format
    bits.append({"progbar": "printed log", "csvlogger": "CSVLogger file", "history-json": "History JSON",
                 "recorded": "recorded run", "live": "epoch logs so far (LiveDiagnosis)"}.get(fmt, fmt))
    if report.analysis is not None:
        a = report.analysis.val
        bits.append(f"{a.n_samples:,} validation samples recorded over {len(a.epochs)} epochs")
    return " | ".join(bits)


def run_section(report: RunReport, index: int, *, figures: bool = True) -> Section:
    """The section of one run."""
    from dynamics.diagnose import TOPICS

    d = report.diagnosis
    from dynamics.diagnosis.wording import pattern_line

    verdict = [d.verdict.text, pattern_line(d.verdict)]
    rise = d.get("val_loss_rise")
    if rise is not None:
        verdict.append("Sample by sample: " + rise.claim)
    notes = []
    figs = run_figures(report) if figures else []
    if report.analysis is None:
        notes.append("This source is a log: the per-sample figures (confidence, reliability, churn, data map) "
                     "need a recorded run (dynamics.PredictionRecorder or `dynamics train`).")
    return Section(f"run-{index}", report.label, context_line(report), verdict,
                   number_findings(d.findings, TOPICS), figs, run_tables(report), notes)


def run_document(reports: Sequence[RunReport], *, title: str | None = None, figures: bool = True) -> Document:
    """A report of one or more runs (one section each)."""
    reports = list(reports)
    if title is None:
        title = f"dynamics report: {reports[0].label}" if len(reports) == 1 else f"dynamics report: {len(reports)} runs"
    return Document(title, [run_section(r, i + 1, figures=figures) for i, r in enumerate(reports)])


def compare_context(c: Comparison) -> tuple[str, list[str]]:
    """The context line and the verdict of a comparison."""
    groups = sum(1 for members in c.groups.values() if len(members) > 1)
    context = f"{len(c.labels)} runs in {len(c.groups)} configuration{'s' if len(c.groups) != 1 else ''}" + (
        f"; {groups} with several seeds" if groups else "")
    verdict = [f.claim for f in c.findings if f.code == "compare_best_epochs"] or [
        "The runs form a single configuration; see the seeds finding."]
    return context, verdict


def compare_document(report: CompareReport, *, title: str | None = None, figures: bool = True) -> Document:
    """A comparison: its summary section, then each run's verdict and findings (without their figures)."""
    c = report.comparison
    context, verdict = compare_context(c)
    head = Section("compare", "Comparison", context, verdict, number_findings(c.findings),
                   compare_figures(report) if figures else [], compare_tables(report))
    sections = [head]
    for i, r in enumerate(report.reports):
        s = run_section(r, i + 1, figures=False)
        s.title = c.labels[i]
        s.tables = [t for t in s.tables if t.key == "epochs"]
        s.notes = ["The full report of this run: dynamics report SOURCE --out report.html"]
        sections.append(s)
    return Document(title or f"dynamics compare: {len(c.labels)} runs", sections, kind="compare")
