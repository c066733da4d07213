"""Findings: what Keras's EarlyStopping and Prechelt's criteria would have done."""

from __future__ import annotations

from typing import Any

import pandas as pd

from dynamics.diagnosis.context import Context
from dynamics.diagnosis.wording import listing, num
from dynamics.findings import Finding
from dynamics.stats.early_stopping import early_stopping_table
from dynamics.stats.prechelt import prechelt_table
from dynamics.stats.precision import metric_direction


def _ranges(values: list[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2 and 5"``."""
    from dynamics.diagnosis.wording import epoch_ranges

    return epoch_ranges(values)


def produce(ctx: Context) -> list[Finding]:
    """EarlyStopping what-ifs for patience 0-10 (val_loss and the validation accuracy) and Prechelt's criteria."""
    out: list[Finding] = []
    monitors = [m for m in ("val_loss", ctx.val_accuracy) if ctx.has(m) and metric_direction(m)]
    if not monitors:
        return out
    tables = {m: early_stopping_table(ctx.run, monitor=m) for m in monitors}
    ctx.tables["early_stopping"] = pd.concat(tables, names=["monitor"])
    main = monitors[0]
    out.append(_keras(ctx, main, tables[main], tables.get(ctx.val_accuracy) if main == "val_loss" else None))
    if ctx.run.has("val_loss") and ctx.run.has("loss"):
        out += _prechelt(ctx)
    return out


def _keras(ctx: Context, monitor: str, table: pd.DataFrame, other: pd.DataFrame | None) -> Finding:
    run = ctx.run
    total = run.meta.epochs_declared
    stopped = table[table["status"] == "stopped"]
    completed = table[table["status"] == "completed"]
    unknown = table[table["status"] == "undetermined"]
    parts: list[str] = []
    suggestion = None
    evidence: dict[str, Any] = {"monitor": monitor, "outcomes": {
        int(p): {"status": r.status, "stop_epoch": None if pd.isna(r.stop_epoch) else int(r.stop_epoch),
                 "kept_epoch": None if pd.isna(r.kept_epoch) else int(r.kept_epoch), "reason": r.reason}
        for p, r in table.iterrows()}}
    if len(stopped):
        pick = recommend_patience(ctx, monitor, table)
        p, row = pick["patience"], table.loc[pick["patience"]]
        kept = int(row.kept_epoch)
        vals = [f"{c} {num(run.epochs.at[kept, c])}" for c in ("val_loss", ctx.val_accuracy) if ctx.has(c)]
        trained = f", training {int(row.stop_epoch)} of {total} epochs" if total and row.status == "stopped" else ""
        early = pick.get("premature")
        if early:
            parts.append(f"EarlyStopping(monitor=\"{monitor}\", patience={early['patience']}) would stop too early on this "
                         f"noisy curve: after epoch {early['stop_epoch']}, keeping epoch {early['kept_epoch']} "
                         f"({monitor} {num(early['kept_value'])}, where epoch {pick['best_epoch']} reaches "
                         f"{num(pick['best_value'])}).")
        if row.status == "stopped":
            parts.append(f"EarlyStopping(monitor=\"{monitor}\", patience={p}, restore_best_weights=True) would have stopped "
                         f"after epoch {int(row.stop_epoch)} and restored epoch {kept} ({', '.join(vals)}){trained}"
                         + (f": {pick['extra_epochs']} more epoch{'s' if pick['extra_epochs'] != 1 else ''} of training "
                            "than the smaller patience, for an epoch near the best." if early else "."))
        else:
            parts.append(f"EarlyStopping(monitor=\"{monitor}\", patience={p}, restore_best_weights=True) trains all "
                         f"{total or len(run.epochs)} epochs and restores epoch {kept} ({', '.join(vals)}).")
        others = stopped.drop(index=p, errors="ignore")
        if early:
            others = others.drop(index=early["patience"], errors="ignore")
        groups: dict[tuple[int, int], list[int]] = {}
        for q, r in others.iterrows():
            groups.setdefault((int(r.stop_epoch), int(r.kept_epoch)), []).append(int(q))
        for (stop, kp), ps in sorted(groups.items()):
            parts.append(f"Patience {_ranges(ps)} {'stop' if len(ps) > 1 else 'stops'} after epoch {stop}, keeping epoch {kp}.")
        if row.status == "stopped" and int(row.stop_epoch) != kept:
            no_restore = run.epochs.at[int(row.stop_epoch), monitor]
            parts.append(f"Without restore_best_weights=True (Keras's default is False) the model would keep the weights "
                         f"of epoch {int(row.stop_epoch)} ({monitor} {num(no_restore)}).")
        suggestion = (f"EarlyStopping(monitor=\"{monitor}\", patience={p}, restore_best_weights=True) "
                      f"keeps epoch {kept} here.")
        evidence["recommended"] = {"patience": p, "stop_epoch": None if pd.isna(row.stop_epoch) else int(row.stop_epoch),
                                   "kept_epoch": kept, "status": str(row.status), "near_best": pick["near_best"],
                                   "premature": early, "extra_epochs": pick.get("extra_epochs"),
                                   "tolerance": pick["tolerance"]}
        ctx.facts.early_stopping = evidence["recommended"]
        completed = completed.drop(index=p, errors="ignore")
    if len(completed):
        ps = [int(p) for p in completed.index]
        kept = int(completed.iloc[0].kept_epoch)
        parts.append(f"With patience {_ranges(ps)} training runs all {total} epochs and restore_best_weights=True "
                     f"keeps epoch {kept}.")
    if len(unknown):
        by_reason: dict[str, list[int]] = {}
        for p, r in unknown.iterrows():
            by_reason.setdefault(str(r.reason), []).append(int(p))
        last = int(run.epochs.index[-1])
        for reason, ps in by_reason.items():
            if reason.startswith("the log ends"):
                parts.append(f"Patience {_ranges(ps)} would not have stopped by epoch {last}, where the log ends; "
                             "where it would stop later cannot be told from this log.")
            else:
                parts.append(f"Patience {_ranges(ps)} cannot be judged from this log, because {reason}.")
    if other is not None and len(other):
        alt = other.loc[other.index.isin([evidence.get("recommended", {}).get("patience", -1)])]
        if len(alt) and alt.iloc[0].status == "stopped":
            r = alt.iloc[0]
            parts.append(f"Monitoring {ctx.val_accuracy} instead (mode max), the same patience stops after epoch "
                         f"{int(r.stop_epoch)} and keeps epoch {int(r.kept_epoch)}.")
    severity = "undetermined" if not len(stopped) and not len(completed) else "info"
    if severity == "undetermined" and not any(p.startswith("Patience") and "would not have stopped" in p for p in parts):
        parts.insert(0, f"Cannot tell what EarlyStopping(monitor=\"{monitor}\") would have done with any patience "
                        "from 0 to 10.")
    return Finding("early_stopping", severity, " ".join(parts), evidence, suggestion, "early_stopping")


def recommend_patience(ctx: Context, monitor: str, table: pd.DataFrame) -> dict[str, Any]:
    """The patience to recommend: 2 when it keeps an epoch near the best, else the smallest that does.

    "Near the best" means the kept epoch's ``monitor`` is within the curve's
    noise threshold (:attr:`LossCurve.threshold <dynamics.stats.curves.LossCurve>`,
    at least print rounding) of the best logged value. A patience that runs
    to the end restores the best epoch and so always qualifies. When
    patience 2 keeps a clearly worse epoch it is returned as ``premature``
    with the cost of the recommendation in epochs.
    """
    s = ctx.run.series(monitor).dropna()
    direction = metric_direction(monitor) or "min"
    best_epoch = int(s.idxmin() if direction == "min" else s.idxmax())
    best_value = float(s.loc[best_epoch])
    curve = ctx.facts.loss_curve
    tol = float(2 * ctx.halfwidth(monitor).max(initial=0))
    if curve is not None and monitor == "val_loss" and curve.threshold is not None:
        tol = max(tol, float(curve.threshold))

    def near(kept: int) -> bool:
        value = float(ctx.run.epochs.at[kept, monitor])
        return (value - best_value if direction == "min" else best_value - value) <= tol

    judged = table[table["status"].isin(["stopped", "completed"])]
    order = sorted(int(p) for p in judged.index)
    preferred = [p for p in order if p >= 2] + [p for p in order if p < 2]
    default = min(order, key=lambda q: (abs(q - 2), -q))
    choice = next((p for p in preferred if near(int(judged.loc[p].kept_epoch))), default)
    out: dict[str, Any] = {"patience": choice, "near_best": near(int(judged.loc[choice].kept_epoch)),
                           "best_epoch": best_epoch, "best_value": best_value, "tolerance": tol}
    if choice != default and not near(int(judged.loc[default].kept_epoch)):
        d = judged.loc[default]
        kept = int(d.kept_epoch)
        out["premature"] = {"patience": default, "stop_epoch": int(d.stop_epoch), "kept_epoch": kept,
                            "kept_value": float(ctx.run.epochs.at[kept, monitor])}
        stop = judged.loc[choice].stop_epoch
        last = int(ctx.run.epochs.index[-1])
        out["extra_epochs"] = (int(stop) if not pd.isna(stop) else last) - int(d.stop_epoch)
    return out


def _prechelt(ctx: Context) -> list[Finding]:
    table = prechelt_table(ctx.run)
    ctx.tables["prechelt"] = table
    parts = []
    stopped = table[table["status"] == "stopped"]
    groups: dict[tuple[int, int], list[str]] = {}
    for rule, r in stopped.iterrows():
        groups.setdefault((int(r.stop_epoch), int(r.kept_epoch)), []).append(str(rule))
    vl = ctx.run.series("val_loss")
    for (stop, kept), rules in sorted(groups.items()):
        gl = 100 * (vl.loc[stop] / vl.loc[:stop].min() - 1)
        parts.append(f"{listing(rules)} stop after epoch {stop} (val_loss {gl:.1f}% above its minimum so far, "
                     f"at epoch {kept})." if len(rules) > 1 else
                     f"{rules[0]} stops after epoch {stop} (val_loss {gl:.1f}% above its minimum so far, at epoch {kept}).")
    completed = table[table["status"] == "completed"]
    if len(completed):
        parts.append(f"{listing([str(r) for r in completed.index])} never stop within the run.")
    unknown = table[table["status"] == "undetermined"]
    by_reason: dict[str, list[str]] = {}
    for rule, r in unknown.iterrows():
        by_reason.setdefault(str(r.reason), []).append(str(rule))
    for reason, rules in by_reason.items():
        parts.append(f"{_compress(rules)} cannot be judged, because {reason}.")
    claim = ("Prechelt's stopping criteria on val_loss (GL: val_loss more than alpha% above its minimum; PQ: that, "
             "divided by training progress over 5-epoch strips; UP: val_loss up at s successive strip ends): "
             + " ".join(parts))
    return [Finding("prechelt_criteria", "info", claim,
                    {"criteria": {str(k): {"status": r.status, "stop_epoch": None if pd.isna(r.stop_epoch) else int(r.stop_epoch)}
                                  for k, r in table.iterrows()}}, None, "early_stopping")]


def _compress(rules: list[str]) -> str:
    """``["PQ_0.5", "PQ_1", "UP_2"]`` -> ``"PQ_0.5-PQ_1 and UP_2"`` (by family)."""
    families: dict[str, list[str]] = {}
    for r in rules:
        families.setdefault(r.split("_")[0], []).append(r)
    parts = [fam[0] if len(fam) == 1 else f"{fam[0]} to {fam[-1]}" for fam in families.values()]
    return listing(parts)
