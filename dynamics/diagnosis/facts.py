"""What the producers of one diagnosis tell each other, as one typed object.

Each field is written by one producer (named in its comment) and read by the
ones after it; a field left at its default means "not found / not
computed". Being typed, a misspelt fact is an AttributeError, not a silent
``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dynamics.stats.accuracy_curve import AccuracyCurve
from dynamics.stats.curves import LossCurve
from dynamics.stats.generalization import Onset
from dynamics.stats.noise import VarianceRatio
from dynamics.stats.trends import TrendResult


@dataclass
class Facts:
    """Intermediate results shared between producers."""

    # sanity: the first epoch with a non-finite loss, and every such epoch (its other numbers are not predictions)
    diverged: int | None = None
    nonfinite_epochs: list[int] = field(default_factory=list)
    # sanity: impossible epochs among consistent ones, by prefix ("" training, "val_" validation)
    glitch_epochs: dict[str, list[int]] = field(default_factory=dict)
    # sanity: the loss is below any cross-entropy at the accuracy, at every epoch (by prefix)
    not_crossentropy: dict[str, list[int]] = field(default_factory=dict)
    # sanity: the loss is above any clipped cross-entropy at the accuracy (by prefix)
    above_clipped: dict[str, list[int]] = field(default_factory=dict)
    # sanity: val_loss minus the compiled cross-entropy metric
    loss_excess: pd.Series | None = None
    # patterns: the classified curves
    loss_curve: LossCurve | None = None
    accuracy_curve: AccuracyCurve | None = None
    # overfitting: best epoch and value per column, the onset, trends after the best epoch
    best: dict[str, tuple[int, float]] = field(default_factory=dict)
    onset: Onset | None = None
    val_loss_flat: bool = False
    trends: dict[str, TrendResult] = field(default_factory=dict)
    # noise: epochs whose accuracy is not k / n_val; the spread after the best epoch
    n_val_mismatch: list[int] = field(default_factory=list)
    spread: VarianceRatio | None = None
    # confidence: the bounds table with its reference and focus epochs
    bounds: dict[str, Any] | None = None
    # early_stopping: the recommended EarlyStopping (patience, stop_epoch, kept_epoch, ...)
    early_stopping: dict[str, Any] | None = None
    # samples / storage: the per-sample analysis of a recorded run, the stored-loss table
    sample_analysis: Any | None = None
    stored_loss: pd.DataFrame | None = None
    # verdict: the decided verdict (dynamics.diagnosis.verdict.Verdict)
    verdict: Any | None = None

    @property
    def val_loss_invalid(self) -> bool:
        """val_loss cannot be the cross-entropy of the predictions the accuracy counts."""
        return bool(self.not_crossentropy.get("val_") or self.above_clipped.get("val_"))
