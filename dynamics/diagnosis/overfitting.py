"""Findings: best epochs, overfitting onset, generalization gap, trends after the best epoch."""

from __future__ import annotations

import math

import numpy as np

from dynamics.diagnosis.context import Context
from dynamics.diagnosis.wording import num, pct, pval, signed, span
from dynamics.findings import Finding
from dynamics.run import Run
from dynamics.stats.generalization import Onset, best_epoch, gap_table, run_onset
from dynamics.stats.precision import metric_direction
from dynamics.stats.trends import TrendResult, metric_trend, min_attainable_p, trend_test


def _without_glitches(ctx: Context) -> Run:
    """The run with impossible validation epochs (see the sanity findings) blanked out."""
    bad = ctx.facts.get("val_glitch_epochs")
    if not bad:
        return ctx.run
    table = ctx.run.epochs.copy()
    cols = [c for c in table.columns if c.startswith("val_")]
    table.loc[table.index.isin(bad), cols] = np.nan
    return Run(table, ctx.run.meta, ctx.run.events)


def produce(ctx: Context) -> list[Finding]:
    """Best epochs, overfitting onset (with its trend test), generalization gap, trends after the best epoch."""
    out: list[Finding] = []
    run = _without_glitches(ctx)
    gaps = gap_table(run)
    if not gaps.empty:
        ctx.add_epoch_columns(gaps.add_prefix("gap_"))
    out += _best(ctx, run)
    out += _onset(ctx, run)
    out += _gap(ctx, gaps)
    out += _trends(ctx, run)
    return out


def _best(ctx: Context, run: Run) -> list[Finding]:
    parts, evidence = [], {}
    for col in ("val_loss", ctx.val_accuracy):
        if not ctx.has(col):
            continue
        direction = metric_direction(col) or "min"
        s = run.series(col).dropna()
        found = best_epoch(s.index.to_numpy(), s.to_numpy(), direction)
        if found is None:
            continue
        e, v = found
        ties = int((s == v).sum())
        word = "lowest" if direction == "min" else "highest"
        tie = f" (printed {ties} times; Keras keeps the first)" if ties > 1 else ""
        parts.append(f"{word} {col} {num(v)} at epoch {e}{tie}")
        evidence[col] = {"epoch": e, "value": v, "ties": ties}
        ctx.facts[f"best_{col}"] = (e, v)
    if not parts:
        return []
    claim = parts[0][0].upper() + parts[0][1:] + ("; " + parts[1] if len(parts) > 1 else "") + "."
    bl, ba = evidence.get("val_loss"), evidence.get(ctx.val_accuracy or "")
    if bl and ba and bl["epoch"] != ba["epoch"]:
        at = run.epochs.at[bl["epoch"], ctx.val_accuracy]
        claim += (f" At the val_loss best (epoch {bl['epoch']}) {ctx.val_accuracy} was {num(at)}, "
                  f"{signed(at - ba['value'])} from its best.")
    return [Finding("best_epochs", "info", claim, evidence, None, "overfitting")]


def _g(v: float) -> str:
    """A slope with 2 significant digits and a sign."""
    return f"{v:+.2g}"


def _trend_words(t: TrendResult) -> str:
    if t.verdict == "too few epochs":
        return (f"too few epochs for a trend test (with {t.n} point{'s' if t.n != 1 else ''} no order reaches "
                f"p < 0.05; the smallest exact p is {min_attainable_p(t.n):.3g})")
    tau = "n/a" if math.isnan(t.tau) else f"{t.tau:+.2f}"
    test = f"Mann-Kendall S = {t.s:+d}, tau = {tau}, {t.method} {pval(t.p_value)}"
    slope = f"Theil-Sen slope {_g(t.slope)}/epoch, 95% CI {_g(t.slope_low)} to {_g(t.slope_high)}"
    head = {"rising": "a rising trend", "falling": "a falling trend", "flat": "no significant trend"}[t.verdict]
    return f"{head} ({test}; {slope})"


#: A val_loss rise counts as material from this many percent of the minimum.
MATERIAL_RISE_PCT = 10.0


def classify(o: Onset) -> str:
    """How to speak of an onset: ``overfitting``, ``early sign``, ``slight rise``, or the onset's own status.

    ``overfitting`` needs a material rise (>= 10 % of the minimum) with a
    significant rising Mann-Kendall trend after the best epoch or held over
    at least 3 logged epochs; a material rise over fewer epochs is an
    ``early sign``; a smaller rise with a significant trend is ``creeping``;
    anything less is a ``slight rise``.
    """
    if o.status != "overfitting":
        return o.status
    n_after = o.val_trend.n if o.val_trend is not None else 0
    material = (o.rise_pct or 0) >= MATERIAL_RISE_PCT
    rising = o.val_trend is not None and o.val_trend.verdict == "rising"
    if material:
        return "overfitting" if rising or n_after >= 3 else "early sign"
    return "creeping" if rising else "slight rise"


def _onset(ctx: Context, run: Run) -> list[Finding]:
    if not (run.has("val_loss") and run.has("loss")):
        return []
    o = run_onset(run)
    if o.status == "no data":
        return []
    kind = classify(o)
    ctx.facts["onset"] = o
    ctx.facts["onset_kind"] = kind
    ev = {**o.to_dict(), "kind": kind}
    b, last = o.best_epoch, o.last_epoch
    vl = run.series("val_loss").dropna()
    if o.status == "still improving":
        if vl.max() - vl.min() <= 2 * float(ctx.halfwidth("val_loss").max()):
            ctx.facts["val_loss_flat"] = True
            claim = f"val_loss printed {num(vl.iloc[0])} at every logged epoch: on the validation data nothing changed."
        elif b == last:
            claim = (f"val_loss is at its lowest at the last logged epoch ({last}: {num(o.best_val)}): "
                     "no sign of overfitting yet.")
        else:
            claim = (f"val_loss at the last epoch ({last}: {num(o.last_val)}) is within print rounding of its minimum "
                     f"{num(o.best_val)} at epoch {b}: no sign of overfitting yet.")
        return [Finding("overfitting_onset", "info", claim, ev,
                        "Training longer may still improve the model; use EarlyStopping(monitor=\"val_loss\", "
                        "patience=5, restore_best_weights=True) so it stops when that ends.", "overfitting")]
    nxt = o.onset_epoch
    since = f"since epoch {nxt}" if o.onset_known else f"since an epoch between {b + 1} and {nxt} (the epochs in between are missing)"
    rise = f"from {num(o.best_val)} at epoch {b} to {num(o.last_val)} at epoch {last} ({pct(o.rise_pct)})"
    vt = o.val_trend
    n_after = vt.n if vt is not None else 0
    if kind == "both rising":
        claim = (f"After epoch {b} both losses rose: val_loss {rise} and training loss from {num(o.train_at_best)} to "
                 f"{num(o.train_last)}. That is not overfitting (the model got worse on its own training data too) but "
                 "optimisation going wrong.")
        return [Finding("training_diverging", "warning", claim, ev,
                        "Lower the learning rate (or add ReduceLROnPlateau(monitor=\"val_loss\", factor=0.5, patience=2)) "
                        "and check for a learning-rate schedule that restarts.", "overfitting")]
    train = f"while training loss went from {num(o.train_at_best)} to {num(o.train_last)}"
    if kind == "overfitting":
        claim = (f"val_loss fell to {num(o.best_val)} at epoch {b}, then rose to {num(o.last_val)} at epoch {last} "
                 f"({pct(o.rise_pct)}) {train}: overfitting {since}.")
        if vt is not None:
            claim += f" Over the {n_after} logged epochs after epoch {b}, val_loss shows {_trend_words(vt)}."
            if vt.verdict != "rising":
                claim += (" The rise itself is not in doubt: both values are measured on the same validation samples, "
                          "so it is a measurement, not an estimate; the trend test only lacks epochs.")
        severity = "warning"
        suggestion = (f"Keep the weights of epoch {b}: EarlyStopping(monitor=\"val_loss\", patience=2, "
                      "restore_best_weights=True), or ModelCheckpoint(save_best_only=True); against the overfitting "
                      "itself: more dropout, weight decay, or more training data.")
    elif kind == "early sign":
        claim = (f"val_loss rose {rise} {train}, but only {n_after} logged epoch{'s' if n_after != 1 else ''} "
                 f"follow{'s' if n_after == 1 else ''} its minimum: too few to tell overfitting from a bump.")
        severity = "info"
        suggestion = "Train a few more epochs with EarlyStopping(monitor=\"val_loss\", patience=3, restore_best_weights=True)."
    elif kind == "creeping":
        claim = (f"val_loss has crept up {rise} {train}, with {_trend_words(vt)} over the {n_after} logged epochs "
                 f"after epoch {b}: overfitting has begun, but it is small so far ({pct(o.rise_pct, 1)}).")
        severity = "info"
        suggestion = (f"EarlyStopping(monitor=\"val_loss\", patience=3, restore_best_weights=True) would keep epoch {b} "
                      "if the rise continues.")
    else:
        claim = (f"val_loss ended {pct(o.rise_pct, 1)} above its minimum ({rise.split(' (')[0]}) {train}: a rise this small "
                 f"over {n_after} logged epoch{'s' if n_after != 1 else ''} is not evidence of overfitting")
        claim += (f" ({_trend_words(vt)})." if vt is not None and vt.verdict != "too few epochs" else ".")
        severity = "info"
        suggestion = None
    return [Finding("overfitting_onset", severity, claim, ev, suggestion, "overfitting")]


def _gap(ctx: Context, gaps) -> list[Finding]:  # type: ignore[no-untyped-def]
    if gaps.empty:
        return []
    parts, evidence = [], {}
    best = ctx.facts.get("best_val_loss")
    for metric in gaps.columns[:2]:
        s = gaps[metric].dropna()
        if len(s) < 2:
            continue
        end_e = int(s.index[-1])
        start_e = best[0] if best and best[0] in s.index and best[0] != end_e else int(s.index[0])
        is_acc = metric_direction(metric) == "max" and s.abs().max() <= 1
        show = (lambda v: f"{100 * v:.1f} points") if is_acc else num  # noqa: E731
        t = trend_test(s.index.to_numpy(), s.to_numpy())
        sign = "val - train" if metric_direction(metric) == "min" else "train - val"
        word = "grew" if s.loc[end_e] > s.loc[start_e] else "shrank"
        parts.append(f"the {metric} gap ({sign}) {word} from {show(s.loc[start_e])} at epoch {start_e} to "
                     f"{show(s.loc[end_e])} at epoch {end_e}")
        evidence[metric] = {"start_epoch": start_e, "start": float(s.loc[start_e]), "end_epoch": end_e,
                            "end": float(s.loc[end_e]), "trend": t.to_dict()}
        if metric == gaps.columns[0] and t.verdict != "too few epochs":
            parts[-1] += f"; over all {t.n} logged epochs it shows {_trend_words(t)}"
    if not parts:
        return []
    claim = parts[0][0].upper() + parts[0][1:] + ("; " + parts[1] if len(parts) > 1 else "") + "."
    loss_gap = gaps[gaps.columns[0]].dropna()
    negative = int((loss_gap < 0).sum())
    if len(loss_gap) and negative * 2 > len(loss_gap):
        claim += (f" The {gaps.columns[0]} gap is negative (validation better) at {negative} of {len(loss_gap)} epochs: "
                  "expected when dropout, noise layers or augmentation act only in training, and because Keras's "
                  "training numbers are running means over an epoch in which the model was still improving, while "
                  "validation is scored at its end. It is not a sign of leakage by itself.")
    elif (gaps.iloc[0] < 0).any():
        claim += (" A negative gap in the first epochs is an artefact of how Keras measures: training numbers are "
                  "running means with dropout active, validation numbers come at the end of the epoch.")
    return [Finding("generalization_gap", "info", claim, evidence, None, "overfitting")]


def _trends(ctx: Context, run: Run) -> list[Finding]:
    out = []
    for col in ("val_loss", ctx.val_accuracy):
        if not ctx.has(col):
            continue
        best = ctx.facts.get(f"best_{col}")
        if best is None:
            continue
        e = best[0]
        t = metric_trend(run, col, after=e)
        ctx.facts[f"trend_{col}"] = t
        if t.n == 0 or (col == "val_loss" and ctx.facts.get("onset_kind") in ("overfitting", "creeping")):
            continue  # no epochs after the best, or the overfitting finding already gives this test
        where = span(t.first_epoch, t.last_epoch)
        claim = f"After its best epoch ({e}), {col} over the {t.n} logged epochs ({where}): {_trend_words(t)}."
        if t.verdict in ("rising", "falling") and t.method == "exact":
            claim += " Consecutive epochs are not independent (the weights carry over), so read p as a guide."
        severity = "info"
        out.append(Finding(f"trend_{col}", severity, claim, {"metric": col, "after_epoch": e, **t.to_dict()}, None,
                           "trend"))
    return out


