"""Findings: best epochs, overfitting onset, generalization gap, trends after the best epoch."""

from __future__ import annotations

import math

import numpy as np

from dynamics.diagnosis.context import Context
from dynamics.diagnosis.wording import num, pct, pval, signed, span
from dynamics.findings import Finding
from dynamics.stats.generalization import best_epoch, gap_table, run_onset
from dynamics.stats.precision import metric_direction
from dynamics.stats.trends import TrendResult, metric_trend, min_attainable_p, trend_test


def produce(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    gaps = gap_table(ctx.run)
    if not gaps.empty:
        ctx.add_epoch_columns(gaps.add_prefix("gap_"))
    out += _best(ctx)
    out += _onset(ctx)
    out += _gap(ctx, gaps)
    out += _trends(ctx)
    return out


def _best(ctx: Context) -> list[Finding]:
    run = ctx.run
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


def _trend_words(t: TrendResult) -> str:
    if t.verdict == "too few epochs":
        return (f"only {t.n} logged epoch{'s' if t.n != 1 else ''}, too few for a trend test "
                f"(with {t.n} points no order reaches p < 0.05; the smallest exact p is {min_attainable_p(t.n):.3g})")
    tau = "n/a" if math.isnan(t.tau) else f"{t.tau:+.2f}"
    test = f"Mann-Kendall S = {t.s:+d}, tau = {tau}, {t.method} {pval(t.p_value)}"
    slope = f"Theil-Sen slope {signed(t.slope)}/epoch (95% CI {signed(t.slope_low)} to {signed(t.slope_high)})"
    head = {"rising": "a rising trend", "falling": "a falling trend", "flat": "no significant trend"}[t.verdict]
    return f"{head} ({test}; {slope})"


def _onset(ctx: Context) -> list[Finding]:
    run = ctx.run
    if not (run.has("val_loss") and run.has("loss")):
        return []
    o = run_onset(run)
    ctx.facts["onset"] = o
    if o.status == "no data":
        return []
    ev = o.to_dict()
    b, last = o.best_epoch, o.last_epoch
    if o.status == "still improving":
        if b == last:
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
    if o.status == "both rising":
        claim = (f"After epoch {b} both losses rose: val_loss from {num(o.best_val)} to {num(o.last_val)} at epoch {last} "
                 f"({pct(o.rise_pct)}) and training loss from {num(o.train_at_best)} to {num(o.train_last)}. That is "
                 "not overfitting (the model got worse on its own training data too) but optimisation going wrong.")
        return [Finding("training_diverging", "warning", claim, ev,
                        "Lower the learning rate (or add ReduceLROnPlateau(monitor=\"val_loss\", factor=0.5, patience=2)) "
                        "and check for a learning-rate schedule that restarts.", "overfitting")]
    large = (o.rise_pct or 0) >= 10 or (o.val_trend is not None and o.val_trend.verdict == "rising")
    claim = (f"val_loss fell to {num(o.best_val)} at epoch {b}, then rose to {num(o.last_val)} at epoch {last} "
             f"({pct(o.rise_pct)}) while training loss fell from {num(o.train_at_best)} to {num(o.train_last)}: "
             f"overfitting {since}.")
    vt = o.val_trend
    if vt is not None:
        claim += f" Over the {vt.n} logged epochs after epoch {b}, val_loss shows {_trend_words(vt)}."
        if vt.verdict != "rising" and large:
            claim += (" The rise itself is not in doubt: both values are measured on the same validation samples, "
                      "so it is a measurement, not an estimate; the trend test only lacks epochs.")
    if not large:
        claim += f" The rise is small ({pct(o.rise_pct, 1)} of the minimum)."
    return [Finding("overfitting_onset", "warning" if large else "info", claim, ev,
                    f"Keep the weights of epoch {b}: EarlyStopping(monitor=\"val_loss\", patience=2, "
                    "restore_best_weights=True), or ModelCheckpoint(save_best_only=True); against the overfitting "
                    "itself: more dropout, weight decay, or more training data.", "overfitting")]


def _gap(ctx: Context, gaps) -> list[Finding]:  # type: ignore[no-untyped-def]
    if gaps.empty:
        return []
    parts, evidence = [], {}
    best = ctx.facts.get("best_val_loss")
    for metric in gaps.columns[:2]:
        s = gaps[metric].dropna()
        if len(s) < 2:
            continue
        start_e = best[0] if best and best[0] in s.index else int(s.index[0])
        end_e = int(s.index[-1])
        is_acc = metric_direction(metric) == "max" and s.abs().max() <= 1
        show = (lambda v: f"{100 * v:.1f} points") if is_acc else num  # noqa: E731
        t = trend_test(s.index.to_numpy(), s.to_numpy())
        sign = "val - train" if metric_direction(metric) == "min" else "train - val"
        word = "grew" if s.loc[end_e] > s.loc[start_e] else "shrank"
        parts.append(f"the {metric} gap ({sign}) {word} from {show(s.loc[start_e])} at epoch {start_e} to "
                     f"{show(s.loc[end_e])} at epoch {end_e}")
        evidence[metric] = {"start_epoch": start_e, "start": float(s.loc[start_e]), "end_epoch": end_e,
                            "end": float(s.loc[end_e]), "trend": t.to_dict()}
        if metric == gaps.columns[0]:
            parts[-1] += f" (over all {t.n} logged epochs: {_trend_words(t)})" if t.verdict != "too few epochs" else ""
    if not parts:
        return []
    claim = parts[0][0].upper() + parts[0][1:] + ("; " + parts[1] if len(parts) > 1 else "") + "."
    first = gaps.iloc[0]
    if (first < 0).any():
        claim += (" A negative gap in the first epochs is an artefact of how Keras measures: training numbers are "
                  "running means with dropout active, validation numbers come at the end of the epoch.")
    return [Finding("generalization_gap", "info", claim, evidence, None, "overfitting")]


def _trends(ctx: Context) -> list[Finding]:
    out = []
    for col in ("val_loss", ctx.val_accuracy):
        if not ctx.has(col):
            continue
        best = ctx.facts.get(f"best_{col}")
        if best is None:
            continue
        e = best[0]
        t = metric_trend(ctx.run, col, after=e)
        ctx.facts[f"trend_{col}"] = t
        if t.n == 0:
            continue
        where = span(t.first_epoch, t.last_epoch)
        claim = f"After its best epoch ({e}), {col} over the {t.n} logged epochs ({where}): {_trend_words(t)}."
        if t.verdict in ("rising", "falling") and t.method == "exact":
            claim += " Consecutive epochs are not independent (the weights carry over), so read p as a guide."
        severity = "info"
        out.append(Finding(f"trend_{col}", severity, claim, {"metric": col, "after_epoch": e, **t.to_dict()}, None,
                           "trend"))
    return out


__all__ = ["produce", "np"]
