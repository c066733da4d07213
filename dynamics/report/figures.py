"""Which figures a report shows, drawn by :mod:`dynamics.plots` and rendered to PNG.

This is the only place that turns figures into bytes (the plot functions
never save). Each figure is rendered as soon as it is drawn and then dropped,
so a report never holds more than one live figure.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dynamics.pipeline import CompareReport, RunReport

#: Pixels per inch of the embedded PNGs: 7-inch figures come out about 1000 px wide,
#: sharp on a laptop and on a phone's high-density screen.
DPI = 144


@dataclass(frozen=True)
class RenderedFigure:
    """A figure as a PNG, with what the report says about it."""

    key: str
    title: str
    caption: str
    png: bytes

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels, from the PNG header."""
        width, height = struct.unpack(">II", self.png[16:24])
        return int(width), int(height)


def png_bytes(fig: Any, *, dpi: int = DPI) -> bytes:
    """Render a matplotlib figure (Agg canvas) to PNG bytes, with no timestamp in the file."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def _render(specs: list[tuple[str, str, str, Callable[[], Any]]], *, dpi: int) -> Iterator[RenderedFigure]:
    for key, title, caption, draw in specs:
        fig = draw()
        if fig is None:
            continue
        yield RenderedFigure(key, title, caption, png_bytes(fig, dpi=dpi))
        del fig


def key_figure(d: Any, *, dpi: int = DPI) -> RenderedFigure | None:
    """The one figure a short display shows: loss and accuracy with the noise band (None if nothing to draw)."""
    return next(_render(_log_specs(d)[:1], dpi=dpi), None)


def _log_specs(d: Any) -> list[tuple[str, str, str, Callable[[], Any]]]:
    """The log-level figures of a diagnosis, each drawn on demand."""
    from dynamics.plots import log

    return [
        ("learning_curves", "Loss and accuracy", (
            "Training and validation loss (top) and accuracy (bottom) per epoch. The shaded band is the binomial "
            "(Wilson) 95% interval of val_accuracy; hatched bands are epochs the source does not hold (drawn as "
            "breaks, never as lines across them); the dotted line is the epoch of the lowest val_loss; triangles "
            "mark where EarlyStopping would stop and the ring the epoch whose weights it would keep."
        ), lambda: log.learning_curves(d)),
        ("generalization_gap", "Generalization gap", (
            "val_loss minus training loss, and training minus validation accuracy, per epoch."
        ), lambda: log.generalization_gap(d)),
        ("mistake_bounds", "How wrong the mistakes must be", (
            "From each epoch's val_loss and val_accuracy alone: the range the mean cross-entropy of the "
            "misclassified and of the correctly classified validation samples must lie in (left), and the range "
            "of the geometric-mean probability the model gave the true class on its mistakes (right)."
        ), lambda: log.mistake_bounds(d)),
    ]


def run_figures(report: RunReport, *, dpi: int = DPI) -> list[RenderedFigure]:
    """The figures of one run: log-level first, then the per-sample ones of a recorded run."""
    specs = _log_specs(report.diagnosis)
    if report.analysis is not None:
        from dynamics.plots import samples

        a = report.analysis.val
        specs += [
            ("loss_decomposition", "Where val_loss comes from", (
                "val_loss per epoch as the sum of what correctly classified samples (accuracy x their mean loss) "
                "and misclassified samples ((1 - accuracy) x their mean loss) contribute."
            ), lambda: samples.loss_decomposition(a)),
            ("confidence", "Confidence of correct and wrong predictions", (
                "For each epoch, how the top-class probability of correct (top) and wrong (bottom) predictions is "
                "spread over 15 bins (colour: share of the group), with the group's mean confidence as a line."
            ), lambda: samples.confidence_heatmap(a)),
            ("reliability", "Reliability at the best and the last epoch", (
                "Accuracy of each confidence bin against its mean confidence; bars below the diagonal are "
                "overconfident. Below: the share of samples in each bin."
            ), lambda: samples.reliability_diagrams(a)),
            ("temperature", "Temperature scaling", (
                "val_loss as predicted and after dividing the logits by one temperature per epoch, fitted on one "
                "half of the samples and scored on the other; below, the fitted temperature."
            ), lambda: samples.temperature_scaling(a)),
            ("churn", "Churn", (
                "Share of validation samples whose predicted class changed since the previous recorded epoch, "
                "wrong to right above zero and right to wrong below; the line is the net accuracy change."
            ), lambda: samples.churn(a)),
            ("data_map", "Data map", (
                "Each validation sample's mean probability of its true class across epochs (confidence) against "
                "its standard deviation (variability), coloured by the share of epochs it was right "
                "(Swayamdipta et al. 2020)."
            ), lambda: samples.data_map(a)),
        ]
    return list(_render(specs, dpi=dpi))


def compare_figures(report: CompareReport, *, dpi: int = DPI) -> list[RenderedFigure]:
    """The comparison's figures."""
    from dynamics.plots.compare import compare_curves

    c = report.comparison
    caption = (
        "val_loss of every run (left) and val_accuracy (right), one colour per configuration. For several seeds of "
        "one configuration the right panel shows their mean, the band from the lowest to the highest run, and "
        "dotted lines at the mean ± 1.96 binomial standard errors: what sampling noise alone would spread."
    )
    return list(_render([("compare", "Runs side by side", caption, lambda: compare_curves(c))], dpi=dpi))
