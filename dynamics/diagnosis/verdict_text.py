"""The verdict in words: one sentence per decision, each naming the numbers it rests on.

Only formats what :func:`dynamics.diagnosis.verdict.decide` decided and the
facts it decided from; it decides nothing. Sentences come with a priority
(lower first) and an optional key, so a later producer that knows better
(per-sample data) can withdraw one (:meth:`Context.withdraw_verdict`).
"""

from __future__ import annotations

from typing import Any

from dynamics.diagnosis.context import Context
from dynamics.diagnosis.wording import num, signed_pct, span

# Priorities: sanity sentences use 0-5, sample-level ones 12-13; these fit around them.
LOSS, ACCURACY, MISTAKES, KEEP = 10, 15, 20, 30


def sentences(v: Any, ctx: Context) -> list[tuple[int, str, str | None]]:
    """``(priority, sentence, key)`` for each part of the verdict ``v``."""
    out: list[tuple[int, str, str | None]] = []
    loss = _loss(v, ctx)
    if loss:
        out.append((LOSS, loss, None))
    acc = _accuracy(v, ctx)
    if acc:
        out.append((ACCURACY, acc, "wobble"))
    mistakes = _mistakes(v, ctx)
    if mistakes:
        out.append((MISTAKES, mistakes, "confident_mistakes"))
    keep = _keep(v, ctx)
    if keep:
        out.append((KEEP, keep, None))
    return out


def _train_words(ctx: Context, best: int, last: int) -> str:
    """`` (training accuracy 0.8716 to 0.9883)`` between two epochs, when the log has it."""
    a = ctx.accuracy
    if not ctx.has(a) or best not in ctx.run.epochs.index or last not in ctx.run.epochs.index:
        return ""
    return f" (training {a} {num(ctx.run.epochs.at[best, a])} to {num(ctx.run.epochs.at[last, a])})"


def _loss(v: Any, ctx: Context) -> str | None:
    c = ctx.facts.loss_curve
    p = v.loss_pattern
    if p in ("no_validation", "diverged", "invalid") or c is None:
        return None  # the sanity findings word these, with their numbers
    what = "val_loss" if ctx.has("val_loss") else f"the validation error (1 - {ctx.val_accuracy})"
    b, last = c.best_epoch, c.last_epoch
    train_last = (f", while training loss fell to {num(ctx.run.epochs.at[last, 'loss'])}"
                  if ctx.has("loss") and ctx.has("val_loss") else "")
    if p == "too_short":
        n = int(ctx.run.series("val_loss" if ctx.has("val_loss") else ctx.val_accuracy).notna().sum())
        return (f"Only {n} epoch{'s' if n != 1 else ''} with {what}: too few to tell improvement, a plateau or "
                "overfitting apart.")
    if p == "improving":
        where = (f"at its lowest at the last logged epoch ({last}: {num(c.last_value)})" if b == last else
                 f"within its epoch-to-epoch noise of its lowest ({num(c.best_value)} at epoch {b}; "
                 f"{num(c.last_value)} at epoch {last})")
        return (f"Still improving: {what} fell from {num(c.best_value + c.first_drop)} to "
                f"{num(c.best_value)} and is {where}. No sign of overfitting yet.")
    if p == "plateau":
        if c.rule == "within_earlier_swings":
            a, z = c.earlier_swing_epochs
            return (f"{what} has levelled off: after its lowest {num(c.best_value)} at epoch {b} it rose "
                    f"{signed_pct(c.tail_rise_pct, 1)}, no more than the {signed_pct(c.earlier_swing_pct, 1)} it had already risen "
                    f"and fallen back between epochs {a} and {z}: the same wandering, not a trend.")
        if c.rule == "not_sustained":
            return (f"{what} has levelled off: it rose after its lowest {num(c.best_value)} at epoch {b}, but the rise "
                    f"does not last (one of the last {len(c.tail_epochs)} epochs is back within {num(c.threshold)}, "
                    "twice its epoch-to-epoch noise, of that level).")
        if c.rule == "small_rise":
            return (f"{what} has levelled off: it ended {signed_pct(c.last_rise_pct, 1)} above its lowest {num(c.best_value)} "
                    f"(epoch {b}), too small a rise to call overfitting.")
        return (f"{what} has levelled off: it started {num(c.first_drop)} and ended {num(c.last_rise)} above its "
                f"lowest {num(c.best_value)} (epoch {b}); with an epoch-to-epoch noise of {num(c.noise)}, a fall must "
                f"exceed {c.thresholds['improving_drop_noise']:g} times that and a rise {num(c.threshold)}: neither happened.")
    if p == "early_sign":
        return (f"val_loss rose {signed_pct(c.last_rise_pct)} in the {c.epochs_after} logged epoch"
                f"{'s' if c.epochs_after != 1 else ''} after its lowest {num(c.best_value)} at epoch {b}: too few "
                "epochs to tell a lasting rise from a bump.")
    if p == "volatile":
        head = (f"{what} is volatile: it has risen by up to {signed_pct(c.max_swing_pct)} and come back down, and after its "
                f"lowest {num(c.best_value)} at epoch {b} ")
        if c.rule == "spike":
            return head + (f"the rise does not last (one of the last {len(c.tail_epochs)} epochs is back within "
                           f"{num(c.threshold)} of its level): spikes, not a trend.")
        return head + (f"it rose {signed_pct(c.tail_rise_pct, 1)}, no more than such swings: not a trend.")
    rise = (f"{what} rose from {num(c.best_value)} (epoch {b}) to {num(c.last_value)} (epoch {last}, "
            f"{signed_pct(c.last_rise_pct)}) and stayed up: the last {len(c.tail_epochs)} logged epochs are all at least "
            f"{num(c.tail_rise)} above the lowest, more than twice the curve's epoch-to-epoch noise ({num(c.noise)})")
    if p == "both_rising":
        return (f"Training got worse on both sets: {rise}, and training loss rose too (by {num(c.train_rise)}, beyond "
                f"its own noise {num(c.train_threshold / 2)}). That is the optimisation going wrong, not overfitting.")
    # overfitting
    sentence = "Overfitting: " + rise + train_last
    a = ctx.facts.accuracy_curve
    if a is not None and v.accuracy_pattern in ("flat_within_noise", "rising") and ctx.has(ctx.val_accuracy):
        a0, a1 = ctx.run.epochs.at[b, ctx.val_accuracy], ctx.run.epochs.at[last, ctx.val_accuracy]
        tr = _train_words(ctx, b, last)
        if v.accuracy_pattern == "rising":
            return (sentence + f", yet {ctx.val_accuracy} rose from {num(a0)} to {num(a1)}{tr}: more samples come out "
                    "right while the wrong ones are scored more confidently wrong. The probabilities overfit while the "
                    "decisions still improve; which epoch is best depends on which of the two you need.")
        return sentence + (f", but {ctx.val_accuracy} only went from {num(a0)} to {num(a1)}{tr}: the overfitting "
                           "shows in the loss far more than in the accuracy.")
    return sentence + "."


def _accuracy(v: Any, ctx: Context) -> str | None:
    a = ctx.facts.accuracy_curve
    col = ctx.val_accuracy
    if a is None or v.accuracy_pattern == "unknown":
        return None
    p = v.accuracy_pattern
    n = a.n
    nwords = ("an unknown number of validation samples" if n is None else f"{n:,} validation samples"
              if a.n_source == "given" else
              f"at least {n:,} validation samples (the spacing of the printed values; n_val is not in the log)")
    if p == "chance_level":
        return (f"{col} is at chance level: best {num(a.best_value)} at epoch {a.best_epoch}"
                + (f", no better than the chance rate {num(a.chance)}" if a.rule == "never_above_chance" else
                   ", and the validation counts show one predicted class" if a.rule == "one_class_counts" else
                   ", and the AUC is 0.5") + ". Nothing the model learnt transfers to the validation data yet.")
    if p == "stuck_one_class":
        first, last, value = a.frozen
        return (f"{col} is stuck at {num(value)} for epochs {first}-{last} and the training side is stuck too: the model "
                "is predicting one class for everything.")
    if p == "stuck_converged":
        first, last, value = a.frozen
        return (f"{col} stopped changing at {num(value)} (epochs {first}-{last}) while training accuracy reached "
                f"{num(a.train_value)}: the training set is fitted and the predictions have settled.")
    if a.change_se is None:
        return None
    tail = span(a.tail_epochs[0], a.tail_epochs[-1]) if a.tail_epochs else ""
    if p == "real_decline":
        return (f"{col} really declined: from {num(a.best_value)} at epoch {a.best_epoch} to a median of "
                f"{num(a.tail_level)} over {tail}, {abs(a.change_se):.1f} standard errors on {nwords}: "
                "more than sampling noise.")
    if p == "rising":
        return (f"{col} rose from {num(a.first_value)} to a median of {num(a.tail_level)} over {tail}, "
                f"{a.change_se:.1f} standard errors on {nwords}: a real improvement.")
    if a.rule == "frozen":
        first, last, value = a.frozen
        return f"{col} did not move ({num(value)} at epochs {first}-{last}), so there is no wobble to explain."
    ref = (f"{num(a.best_value)} at epoch {a.best_epoch}" if a.change < 0 else f"{num(a.first_value)}")
    return (f"The {col} changes are within the sampling noise of {nwords}: the later epochs ({tail}, median "
            f"{num(a.tail_level)}) are {abs(a.change_se):.1f} standard errors from {ref}, under the "
            f"{a.thresholds['change_z']:.0f} that a real change needs, so epochs this close cannot be ranked by {col}.")


def _mistakes(v: Any, ctx: Context) -> str | None:
    bounds = ctx.facts.bounds
    if bounds is None or v.loss_pattern != "overfitting":
        return None
    table, ref, focus = bounds["table"], bounds["ref"], bounds["focus"]
    wl = table.loc[focus, "wrong_low"]
    if not (wl > 0.9 and focus > ref):
        return None
    model = "; binary model assumed" if ctx.classes_assumed else ""
    return (f"By epoch {focus} the mistakes are confidently wrong: misclassified validation samples average at least "
            f"{wl:.2f} nats (true-class probability at most {table.loc[focus, 'gm_wrong_high']:.2f}{model}), where "
            f"epoch {ref} only required {table.loc[ref, 'wrong_low']:.2f}.")


def _keep(v: Any, ctx: Context) -> str | None:
    if v.keep_epoch is None:
        if v.loss_pattern != "no_validation" and v.accuracy_pattern in ("chance_level", "stuck_one_class"):
            return "No epoch is worth keeping: none does better than predicting the class shares."
        return None
    if v.loss_pattern not in ("overfitting", "early_sign", "volatile", "both_rising", "diverged", "invalid", "plateau"):
        return None
    k = v.keep_epoch
    values = ", ".join(f"{c} {num(ctx.run.epochs.at[k, c])}" for c in ("val_loss", ctx.val_accuracy)
                       if ctx.has(c) and k in ctx.run.epochs.index)
    es = ctx.facts.early_stopping
    if es and es.get("kept_epoch") == k and es.get("status") == "stopped":
        head = (f"Keep epoch {k} ({values}): EarlyStopping(monitor=\"val_loss\", patience={es['patience']}, "
                f"restore_best_weights=True) stops after epoch {es['stop_epoch']} and restores it")
        early = es.get("premature")
        if early:
            head += (f"; patience {early['patience']} would stop too early on this curve (after epoch "
                     f"{early['stop_epoch']}, keeping epoch {early['kept_epoch']} at val_loss {num(early['kept_value'])}), "
                     f"so the larger patience costs {es['extra_epochs']} more epoch{'s' if es['extra_epochs'] != 1 else ''}")
        return head + "."
    return (f"Keep epoch {k} ({values}), the lowest valid val_loss: ModelCheckpoint(save_best_only=True) or "
            "EarlyStopping(restore_best_weights=True) with a patience long enough to get past its bumps.")
