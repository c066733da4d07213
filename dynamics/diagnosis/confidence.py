"""Findings: how confidently wrong the validation mistakes must be (bounds from loss + accuracy)."""

from __future__ import annotations

import math

from dynamics.diagnosis.context import Context
from dynamics.diagnosis.wording import num
from dynamics.findings import Finding
from dynamics.stats.bounds import confidence_bounds

_LN2 = math.log(2)


def _loss_column(ctx: Context) -> str | None:
    """The validation cross-entropy: a compiled cross-entropy metric if any, else val_loss."""
    run = ctx.run
    ce = [c for c in run.metrics if c.startswith("val_") and c.endswith("crossentropy") and run.has(c)]
    if ce:
        return ce[0]
    outputs = [c for c in run.metrics if c.startswith("val_") and c.endswith("_loss") and c != "val_loss"]
    if outputs:
        return None  # a multi-output total: not one cross-entropy
    return "val_loss" if run.has("val_loss") else None


def produce(ctx: Context) -> list[Finding]:
    """Bounds on how confidently wrong the validation mistakes must be, at the best and the late epochs."""
    run = ctx.run
    acc = ctx.val_accuracy
    if not ctx.has(acc) or not run.has("val_loss"):
        return []
    if ctx.facts.val_loss_invalid:
        return []  # the sanity findings explain why the numbers are not a cross-entropy
    loss = _loss_column(ctx)
    if loss is None:
        return [Finding("confidence_bounds_unavailable", "undetermined",
                        "Cannot bound how confident the validation mistakes are, because val_loss here is the sum of "
                        "several outputs' losses, not one cross-entropy.", {}, None, "confidence")]
    k = ctx.bound_classes
    if k is None:
        if ctx.multiclass:
            why = f"{acc} is a multi-class accuracy"
        else:
            low = min((run.series(c).dropna() for c in (ctx.accuracy, acc) if c and run.has(c)), key=lambda x: x.min())
            why = (f"an accuracy of {num(low.min())} (epoch {int(low.idxmin())}) is below what a binary model gets by "
                   "predicting one class, so the model probably has more than 2")
        return [Finding("confidence_bounds_unavailable", "undetermined",
                        "Cannot bound how confident the validation mistakes are, because the number of classes is not "
                        f"in the log ({why}); the bound needs ln k, the most a correct prediction can cost.",
                        {"accuracy": acc}, "Pass --classes K.", "confidence")]
    table = confidence_bounds(run, classes=k, loss=loss, accuracy=acc)
    ctx.tables["confidence_bounds"] = table
    ctx.add_epoch_columns(table[["wrong_low", "wrong_high", "gm_wrong_high", "correct_high"]].add_prefix("mistake_")
                          .rename(columns={"mistake_correct_high": "correct_loss_high", "mistake_wrong_low": "mistake_loss_low",
                                           "mistake_wrong_high": "mistake_loss_high",
                                           "mistake_gm_wrong_high": "mistake_p_true_high"}))
    ok = table[(table["feasible"] == "ok") & table["wrong_low"].notna()]
    if ok.empty:
        return []
    best = ctx.facts.best.get("val_loss")
    ref = best[0] if best and best[0] in ok.index else int(ok.index[0])
    last = int(ok.index[-1])
    peak = int(ok["wrong_low"].idxmax())
    focus = last if ok.loc[last, "wrong_low"] >= ok.loc[peak, "wrong_low"] - 1e-9 else peak
    r, f = ok.loc[ref], ok.loc[focus]
    ctx.facts.bounds = {"ref": ref, "focus": focus, "table": ok}
    share = (1 - f["accuracy"]) * f["wrong_low"] / f["loss"] if f["loss"] > 0 else math.nan
    count = f" (about {round((1 - f['accuracy']) * ctx.n_val)} of {ctx.n_val})" if ctx.n_val else ""
    assume = ""
    if ctx.classes_assumed:
        assume = (" This assumes a binary model with one sigmoid output, as the log does not say; with K softmax "
                  "classes pass --classes K (the bound is then weaker).")
    claim = (f"At epoch {focus} the misclassified validation samples, {100 * (1 - f['accuracy']):.2f}% of them{count}, "
             f"must average at least {f['wrong_low']:.2f} nats of cross-entropy each (at most {f['wrong_high']:.2f}): "
             f"the geometric-mean probability the model gave the true class on its mistakes is at most "
             f"{f['gm_wrong_high']:.3f}.")
    if focus != ref:
        claim += (f" At epoch {ref} (lowest {loss}) the mistakes only had to average at least {r['wrong_low']:.2f} nats "
                  f"(true-class probability at most {r['gm_wrong_high']:.2f}).")
    if math.isfinite(share) and share > 0.05:
        claim += f" At least {100 * share:.0f}% of epoch {focus}'s {loss} comes from the mistakes alone."
    if focus != ref:
        claim += (f" Whether epoch {ref}'s mistakes were already this confident the log cannot show (its bounds allow up "
                  f"to {r['wrong_high']:.2f} nats); per-sample predictions can.")
    claim += assume
    forced = f["wrong_low"] > _LN2 + 0.25
    evidence = {
        "loss_metric": loss, "classes": k, "classes_assumed": ctx.classes_assumed,
        "epochs": {int(e): {c: float(ok.loc[e, c]) for c in ("loss", "accuracy", "wrong_low", "wrong_high",
                                                             "correct_low", "correct_high", "gm_wrong_low",
                                                             "gm_wrong_high")} for e in sorted({ref, focus})},
        "min_share_of_loss_from_mistakes": float(share) if math.isfinite(share) else None,
    }
    suggestion = None
    if forced:
        suggestion = ("Confident mistakes are what val_loss punishes: restore the best epoch (EarlyStopping with "
                      "restore_best_weights=True), or soften the probabilities afterwards with temperature scaling "
                      "fitted on validation data; label smoothing or more regularization during training.")
    return [Finding("confident_mistakes", "warning" if forced else "info", claim, evidence, suggestion, "confidence")]


