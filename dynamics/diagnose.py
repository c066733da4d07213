"""Diagnose a run: statistics -> findings, a verdict, and the tables behind them.

:func:`diagnose` resolves what the run does not say by itself (the number of
validation samples, the number of classes), then calls *finding producers*
one after the other. A producer is a function ``producer(ctx) -> list of
Finding`` taking a :class:`~dynamics.diagnosis.context.Context` (``ctx.run``
is the :class:`~dynamics.run.Run`); it may publish the tables its findings
came from in ``ctx.tables`` and offer sentences for the verdict with
``ctx.offer_verdict(priority, sentence)``. The log-level producers are in
:mod:`dynamics.diagnosis`; more are plugged in with
``diagnose(run, extra_producers=[...])`` or by appending to :data:`PRODUCERS`.
A plain ``run -> list[Finding]`` function can be adapted with
:func:`from_run`. For a recorded run, :func:`dynamics.diagnosis.samples.produce`
(the last default producer) adds the per-sample findings and tables
(``samples_*``); a producer that
answers what an earlier one could only bound calls ``ctx.supersede(code, by)``
and ``ctx.withdraw_verdict(key)``, and the superseded findings are left out.

Nothing here prints or imports a plotting library; see
:mod:`dynamics.report` for the printers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dynamics.diagnosis import (
    confidence,
    early_stopping,
    noise,
    overfitting,
    patterns,
    samples,
    sanity,
    training_loss,
    verdict,
)
from dynamics.diagnosis.context import Context, resolve_context
from dynamics.findings import Finding
from dynamics.run import Run, _json_ready

Producer = Callable[[Context], Iterable[Finding]]

#: The log-level producers, in the order their findings are listed.
PRODUCERS: list[Producer] = [
    sanity.coverage,
    sanity.produce,
    patterns.produce,  # the loss and accuracy patterns the findings after it are worded by
    overfitting.produce,
    confidence.produce,
    noise.produce,
    early_stopping.produce,
    training_loss.produce,
    verdict.produce,
    samples.produce,  # recorded runs only: answers what the log-level producers could only bound
]

#: Topics in display order; a finding with another topic is listed after them.
#: The per-sample explanation of a recorded run answers the overfitting section, so it follows it. Terminal,
#: HTML, Markdown and notebook displays all use this one order.
TOPICS = ("sanity", "overfitting", "samples", "confidence", "noise", "early_stopping", "trend", "training_loss", "data")

TOPIC_TITLES = {
    "sanity": "Sanity checks",
    "overfitting": "Overfitting",
    "samples": "Sample by sample: where the val_loss rise comes from",
    "confidence": "How confidently wrong the mistakes are",
    "noise": "Is the val_accuracy wobble noise?",
    "early_stopping": "Early stopping",
    "trend": "Trends after the best epoch",
    "training_loss": "Training loss",
    "data": "What the log holds",
}


def from_run(fn: Callable[[Run], Iterable[Finding]]) -> Producer:
    """Adapt a ``run -> findings`` function to the producer signature.

    >>> p = from_run(lambda run: [Finding("x", "info", f"{len(run.epochs)} epochs")])
    >>> [f.claim for f in p(Context(Run(pd.DataFrame({"loss": [1.0]}))))]
    ['1 epochs']
    """

    def producer(ctx: Context) -> Iterable[Finding]:
        return fn(ctx.run)

    producer.__name__ = getattr(fn, "__name__", "producer")
    return producer


@dataclass
class Diagnosis:
    """What :func:`diagnose` found about one run.

    Attributes
    ----------
    run : Run
    verdict : Verdict
        The patterns, the epoch to keep and the claims, as data
        (:class:`~dynamics.diagnosis.verdict.Verdict`); ``verdict.text`` is a
        few sentences, most important first, each with its numbers.
    findings : list of Finding
        In topic order (:data:`TOPICS`), then in the order produced.
    tables : dict of str to DataFrame
        The numbers the findings came from, indexed by epoch (or patience /
        rule): ``"epochs"`` (the epoch table with gaps, intervals and
        bounds), ``"early_stopping"``, ``"prechelt"``, ``"loss_rises"``...
        Plots and reports reuse them instead of recomputing.
    context : dict
        How ``n_val`` and ``classes`` were resolved (value and source).
    """

    run: Run
    verdict: verdict.Verdict
    findings: list[Finding]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)

    def column(self, role: str) -> str | None:
        """The column the diagnosis read for ``role`` (``"val_accuracy"``, ``"accuracy"``, ``"val_loss"``, ``"loss"``)."""
        return (self.context.get("columns") or {}).get(role)

    def by_topic(self) -> dict[str, list[Finding]]:
        """Findings grouped by topic, in display order."""
        groups: dict[str, list[Finding]] = {}
        for f in self.findings:
            groups.setdefault(f.topic, []).append(f)
        return groups

    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def _repr_html_(self) -> str:
        """Jupyter's display: the verdict, the loss/accuracy figure and the first findings (static HTML)."""
        from dynamics.report.notebook import diagnosis_html

        return diagnosis_html(self)

    def get(self, code: str) -> Finding | None:
        """The first finding with this code, or None."""
        return next((f for f in self.findings if f.code == code), None)

    def to_dict(self, *, tables: bool = True, skip_tables: Iterable[str] = ()) -> dict[str, Any]:
        """JSON-ready: source, context, verdict, findings and (optionally) tables.

        ``skip_tables`` names tables to leave out (e.g. the one-row-per-sample
        tables of a recorded run, :data:`dynamics.diagnosis.samples.PER_SAMPLE_TABLES`).

        Tables become ``{"index": [...], "columns": [...], "rows": [...]}``:
        one record per row, the index levels as its first fields (``epoch``,
        or ``monitor`` and ``patience``), absent values as null.
        """
        out: dict[str, Any] = {
            "source": self.run.meta.source,
            "run_index": self.run.meta.run_index,
            "label": self.run.label,
            "context": self.context,
            "verdict": self.verdict.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
        }
        if tables:
            skip = set(skip_tables)
            out["tables"] = {name: _table_dict(t) for name, t in self.tables.items() if name not in skip}
        return _json_ready(out)


def _table_dict(table: pd.DataFrame) -> dict[str, Any]:
    if isinstance(table.index, pd.RangeIndex) and table.index.name is None:
        flat, names = table, []
    else:
        names = [n if n is not None else "index" for n in table.index.names]
        flat = table.reset_index(names=names)
    frame = flat.astype(object).where(flat.notna(), None)
    rows = [{str(k): v for k, v in row.items()} for _, row in frame.iterrows()]
    return {"index": names, "columns": [str(c) for c in flat.columns], "rows": rows}


def diagnose(
    run: Run,
    *,
    n_val: int | None = None,
    classes: int | None = None,
    producers: Sequence[Producer] | None = None,
    extra_producers: Sequence[Producer] = (),
    sample_analysis: Any | None = None,
) -> Diagnosis:
    """Turn a run's statistics into findings and a verdict.

    Parameters
    ----------
    run : Run
    n_val : int, optional
        Validation samples, when the log does not say (``--n-val``).
    classes : int, optional
        Number of classes (2 for a binary sigmoid model), when the metric
        names do not say (``--classes``).
    producers : sequence of callables, optional
        Replace the default :data:`PRODUCERS`.
    extra_producers : sequence of callables
        Run after the default ones.
    sample_analysis : RunAnalysis, optional
        :func:`dynamics.diagnosis.samples.stories.analyze` of a recorded run, when the caller
        already has it (a report that also draws it); computed on demand
        otherwise.

    Returns
    -------
    Diagnosis

    Examples
    --------
    >>> from dynamics.run import make_epoch_table
    >>> rows = {e: {"loss": 1 / e, "val_loss": 0.4 + abs(e - 3) / 20} for e in range(1, 9)}
    >>> d = diagnose(Run(make_epoch_table(rows)))
    >>> d.get("overfitting_onset").evidence["best_epoch"]
    3
    """
    ctx = resolve_context(run, n_val=n_val, classes=classes)
    if sample_analysis is not None:
        ctx.facts.sample_analysis = sample_analysis
    findings: list[Finding] = []
    for producer in list(producers if producers is not None else PRODUCERS) + list(extra_producers):
        findings.extend(producer(ctx))
    # A later producer may answer what an earlier one could only bound (ctx.supersede).
    findings = [f for f in findings if f.code not in ctx.superseded]
    order = {t: i for i, t in enumerate(TOPICS)}
    findings.sort(key=lambda f: order.get(f.topic, len(order)))  # stable: keeps production order
    decided = ctx.facts.verdict if ctx.facts.verdict is not None else verdict.decide(ctx)
    decided.text = ctx.verdict()
    return Diagnosis(run, decided, findings, dict(ctx.tables), ctx.describe())
