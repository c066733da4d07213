"""Short static HTML for notebooks: what ``_repr_html_`` of a Run, a Diagnosis and a Comparison shows.

Jupyter calls ``_repr_html_`` to display an object. The display is the head
of the HTML report, from the same pieces (:func:`dynamics.report.document.
number_findings`, :func:`dynamics.report.html.section_html`): the verdict,
the key figure (loss and accuracy with the Wilson band of val_accuracy, or
the comparison's curves) as an inline ``data:`` PNG, and the first findings,
with how many more there are. No widgets and no script: the output is
static HTML that a notebook keeps, exports and shows again without a kernel.

Its stylesheet is scoped to the ``div.dynamics-nb`` the display sits in, so
it cannot restyle the notebook around it. Matplotlib is imported only when a
figure is drawn.
"""

from __future__ import annotations

from typing import Any

from dynamics.report.document import Section, compare_context, number_findings
from dynamics.report.html import esc, section_html

#: Findings shown before "... and N more".
MAX_FINDINGS = 5
#: Figures in a notebook are shown about 700 px wide: 96 dpi keeps the page small.
NOTEBOOK_DPI = 96

CSS = """
.dynamics-nb { max-width: 60rem; line-height: 1.45; }
.dynamics-nb h3 { font-size: 1rem; margin: .75rem 0 .25rem; }
.dynamics-nb h4 { font-size: .95rem; margin: .5rem 0 .15rem; opacity: .75; }
.dynamics-nb .context, .dynamics-nb .notes, .dynamics-nb figcaption { opacity: .75; font-size: .85rem; }
.dynamics-nb .verdict { border-left: 4px solid currentColor; padding: .4rem .8rem; margin: .5rem 0; }
.dynamics-nb .verdict h3 { margin: 0 0 .2rem; }
.dynamics-nb ol.findings li { margin: .3rem 0; }
.dynamics-nb .sev { font-size: .7rem; font-weight: 700; text-transform: uppercase; border: 1px solid;
  border-radius: 999px; padding: 0 .45rem; margin-right: .3rem; }
.dynamics-nb .sev-info { color: #0969da; } .dynamics-nb .sev-warning { color: #9a6700; }
.dynamics-nb .sev-critical { color: #cf222e; } .dynamics-nb .sev-undetermined { color: #8250df; }
.dynamics-nb .suggestion { display: block; color: #1a7f37; }
.dynamics-nb figure { margin: .5rem 0; }
.dynamics-nb figure img { max-width: 100%; height: auto; }
"""


def _html(title: str, section: Section, more: int, hint: str) -> str:
    if more > 0:
        section.notes.append(f"... and {more} more finding{'s' if more != 1 else ''}: {hint}.")
    body = "\n".join(section_html(section, single=True))
    return f'<div class="dynamics-nb"><style>{CSS}</style><h3>{esc(title)}</h3>\n{body}\n</div>'


def _first(findings: list, limit: int) -> tuple[list, int]:
    """The first ``limit`` numbered findings (topic groups kept) and how many were left out."""
    out, shown, total = [], 0, sum(len(items) for _, items in findings)
    for topic, items in findings:
        room = limit - shown
        if room <= 0:
            break
        out.append((topic, items[:room]))
        shown += len(items[:room])
    return out, total - shown


def diagnosis_html(d: Any, *, max_findings: int = MAX_FINDINGS, figure: bool = True, analysis: Any = None) -> str:
    """The notebook display of a :class:`~dynamics.diagnose.Diagnosis`.

    Examples
    --------
    >>> from dynamics.diagnose import diagnose
    >>> from dynamics.run import Run, make_epoch_table
    >>> rows = {e: {"loss": 1 / e, "val_loss": 0.4 + abs(e - 3) / 20} for e in range(1, 7)}
    >>> html = diagnosis_html(diagnose(Run(make_epoch_table(rows))), figure=False)
    >>> "Verdict" in html, "<script" in html
    (True, False)
    """
    from dynamics.diagnose import TOPICS
    from dynamics.report.content import RunReport
    from dynamics.report.document import context_line

    verdict = [d.verdict]
    rise = d.get("val_loss_rise")
    if rise is not None:
        verdict.append("Sample by sample: " + rise.claim)
    findings, more = _first(number_findings(d.findings, TOPICS), max_findings)
    figures = []
    if figure:
        from dynamics.report.figures import key_figure

        fig = key_figure(d, dpi=NOTEBOOK_DPI)
        figures = [fig] if fig is not None else []
    section = Section("nb-run", d.run.label, context_line(RunReport(d.run, d, analysis)), verdict, findings, figures)
    return _html(d.run.label, section, more, "print(diagnosis.findings), or dynamics report SOURCE --out report.html")


def run_html(run: Any, *, max_findings: int = MAX_FINDINGS) -> str:
    """The notebook display of a :class:`~dynamics.run.Run`: its diagnosis (with the per-sample one if recorded)."""
    from dynamics.report.content import run_report

    report = run_report(run)
    return diagnosis_html(report.diagnosis, max_findings=max_findings, analysis=report.analysis)


def comparison_html(c: Any, *, max_findings: int = MAX_FINDINGS, figure: bool = True) -> str:
    """The notebook display of a :class:`~dynamics.diagnosis.compare.Comparison`."""
    context, verdict = compare_context(c)
    findings, more = _first(number_findings(c.findings), max_findings)
    figures = []
    if figure:
        from dynamics.report.content import CompareReport
        from dynamics.report.figures import compare_figures

        figures = compare_figures(CompareReport(c, []), dpi=NOTEBOOK_DPI)
    section = Section("nb-compare", "Comparison", context, verdict, findings, figures)
    return _html(f"Comparison of {len(c.labels)} runs", section, more, "dynamics compare SOURCES --out compare.html")
