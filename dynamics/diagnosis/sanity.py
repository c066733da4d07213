"""Findings: what the log holds, and the checks an expert makes first."""

from __future__ import annotations

import math

import numpy as np

from dynamics.diagnosis.context import Context
from dynamics.diagnosis.wording import epoch_ranges, listing, num, span
from dynamics.findings import Finding
from dynamics.stats.bounds import KERAS_EPSILON
from dynamics.stats.early_stopping import missing_ranges
from dynamics.stats.sanity import loss_excess, loss_limits

_MAX_LOSS = -math.log(KERAS_EPSILON)


def coverage(ctx: Context) -> list[Finding]:
    """Which epochs the log holds, and whether it has validation numbers."""
    run = ctx.run
    out: list[Finding] = []
    epochs = [int(e) for e in ctx.epochs]
    if not epochs:
        return out
    declared = run.meta.epochs_declared
    gaps = missing_ranges(epochs, upto=declared)
    if gaps or run.meta.interrupted_epoch:
        of = f" of {declared}" if declared else ""
        missing = listing([span(a, b) for a, b in gaps])
        claim = f"The log holds {len(epochs)} epochs: {epoch_ranges(epochs)}{of}."
        if missing:
            verb = "is" if len(gaps) == 1 and gaps[0][0] == gaps[0][1] else "are"
            claim += f" {missing[0].upper() + missing[1:]} {verb} not in it, so nothing below can speak for them."
        if run.meta.interrupted_epoch:
            claim += f" The log ends inside epoch {run.meta.interrupted_epoch}, which is not counted."
        out.append(Finding("log_coverage", "info", claim,
                           {"epochs": epochs, "missing": [list(g) for g in gaps], "epochs_declared": declared,
                            "interrupted_epoch": run.meta.interrupted_epoch}, None, "data"))
    if len(epochs) == 1:
        ctx.offer_verdict(60, f"Only one epoch ({epochs[0]}) is in this log: how training develops cannot be told from it.")
    if not run.has("val_loss") and not ctx.has(ctx.val_accuracy):
        out.append(Finding(
            "no_validation", "undetermined",
            "Cannot tell whether this model overfits, because the log has no validation metrics "
            "(no val_loss or val_accuracy): nothing was measured on held-out data.",
            {"metrics": run.metrics}, "Pass validation_data=(x_val, y_val) or validation_split=0.1 to model.fit.",
            "overfitting"))
        ctx.offer_verdict(50, "There are no validation numbers in this log, so overfitting cannot be judged.")
    return out


def produce(ctx: Context) -> list[Finding]:
    """Non-finite losses, impossible loss/accuracy pairs, penalties in the loss (frozen and chance-level accuracies: :mod:`~dynamics.diagnosis.patterns`)."""
    out: list[Finding] = []
    out += _non_finite(ctx)
    for prefix in ("val_", ""):
        out += _impossible(ctx, prefix)
    out += _penalty(ctx)
    out += _val_above_train(ctx)
    return out


def _non_finite(ctx: Context) -> list[Finding]:
    out = []
    for col in ("loss", "val_loss"):
        if col not in ctx.run.epochs.columns:
            continue
        s = ctx.run.series(col)
        printed = set(ctx.run.meta.printed_nan.get(col, []))
        bad = [int(e) for e, v in s.items() if (math.isnan(v) and int(e) in printed) or math.isinf(v)]
        if bad:
            ctx.facts.nonfinite_epochs = sorted(set(ctx.facts.nonfinite_epochs) | set(bad))
            first = bad[0]
            value = s.loc[first]
            shown = "nan" if math.isnan(value) else num(value)
            finite = s[s.index < first].dropna()
            before = f"; the last finite value was {num(finite.iloc[-1])} at epoch {int(finite.index[-1])}" if len(finite) else ""
            out.append(Finding(
                f"{col}_not_finite", "critical",
                f"{col} is {shown} from epoch {first} on ({len(bad)} epoch{'s' if len(bad) > 1 else ''}){before}: "
                "the weights have diverged and every later number is meaningless.",
                {"metric": col, "epochs": bad, "first_epoch": first},
                "Lower the learning rate, clip gradients (optimizer clipnorm=1.0), check the inputs and labels for "
                "NaN/inf, and add keras.callbacks.TerminateOnNaN().", "sanity"))
            if ctx.facts.diverged is None:
                ctx.facts.diverged = first
                ctx.offer_verdict(0, f"Training diverged: {col} is {shown} from epoch {first} on.")
    return out


def _impossible(ctx: Context, prefix: str) -> list[Finding]:
    acc_col = ctx.val_accuracy if prefix else ctx.accuracy
    loss_col = prefix + "loss"
    if not (ctx.has(acc_col) and ctx.run.has(loss_col)):
        return []
    L = ctx.run.series(loss_col)
    a = ctx.run.series(acc_col)
    hL, ha = ctx.halfwidth(loss_col), ctx.halfwidth(acc_col)
    ok = np.isfinite(L.to_numpy()) & np.isfinite(a.to_numpy())
    lo, _ = loss_limits(np.clip(a.to_numpy() + ha, 0, 1))
    low = ok & (L.to_numpy() + hL < lo)
    out = []
    if low.any():
        eps = [int(e) for e in ctx.epochs[low]]
        e0 = eps[0]
        i0 = int(np.flatnonzero(low)[0])
        value = float(L.iloc[i0])
        partial = len(eps) < int(ok.sum())
        limit = (f"at epoch {e0} {loss_col} is {num(value)} with {acc_col} {num(a.iloc[i0])}, but a cross-entropy at "
                 f"that accuracy is at least (1 - accuracy) x ln 2 = {num(lo[i0])}, because every mistake gives its true "
                 "class at most 1/2")
        evidence = {"loss": loss_col, "accuracy": acc_col, "epochs": eps, "minimum_crossentropy": float(lo[i0])}
        if partial:
            ctx.facts.glitch_epochs[prefix] = ctx.facts.glitch_epochs.get(prefix, []) + eps
            eps_word = f"epoch{'s' if len(eps) > 1 else ''} {epoch_ranges(eps)}"
            claim = limit[0].upper() + limit[1:] + (
                f". The other {int(ok.sum()) - len(eps)} epochs are consistent, so the numbers of {eps_word} are broken, "
                "not the loss: that evaluation went wrong (NaN or inf in some validation inputs, a generator that "
                "yielded empty or wrong batches).")
            if abs(value - 1.1920929e-07) < 1e-11:
                claim += " 1.1921e-07 is float32's machine epsilon (2^-23), the value a clipped or degenerate computation leaves."
            claim += f" The analyses below leave {eps_word} out of best epochs and trends."
            suggestion = ("Re-run model.evaluate on the validation data and check it for NaN/inf "
                          "(np.isfinite(x_val).all()); if a generator feeds validation, check its steps and length.")
            out.append(Finding(f"{prefix}loss_glitch", "warning", claim, evidence, suggestion, "sanity"))
            if prefix:
                ctx.offer_verdict(4, f"The validation numbers of {eps_word} are impossible ({loss_col} {num(value)} at "
                                     f"{acc_col} {num(a.iloc[i0])}): that evaluation was broken.")
        else:
            ctx.facts.not_crossentropy[prefix] = eps
            claim = limit[0].upper() + limit[1:] + (
                f" (true at every one of the {len(eps)} epochs). So {loss_col} is not the cross-entropy of the "
                "predictions that accuracy counts: a regression loss (MSE, MAE) with an accuracy metric that means "
                "nothing for it, or a loss and accuracy computed on different outputs.")
            out.append(Finding(
                f"{prefix}loss_below_crossentropy", "warning", claim, evidence,
                "If this is regression, drop the accuracy metric and track MAE; if it is classification, check that "
                "the loss matches the output layer (sigmoid + binary_crossentropy, softmax + categorical_crossentropy).",
                "sanity"))
            if prefix:
                ctx.offer_verdict(5, f"{loss_col} and {acc_col} cannot both describe one classifier "
                                     f"(e.g. {num(value)} at {num(a.iloc[i0])} at epoch {e0}): {acc_col} does not "
                                     "measure what the loss optimises.")
    # Too high: clipped cross-entropy at accuracy a is at most (1-a)*16.118 + a*ln k, so a loss L
    # needs k >= exp((L - (1-a)*16.118)/a) classes.
    a_lo = np.clip(a.to_numpy() - ha, 0, 1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_k_needed = (L.to_numpy() - hL - (1 - a_lo) * _MAX_LOSS) / a_lo
    limit_k = ctx.classes if ctx.classes else 1000
    high = ok & (a_lo > 0) & (log_k_needed > math.log(limit_k))
    if high.any():
        eps = [int(e) for e in ctx.epochs[high]]
        i0 = int(np.flatnonzero(high)[0])
        e0 = eps[0]
        _, hi = loss_limits(a.iloc[i0], classes=limit_k)
        need = math.exp(min(log_k_needed[i0], 700))
        known = f"{limit_k} classes" if ctx.classes else "up to 1000 classes"
        ctx.facts.above_clipped[prefix] = eps
        out.append(Finding(
            f"{prefix}loss_impossible_for_accuracy", "critical",
            f"At epoch {e0} {loss_col} is {num(L.iloc[i0])} at {acc_col} {num(a.iloc[i0])}. Keras clips probabilities "
            f"to [1e-7, 1 - 1e-7], so one sample costs at most {_MAX_LOSS:.1f} nats and the mean cross-entropy "
            f"at this accuracy is at most {num(float(hi))} with {known} (it would need {need:.3g} classes); "
            f"true at {len(eps)} epoch{'s' if len(eps) > 1 else ''}. The loss is computed from unclipped logits "
            "(from_logits=True, or a final layer without softmax/sigmoid fed to a probability loss), carries a large "
            "penalty, or the validation data is preprocessed differently from the training data.",
            {"loss": loss_col, "accuracy": acc_col, "epochs": eps, "maximum_crossentropy": float(hi),
             "classes_needed": need},
            "Check that the last layer's activation matches the loss's from_logits, and that validation inputs get "
            "the same preprocessing (scaling, tokenizer) as training inputs.", "sanity"))
        if prefix:
            ctx.offer_verdict(1, f"{loss_col} ({num(L.iloc[i0])} at {acc_col} {num(a.iloc[i0])}) is larger than any "
                                 "clipped cross-entropy allows: check from_logits and the validation preprocessing.")
    return out


def _penalty(ctx: Context) -> list[Finding]:
    excess = loss_excess(ctx.run, val=True)
    if excess is None:
        return []
    excess = excess.dropna()
    if not len(excess) or (excess.abs() < 1e-3).all():
        return []
    ctx.facts.loss_excess = excess
    e = int(excess.index[-1])
    return [Finding("loss_includes_more_than_crossentropy", "info",
                    f"val_loss exceeds what the metric names show as the cross-entropy by {num(excess.iloc[-1])} at "
                    f"epoch {e} (from {num(excess.min())} to {num(excess.max())} over the log): the loss also holds a "
                    "regularization penalty, loss weights or label smoothing, so it says less about confidence; "
                    "the confidence bounds below use the cross-entropy itself where the log has it.",
                    {"excess": {int(k): float(v) for k, v in excess.items()}}, None, "sanity")]


def _val_above_train(ctx: Context) -> list[Finding]:
    if not (ctx.has(ctx.val_accuracy) and ctx.has(ctx.accuracy)):
        return []
    tr = ctx.run.series(ctx.accuracy)
    va = ctx.run.series(ctx.val_accuracy)
    both = tr.notna() & va.notna()
    above = (va > tr) & both
    if both.sum() >= 2 and above.sum() * 2 > both.sum():
        eps = [int(e) for e in above[above].index]
        return [Finding("val_above_train", "info",
                        f"{ctx.val_accuracy} is above {ctx.accuracy} at {len(eps)} of {int(both.sum())} epochs "
                        f"(epochs {epoch_ranges(eps)}). That is expected with dropout or augmentation: Keras's training "
                        "numbers are running means over the epoch with dropout active, validation is scored at the end "
                        "of the epoch in inference mode. It is not by itself a sign of leakage.",
                        {"epochs": eps}, None, "sanity")]
    return []
