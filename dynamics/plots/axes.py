"""What every figure shares: the figure factory, colours, and the epoch axis with breaks.

Figures are built without pyplot: a :class:`matplotlib.figure.Figure` with an
Agg canvas attached, constrained layout, legends outside the axes (so a legend
never covers a curve or a label). :class:`EpochAxis` places the logged epochs
on the x axis and draws the epochs a log does not hold as *breaks*: a hatched
band labelled with the missing range, long gaps compressed to a fixed width,
and no line ever drawn across one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, MaxNLocator, NullLocator

#: Colours (colour-blind safe, Okabe-Ito): one meaning each, in every figure.
COLORS = {
    "train": "#0072B2",
    "val": "#D55E00",
    "correct": "#009E73",
    "wrong": "#CC79A7",
    "scaled": "#56B4E9",
    "best": "#000000",
    "stop": "#E69F00",
    "gap": "#999999",
    "band": "#D55E00",
}

#: Width of a figure in inches at which its fonts are meant to be read (one column).
WIDTH = 7.0
TITLE_SIZE = 11
SMALL = 8.5


def new_figure(
    nrows: int = 1,
    ncols: int = 1,
    *,
    width: float = WIDTH,
    height: float = 3.6,
    sharex: bool | str = False,
    height_ratios: Sequence[float] | None = None,
) -> tuple[Figure, np.ndarray]:
    """A figure with an Agg canvas and constrained layout, and its axes as a 2-D array.

    >>> fig, axes = new_figure(1, 2)
    >>> type(fig.canvas).__name__, axes.shape
    ('FigureCanvasAgg', (1, 2))
    """
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=sharex, height_ratios=height_ratios)
    return fig, axes


def plain(text: object) -> str:
    """Text shown as written: a ``$`` from a log would otherwise start matplotlib's mathtext.

    >>> print(plain("val_$x$_accuracy"))
    val_\\$x\\$_accuracy
    """
    return str(text).replace("$", r"\$")


def title(fig: Figure, text: str) -> None:
    """The figure's title (left-aligned above everything)."""
    fig.suptitle(plain(text), fontsize=TITLE_SIZE, fontweight="bold", x=0.01, ha="left")


def outside_legend(fig: Figure, handles: Sequence[Any], labels: Sequence[str], *, ncols: int = 2) -> None:
    """One legend below all axes (constrained layout makes room for it)."""
    if not handles:
        return
    labels = [plain(label) for label in labels]  # metric and group names come from logs
    # As many columns as the longest label allows across the figure's width (about 0.55 em per
    # character plus the handle), so that the legend is never wider than the figure.
    longest = max(len(label) for label in labels)
    fits = int(fig.get_figwidth() * 72 / (longest * SMALL * 0.55 + 3.5 * SMALL))
    fig.legend(handles, labels, loc="outside lower center", ncols=max(1, min(ncols, len(handles), fits)),
               fontsize=SMALL, frameon=False)


def percent_axis(ax: Axes, axis: str = "y") -> None:
    """Show fractions (0.83) as percentages (83%) on one axis."""
    getattr(ax, f"{axis}axis").set_major_formatter(PercentTicks())


class PercentTicks(Formatter):
    """Fractions as percentages with as few decimals as the tick spacing needs.

    >>> f = PercentTicks(); f.set_locs([0.75, 0.8, 0.85]); [f(x) for x in (0.75, 0.8, 0.85)]
    ['75%', '80%', '85%']
    >>> f.set_locs([0.8, 0.805]); f(0.805)
    '80.5%'
    """

    _ticks: np.ndarray = np.array([])

    def set_locs(self, locs: Sequence[float]) -> None:
        self._ticks = np.asarray(locs, dtype=float)

    def __call__(self, x: float, pos: int | None = None) -> str:
        locs = np.sort(self._ticks[np.isfinite(self._ticks)])
        step = float(np.min(np.diff(locs))) * 100 if locs.size > 1 else 1.0
        decimals = 0 if step <= 0 or step >= 1 - 1e-9 else int(np.ceil(-np.log10(step) - 1e-9))
        return f"{100 * x:.{decimals}f}%"


class EpochAxis:
    """Positions of 1-based epochs on an x axis, with the missing ones as breaks.

    Consecutive logged epochs form *segments*. Between two segments lies a
    gap of missing epochs; a gap longer than ``compress`` epochs is drawn
    ``width`` units wide (so five logged epochs are not squeezed against a
    70-epoch hole), a shorter one at its true width. Either way it is a
    hatched band labelled with the missing range, and :meth:`plot` draws each
    segment as its own line.

    Parameters
    ----------
    epochs : sequence of int
        The epochs that have a row (the epoch table's index).

    Examples
    --------
    >>> axis = EpochAxis([1, 2, 3, 4, 5, 75, 76, 77])
    >>> [s.tolist() for s in axis.segments], axis.gaps[0][:2]
    ([[1, 2, 3, 4, 5], [75, 76, 77]], (6, 74))
    >>> axis.x([5, 75]).tolist()
    [5.0, 8.0]
    """

    def __init__(self, epochs: Sequence[int] | np.ndarray) -> None:
        e = np.unique(np.asarray(epochs, dtype=int))
        if e.size == 0:
            raise ValueError("an epoch axis needs at least one epoch")
        self.epochs = e
        breaks = np.flatnonzero(np.diff(e) > 1) + 1
        self.segments = np.split(e, breaks)
        span = float(e[-1] - e[0] + 1)
        # A gap is drawn at least 2 units wide and at most ~8% of the logged span, so that
        # tick labels on either side never meet and a long hole does not dwarf the data.
        self.gap_width = max(2.0, 0.08 * min(span, float(e.size) * 3))
        pos: dict[int, float] = {}
        self.gaps: list[tuple[int, int, float, float]] = []
        x = float(e[0])
        for i, seg in enumerate(self.segments):
            if i:
                prev = self.segments[i - 1][-1]
                missing = int(seg[0] - prev - 1)
                step = missing + 1.0 if missing <= self.gap_width else self.gap_width + 1.0
                x0 = pos[int(prev)]
                x = x0 + step
                self.gaps.append((int(prev) + 1, int(seg[0]) - 1, x0 + 0.5, x - 0.5))
            for k, epoch in enumerate(seg):
                pos[int(epoch)] = x + k
            x = pos[int(seg[-1])]
        self._pos = pos

    @property
    def has_gaps(self) -> bool:
        return bool(self.gaps)

    def x(self, epochs: Sequence[int] | np.ndarray) -> np.ndarray:
        """x positions of logged epochs (NaN for an epoch that has no row)."""
        return np.array([self._pos.get(int(ep), np.nan) for ep in np.atleast_1d(epochs)], dtype=float)

    def markers(self) -> dict[str, Any]:
        """Point markers when there are few epochs (a one-epoch segment would be invisible)."""
        return {"marker": "o", "markersize": 3.5} if self.epochs.size <= 40 else {}

    def plot(self, ax: Axes, epochs: Any, values: Any, **kwargs: Any) -> list[Any]:
        """Draw ``values`` against ``epochs``, one line per segment (label on the first only)."""
        epochs = np.asarray(epochs, dtype=int)
        values = np.asarray(values, dtype=float)
        lines = []
        label = kwargs.pop("label", None)
        style = {**self.markers(), **kwargs}
        for seg in self.segments:
            mask = np.isin(epochs, seg)
            if not mask.any():
                continue
            (line,) = ax.plot(self.x(epochs[mask]), values[mask], label=label if not lines else None, **style)
            lines.append(line)
        return lines

    def fill_between(self, ax: Axes, epochs: Any, low: Any, high: Any, **kwargs: Any) -> list[Any]:
        """A band between ``low`` and ``high``, broken at the gaps like :meth:`plot`."""
        epochs = np.asarray(epochs, dtype=int)
        low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
        label = kwargs.pop("label", None)
        polys = []
        for seg in self.segments:
            mask = np.isin(epochs, seg) & np.isfinite(low) & np.isfinite(high)
            if not mask.any():
                continue
            x = self.x(epochs[mask])
            if x.size == 1:  # a lone epoch: a short bar, so its interval is still visible
                x = np.array([x[0] - 0.25, x[0] + 0.25])
                lo, hi = np.repeat(low[mask], 2), np.repeat(high[mask], 2)
            else:
                lo, hi = low[mask], high[mask]
            polys.append(ax.fill_between(x, lo, hi, label=label if not polys else None, **kwargs))
        return polys

    def setup(self, ax: Axes, *, xlabel: bool = True, gap_labels: bool = True) -> None:
        """Ticks at real epochs, limits, hatched bands over the gaps."""
        first, last = self._pos[int(self.epochs[0])], self._pos[int(self.epochs[-1])]
        ax.set_xlim(first - 0.6, last + 0.6)
        ticks = self._ticks()
        ax.set_xticks(self.x(ticks), [str(t) for t in ticks])
        ax.xaxis.set_minor_locator(NullLocator())  # minor ticks would fall on compressed gaps
        for lo, hi, x0, x1 in self.gaps:
            ax.axvspan(x0, x1, facecolor="#f4f4f4", edgecolor="#c8c8c8", hatch="//", linewidth=0.0, zorder=0)
            if gap_labels:
                text = f"{lo}-{hi}" if hi > lo else f"{lo}"
                ax.text((x0 + x1) / 2, 0.5, f"epochs {text}\nnot in log" if hi > lo else f"epoch {text}\nnot in log",
                        transform=ax.get_xaxis_transform(), rotation=90, ha="center", va="center",
                        fontsize=SMALL - 1, color="#444444", zorder=1,
                        bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.5})
        if xlabel:
            ax.set_xlabel("epoch (1-based)" + (", gaps compressed" if any(
                (hi - lo + 1) > (x1 - x0) + 0.01 for lo, hi, x0, x1 in self.gaps) else ""))

    def _ticks(self) -> list[int]:
        """Integer epochs to label: a few per segment, never two within 4.5% of the width."""
        first, last = self._pos[int(self.epochs[0])], self._pos[int(self.epochs[-1])]
        width = max(last - first, 1.0)
        candidates: list[int] = []
        for seg in self.segments:
            share = (seg[-1] - seg[0] + 1) / width
            nbins = max(1, int(round(8 * share)))
            values = MaxNLocator(nbins=nbins, integer=True, min_n_ticks=1).tick_values(seg[0], seg[-1])
            inside = [int(v) for v in values if seg[0] <= v <= seg[-1]]
            candidates.extend(inside or [int(seg[0])])
            if len(seg) > 1 and self.has_gaps and int(seg[0]) not in candidates:
                candidates.append(int(seg[0]))
        candidates = sorted(set(candidates))
        kept: list[int] = []
        min_sep = 0.045 * width + 1e-9
        for t in candidates:
            if not kept or self._pos[t] - self._pos[kept[-1]] >= min_sep:
                kept.append(t)
        return kept
