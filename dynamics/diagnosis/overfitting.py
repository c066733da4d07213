"""Findings: best epochs, overfitting onset, generalization gap, trends after the best epoch."""

from __future__ import annotations

import math

from dynamics.diagnosis.context import Context
from dynamics.diagnosis.wording import epoch_ranges, num, pval, signed, signed_pct, span
from dynamics.findings import Finding
from dynamics.run import Run
from dynamics.stats.generalization import best_epoch, gap_table, run_onset
from dynamics.stats.precision import metric_direction
from dynamics.stats.trends import (
    TrendResult,
    metric_trend,
    min_attainable_p,
    trend_test,
)


def produce(ctx: Context) -> list[Finding]:
    """Best epochs, overfitting onset (with its trend test), generalization gap, trends after the best epoch."""
    out: list[Finding] = []
    run = ctx.valid_run()
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
        ctx.facts.best[col] = (e, v)
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


def _onset(ctx: Context, run: Run) -> list[Finding]:
    """The overfitting finding, worded by the loss pattern (:mod:`dynamics.diagnosis.patterns`)."""
    if not (run.has("val_loss") and run.has("loss")):
        return []
    o = run_onset(run)
    c = ctx.facts.loss_curve
    if o.status == "no data" or c is None or ctx.facts.diverged is not None:
        return []
    ctx.facts.onset = o
    ev = {**o.to_dict(), "pattern": c.pattern, "rule": c.rule, "curve": c.to_dict()}
    b, last = c.best_epoch, c.last_epoch
    vl = run.series("val_loss").dropna()
    vt = o.val_trend
    n_after = c.epochs_after
    rise = f"from {num(c.best_value)} at epoch {b} to {num(c.last_value)} at epoch {last} ({signed_pct(c.last_rise_pct)})"
    train = (f"while training loss went from {num(run.epochs.at[b, 'loss'])} to {num(run.epochs.at[last, 'loss'])}"
             if b in run.epochs.index else "")
    noise = (f"the curve's epoch-to-epoch noise is {num(c.noise)} (robust scale of its second differences), so a "
             f"change must exceed {num(c.threshold)} to count")
    trend = f" Over the {n_after} logged epochs after epoch {b}, val_loss shows {_trend_words(vt)}." if vt is not None else ""
    if c.pattern in ("improving", "plateau") and c.rule in ("ends_at_minimum", "no_fall_beyond_noise"):
        if vl.max() - vl.min() <= 2 * float(ctx.halfwidth("val_loss").max()):
            ctx.facts.val_loss_flat = True
            claim = f"val_loss printed {num(vl.iloc[0])} at every logged epoch: on the validation data nothing changed."
        elif b == last:
            claim = (f"val_loss is at its lowest at the last logged epoch ({last}: {num(c.best_value)}): "
                     "no sign of overfitting yet.")
        else:
            claim = (f"val_loss at the last epoch ({last}: {num(c.last_value)}) is within {num(c.threshold)} of its "
                     f"minimum {num(c.best_value)} at epoch {b} ({noise}): no sign of overfitting yet.")
        if c.pattern == "plateau" and not ctx.facts.val_loss_flat:
            claim += (f" It fell only {num(c.first_drop)} from the first logged epoch, under "
                      f"{c.thresholds['improving_drop_noise']:g} times its noise: a plateau.")
        suggestion = ("Training longer may still improve the model; use EarlyStopping(monitor=\"val_loss\", "
                      "patience=5, restore_best_weights=True) so it stops when that ends.") if c.pattern == "improving" else None
        return [Finding("overfitting_onset", "info", claim, ev, suggestion, "overfitting")]
    if c.pattern == "both_rising":
        claim = (f"After epoch {b} both losses rose: val_loss {rise} and training loss by {num(c.train_rise)} over its "
                 f"lowest since then (more than {num(c.train_threshold)}, twice its own noise). That is not "
                 "overfitting (the model got worse on its own training data too) but optimisation going wrong.")
        return [Finding("training_diverging", "warning", claim, ev,
                        "Lower the learning rate (or add ReduceLROnPlateau(monitor=\"val_loss\", factor=0.5, patience=2)) "
                        "and check for a learning-rate schedule that restarts.", "overfitting")]
    if c.pattern == "overfitting":
        claim = (f"val_loss fell to {num(c.best_value)} at epoch {b}, then rose to {num(c.last_value)} at epoch {last} "
                 f"({signed_pct(c.last_rise_pct)}) {train}: overfitting since epoch {b + 1 if o.onset_known else o.onset_epoch}. "
                 f"The rise is sustained: the last {len(c.tail_epochs)} logged epochs ({epoch_ranges(c.tail_epochs)}) "
                 f"are all at least {num(c.tail_rise)} above the minimum (median {signed_pct(c.tail_rise_pct)}), where {noise}, "
                 "and it is larger than any rise the curve made and undid before its minimum "
                 f"({signed_pct(c.earlier_swing_pct, 1)}).") + trend
        return [Finding("overfitting_onset", "warning", claim, ev,
                        f"Keep the weights of epoch {b}: EarlyStopping(monitor=\"val_loss\", restore_best_weights=True) "
                        "or ModelCheckpoint(save_best_only=True); against the overfitting itself: more dropout, weight "
                        "decay, or more training data.", "overfitting")]
    if c.pattern == "early_sign":
        claim = (f"val_loss rose {rise} {train}, but only {n_after} logged epoch{'s' if n_after != 1 else ''} "
                 f"follow{'s' if n_after == 1 else ''} its minimum (overfitting needs at least "
                 f"{c.thresholds['min_epochs_after']:g}): too few to tell overfitting from a bump.")
        return [Finding("overfitting_onset", "info", claim, ev,
                        "Train a few more epochs with EarlyStopping(monitor=\"val_loss\", patience=3, "
                        "restore_best_weights=True).", "overfitting")]
    if c.rule == "within_earlier_swings":
        a, z = c.earlier_swing_epochs
        why = (f"no larger than the {signed_pct(c.earlier_swing_pct, 1)} the curve had already risen and undone between epochs "
               f"{a} and {z}")
    elif c.rule in ("spike", "not_sustained"):
        why = (f"not sustained: one of the last {len(c.tail_epochs)} epochs is back within {num(c.threshold)} of the "
               f"level at the minimum ({num(c.best_level)}), where {noise}")
    else:
        why = f"too small ({signed_pct(c.tail_rise_pct, 1)}; overfitting needs {signed_pct(c.thresholds['material_rise_pct'])})"
    word = "volatile (spikes without a sustained trend)" if c.pattern == "volatile" else "on a plateau"
    claim = f"val_loss ended {signed_pct(c.last_rise_pct, 1)} above its minimum ({rise.split(' (')[0]}), a rise {why}: val_loss is {word}, not overfitting."
    return [Finding("overfitting_onset", "info", claim + trend, ev, None, "overfitting")]


def _gap(ctx: Context, gaps) -> list[Finding]:  # type: ignore[no-untyped-def]
    if gaps.empty:
        return []
    parts, evidence = [], {}
    best = ctx.facts.best.get("val_loss")
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
        best = ctx.facts.best.get(col)
        if best is None:
            continue
        e = best[0]
        t = metric_trend(run, col, after=e)
        ctx.facts.trends[col] = t
        c = ctx.facts.loss_curve
        if t.n == 0 or (col == "val_loss" and c is not None and c.pattern in ("overfitting", "volatile", "plateau")
                        and c.epochs_after > 0):
            continue  # no epochs after the best, or the overfitting finding already gives this test
        where = span(t.first_epoch, t.last_epoch)
        claim = f"After its best epoch ({e}), {col} over the {t.n} logged epochs ({where}): {_trend_words(t)}."
        if t.verdict in ("rising", "falling") and t.method == "exact":
            claim += " Consecutive epochs are not independent (the weights carry over), so read p as a guide."
        severity = "info"
        out.append(Finding(f"trend_{col}", severity, claim, {"metric": col, "after_epoch": e, **t.to_dict()}, None,
                           "trend"))
    return out


