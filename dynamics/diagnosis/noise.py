"""Findings: is the val_accuracy wobble more than the noise of n_val samples?"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from dynamics.diagnosis.context import Context
from dynamics.diagnosis.wording import epoch_ranges, listing, num, pval
from dynamics.findings import Finding
from dynamics.stats.noise import (
    fits_denominator,
    mcnemar_min_p,
    min_changed_samples,
    n_to_resolve,
    variance_ratio_test,
    wilson_interval,
)

RESOLVE = 0.005  # the difference (0.5 points) the sample-size finding is about

_HOW_N = ("Pass --n-val N. Keras 1/2 print it as 'validate on N samples'; with validation_split=s it is "
          "len(x) - int(len(x) * (1 - s)).")


def produce(ctx: Context) -> list[Finding]:
    """n_val (given, read, inferred or unknown), Wilson intervals, spread against binomial noise, paired caveat, n needed."""
    acc = ctx.val_accuracy
    if not ctx.has(acc):
        return []
    s = ctx.valid_run().series(acc).dropna()
    after = _after_best(ctx, s)
    if ctx.n_val is None:
        return [_unknown_n(ctx, after)]
    n = ctx.n_val
    out: list[Finding] = []
    if ctx.n_val_source == "inferred":
        out.append(_inferred(ctx))
    else:
        out += _mismatch(ctx, s, n)
    lo, hi = wilson_interval(s.to_numpy(), n)
    ctx.add_epoch_columns(pd.DataFrame({f"{acc}_low": lo, f"{acc}_high": hi}, index=s.index))
    out.append(_intervals(ctx, s, lo, hi, n))
    if len(after) >= 3:
        out.append(_spread(ctx, after, n))
    out += _paired(ctx, s, n)
    out.append(_resolve(ctx, s, n))
    return out


def _after_best(ctx: Context, s: pd.Series) -> pd.Series:
    best = ctx.facts.best.get(ctx.val_accuracy)
    e = best[0] if best else int(s.idxmax())
    return s[s.index > e]


def _unknown_n(ctx: Context, after: pd.Series) -> Finding:
    inf = ctx.n_val_inference
    why = "the log does not say how many validation samples there are"
    if inf is not None and inf.n is not None:
        why += (f", and the printed values do not reveal it (the smallest n they all fit is {inf.n}, but "
                f"{inf.values} unrelated values would fit some n that small with probability up to {inf.chance:.2g})")
    elif inf is not None:
        why += ", and the printed values do not reveal it"
    claim = f"Cannot tell whether the {ctx.val_accuracy} wobble is just noise, because {why}."
    evidence: dict = {"inference": inf.to_dict() if inf else None}
    if len(after) >= 3:
        vr = variance_ratio_test(after.to_numpy(), 1_000_000)
        n_sig = vr.n_significant
        if vr.sd == 0:
            claim += f" (After its best epoch it did not move at all over {vr.m} logged epochs.)"
        else:
            claim += (f" After its best epoch it has a standard deviation of {100 * vr.sd:.2f} points over {vr.m} logged "
                      f"epochs: within binomial sampling noise if n_val is below about {n_sig:,.0f}, more than it above.")
        evidence.update({"sd": vr.sd, "epochs": vr.m, "n_val_threshold": n_sig if vr.sd > 0 else None})
    return Finding("n_val_unknown", "undetermined", claim, evidence, _HOW_N, "noise")


def _inferred(ctx: Context) -> Finding:
    inf = ctx.n_val_inference
    assert inf is not None and inf.n is not None
    word = "is" if inf.certainty == "certain" else "is probably"
    claim = (f"The log does not say how many validation samples there are, but all {inf.values} distinct printed "
             f"{ctx.val_accuracy} values are multiples of 1/{inf.n} at print precision: n_val {word} {inf.n} or a multiple "
             f"of it ({inf.values} unrelated values would fit a denominator that small with probability at most "
             f"{inf.chance:.2g}). The numbers below use n_val = {inf.n}; one sample is {100 / inf.n:.2f} points.")
    return Finding("n_val_inferred", "info", claim, inf.to_dict(), _HOW_N.replace("Pass --n-val N.", "If it differs, pass --n-val N."),
                   "noise")


def _mismatch(ctx: Context, s: pd.Series, n: int) -> list[Finding]:
    h = ctx.halfwidth(ctx.val_accuracy)[ctx.run.epochs.index.get_indexer(s.index)]
    fits = fits_denominator(s.to_numpy(), n, h)
    if fits.all():
        return []
    bad = s[~fits]
    near = []
    for v in bad:
        k = v * n
        pair = sorted({math.floor(k) / n, math.ceil(k) / n})
        near.append("/".join(num(p) for p in pair))
    shown = listing([num(v) for v in bad])
    claim = (f"{ctx.val_accuracy} at epoch{'s' if len(bad) > 1 else ''} {epoch_ranges(bad.index)} ({shown}) "
             f"{'does' if len(bad) == 1 else 'do'} not correspond to a whole number of the {n} validation samples at 4 decimals "
             f"(the nearest possible values are {listing(near)}); the other {int(fits.sum())} epochs are. "
             f"Those rows were not computed as the plain fraction of {n} samples (sample weights, a different "
             "validation set, or edited numbers), so sample counts for them below are approximate.")
    ctx.facts.n_val_mismatch = [int(e) for e in bad.index]
    return [Finding("n_val_mismatch", "warning", claim,
                    {"n_val": n, "epochs": [int(e) for e in bad.index], "values": [float(v) for v in bad]}, None, "noise")]


def _intervals(ctx: Context, s: pd.Series, lo: np.ndarray, hi: np.ndarray, n: int) -> Finding:
    acc = ctx.val_accuracy
    picks: list[int] = []
    for key in (acc, "val_loss"):
        best = ctx.facts.best.get(key)
        if best and best[0] in s.index and best[0] not in picks:
            picks.append(best[0])
    if int(s.index[-1]) not in picks:
        picks.append(int(s.index[-1]))
    picks.sort()
    pos = {int(e): i for i, e in enumerate(s.index)}
    parts, evidence = [], {}
    for e in picks:
        i = pos[e]
        half = (hi[i] - lo[i]) / 2
        parts.append(f"{num(s.loc[e])} at epoch {e} (95% Wilson interval {num(lo[i])}-{num(hi[i])}, ±{100 * half:.1f} points)")
        evidence[e] = {"value": float(s.loc[e]), "low": float(lo[i]), "high": float(hi[i]), "half_width": float(half)}
    source = {"log": "from the log", "option": "given", "inferred": "inferred"}.get(ctx.n_val_source or "", "")
    claim = (f"With n_val = {n} ({source}), {acc} is {listing(parts)}. One sample is {100 / n:.2f} points. "
             "The interval is how well one epoch's number estimates accuracy on new data of the same kind.")
    return Finding("val_accuracy_intervals", "info", claim, {"n_val": n, "epochs": evidence}, None, "noise")


def _spread(ctx: Context, after: pd.Series, n: int) -> Finding:
    acc = ctx.val_accuracy
    vr = variance_ratio_test(after.to_numpy(), n)
    e0 = int(after.index[0]) - 1
    best = ctx.facts.best.get(acc)
    if best:
        e0 = best[0]
    head = (f"After epoch {e0}, {acc} ranged from {num(after.min())} to {num(after.max())} over {vr.m} logged epochs "
            f"(sd {100 * vr.sd:.2f} points); binomial noise with {n} samples alone gives sd {100 * vr.binomial_sd:.2f} "
            f"points: variance ratio {vr.ratio:.2f}, chi2({vr.df}) = {vr.statistic:.1f}, {pval(vr.p_value)}")
    trend = ctx.facts.trends.get(acc)
    ctx.facts.spread = vr
    if vr.sd == 0:
        claim = (f"After epoch {e0}, {acc} printed {num(after.iloc[0])} at all {vr.m} logged epochs: it did not move, "
                 "so there is no wobble to explain.")
        return Finding("val_accuracy_spread", "info", claim, {"after_epoch": e0, **vr.to_dict()}, None, "noise")
    curve = ctx.facts.accuracy_curve
    if vr.p_value >= 0.05 and curve is not None and curve.pattern == "real_decline":
        claim = (head + " - no more spread around their mean than sampling noise, but this test ignores the order of "
                 f"the epochs: {acc} fell from {num(curve.best_value)} (epoch {curve.best_epoch}) to a median of "
                 f"{num(curve.tail_level)} over the last {len(curve.tail_epochs)} epochs, {abs(curve.change_se):.1f} "
                 f"standard errors of a difference on {curve.n:,} samples (more than the "
                 f"{curve.thresholds['change_z']:g} a real change needs): a real decline, not noise.")
        ctx.facts.spread = vr
        return Finding("val_accuracy_spread", "warning", claim, {"after_epoch": e0, **vr.to_dict(),
                                                                  "decline": curve.to_dict()}, None, "noise")
    if vr.p_value >= 0.05:
        claim = (head + " - no more spread than sampling noise. Every epoch scores the same samples, so this does not "
                 "make the wobble sampling noise; it means the epochs differ by no more than the uncertainty of any "
                 f"one epoch's accuracy, so ranking epochs by {acc} is unreliable at this n_val")
        claim += (f" (with more than {vr.n_significant:,.0f} samples the same spread would stand out)." if math.isfinite(vr.n_significant) else ".")
        severity = "info"
    else:
        claim = (head + " - more spread than sampling noise: the model's predictions on these samples really change "
                 "from epoch to epoch.")
        if trend is not None and trend.verdict in ("rising", "falling"):
            claim += f" Part of it is the {trend.verdict} trend after the best epoch."
        severity = "info"
    ctx.facts.spread = vr
    return Finding("val_accuracy_spread", severity, claim, {"after_epoch": e0, **vr.to_dict()}, None, "noise")


def _paired(ctx: Context, s: pd.Series, n: int) -> list[Finding]:
    acc = ctx.val_accuracy
    h = dict(zip(s.index, ctx.halfwidth(acc)[ctx.run.epochs.index.get_indexer(s.index)]))
    best = ctx.facts.best.get(acc)
    first = best[0] if best else int(s.idxmax())
    last = int(s.index[-1])
    steps = []
    for a, b in zip(s.index[:-1], s.index[1:]):
        if b == a + 1:
            steps.append((int(a), int(b), min_changed_samples(s.loc[a], s.loc[b], n, h[a], h[b])))
    ctx.tables["val_accuracy_changes"] = pd.DataFrame(
        [{"from_epoch": a, "to_epoch": b, "min_changed": c, "mcnemar_min_p": mcnemar_min_p(c)} for a, b, c in steps],
        columns=["from_epoch", "to_epoch", "min_changed", "mcnemar_min_p"])
    parts = []
    evidence: dict = {"n_val": n, "consecutive": [{"from": a, "to": b, "min_changed": c} for a, b, c in steps]}
    if first != last:
        d = min_changed_samples(s.loc[first], s.loc[last], n, h[first], h[last])
        direction = "right to wrong" if s.loc[last] < s.loc[first] else "wrong to right"
        parts.append(
            f"{acc} went from {num(s.loc[first])} (epoch {first}) to {num(s.loc[last])} (epoch {last}): in net at least {d} "
            f"of the {n} validation samples went from {direction}. Whether that is more than chance cannot be told from "
            "this log, because both epochs score the same samples: the test is McNemar's on the samples whose "
            f"prediction flipped, and the log shows only the net change. If all {d} flipped one way p would be "
            f"{mcnemar_min_p(d):.2g}; the more flips in both directions, the larger p. Comparing the two Wilson "
            "intervals as if the epochs used different samples is not the right test either.")
        evidence.update({"from_epoch": first, "to_epoch": last, "min_changed": d, "mcnemar_min_p": mcnemar_min_p(d)})
    if steps:
        small = [(a, b, c) for a, b, c in steps if mcnemar_min_p(c) >= 0.05]
        if len(steps) <= 6:
            shown = ", ".join(f"{a}->{b}: {c}" for a, b, c in steps)
            text = f"Between consecutive logged epochs at least this many predictions changed: {shown}."
            if small:
                text += (f" A net change of 5 or fewer ({listing([f'{a}->{b}' for a, b, _ in small])}) could not be "
                         "significant under any paired test (smallest possible McNemar p >= 0.0625).")
        else:
            top = sorted(steps, key=lambda r: -r[2])[:3]
            text = (f"Between consecutive logged epochs the largest net changes are "
                    f"{listing([f'{c} samples ({a}->{b})' for a, b, c in top])}; {len(small)} of the {len(steps)} "
                    "consecutive pairs changed by 5 or fewer, which no paired test could call significant "
                    "(smallest possible McNemar p >= 0.0625).")
        parts.append(text)
    if not parts:
        return []
    if first == last:
        parts.append("Whether any of these changes is more than chance cannot be told from this log, because "
                     "successive epochs score the same samples: that is McNemar's test on the samples whose prediction "
                     "flipped, and the log shows only net changes.")
    return [Finding("paired_comparison_needs_samples", "undetermined", " ".join(parts), evidence,
                    "Record per-sample validation predictions (dynamics train, or the PredictionRecorder callback) "
                    "to count the flips and run McNemar's test.", "noise")]


def _resolve(ctx: Context, s: pd.Series, n: int) -> Finding:
    p = float(s.mean())
    p = min(max(p, RESOLVE), 1 - RESOLVE)
    need = n_to_resolve(RESOLVE, p)
    claim = (f"To tell two accuracies 0.5 points apart (near {num(p, 2)}) with two independent validation sets takes "
             f"about {need:,} samples each (two-sided 5% test, 80% power), {need / n:.0f} times the {n} here. A paired "
             "comparison on one set can need fewer, depending on how many predictions flip.")
    return Finding("n_val_to_resolve", "info", claim, {"delta": RESOLVE, "p": p, "n_needed": need, "n_val": n},
                   "For decisions between epochs or models that differ by under a point, use a larger validation set "
                   "or k-fold cross-validation.", "noise")


