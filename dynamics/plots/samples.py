"""Figures of a recorded run, drawn from a :class:`~dynamics.stats.analysis.SampleAnalysis`.

Every number comes from the analysis's tables: ``per_epoch`` (decomposition,
confidence, calibration and temperature columns), ``reliability`` (the
15-bin reliability data of every epoch), ``churn`` and the per-sample
``data_map``. The confidence heatmap reads the reliability bins: a bin's
correct predictions are its count times its accuracy, which is exact (the
accuracy of a bin is a mean of 0/1 over its count). Each function returns
``None`` when the analysis lacks what it draws (calibration not computed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure

from dynamics.plots.axes import (
    COLORS,
    EpochAxis,
    PercentTicks,
    new_figure,
    outside_legend,
    percent_axis,
    title,
)

if TYPE_CHECKING:
    from dynamics.stats.analysis import SampleAnalysis

#: At most this many points in a data map; more are thinned evenly (and the title says so).
MAX_POINTS = 20_000


def _best_line(ax: Any, axis: EpochAxis, a: SampleAnalysis) -> Any:
    return ax.axvline(axis.x([a.best_epoch])[0], color=COLORS["best"], linestyle=":", linewidth=1.2)


def _best_label(a: SampleAnalysis) -> str:
    return f"lowest val_loss: epoch {a.best_epoch}"


def _floor(a: SampleAnalysis) -> float:
    """The lowest possible top-class probability: 1/k."""
    return 1.0 / max(a.n_classes, 2)


def confidence_heatmap(a: SampleAnalysis) -> Figure | None:
    """Where the confidence of correct and of wrong predictions sits, epoch by epoch.

    Two heatmaps (correct above, wrong below): x the epoch, y the top-class
    probability in the 15 reliability bins, colour (square-root scale) the share of that
    group's samples in the bin; the white line is the group's mean
    confidence.
    """
    rel = a.reliability
    if rel is None or rel.empty:
        return None
    pe = a.per_epoch
    epochs = np.asarray(a.epochs)
    axis = EpochAxis(epochs)
    first = rel.xs(int(epochs[0]), level="epoch")
    edges = np.append(first["lower"].to_numpy(), first["upper"].to_numpy()[-1])
    counts = rel["count"].unstack("epoch").reindex(columns=epochs).to_numpy(dtype=float)
    acc = rel["accuracy"].unstack("epoch").reindex(columns=epochs).to_numpy(dtype=float)
    correct = np.rint(np.nan_to_num(counts * acc))
    wrong = counts - correct
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = {
            "correct": correct / pe["n_correct"].reindex(epochs).to_numpy(dtype=float)[None, :],
            "wrong": wrong / pe["n_wrong"].reindex(epochs).to_numpy(dtype=float)[None, :],
        }
    vmax = max(float(np.nanmax(s)) if np.isfinite(s).any() else 0.0 for s in shares.values()) or 1.0
    fig, axes = new_figure(2, 1, height=6.2, sharex=True)
    mesh = None
    lines = []
    for ax, group in zip(axes[:, 0], ("correct", "wrong")):
        z = np.ma.masked_invalid(shares[group])
        for seg in axis.segments:
            cols = np.isin(epochs, seg)
            x = axis.x(epochs[cols])
            xedges = np.append(x - 0.5, x[-1] + 0.5)
            # A square-root colour scale, so that the few percent in the tails stay visible next to a full bin.
            mesh = ax.pcolormesh(xedges, edges, z[:, cols], cmap="magma_r", shading="flat",
                                 norm=PowerNorm(0.5, vmin=0.0, vmax=vmax))
        lines += axis.plot(ax, epochs, pe[f"confidence_{group}"].reindex(epochs), color="white", linewidth=2.2)
        axis.plot(ax, epochs, pe[f"confidence_{group}"].reindex(epochs), color=COLORS[group], linewidth=1.2)
        ax.set_ylim(_floor(a), 1.0)
        percent_axis(ax)
        ax.set_ylabel("top-class probability (%)")
        label = "Correct predictions" if group == "correct" else "Wrong predictions"
        ax.set_title(label, fontsize=10, loc="left")
    for ax in axes[:, 0]:
        axis.setup(ax, xlabel=ax is axes[-1, 0])
    axes[0, 0].tick_params(labelbottom=False)
    bar = fig.colorbar(mesh, ax=axes[:, 0].tolist(), shrink=0.9, pad=0.02)
    bar.set_label("share of the group's samples (%)")
    bar.formatter = PercentTicks()
    bar.update_ticks()
    title(fig, f"Confidence of correct and wrong predictions ({a.n_samples:,} validation samples)")
    handles = [lines[0]] if lines else []
    outside_legend(fig, handles, ["mean confidence of the group (line)"])
    return fig


def reliability_diagrams(a: SampleAnalysis) -> Figure | None:
    """Reliability diagrams at the best and at the last epoch, with the confidence histogram below.

    Bars: accuracy of each confidence bin; dots: the bin's mean confidence;
    the diagonal is perfect calibration. Below: the share of samples per bin.
    """
    rel = a.reliability
    if rel is None or rel.empty:
        return None
    pe = a.per_epoch
    picks = [(a.best_epoch, "lowest val_loss")]
    if a.last_epoch != a.best_epoch:
        picks.append((a.last_epoch, "last"))
    fig, axes = new_figure(2, len(picks), height=5.0, height_ratios=[3, 1])
    for j, (epoch, what) in enumerate(picks):
        bins = rel.xs(int(epoch), level="epoch")
        lower, upper = bins["lower"].to_numpy(), bins["upper"].to_numpy()
        width = upper - lower
        ax = axes[0, j]
        ax.bar(lower, bins["accuracy"].fillna(0.0), width=width, align="edge", color=COLORS["train"], alpha=0.8,
               edgecolor="white", linewidth=0.6, label="accuracy of the bin")
        ax.plot(bins["confidence"], bins["confidence"], linestyle="none", marker="o", markersize=3.5,
                color=COLORS["val"], label="mean confidence of the bin")
        ax.plot([0, 1], [0, 1], color="black", linewidth=0.8, linestyle="--", label="perfect calibration")
        ax.set_xlim(_floor(a), 1.0)
        ax.set_ylim(0.0, 1.0)
        percent_axis(ax, "x")
        percent_axis(ax, "y")
        ece = float(pe.at[epoch, "ece"]) if "ece" in pe.columns else float("nan")
        ax.set_title(f"Epoch {epoch} ({what}): ECE {100 * ece:.1f}%", fontsize=10, loc="left")
        ax.set_ylabel("accuracy (%)")
        ax.tick_params(labelbottom=False)
        ax.grid(True, alpha=0.3)
        hist = axes[1, j]
        share = bins["count"].to_numpy(dtype=float) / max(float(bins["count"].sum()), 1.0)
        hist.bar(lower, share, width=width, align="edge", color=COLORS["gap"], edgecolor="white", linewidth=0.6)
        hist.set_xlim(_floor(a), 1.0)
        percent_axis(hist, "x")
        percent_axis(hist, "y")
        hist.set_xlabel("top-class probability (%)")
        hist.set_ylabel("samples (%)")
        hist.grid(True, alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    title(fig, "Reliability diagrams (15 equal-width bins)")
    outside_legend(fig, handles, labels, ncols=3)
    return fig


def loss_decomposition(a: SampleAnalysis) -> Figure | None:
    """val_loss split into what correct and what misclassified samples contribute, stacked.

    The two areas are ``accuracy x mean loss of correct samples`` and
    ``(1 - accuracy) x mean loss of misclassified samples``; their sum is val_loss.
    """
    pe = a.per_epoch
    if not {"from_correct", "from_wrong"} <= set(pe.columns):
        return None
    epochs = pe.index.to_numpy()
    axis = EpochAxis(epochs)
    fig, axes = new_figure(1, 1, height=3.8)
    ax = axes[0, 0]
    low = pe["from_correct"].to_numpy(dtype=float)
    high = low + pe["from_wrong"].to_numpy(dtype=float)
    handles = [
        axis.fill_between(ax, epochs, np.zeros_like(low), low, color=COLORS["correct"], alpha=0.6, linewidth=0)[0],
        axis.fill_between(ax, epochs, low, high, color=COLORS["wrong"], alpha=0.6, linewidth=0)[0],
        axis.plot(ax, epochs, pe["val_loss"], color="black", linewidth=1.2)[0],
        _best_line(ax, axis, a),
    ]
    labels = ["from correctly classified samples", "from misclassified samples", "val_loss (the sum)", _best_label(a)]
    ax.set_ylabel("share of val_loss (nats per sample)")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    axis.setup(ax)
    title(fig, "Where val_loss comes from: correct vs misclassified samples")
    outside_legend(fig, handles, labels, ncols=2)
    return fig


def temperature_scaling(a: SampleAnalysis) -> Figure | None:
    """val_loss before and after temperature scaling (cross-fitted), and the fitted temperature."""
    pe = a.per_epoch
    if not {"loss", "loss_scaled", "temperature"} <= set(pe.columns):
        return None
    epochs = pe.index.to_numpy()
    axis = EpochAxis(epochs)
    fig, axes = new_figure(2, 1, height=5.2, sharex=True)
    ax = axes[0, 0]
    handles = [
        axis.plot(ax, epochs, pe["loss"], color=COLORS["val"])[0],
        axis.plot(ax, epochs, pe["loss_scaled"], color=COLORS["scaled"])[0],
        _best_line(ax, axis, a),
    ]
    labels = ["val_loss as predicted", "val_loss after temperature scaling", _best_label(a)]
    ax.set_ylabel("val_loss (nats per sample)")
    ax.set_title("Loss before and after scaling", fontsize=10, loc="left")
    ax.grid(True, alpha=0.3)
    ax.tick_params(labelbottom=False)
    ax = axes[1, 0]
    axis.plot(ax, epochs, pe["temperature"], color=COLORS["scaled"])
    _best_line(ax, axis, a)
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    ax.set_ylabel("temperature T (logits / T)")
    ax.set_title("Fitted temperature (T > 1: overconfident)", fontsize=10, loc="left")
    ax.grid(True, alpha=0.3)
    for ax in axes[:, 0]:
        axis.setup(ax, xlabel=ax is axes[-1, 0])
    title(fig, "Temperature scaling (fitted on one half of the samples, scored on the other)")
    outside_legend(fig, handles, labels, ncols=2)
    return fig


def churn(a: SampleAnalysis) -> Figure | None:
    """Samples changing class between consecutive epochs, against the accuracy change."""
    c = a.churn
    if c is None or c.empty:
        return None
    epochs = c.index.to_numpy()
    axis = EpochAxis(np.asarray(a.epochs))
    x = axis.x(epochs)
    fig, axes = new_figure(1, 1, height=3.8)
    ax = axes[0, 0]
    w2r = c["wrong_to_right"].to_numpy(dtype=float)
    r2w = c["right_to_wrong"].to_numpy(dtype=float)
    handles = [
        ax.bar(x, w2r, width=0.8, color=COLORS["correct"]),
        ax.bar(x, -r2w, width=0.8, color=COLORS["wrong"]),
    ]
    labels = ["wrong -> right", "right -> wrong (drawn below 0)"]
    if "wrong_to_other_wrong" in c.columns and float(c["wrong_to_other_wrong"].max()) > 0:
        other = c["wrong_to_other_wrong"].to_numpy(dtype=float)
        handles.append(ax.bar(x, -other, bottom=-r2w, width=0.8, color=COLORS["gap"]))
        labels.append("wrong -> another wrong class")
    handles.append(axis.plot(ax, epochs, c["accuracy_change"], color="black", linewidth=1.2)[0])
    labels.append("accuracy change (the net)")
    ax.axhline(0.0, color="black", linewidth=0.8)
    percent_axis(ax)
    ax.set_ylabel("validation samples (%)")
    ax.grid(True, alpha=0.3)
    axis.setup(ax)
    ax.set_xlabel("epoch (changes since the previous recorded epoch)")
    title(fig, "Churn: samples that changed class between epochs")
    outside_legend(fig, handles, labels, ncols=2)
    return fig


def data_map(a: SampleAnalysis, *, max_points: int = MAX_POINTS) -> Figure | None:
    """Data map (Swayamdipta et al. 2020): confidence against variability, coloured by correctness.

    Confidence is the mean probability of the true class across epochs,
    variability its standard deviation, correctness the share of epochs the
    sample was right. More than ``max_points`` samples are thinned evenly.
    """
    m = a.data_map
    if m is None or m.empty:
        return None
    n = len(m)
    step = int(np.ceil(n / max_points)) if n > max_points else 1
    shown = m.iloc[::step]
    fig, axes = new_figure(1, 1, width=6.2, height=4.6)
    ax = axes[0, 0]
    points = ax.scatter(shown["variability"], shown["confidence"], c=shown["correctness"], cmap="viridis",
                        vmin=0.0, vmax=1.0, s=6 if len(shown) > 2000 else 12, alpha=0.7, linewidths=0)
    bar = fig.colorbar(points, ax=ax, pad=0.02)
    bar.set_label("correctness (share of epochs right)")
    bar.formatter = PercentTicks()
    bar.update_ticks()
    ax.set_xlabel("variability (sd of P(true class) across epochs)")
    ax.set_ylabel("confidence (mean P(true class))")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(left=0)
    ax.grid(True, alpha=0.3)
    thinned = f", every {step}th of {n:,} shown" if step > 1 else ""
    title(fig, f"Data map: {n:,} validation samples{thinned}")
    return fig

