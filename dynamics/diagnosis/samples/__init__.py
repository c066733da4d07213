"""Findings of a recorded run: the per-sample explanation, plugged into :func:`diagnose`.

Every recorded-run finding lives in this package, with :func:`produce` its
one producer: :mod:`.stories` (which story explains the val_loss rise),
:mod:`.tables` (churn, label issues, forgetting), :mod:`.flips` (McNemar on the
counted flips), :mod:`.storage` (the legacy float16-probability caution). They
read one streaming pass over the predictions,
:func:`dynamics.stats.analysis.analyze_predictions`.

A log can only bound some things; a recorded run (every validation sample's
prediction at every epoch) answers them. This producer

* runs the per-sample analysis once (:func:`dynamics.diagnosis.samples.stories.analyze`) and
  adds the findings of :func:`dynamics.diagnosis.samples.stories.explain` -- which story
  explains the val_loss rise, with its shares (topic ``"samples"``);
* publishes every per-sample table in ``ctx.tables`` under a ``samples_``
  prefix (``samples_per_epoch``, ``samples_churn``, ``samples_mcnemar``,
  ``samples_per_sample``...; see :data:`PER_SAMPLE_TABLES` for the ones with
  a row per sample);
* answers the log-level findings that could only bound: the paired
  comparison between epochs (McNemar's exact test on the real flips replaces
  ``paired_comparison_needs_samples``) and how confidently wrong the
  mistakes are (the exact group means replace the bounds of
  ``confident_mistakes``, which are quoted beside them);
* offers verdict sentences with these exact numbers, withdrawing the
  log-level sentences they answer.

A run without predictions (a parsed log) gets nothing from it, so adding it
to a diagnosis never changes what a log's diagnosis says.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from dynamics.diagnosis.context import Context
from dynamics.diagnosis.samples.flips import flips_finding
from dynamics.diagnosis.samples.storage import storage_finding
from dynamics.diagnosis.wording import listing, share
from dynamics.findings import Finding

#: Prefix of every table this producer publishes.
PREFIX = "samples_"
#: Tables with one row per sample (large for a big validation set; ``--json``
#: leaves them out unless ``--per-sample`` is given).
PER_SAMPLE_TABLES = ("samples_per_sample", "samples_data_map", "samples_train_per_sample", "samples_train_data_map")
#: Table names of :meth:`RunAnalysis.tables` renamed (the rest get the prefix).
_RENAME = {"samples": "per_sample", "train_samples": "train_per_sample"}
#: The mistakes "grew more confident" when their mean loss rose this much (nats).
MISTAKE_GROWTH = 0.1


def produce(ctx: Context, *, analysis: Any | None = None) -> list[Finding]:
    """The per-sample findings of a recorded run (none for a log); see the module docstring.

    It is one of :data:`dynamics.diagnose.PRODUCERS`, so every diagnosis of
    a recorded run carries it; ``ctx.facts.sample_analysis`` may hold an
    analysis the caller already made (``diagnose(..., sample_analysis=...)``).

    Examples
    --------
    >>> from dynamics.diagnose import diagnose
    >>> from dynamics.simulate import simulate_run
    >>> d = diagnose(simulate_run("overconfident", n=400, epochs=8, n_train=50))
    >>> "val_loss_rise" in d.codes(), "paired_comparison_needs_samples" in d.codes(), "samples_per_epoch" in d.tables
    (True, False, True)
    """
    run = ctx.run
    if run.predictions is None or not len(run.predictions):
        return []
    from dynamics.diagnosis.samples.stories import analyze, explain

    if analysis is None:
        analysis = ctx.facts.sample_analysis or analyze(run)
    a = analysis.val
    ctx.facts.sample_analysis = analysis
    findings = explain(run, analysis=analysis)
    for name, table in analysis.tables().items():
        ctx.tables[PREFIX + _RENAME.get(name, name)] = table
    findings = [_with_texts(run, a, f) if f.code == "label_issues" else f for f in findings]
    by_code = {f.code: f for f in findings}
    _stories_verdict(ctx, by_code.get("val_loss_rise"))
    storage = storage_finding(ctx, a, run.predictions)
    if storage is not None:  # right after the summary it qualifies
        at = next((i + 1 for i, f in enumerate(findings) if f.code == "val_loss_rise"), 0)
        findings.insert(at, storage)
    findings.append(flips_finding(ctx, a))
    exact = _mistakes(ctx, a, by_code.get("val_loss_rise"))
    if exact is not None:
        findings.append(exact)
    return findings


# -- verdict ------------------------------------------------------------------


def _stories_verdict(ctx: Context, summary: Finding | None) -> None:
    if summary is None or summary.severity == "undetermined":
        return
    ev = summary.evidence
    stories = ev["stories"]
    removed = ev["removed_by_temperature"]
    held = (f"{listing(stories)} {'hold' if len(stories) > 1 else 'holds'}" if stories
            else "none of the three stories (overconfident mistakes, a small minority, borderline flipping) holds")
    nature = ""
    if math.isfinite(removed):
        nature = "; the rise is mostly miscalibration" if removed >= 0.5 else "; the rise is mostly lost discrimination"
        scaling = f"removes {share(max(removed, 0.0))} of it"
    else:
        scaling = "is not available with compact storage" if ev.get("temperature_unavailable") else "removes n/a of it"
    ctx.offer_verdict(12, (
        f"Sample by sample ({ev['n']:,} validation samples, {ev['epochs']} epochs recorded): the rise is "
        f"{share(ev['share_wrong_at_best'])} from samples already wrong at epoch {ev['best_epoch']}, temperature scaling "
        f"{scaling}, {share(ev['fraction_for_half'], 1)} of samples carry half of it, {share(ev['flip_rate'], 1)} of samples "
        f"flip each epoch while accuracy moves {100 * ev['acc_move']:.2f} points: {held}{nature}."
    ), key="samples")


# -- the exact group means a log could only bound -----------------------------


def _mistakes(ctx: Context, a: Any, summary: Finding | None) -> Finding | None:
    pe = a.per_epoch
    bounds = ctx.facts.bounds
    table = bounds["table"] if bounds is not None else None
    if bounds is not None and bounds["ref"] in pe.index and bounds["focus"] in pe.index:
        ref, focus = int(bounds["ref"]), int(bounds["focus"])
    else:
        ref, focus = a.best_epoch, a.last_epoch
    ctx.add_epoch_columns(pe[["loss_wrong", "loss_correct"]].rename(
        columns={"loss_wrong": "mistake_loss", "loss_correct": "correct_loss"}))
    rows = pe.loc[sorted({ref, focus})]
    if rows["n_wrong"].min() == 0:
        return None
    epochs: dict[int, dict[str, Any]] = {}
    for e, row in rows.iterrows():
        item = {"n_wrong": int(row["n_wrong"]), "accuracy": float(row["accuracy"]), "val_loss": float(row["val_loss"]),
                "loss_wrong": float(row["loss_wrong"]), "loss_correct": float(row["loss_correct"]),
                "gm_p_true_wrong": math.exp(-float(row["loss_wrong"])),
                "share_of_loss_from_wrong": float(row["from_wrong"] / row["val_loss"]) if row["val_loss"] > 0 else math.nan}
        stored = ctx.facts.stored_loss
        t_lo = t_hi = item["loss_wrong"]
        if stored is not None and e in stored.index and stored.at[e, "wrong_high"] - stored.at[e, "wrong_low"] > 0.005:
            t_lo, t_hi = float(stored.at[e, "wrong_low"]), float(stored.at[e, "wrong_high"])
            item.update(stored_low=t_lo, stored_high=t_hi)
        if table is not None and e in table.index:
            lo, hi = float(table.at[e, "wrong_low"]), float(table.at[e, "wrong_high"])
            item.update(bound_low=lo, bound_high=hi, inside_bounds=bool(lo - 1e-9 <= t_hi and t_lo <= hi + 1e-9))
        epochs[int(e)] = item
    f, r = epochs[focus], epochs[ref]
    how = (f"{f['loss_wrong']:.2f} nats of cross-entropy each as stored (the float16 probabilities allow "
           f"{f['stored_low']:.2f}-{f['stored_high']:.2f})" if "stored_low" in f
           else f"exactly {f['loss_wrong']:.2f} nats of cross-entropy each")
    claim = (f"At epoch {focus} the {f['n_wrong']} misclassified validation samples ({share(1 - f['accuracy'], 2)}) "
             f"average {how} (geometric-mean probability of the true "
             f"class {f['gm_p_true_wrong']:.3f}) and carry {share(f['share_of_loss_from_wrong'])} of that epoch's val_loss")
    if focus != ref:
        claim += (f"; at epoch {ref} (lowest val_loss) the {r['n_wrong']} mistakes averaged {r['loss_wrong']:.2f} nats "
                  f"({r['gm_p_true_wrong']:.3f}) and carried {share(r['share_of_loss_from_wrong'])}")
    claim += (f". The correctly classified samples average {r['loss_correct']:.3f} -> {f['loss_correct']:.3f} nats."
              if focus != ref else f". The correctly classified samples average {f['loss_correct']:.3f} nats.")
    bounded = [e for e in sorted(epochs) if "bound_low" in epochs[e]]
    if bounded:
        texts = [f"epoch {e}: {epochs[e]['bound_low']:.2f}-{epochs[e]['bound_high']:.2f}" for e in bounded]
        claim += (f" From the logged val_loss and val_accuracy alone the mistakes' mean was only bounded "
                  f"({listing(texts)} nats)")
        outside = [e for e in bounded if not epochs[e]["inside_bounds"]]
        if outside:
            logged = ctx.run.series("val_loss") if ctx.run.has("val_loss") else None
            why = listing([f"epoch {e}: {logged.get(e, math.nan):.4f} logged, {epochs[e]['val_loss']:.4f} recomputed"
                           for e in outside]) if logged is not None else ""
            claim += (f"; at epoch{'s' if len(outside) > 1 else ''} {listing([str(e) for e in outside])} the value "
                      "from the stored predictions lies outside that bound, so the logged numbers do not describe the "
                      "stored predictions" + (f" ({why})" if why else "") + ".")
        elif any("stored_low" in epochs[e] for e in bounded):
            claim += "; the ranges the stored values allow overlap those bounds."
        else:
            claim += "; the exact values lie inside those bounds."
    grew = f["loss_wrong"] - r["loss_wrong"] >= MISTAKE_GROWTH and focus > ref
    if bounds is not None:
        ctx.supersede("confident_mistakes", "mistake_loss_exact")
        ctx.withdraw_verdict("confident_mistakes")
    if grew and summary is not None and summary.severity != "undetermined":
        ctx.offer_verdict(20, f"By epoch {focus} the {f['n_wrong']} misclassified validation samples average "
                              f"{f['loss_wrong']:.2f} nats each (true-class probability {f['gm_p_true_wrong']:.3f}, "
                              f"geometric mean), up from {r['loss_wrong']:.2f} at epoch {ref}.", key="mistakes")
    suggestion = None
    if grew:
        suggestion = ("Confident mistakes are what val_loss punishes: restore the best epoch (EarlyStopping with "
                      "restore_best_weights=True), or soften the probabilities afterwards with temperature scaling "
                      "fitted on validation data.")
    evidence = {"ref_epoch": ref, "focus_epoch": focus, "epochs": epochs, "growth_threshold": MISTAKE_GROWTH}
    return Finding("mistake_loss_exact", "warning" if grew else "info", claim, evidence, suggestion, "confidence")


# -- review texts for the candidate label problems ------------------------------


def _with_texts(run: Any, a: Any, finding: Finding, *, shown: int = 3, chars: int = 160) -> Finding:
    """The label-issues finding with the reviews' text, when the run directory has inputs and a vocabulary."""
    if not len(a.label_issues) or run.meta.format != "recorded":
        return finding
    try:
        from dynamics.sources.rundir import sample_texts
    except ImportError:  # pragma: no cover - a build without run directories
        return finding
    texts = sample_texts(run.meta.source, "val")
    if texts is None or len(texts) != a.n_samples:
        return finding
    top = [dict(item, text=texts[int(item["sample"])]) for item in finding.evidence.get("top", [])]
    lines = []
    for item in top[:shown]:
        text = item["text"]
        short = text if len(text) <= chars else "... " + text[-chars:]  # the model reads the end of a review
        lines.append(f"sample {int(item['sample_id'])} (label {int(item['label'])}): \"{short}\"")
    if not lines:
        return finding
    return replace(finding, claim=finding.claim + " Their text: " + "; ".join(lines) + ".",
                   evidence={**finding.evidence, "top": top})
