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
    run = ctx.run
    onset = ctx.facts.get("onset")
    acc = ctx.val_accuracy
    spread = ctx.facts.get("spread")
    if onset is not None and onset.status == "overfitting":
        b, last = onset.best_epoch, onset.last_epoch
        head = (f"val_loss rose from {num(onset.best_val)} (epoch {b}) to {num(onset.last_val)} (epoch {last}, "
                f"{pct(onset.rise_pct)}) while training loss fell to {num(onset.train_last)}")
        if ctx.has(acc) and b in run.epochs.index and last in run.epochs.index:
            a0, a1 = run.epochs.at[b, acc], run.epochs.at[last, acc]
            moved = abs(a1 - a0)
            small = moved < 0.05 and (onset.rise_pct or 0) >= 20
            lead = "Overfitting that shows in val_loss far more than in val_accuracy: " if small else "Overfitting: "
            sentence = lead + head + f", but {acc} only went from {num(a0)} to {num(a1)}" if small else \
                lead + head + f", and {acc} went from {num(a0)} to {num(a1)}"
            if spread is not None and spread.p_value >= 0.05 and ctx.n_val:
                sentence += (f"; its wobble after the best epoch is within the sampling noise of {ctx.n_val} validation "
                             f"samples (p = {spread.p_value:.2f})")
            ctx.offer_verdict(10, sentence + ".")
        else:
            ctx.offer_verdict(10, "Overfitting: " + head + ".")
    elif onset is not None and onset.status == "still improving":
        ctx.offer_verdict(10, f"No overfitting visible: val_loss is lowest at or near the last logged epoch "
                              f"({onset.last_epoch}: {num(onset.last_val)}).")
    elif onset is not None and onset.status == "both rising":
        ctx.offer_verdict(10, f"Training got worse on both sets after epoch {onset.best_epoch}: the optimisation, "
                              "not overfitting, is the problem.")
    bounds = ctx.facts.get("bounds")
    if bounds is not None:
        table, ref, focus = bounds["table"], bounds["ref"], bounds["focus"]
        wl = table.loc[focus, "wrong_low"]
        if wl > 0.9 and focus != ref:
            ctx.offer_verdict(20, f"The mistakes have become confidently wrong: at epoch {focus} misclassified validation "
                                  f"samples average at least {wl:.2f} nats (true-class probability at most "
                                  f"{table.loc[focus, 'gm_wrong_high']:.2f}), where epoch {ref} only required "
                                  f"{table.loc[ref, 'wrong_low']:.2f}.")
    es = ctx.facts.get("early_stopping")
    if es is not None and onset is not None and onset.status == "overfitting":
        ctx.offer_verdict(30, f"Keep epoch {es['kept_epoch']}: EarlyStopping(monitor=\"val_loss\", patience={es['patience']}, "
                              f"restore_best_weights=True) stops after epoch {es['stop_epoch']} and restores it.")
    return []
