"""The shapes of the curves: which loss and accuracy pattern a run shows, and why.

Runs right after the sanity checks, so an impossible or diverged run is
classified as such before any curve rule; the classifiers themselves are the
pure functions of :mod:`dynamics.stats.curves` and
:mod:`dynamics.stats.accuracy_curve`. The results go to
``ctx.facts.loss_curve`` / ``ctx.facts.accuracy_curve`` for the findings and
the verdict after them; the findings made here are the ones about a frozen
or chance-level accuracy, worded by what the classifier decided (a frozen
accuracy is a one-class model only when the training side is stuck too).
"""

from __future__ import annotations

import math

import numpy as np

from dynamics.diagnosis.context import Context
from dynamics.diagnosis.wording import num, span
from dynamics.findings import Finding
from dynamics.stats.accuracy_curve import AccuracyCurve, classify_accuracy_curve
from dynamics.stats.curves import LossCurve, classify_loss_curve

#: Loss patterns after which a rise of val_accuracy is measured from the val_loss minimum.
_ROSE_AFTER_MINIMUM = ("overfitting", "early_sign", "both_rising")
#: |AUC - 0.5| below this at every epoch: the scores do not rank the samples at all.
AUC_CHANCE_TOL = 0.005


def produce(ctx: Context) -> list[Finding]:
    """Classify the loss and accuracy curves into ``ctx.facts``; findings for frozen / chance accuracies."""
    ctx.facts.loss_curve = loss_curve(ctx)
    ctx.facts.accuracy_curve = accuracy_curve(ctx, ctx.facts.loss_curve)
    return _frozen(ctx) + _chance(ctx)


def _valid_val(ctx: Context, column: str) -> np.ndarray:
    """A validation column as :meth:`Context.valid_run` sees it."""
    return ctx.valid_run().series(column).to_numpy(dtype=float)


def loss_curve(ctx: Context) -> LossCurve | None:
    """The val_loss curve classified (the error rate 1 - val_accuracy when only that is logged)."""
    if ctx.has("val_loss"):
        values, hw = _valid_val(ctx, "val_loss"), float(ctx.halfwidth("val_loss").max(initial=0))
    elif ctx.has(ctx.val_accuracy):
        values, hw = 1 - _valid_val(ctx, ctx.val_accuracy), float(ctx.halfwidth(ctx.val_accuracy).max(initial=0))
    else:
        return None
    train = ctx.run.series("loss").to_numpy(dtype=float) if ctx.has("loss") and ctx.has("val_loss") else None
    # Half-widths of the values near the curve's own scale: a 4-decimal print, or 5 significant digits in %.4e.
    return classify_loss_curve(ctx.epochs, values, train, val_halfwidth=hw,
                               train_halfwidth=float(ctx.halfwidth("loss").max(initial=0)) if train is not None else 0.0)


def one_class_counts(ctx: Context) -> tuple[int, str] | None:
    """The last epoch at which validation confusion counts show a single predicted class."""
    names = ctx.run.metrics
    def col(*options: str) -> str | None:
        return next((c for c in names for o in options if c == "val_" + o or c.startswith("val_" + o + "_")), None)
    tp, fp, tn, fn = col("tp", "true_positives"), col("fp", "false_positives"), col("tn", "true_negatives"), col("fn", "false_negatives")
    if None in (tp, fp, tn, fn):
        return None
    last = ctx.run.epochs[[tp, fp, tn, fn]].dropna()
    if not len(last):
        return None
    row = last.iloc[-1]
    if row[tp] + row[fp] == 0:
        return int(last.index[-1]), "negative"
    if row[tn] + row[fn] == 0:
        return int(last.index[-1]), "positive"
    return None


def auc_at_chance(ctx: Context) -> tuple[str, float] | None:
    """A validation AUC within :data:`AUC_CHANCE_TOL` of 0.5 at every epoch."""
    col = next((c for c in ctx.run.metrics if c == "val_auc" or c.startswith("val_auc_")), None)
    if col is None:
        return None
    s = ctx.run.series(col).dropna()
    if len(s) and bool(((s - 0.5).abs() <= AUC_CHANCE_TOL).all()):
        return col, float(s.iloc[-1])
    return None


def accuracy_curve(ctx: Context, loss: LossCurve | None) -> AccuracyCurve | None:
    """The val_accuracy curve classified; None when there is none or it does not describe the loss."""
    acc = ctx.val_accuracy
    if not ctx.has(acc) or ctx.facts.val_loss_invalid or ctx.facts.glitch_epochs.get("val_"):
        return None
    if ctx.facts.diverged is not None:
        return None
    chance = 1 / ctx.bound_classes if ctx.bound_classes else None
    if one_class_counts(ctx) or auc_at_chance(ctx):
        s = ctx.run.series(acc).dropna()
        return AccuracyCurve("chance_level", "one_class_counts" if one_class_counts(ctx) else "auc_at_half",
                             n=ctx.n_val, best_epoch=int(s.idxmax()), best_value=float(s.max()),
                             first_value=float(s.iloc[0]), last_value=float(s.iloc[-1]), chance=chance)
    rise_from = loss.best_epoch if loss is not None and loss.pattern in _ROSE_AFTER_MINIMUM else None
    return classify_accuracy_curve(
        ctx.epochs, _valid_val(ctx, acc), n_val=ctx.n_val,
        train_accuracy=ctx.run.series(ctx.accuracy).to_numpy(dtype=float) if ctx.has(ctx.accuracy) else None,
        val_loss=_valid_val(ctx, "val_loss") if ctx.has("val_loss") else None,
        classes=ctx.bound_classes, halfwidth=float(ctx.halfwidth(acc).max(initial=0)), rise_from_epoch=rise_from)


def _frozen(ctx: Context) -> list[Finding]:
    c = ctx.facts.accuracy_curve
    if c is None or c.frozen is None:
        return []
    col = ctx.val_accuracy
    first, last, value = c.frozen
    length = int(sum(1 for e in ctx.epochs if first <= e <= last))
    moved = ""
    if ctx.has("val_loss"):
        seg = ctx.run.series("val_loss").loc[first:last].dropna()
        if len(seg) and seg.max() > seg.min():
            moved = f" while val_loss moved between {num(seg.min())} and {num(seg.max())}"
    count = f" ({round(value * ctx.n_val)} of {ctx.n_val} samples)" if ctx.n_val else ""
    head = (f"{col} printed exactly {num(value)}{count} at all {length} epochs {first}-{last}{moved}: in net, not one "
            "validation sample changed between right and wrong.")
    evidence = {"metric": col, "first_epoch": first, "last_epoch": last, "value": value, "epochs": length,
                "pattern": c.pattern, "rule": c.rule, "train_accuracy": c.train_value,
                "prior_entropy": list(c.prior_entropy) if c.prior_entropy else None, **c.thresholds}
    train = f"training {ctx.accuracy} {num(c.train_value)}" if c.train_value is not None else ""
    if c.pattern == "stuck_one_class":
        if c.rule == "train_frozen_too":
            why = f" The training side is stuck too ({train} at every one of those epochs)"
        else:
            lo, hi = c.prior_entropy
            why = (f" val_loss {num(ctx.run.series('val_loss').loc[last])} at epoch {last} is the entropy of a prior with "
                   f"that share ({num(lo)}" + (f"-{num(hi)}" if hi > lo + 1e-9 else "") + " nats)"
                   + (f" and {train} is no higher than it" if train else ""))
        claim = head + why + (f": the model predicts one class for everything, with {num(value)} that class's share "
                              "of the validation set, and ignores its input.")
        return [Finding("accuracy_frozen", "warning", claim, evidence,
                        "Check model.predict on the validation set: if every prediction is one class, look at class "
                        "balance (class_weight=), the learning rate, and whether the inputs are scaled.", "sanity")]
    if c.pattern == "stuck_converged":
        claim = head + (f" With {train} the training set is fitted: the predictions have settled, which is not a "
                        "one-class model (that needs the training side stuck too).")
    else:
        claim = head + (" The training side is not stuck and the loss is not at a prior's entropy, so this alone does "
                        "not show a one-class model.")
    return [Finding("accuracy_frozen", "info", claim, evidence, None, "sanity")]


def _chance(ctx: Context) -> list[Finding]:
    c = ctx.facts.accuracy_curve
    if c is None or c.pattern != "chance_level":
        return []
    col = ctx.val_accuracy
    evidence = {"metric": col, "rule": c.rule, "best": c.best_value, "best_epoch": c.best_epoch, "chance": c.chance,
                "n_val": c.n, **c.thresholds}
    if c.rule == "one_class_counts":
        epoch, side = one_class_counts(ctx)
        claim = (f"At epoch {epoch} the validation confusion counts hold no {'positive' if side == 'negative' else 'negative'} "
                 f"prediction: every sample is predicted {side}, so {col} {num(c.last_value)} is just the share of that "
                 "class. The model is at chance level, whatever the accuracy looks like.")
    elif c.rule == "auc_at_half":
        name, auc = auc_at_chance(ctx)
        claim = (f"{name} is {num(auc)} (within {AUC_CHANCE_TOL} of 0.5 at every epoch): the scores do not rank positives "
                 f"above negatives, so {col} {num(c.last_value)} is no better than a constant prediction.")
    else:
        assumed = " (binary model assumed; pass --classes K otherwise)" if ctx.classes_assumed else ""
        noise = f"within the 95% Wilson interval of {c.n} samples" if c.n else "within 2 points"
        loss = f", and val_loss never fell below ln {round(1 / c.chance)} = {math.log(round(1 / c.chance)):.4f}" if ctx.has("val_loss") else ""
        claim = (f"{col} peaked at {num(c.best_value)} (epoch {c.best_epoch}), {noise} of the chance rate "
                 f"{num(c.chance)}{assumed}{loss}: the model has learnt nothing that transfers to the validation data "
                 f"over {span(int(ctx.epochs[0]), int(ctx.epochs[-1]))}.")
        evidence["epochs"] = [int(ctx.epochs[0]), int(ctx.epochs[-1])]
    return [Finding("accuracy_at_chance", "warning", claim, evidence,
                    "Check the labels (are they aligned with the inputs?), class balance, the output layer, and try a "
                    "higher or lower learning rate on a small subset first.", "sanity")]
