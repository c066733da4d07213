"""Figures of what a log shows, drawn from a :class:`~dynamics.diagnose.Diagnosis`.

Each function reads the diagnosis's tables (``tables["epochs"]`` with its
Wilson interval and gap columns, ``tables["early_stopping"]``,
``tables["confidence_bounds"]``) and findings (``best_epochs``,
``early_stopping``); none recomputes a statistic. Each returns ``None`` when
the diagnosis holds nothing to draw (a log without validation metrics has no
gap to plot).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from dynamics.plots.axes import (
    COLORS,
    EpochAxis,
    new_figure,
    outside_legend,
    percent_axis,
    title,
)

if TYPE_CHECKING:
    from dynamics.diagnose import Diagnosis


def epoch_table(d: Diagnosis) -> pd.DataFrame:
    """The diagnosis's epoch table (the run's own when the diagnosis published none)."""
    table = d.tables.get("epochs")
    return table if table is not None and not table.empty else d.run.epochs


def best_epochs(d: Diagnosis) -> dict[str, int]:
    """``{"val_loss": 3, "val_accuracy": 3}`` from the ``best_epochs`` finding."""
    f = d.get("best_epochs")
    if f is None:
        return {}
    return {k: int(v["epoch"]) for k, v in f.evidence.items() if isinstance(v, dict) and v.get("epoch") is not None}


def _finite(table: pd.DataFrame, column: str) -> bool:
    return column in table.columns and bool(np.isfinite(table[column].to_numpy(dtype=float)).any())


def _loss_label(d: Diagnosis) -> str:
    cross_entropy = "confidence_bounds" in d.tables
    return "loss per sample (nats)" if cross_entropy else "loss per sample (as logged)"


def patience_ranges(values: Iterable[int]) -> str:
    """``[0, 1, 3, 4, 5]`` -> ``"0-1, 3-5"``.

    >>> patience_ranges([0, 1, 3, 4, 5]), patience_ranges([2])
    ('0-1, 3-5', '2')
    """
    v = sorted(int(x) for x in values)
    parts, start = [], None
    for i, x in enumerate(v):
        start = x if start is None else start
        if i + 1 == len(v) or v[i + 1] != x + 1:
            parts.append(f"{start}-{x}" if x > start else f"{x}")
            start = None
    return ", ".join(parts)


def stopping_groups(d: Diagnosis) -> tuple[str | None, list[dict[str, Any]]]:
    """Early-stopping what-ifs of the recommended monitor, patiences with one outcome merged.

    Returns the monitor and a list of ``{"status", "stop_epoch", "kept_epoch", "reason",
    "patience"}`` (``patience`` a list), in order of the smallest patience.
    """
    table = d.tables.get("early_stopping")
    finding = d.get("early_stopping")
    if table is None or table.empty:
        return None, []
    monitors = list(table.index.get_level_values(0).unique())
    monitor = finding.evidence.get("monitor") if finding is not None else None
    monitor = monitor if monitor in monitors else monitors[0]
    rows = table.xs(monitor, level=0)
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for patience, row in rows.iterrows():
        key = (row["status"], _int(row["stop_epoch"]), _int(row["kept_epoch"]), _text(row.get("reason")))
        group = groups.setdefault(key, {"status": key[0], "stop_epoch": key[1], "kept_epoch": key[2],
                                        "reason": key[3], "patience": []})
        group["patience"].append(int(patience))
    return str(monitor), list(groups.values())


def _int(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _text(value: Any) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def learning_curves(d: Diagnosis) -> Figure | None:
    """Loss (top) and accuracy (bottom), training and validation, against the epoch.

    The validation accuracy carries its binomial (Wilson) 95% band when the
    diagnosis knew ``n_val``; the epoch of the lowest ``val_loss`` is a
    dotted line; the early-stopping what-ifs of the recommended monitor are
    marked where they would stop, and the patiences the log cannot judge are
    named in the legend. Elided epochs are breaks, never lines.
    """
    t = epoch_table(d)
    acc = d.column("val_accuracy")
    has_loss = _finite(t, "loss") or _finite(t, "val_loss")
    has_acc = acc is not None and _finite(t, acc)
    if not (has_loss or has_acc):
        return None
    panels = [p for p, ok in (("loss", has_loss), ("accuracy", has_acc)) if ok]
    fig, axes = new_figure(len(panels), 1, height=2.9 * len(panels) + 1.3, sharex=True)
    axis = EpochAxis(t.index)
    epochs = t.index.to_numpy()
    handles: list[Any] = []
    labels: list[str] = []

    def keep(items: list[Any], label: str) -> None:
        if items and label not in labels:
            handles.append(items[0])
            labels.append(label)

    best = best_epochs(d)
    monitor, groups = stopping_groups(d)
    finding = d.get("early_stopping")
    recommended = ((finding.evidence.get("recommended") or {}).get("patience") if finding is not None else None)
    for ax, panel in zip(axes[:, 0], panels):
        if panel == "loss":
            if _finite(t, "loss"):
                keep(axis.plot(ax, epochs, t["loss"], color=COLORS["train"]), "training")
            if _finite(t, "val_loss"):
                keep(axis.plot(ax, epochs, t["val_loss"], color=COLORS["val"]), "validation")
            ax.set_ylabel(_loss_label(d))
            ax.set_title("Loss", fontsize=10, loc="left")
            column = "val_loss"
        else:
            train_acc = acc.removeprefix("val_")
            if f"{acc}_low" in t.columns and _finite(t, f"{acc}_low"):
                n_val = d.context.get("n_val")
                keep(axis.fill_between(ax, epochs, t[f"{acc}_low"], t[f"{acc}_high"], color=COLORS["band"],
                                       alpha=0.18, linewidth=0),
                     f"95% Wilson interval of {acc}" + (f" (n_val = {n_val:,})" if n_val else ""))
            if _finite(t, train_acc):
                keep(axis.plot(ax, epochs, t[train_acc], color=COLORS["train"]), "training")
            keep(axis.plot(ax, epochs, t[acc], color=COLORS["val"]), "validation")
            percent_axis(ax)
            ax.set_ylabel("accuracy (%)")
            ax.set_title("Accuracy", fontsize=10, loc="left")
            column = acc
        ax.grid(True, alpha=0.3)
        if "val_loss" in best:
            line = ax.axvline(axis.x([best["val_loss"]])[0], color=COLORS["best"], linestyle=":", linewidth=1.2)
            if panel == panels[0]:
                keep([line], f"lowest val_loss: epoch {best['val_loss']}")
        if panel == "accuracy" and best.get(acc) is not None and best.get(acc) in t.index:
            e = best[acc]
            keep(ax.plot(axis.x([e]), [t.at[e, acc]], linestyle="none", marker="*", markersize=11,
                         color=COLORS["best"], zorder=5), f"highest {acc}: epoch {e}")
        if monitor and column == monitor:
            _mark_stops(ax, axis, t, column, groups, recommended, keep)
    for ax in axes[:-1, 0]:
        ax.tick_params(labelbottom=False)
    for ax in axes[:, 0]:
        axis.setup(ax, xlabel=ax is axes[-1, 0])
    for g in groups:
        if g["status"] == "undetermined":
            handles.append(Line2D([], [], linestyle="none"))
            labels.append(f"patience {patience_ranges(g['patience'])}: cannot tell ({g['reason']})")
    title(fig, "Loss and accuracy per epoch")
    outside_legend(fig, handles, labels, ncols=2)
    return fig


def _mark_stops(ax: Any, axis: EpochAxis, t: pd.DataFrame, column: str, groups: list[dict[str, Any]],
                recommended: int | None, keep: Any) -> None:
    """Where EarlyStopping would stop: a large triangle for the recommended patience (a ring on the epoch it
    keeps), small ones for the other patiences; one legend entry each, so long runs stay readable."""
    others: list[int] = []
    other_x: list[float] = []
    other_y: list[float] = []
    for g in groups:
        stop, kept = g["stop_epoch"], g["kept_epoch"]
        if g["status"] != "stopped" or stop is None or stop not in t.index:
            continue
        if recommended is not None and recommended in g["patience"]:
            keep(ax.plot(axis.x([stop]), [t.at[stop, column]], linestyle="none", marker="v", markersize=9,
                         color=COLORS["stop"], markeredgecolor="black", markeredgewidth=0.7, zorder=7),
                 f"EarlyStopping(patience={recommended}) on {column}: stops after epoch {stop}"
                 + (f", keeps {kept}" if kept is not None else ""))
            if kept is not None and kept in t.index:
                ax.plot(axis.x([kept]), [t.at[kept, column]], linestyle="none", marker="o", markersize=12,
                        color=COLORS["stop"], markerfacecolor="none", markeredgewidth=1.6, zorder=6)
        else:
            others += g["patience"]
            other_x.append(float(axis.x([stop])[0]))
            other_y.append(float(t.at[stop, column]))
    if others:
        keep(ax.plot(other_x, other_y, linestyle="none", marker="v", markersize=5, color="white",
                     markeredgecolor=COLORS["stop"], markeredgewidth=1.2, zorder=6),
             f"where patience {patience_ranges(others)} would stop (see the early-stopping table)")
    for g in groups:
        if g["status"] == "completed":
            keep([Line2D([], [], linestyle="none")], f"patience {patience_ranges(g['patience'])}: never stops")


def generalization_gap(d: Diagnosis) -> Figure | None:
    """val minus training, for the loss (nats) and the accuracy (points), per epoch."""
    t = epoch_table(d)
    cols = [c for c in ("gap_loss", "gap_accuracy") if _finite(t, c)]
    if not cols:
        return None
    fig, axes = new_figure(1, len(cols), height=3.4)
    axis = EpochAxis(t.index)
    best = best_epochs(d).get("val_loss")
    handles: list[Any] = []
    labels: list[str] = []
    for ax, col in zip(axes[0], cols):
        values = t[col].to_numpy(dtype=float)
        if col == "gap_loss":
            axis.plot(ax, t.index, values, color=COLORS["val"])
            ax.set_ylabel("val_loss - loss (nats)")
            ax.set_title("Loss gap", fontsize=10, loc="left")
        else:
            axis.plot(ax, t.index, 100 * values, color=COLORS["train"])
            ax.set_ylabel("accuracy - val_accuracy (points)")
            ax.set_title("Accuracy gap", fontsize=10, loc="left")
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.grid(True, alpha=0.3)
        if best is not None:
            line = ax.axvline(axis.x([best])[0], color=COLORS["best"], linestyle=":", linewidth=1.2)
            if not handles:
                handles.append(line)
                labels.append(f"lowest val_loss: epoch {best}")
        axis.setup(ax)
    title(fig, "Generalization gap per epoch")
    outside_legend(fig, handles, labels)
    return fig


def mistake_bounds(d: Diagnosis) -> Figure | None:
    """What the log forces on the mistakes: bounds on their mean loss and their true-class probability.

    Left: the range the mean cross-entropy of the misclassified and of the
    correctly classified validation samples must lie in, with ``val_loss``.
    Right: the range of the geometric-mean probability the model gave the
    true class on its mistakes.
    """
    b = d.tables.get("confidence_bounds")
    if b is None or b.empty or not _finite(b, "wrong_low"):
        return None
    fig, axes = new_figure(1, 2, height=3.6)
    axis = EpochAxis(b.index)
    e = b.index.to_numpy()
    ax = axes[0, 0]
    handles: list[Any] = []
    labels: list[str] = []
    items = axis.fill_between(ax, e, b["wrong_low"], b["wrong_high"], color=COLORS["wrong"], alpha=0.35, linewidth=0)
    handles.append(items[0])
    labels.append("misclassified samples: possible mean")
    items = axis.fill_between(ax, e, b["correct_low"], b["correct_high"], color=COLORS["correct"], alpha=0.35,
                              linewidth=0)
    handles.append(items[0])
    labels.append("correct samples: possible mean")
    items = axis.plot(ax, e, b["loss"], color=COLORS["val"])
    handles.append(items[0])
    labels.append("val_loss (all samples)")
    ax.set_ylabel("mean cross-entropy (nats)")
    ax.set_title("Loss of mistakes vs correct", fontsize=10, loc="left")
    ax.grid(True, alpha=0.3)
    axis.setup(ax)
    ax = axes[0, 1]
    if _finite(b, "gm_wrong_high"):
        items = axis.fill_between(ax, e, b["gm_wrong_low"], b["gm_wrong_high"], color=COLORS["wrong"], alpha=0.35,
                                  linewidth=0)
        axis.plot(ax, e, b["gm_wrong_high"], color=COLORS["wrong"], linewidth=1.2)
        ax.axhline(0.5, color="black", linewidth=0.8, linestyle="--")
        ax.set_ylim(0, 0.55)
        ax.set_ylabel("true-class probability (0-1)")
        ax.set_title("Mistakes: geometric-mean P(true class)", fontsize=10, loc="left")
        ax.grid(True, alpha=0.3)
        axis.setup(ax)
    else:
        ax.set_axis_off()
    classes = d.context.get("bound_classes")
    assumed = d.context.get("classes") is None and classes == 2
    title(fig, "How wrong the mistakes must be (bounds from the log" + (", binary assumed)" if assumed else ")"))
    outside_legend(fig, handles, labels, ncols=3)
    return fig
