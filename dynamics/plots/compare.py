"""Runs side by side, drawn from a :class:`~dynamics.diagnosis.compare.Comparison`.

One colour per group (a configuration; several seeds of it share the
colour). Left: each run's val_loss. Right: val_accuracy -- a single run as a
line; a group of seeds as its mean with the seed spread (min to max across
runs) as a band and the binomial 95% noise of the mean as dotted lines, all
from the group's :class:`~dynamics.stats.seeds.SeedSpread` table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from dynamics.plots.axes import (
    EpochAxis,
    new_figure,
    outside_legend,
    percent_axis,
    title,
)

if TYPE_CHECKING:
    from dynamics.diagnosis.compare import Comparison

#: Group colours (Okabe-Ito, then matplotlib's tab10 for more groups).
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442",
           "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]  # fmt: skip


def compare_curves(c: Comparison) -> Figure | None:
    """val_loss and val_accuracy of every run, one colour per group, seeds as a band."""
    runs = c.runs
    union = sorted({int(e) for r in runs for e in r.epochs.index})
    if not union:
        return None
    has_loss = any(r.has("val_loss") for r in runs)
    has_acc = any(d.column("val_accuracy") is not None for d in c.diagnoses)
    panels = [p for p, ok in (("val_loss", has_loss), ("val_accuracy", has_acc)) if ok]
    if not panels:
        return None
    fig, axes = new_figure(1, len(panels), height=4.2)
    axis = EpochAxis(union)
    epochs = np.asarray(union)
    handles: list[Any] = []
    labels: list[str] = []
    for gi, (name, members) in enumerate(c.groups.items()):
        color = PALETTE[gi % len(PALETTE)]
        spread = c.spreads.get(name)
        several = len(members) > 1
        for ax, panel in zip(axes[0], panels):
            if panel == "val_loss":
                for i in members:
                    run = runs[i]
                    if run.has("val_loss"):
                        values = run.series("val_loss").reindex(epochs)
                        axis.plot(ax, epochs, values, color=color, linewidth=1.0 if several else 1.6,
                                  alpha=0.75 if several else 1.0)
            elif spread is not None:
                t = spread.table.reindex(epochs)
                axis.fill_between(ax, epochs, t["min"], t["max"], color=color, alpha=0.2, linewidth=0)
                axis.plot(ax, epochs, t["mean"], color=color, linewidth=1.8)
                if np.isfinite(t["binomial_se"]).any():
                    for sign in (-1, 1):
                        axis.plot(ax, epochs, t["mean"] + sign * 1.96 * t["binomial_se"], color=color,
                                  linewidth=0.9, linestyle=":", marker=None)
            else:
                for i in members:
                    col = c.diagnoses[i].column("val_accuracy")
                    if col is not None:
                        axis.plot(ax, epochs, runs[i].series(col).reindex(epochs), color=color, linewidth=1.6)
        handles.append(Line2D([], [], color=color, linewidth=2))
        labels.append(f"{name} ({len(members)} runs)" if several else name)
    for ax, panel in zip(axes[0], panels):
        ax.grid(True, alpha=0.3)
        if panel == "val_loss":
            ax.set_ylabel("val_loss per sample (nats)")
            ax.set_title("val_loss (one line per run)", fontsize=10, loc="left")
        else:
            percent_axis(ax)
            ax.set_ylabel("val_accuracy (%)")
            ax.set_title("val_accuracy" + (" (seeds: mean, range)" if c.spreads else ""), fontsize=10, loc="left")
        axis.setup(ax)
    if c.spreads:
        handles.append(Line2D([], [], color="gray", linestyle=":", linewidth=1))
        labels.append("mean ± 1.96 binomial SE (sampling noise alone)")
    title(fig, f"{len(runs)} runs side by side")
    outside_legend(fig, handles, labels, ncols=2)
    return fig
