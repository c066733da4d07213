"""Counting the flips: McNemar's exact test between epochs of a recorded run.

A log shows only the net change of the number of correct samples between
two epochs, so whether a change is more than chance "cannot be told from
this log" (``paired_comparison_needs_samples``). A recorded run shows every
sample's flip: this finding (``paired_flips``) runs McNemar's exact test
between the best epoch and the last and between consecutive epochs, and
replaces the log-level one.
"""

from __future__ import annotations

from typing import Any

from dynamics.diagnosis.context import Context
from dynamics.diagnosis.wording import listing, pval, share
from dynamics.findings import Finding

PREFIX = "samples_"
ALPHA = 0.05


def _pair_text(t: Any, first: int, last: int, what: str) -> str:
    verdict = "more than chance" if t.p_value < ALPHA else "within chance"
    return (f"from epoch {first} ({what}) to epoch {last}, {t.right_to_wrong} samples went right -> wrong and "
            f"{t.wrong_to_right} wrong -> right (net {t.wrong_to_right - t.right_to_wrong:+d}, "
            f"{100 * t.accuracy_change:+.2f} points): exact McNemar {pval(t.p_value)}, {verdict}")


def flips_finding(ctx: Context, a: Any) -> Finding:
    """``paired_flips``: McNemar on the counted flips; supersedes ``paired_comparison_needs_samples``."""
    from dynamics.stats.paired import consecutive_tests, mcnemar_test

    n = a.n_samples
    acc = a.per_epoch["accuracy"]
    last = a.last_epoch
    best_acc = int(acc.idxmax())  # first maximum: the earliest best epoch
    tests = consecutive_tests(a.churn, n, alpha=ALPHA)
    ctx.tables[PREFIX + "mcnemar"] = tests
    evidence: dict[str, Any] = {"n_val": n, "alpha": ALPHA}
    parts = []
    name = ctx.val_accuracy or "val_accuracy"
    first_test = None
    if best_acc != last:
        first_test = mcnemar_test(a.arrays["correct_best_accuracy"], a.arrays["correct_end"])
        parts.append(f"Sample by sample, {_pair_text(first_test, best_acc, last, f'highest {name}, {acc[best_acc]:.4f}')}.")
        evidence["best_accuracy_vs_last"] = {"from_epoch": best_acc, "to_epoch": last, **first_test.to_dict()}
    b = a.best_epoch
    if b not in (best_acc, last):
        t = mcnemar_test(a.arrays["correct_best"], a.arrays["correct_end"])
        lead = "Likewise" if parts else "Sample by sample,"
        parts.append(f"{lead} {_pair_text(t, b, last, 'lowest val_loss')}.")
        evidence["best_loss_vs_last"] = {"from_epoch": b, "to_epoch": last, **t.to_dict()}
    after = tests[tests["from_epoch"] >= b]
    compared = first_test is not None or "best_loss_vs_last" in evidence  # a single pair after b is that comparison
    if len(after) >= 2 or (len(after) == 1 and not compared):
        sig, fdr = int(after["significant"].sum()), int(after["significant_fdr"].sum())
        changed = float(after["changed"].mean())
        net = float((after["wrong_to_right"] - after["right_to_wrong"]).abs().mean())
        shown = sorted(after.index, key=lambda e: after.at[e, "p_value"])[:3]
        pairs = "; ".join(f"{int(after.at[e, 'from_epoch'])}->{e}: {after.at[e, 'right_to_wrong']} right -> wrong, "
                          f"{after.at[e, 'wrong_to_right']} wrong -> right, {pval(after.at[e, 'p_value'])}"
                          for e in shown)
        parts.append(
            f"After epoch {b} (lowest val_loss), {changed:.0f} of the {n} samples ({share(changed / n, 1)}) change class "
            f"between consecutive epochs on average, while the number right changes by only {net:.1f} "
            f"({100 * net / n:.2f} points): {_of(sig, len(after), 'consecutive change')} beyond chance by McNemar's "
            f"exact test (p < {ALPHA:g}), {fdr} after Benjamini-Hochberg correction for {len(after)} tests. "
            f"Smallest p-value{'s' if len(shown) > 1 else ''}: {pairs}."
        )
        evidence["consecutive_after_best"] = {"from_epoch": b, "pairs": len(after), "significant": sig,
                                              "significant_fdr": fdr, "mean_changed": changed, "mean_abs_net": net}
    evidence["consecutive_all"] = {"pairs": len(tests), "significant": int(tests["significant"].sum()),
                                   "significant_fdr": int(tests["significant_fdr"].sum())}
    if not parts:
        parts.append(f"Only one epoch ({last}) was recorded: there is no pair of epochs to compare.")
    ctx.supersede("paired_comparison_needs_samples", "paired_flips")
    severity = "warning" if first_test is not None and first_test.p_value < ALPHA and first_test.accuracy_change < 0 else "info"
    ctx.withdraw_verdict("wobble")
    _paired_verdict(ctx, evidence, name)
    return Finding("paired_flips", severity, " ".join(parts), evidence, None, "noise")


def _of(k: int, total: int, noun: str, qualifier: str = "") -> str:
    """'0 of the 9 changes are', '1 of the 9 changes is', 'the one change is not'.

    >>> _of(1, 9, "change"), _of(0, 1, "change", " after epoch 3")
    ('1 of the 9 changes is', 'the one change after epoch 3 is not')
    """
    if total == 1:
        return f"the one {noun}{qualifier} is" + ("" if k else " not")
    return f"{k} of the {total} {noun}s{qualifier} {'is' if k == 1 else 'are'}"


def _paired_verdict(ctx: Context, ev: dict[str, Any], name: str) -> None:
    c = ev.get("consecutive_after_best")
    first = ev.get("best_accuracy_vs_last")
    label = f"highest {name}"
    if first is None and ev.get("best_loss_vs_last") is not None:
        first, label = ev["best_loss_vs_last"], "lowest val_loss"
    if c is None and first is None:
        return
    bits = []
    if c is not None:
        where = f" after epoch {c['from_epoch']}"
        text = (f"{_of(c['significant'], c['pairs'], 'epoch-to-epoch change', where)} beyond chance (McNemar's exact "
                f"test on the samples that flipped, p < {ALPHA:g}")
        if c["pairs"] > 1:  # with many pairs some pass by chance: say how many, and how many survive the correction
            text += f"; {ALPHA * c['pairs']:.1f} would by chance alone, {c['significant_fdr']} after Benjamini-Hochberg"
        bits.append(text + ")")
    real = first is not None and first["p_value"] < ALPHA
    if first is not None:
        bits.append(f"from epoch {first['from_epoch']} ({label}) to {first['to_epoch']}, {first['right_to_wrong']} "
                    f"samples went right -> wrong against {first['wrong_to_right']} wrong -> right "
                    f"({pval(first['p_value'])})")
    balanced = (c is None or c["significant_fdr"] == 0) and (first is None or first["p_value"] >= ALPHA)
    if real:
        moved = "fell" if first["accuracy_change"] < 0 else "rose"
        end = (f": {name} really {moved} from epoch {first['from_epoch']}, by "
               f"{100 * abs(first['accuracy_change']):.2f} points, beyond the samples trading places.")
    elif balanced:
        end = (f": the {name} wobble is samples trading places in numbers that balance within chance, not a real "
               "change in accuracy.")
    else:
        end = "."
    text = "Counting the flips, " + listing(bits) + end
    ctx.offer_verdict(15, text, key="paired")
