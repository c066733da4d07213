"""The verdict: a few sentences built from what the other producers found.

Runs after them and reads ``ctx.facts``; it adds no findings of its own, only
verdict sentences (each with its numbers), so the verdict never says more
than the findings below it.
"""

from __future__ import annotations

from dynamics.diagnosis.context import Context
from dynamics.diagnosis.wording import num, pct
from dynamics.findings import Finding


def produce(ctx: Context) -> list[Finding]:
    """Offer the verdict sentences; returns no findings."""
    run = ctx.run
    onset = ctx.facts.get("onset")
    kind = ctx.facts.get("onset_kind")
    acc = ctx.val_accuracy if not ctx.facts.get("val_loss_not_crossentropy") else None
    spread = ctx.facts.get("spread")
    if kind == "overfitting":
        b, last = onset.best_epoch, onset.last_epoch
        head = (f"val_loss rose from {num(onset.best_val)} (epoch {b}) to {num(onset.last_val)} (epoch {last}, "
                f"{pct(onset.rise_pct)}) while training loss fell to {num(onset.train_last)}")
        if ctx.has(acc) and b in run.epochs.index and last in run.epochs.index:
            a0, a1 = run.epochs.at[b, acc], run.epochs.at[last, acc]
            small = abs(a1 - a0) < 0.05 and (onset.rise_pct or 0) >= 20
            tr, t0, t1 = "", 0.0, 0.0
            if ctx.has(ctx.accuracy):
                t0, t1 = run.epochs.at[b, ctx.accuracy], run.epochs.at[last, ctx.accuracy]
                tr = f" (training {ctx.accuracy} {num(t0)} to {num(t1)})"
            h = 5e-5 if not ctx.exact else 0.0
            train_gain = (t1 - t0) if tr else 0.0
            if a1 - h > a0 + h and a1 - a0 >= max(0.005, 0.2 * train_gain):
                sentence = ("The probabilities overfit while the decisions still improve: " + head
                            + f", yet {acc} rose from {num(a0)} to {num(a1)}{tr}: more samples come out right while "
                            "the wrong ones are scored more confidently wrong. Which epoch is best depends on which of "
                            "the two you need")
            elif small and (t1 - a1) - (t0 - a0) < 0.25:
                sentence = ("Overfitting that shows in val_loss far more than in val_accuracy: " + head
                            + f", but {acc} only went from {num(a0)} to {num(a1)}{tr}")
            else:
                sentence = "Overfitting: " + head + f", and {acc} went from {num(a0)} to {num(a1)}{tr}"
            ctx.offer_verdict(10, sentence + ".")
        else:
            ctx.offer_verdict(10, "Overfitting: " + head + ".")
    elif kind == "early sign":
        n_after = onset.val_trend.n if onset.val_trend is not None else 0
        ctx.offer_verdict(10, f"val_loss rose {pct(onset.rise_pct)} in the {n_after} logged epoch{'s' if n_after != 1 else ''} "
                              f"after its minimum at epoch {onset.best_epoch}: too early to call it overfitting.")
    elif kind == "slight rise":
        ctx.offer_verdict(10, f"No clear overfitting: val_loss ended {pct(onset.rise_pct, 1)} above its minimum "
                              f"{num(onset.best_val)} (epoch {onset.best_epoch}).")
    elif kind == "creeping":
        t = onset.val_trend
        ctx.offer_verdict(10, f"val_loss has crept up {pct(onset.rise_pct, 1)} since epoch {onset.best_epoch} (rising trend, "
                              f"p = {t.p_value:.3f}) while training loss fell: overfitting has begun but is small so far.")
    elif kind == "still improving" and ctx.facts.get("val_loss_flat"):
        ctx.offer_verdict(10, f"val_loss did not change ({num(onset.last_val)} at every logged epoch).")
    elif kind == "still improving":
        ctx.offer_verdict(10, f"No overfitting visible: val_loss is at or within rounding of its lowest at the last "
                              f"logged epoch ({onset.last_epoch}: {num(onset.last_val)}).")
    elif kind == "both rising":
        ctx.offer_verdict(10, f"Training got worse on both sets after epoch {onset.best_epoch}: the optimisation, "
                              "not overfitting, is the problem.")
    if spread is not None and spread.sd > 0 and ctx.n_val:
        a = ctx.val_accuracy
        if spread.p_value >= 0.05:
            ctx.offer_verdict(15, f"The {a} wobble after its best epoch (sd {100 * spread.sd:.2f} points) is within the "
                                  f"sampling noise of {ctx.n_val} validation samples (sd {100 * spread.binomial_sd:.2f}, "
                                  f"p = {spread.p_value:.2f}): epochs this close cannot be ranked by {a}.")
        else:
            trend = ctx.facts.get(f"trend_{a}")
            part = (f" (part of it is the {trend.verdict} trend)" if trend is not None
                    and trend.verdict in ("rising", "falling") else "")
            ctx.offer_verdict(15, f"The {a} wobble after its best epoch (sd {100 * spread.sd:.2f} points) is larger than "
                                  f"the sampling noise of {ctx.n_val} validation samples (sd {100 * spread.binomial_sd:.2f}, "
                                  f"p = {spread.p_value:.2g}){part}: the predictions really change from epoch to epoch.")
    bounds = ctx.facts.get("bounds")
    if bounds is not None and kind == "overfitting":
        table, ref, focus = bounds["table"], bounds["ref"], bounds["focus"]
        wl = table.loc[focus, "wrong_low"]
        if wl > 0.9 and focus > ref:
            model = "; binary model assumed" if ctx.classes_assumed else ""
            ctx.offer_verdict(20, f"By epoch {focus} the mistakes are confidently wrong: misclassified validation "
                                  f"samples average at least {wl:.2f} nats (true-class probability at most "
                                  f"{table.loc[focus, 'gm_wrong_high']:.2f}{model}), where epoch {ref} only required "
                                  f"{table.loc[ref, 'wrong_low']:.2f}.")
    es = ctx.facts.get("early_stopping")
    if es is not None and kind == "overfitting":
        ctx.offer_verdict(30, f"Keep epoch {es['kept_epoch']}: EarlyStopping(monitor=\"val_loss\", patience={es['patience']}, "
                              f"restore_best_weights=True) stops after epoch {es['stop_epoch']} and restores it.")
    return []
