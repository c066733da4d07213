"""Findings: what Keras's EarlyStopping and Prechelt's criteria would have done."""

from __future__ import annotations

from typing import Any

import pandas as pd

from dynamics.diagnosis.context import Context
from dynamics.diagnosis.wording import listing, num
from dynamics.findings import Finding
from dynamics.stats.early_stopping import early_stopping_table
from dynamics.stats.precision import metric_direction
from dynamics.stats.prechelt import prechelt_table


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
        # Recommend patience 2 where it can be judged (the what-if); else the nearest judged one.
        p = min((int(q) for q in stopped.index), key=lambda q: (abs(q - 2), -q))
        row = stopped.loc[p]
        kept = int(row.kept_epoch)
        vals = [f"{c} {num(run.epochs.at[kept, c])}" for c in ("val_loss", ctx.val_accuracy) if ctx.has(c)]
        trained = f", training {int(row.stop_epoch)} of {total} epochs" if total else ""
        parts.append(f"EarlyStopping(monitor=\"{monitor}\", patience={p}, restore_best_weights=True) would have stopped "
                     f"after epoch {int(row.stop_epoch)} and restored epoch {kept} ({', '.join(vals)}){trained}.")
        others = stopped.drop(index=p)
        groups: dict[tuple[int, int], list[int]] = {}
        for q, r in others.iterrows():
            groups.setdefault((int(r.stop_epoch), int(r.kept_epoch)), []).append(int(q))
        for (stop, kp), ps in sorted(groups.items()):
            parts.append(f"Patience {_ranges(ps)} {'stop' if len(ps) > 1 else 'stops'} after epoch {stop}, keeping epoch {kp}.")
        no_restore = run.epochs.at[int(row.stop_epoch), monitor]
        if int(row.stop_epoch) != kept:
            parts.append(f"Without restore_best_weights=True (Keras's default is False) the model would keep the weights "
                         f"of epoch {int(row.stop_epoch)} ({monitor} {num(no_restore)}).")
        suggestion = (f"EarlyStopping(monitor=\"{monitor}\", patience={p}, restore_best_weights=True) "
                      f"keeps epoch {kept} here.")
        evidence["recommended"] = {"patience": p, "stop_epoch": int(row.stop_epoch), "kept_epoch": kept}
        ctx.facts["early_stopping"] = evidence["recommended"]
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
