"""Every per-sample statistic of a recorded split, in one streaming pass.

:func:`analyze_predictions` reads the epochs of a
:class:`~dynamics.run.Predictions` one at a time (memory maps stay on disk),
builds one :class:`~dynamics.stats.probabilities.EpochView` per epoch and feeds
it to every statistic, so each derived per-sample array (loss, correctness,
confidence...) is computed once per epoch. Memory is a few float64 arrays of
``n`` per accumulator, never the ``(E, n)`` stack.

The best epoch (lowest mean loss, earliest on ties) is tracked while
streaming: whenever an epoch beats the best so far, its per-sample arrays are
kept (references, not copies: each epoch's arrays are new) and the churn
counters are marked, so the rise since the best epoch and the flips since it
are exact after a single pass.

The result, :class:`SampleAnalysis`, holds the per-epoch tables and the
per-sample table as DataFrames: reports and plots reuse exactly these
numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dynamics.errors import InputError
from dynamics.stats.calibration import N_BINS, calibration_row, reliability_rows
from dynamics.stats.churn import ChurnAccumulator
from dynamics.stats.compact import UNAVAILABLE
from dynamics.stats.confidence import confidence_row
from dynamics.stats.datamap import REGION_FRACTION, DataMapAccumulator, data_map_regions
from dynamics.stats.decomposition import LossRise, decomposition_row, loss_rise
from dynamics.stats.forgetting import ForgettingAccumulator
from dynamics.stats.label_issues import candidates_table
from dynamics.stats.probabilities import EpochView, require_predictions
from dynamics.stats.result import Result
from dynamics.stats.temperature import default_halves, temperature_row
from dynamics.stats.views import iter_views

if TYPE_CHECKING:
    from dynamics.run import Run

__all__ = ["analysis_of_run", "analyze_predictions", "RunAnalysis", "SampleAnalysis"]


@dataclass
class SampleAnalysis(Result):
    """Per-epoch and per-sample statistics of one recorded split.

    Attributes
    ----------
    split : str
        ``"val"`` or ``"train"``.
    n_samples, n_classes : int
    epochs : ndarray of int
        Recorded epochs.
    per_epoch : DataFrame
        One row per epoch: loss decomposition, confidence, calibration
        (ECE, MCE, Brier terms, AUC) and temperature scaling columns (also
        as :attr:`decomposition`, :attr:`confidence`, :attr:`calibration`).
    churn : DataFrame
        One row per consecutive pair of recorded epochs (indexed by the later).
    reliability : DataFrame
        Reliability-diagram bins of every epoch, indexed by (epoch, bin).
    best_epoch : int
        Epoch of the lowest mean loss.
    rise : LossRise
        Attribution of the loss change from ``best_epoch`` to the last epoch.
    arrays : dict of ndarray
        The per-sample columns (see :attr:`samples`).
    label_issues : DataFrame
        Candidate label problems (validation), most suspicious first.
    """

    split: str
    n_samples: int
    n_classes: int
    epochs: np.ndarray
    per_epoch: pd.DataFrame
    churn: pd.DataFrame
    reliability: pd.DataFrame
    best_epoch: int
    rise: LossRise
    arrays: dict[str, np.ndarray] = field(repr=False)
    label_issues: pd.DataFrame = field(repr=False)
    groups: dict[str, list[str]] = field(default_factory=dict, repr=False)
    #: Statistics the storage cannot give, with the reason (compact storage: :data:`dynamics.stats.compact.UNAVAILABLE`).
    unavailable: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def decomposition(self) -> pd.DataFrame:
        """Per epoch: val_loss, accuracy and its correct / misclassified parts."""
        return self.per_epoch.loc[:, self.groups.get("decomposition", [])]

    @property
    def confidence(self) -> pd.DataFrame:
        """Per epoch: confidence and entropy of correct and wrong predictions."""
        return self.per_epoch.loc[:, self.groups.get("confidence", [])]

    @property
    def calibration(self) -> pd.DataFrame:
        """Per epoch: ECE, MCE, Brier terms, AUC and temperature scaling (if computed)."""
        return self.per_epoch.loc[:, self.groups.get("calibration", [])]

    @property
    def data_map(self) -> pd.DataFrame:
        """Per sample: confidence, variability, correctness and region (Swayamdipta et al.)."""
        return self.samples.loc[:, ["sample_id", "confidence", "variability", "correctness", "region"]]

    @property
    def last_epoch(self) -> int:
        return int(self.epochs[-1])

    @cached_property
    def samples(self) -> pd.DataFrame:
        """One row per sample: data map, churn, forgetting, best/end loss."""
        table = pd.DataFrame(self.arrays)
        table.index.name = "sample"
        return table

    def columns(self, *names: str) -> pd.DataFrame:
        """A few per-epoch columns (a view for plots), e.g. ``columns("val_loss", "ece")``."""
        return self.per_epoch.loc[:, list(names)]

    def top_samples(self, k: int = 20) -> pd.DataFrame:
        """The ``k`` samples whose loss grew most since the best epoch.

        ``share`` is each sample's part of the total rise (NaN if the loss
        did not rise).
        """
        delta = self.arrays["loss_change"]
        k = max(0, min(int(k), delta.shape[0]))
        top = np.argpartition(-delta, k - 1)[:k] if 0 < k < delta.shape[0] else np.arange(delta.shape[0])[:k]
        top = top[np.argsort(-delta[top], kind="stable")]
        total = float(delta.sum())
        cols = ["sample_id", "label", "pred_best", "pred_end", "p_true_best", "p_true_end",
                "loss_best", "loss_end", "loss_change", "flips", "flips_since_best"]  # fmt: skip
        table = pd.DataFrame({c: self.arrays[c][top] for c in cols if c in self.arrays}, index=pd.Index(top, name="sample"))
        table["share"] = table["loss_change"] / total if total > 0 else np.nan
        return table

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by name (what reports and ``--json`` export)."""
        return {
            "per_epoch": self.per_epoch,
            "decomposition": self.decomposition,
            "confidence": self.confidence,
            "calibration": self.calibration,
            "churn": self.churn,
            "reliability": self.reliability,
            "transitions": self.rise.transitions,
            "top_samples": self.top_samples(),
            "label_issues": self.label_issues,
        }


class _BestTracker:
    """Keeps the per-sample arrays of the lowest-loss epoch seen so far, and which samples were right at the
    most accurate one (the first maximum), so the paired tests need no second pass over the predictions."""

    def __init__(self) -> None:
        self.loss = np.inf
        self.view: EpochView | None = None
        self.flips_at_best: np.ndarray | None = None
        self.accuracy = -np.inf
        self.accuracy_epoch: int | None = None
        self.correct_at_best_accuracy: np.ndarray | None = None

    def update(self, view: EpochView, mean_loss: float, churn: ChurnAccumulator, accuracy: float) -> None:
        if mean_loss < self.loss or self.view is None:
            self.loss = mean_loss
            self.view = view
            self.flips_at_best = churn.flips.copy()
        if accuracy > self.accuracy or self.accuracy_epoch is None:
            self.accuracy = accuracy
            self.accuracy_epoch = int(view.epoch)
            self.correct_at_best_accuracy = view.correct.copy()


def analyze_predictions(
    predictions: Any,
    *,
    split: str = "val",
    calibration: bool = True,
    n_bins: int = N_BINS,
    seed: int = 0,
    region_fraction: float = REGION_FRACTION,
) -> SampleAnalysis:
    """Stream once over a :class:`~dynamics.run.Predictions` and compute everything.

    Parameters
    ----------
    predictions : Predictions
        The recorded split (arrays may be memory maps).
    split : str
        Label for the result (``"val"`` or ``"train"``).
    calibration : bool
        Compute ECE/MCE/Brier/AUC, reliability bins and cross-fitted
        temperature scaling per epoch (the costliest part).
    n_bins : int
        Bins for ECE, reliability and the Brier decomposition.
    seed : int
        Seed of the fixed random halves used to cross-fit temperatures.
    region_fraction : float
        Size of each data-map region.

    Returns
    -------
    SampleAnalysis

    Examples
    --------
    >>> from dynamics.run import Predictions
    >>> y = np.array([1, 0, 1, 0])
    >>> p = [np.array([0.6, 0.4, 0.4, 0.45]), np.array([0.9, 0.2, 0.3, 0.6]), np.array([0.99, 0.1, 0.1, 0.9])]
    >>> a = analyze_predictions(Predictions([1, 2, 3], y, p))
    >>> a.best_epoch, round(a.rise.share_wrong_end, 3), a.churn["changed"].tolist()
    (2, 1.094, [0.25, 0.0])
    """
    n = predictions.n_samples
    compact = bool(getattr(predictions, "compact", False))
    unavailable = dict(UNAVAILABLE) if compact else {}
    churn, forgetting, datamap, best = ChurnAccumulator(), ForgettingAccumulator(), DataMapAccumulator(), _BestTracker()
    halves = default_halves(n, seed) if calibration and n >= 2 and not compact else None
    rows: dict[int, dict[str, float]] = {}
    bins: dict[int, pd.DataFrame] = {}
    view: EpochView | None = None
    groups: dict[str, list[str]] = {}
    for view in iter_views(predictions):
        parts = {"decomposition": decomposition_row(view), "confidence": confidence_row(view)}
        if compact:  # ImageNet's second accuracy, free from the stored top-k
            parts["decomposition"][f"top{view.top_k}_accuracy"] = float(view.top_k_correct().mean())
        if calibration:
            parts["calibration"] = calibration_row(view, n_bins=n_bins)
            if halves is not None:
                parts["calibration"].update(temperature_row(view, halves))
            bins[view.epoch] = reliability_rows(view, n_bins=n_bins)
        groups = groups or {name: list(part) for name, part in parts.items()}
        row = {k: v for part in parts.values() for k, v in part.items()}
        rows[view.epoch] = row
        churn.update(view)
        forgetting.update(view)
        datamap.update(view)
        best.update(view, row["val_loss"], churn, row["accuracy"])
        view.__dict__.pop("entropy", None)  # not needed after this epoch; the rest may be kept as "best"
    if view is None:
        raise InputError("the recorded predictions hold no finished epoch")
    end, b = view, best.view
    per_epoch = pd.DataFrame.from_dict(rows, orient="index")
    per_epoch.index.name = "epoch"
    reliability = pd.concat(bins, names=["epoch", "bin"]) if bins else pd.DataFrame()
    rise = loss_rise(b.loss, end.loss, b.correct, end.correct, best_epoch=b.epoch, end_epoch=end.epoch)
    arrays = _per_sample(predictions, end, b, churn, forgetting, datamap, best, region_fraction)
    issues = (
        candidates_table(end, datamap.confidence, 1.0 - datamap.correctness, sample_ids=predictions.sample_ids)
        if split == "val"
        else pd.DataFrame()
    )
    return SampleAnalysis(
        split=split,
        n_samples=n,
        n_classes=end.n_classes,
        epochs=np.asarray(predictions.epochs),
        per_epoch=per_epoch,
        churn=churn.table(),
        reliability=reliability,
        best_epoch=int(b.epoch),
        rise=rise,
        arrays=arrays,
        label_issues=issues,
        groups=groups,
        unavailable=unavailable,
    )


def _per_sample(
    predictions: Any,
    end: EpochView,
    b: EpochView,
    churn: ChurnAccumulator,
    forgetting: ForgettingAccumulator,
    datamap: DataMapAccumulator,
    best: _BestTracker,
    region_fraction: float,
) -> dict[str, np.ndarray]:
    ids = predictions.sample_ids
    arrays: dict[str, np.ndarray] = {}
    arrays["sample_id"] = np.asarray(ids) if ids is not None else np.arange(end.n_samples)
    arrays["label"] = end.y_true
    arrays["confidence"] = datamap.confidence
    arrays["variability"] = datamap.variability
    arrays["correctness"] = datamap.correctness
    regions = data_map_regions(datamap.confidence, arrays["variability"], fraction=region_fraction)
    arrays["region"] = regions["region"].to_numpy()
    arrays["flips"] = churn.flips
    arrays["flips_since_best"] = churn.flips - best.flips_at_best
    arrays["stability"] = churn.stability()
    for name, column in forgetting.table().items():
        arrays[name] = column.to_numpy()
    arrays["pred_best"] = b.pred
    arrays["pred_end"] = end.pred
    arrays["correct_best"] = b.correct
    arrays["correct_end"] = end.correct
    arrays["correct_best_accuracy"] = best.correct_at_best_accuracy
    arrays["p_true_best"] = b.p_true
    arrays["p_true_end"] = end.p_true
    arrays["confidence_end"] = end.confidence
    arrays["loss_best"] = b.loss
    arrays["loss_end"] = end.loss
    arrays["loss_change"] = end.loss - b.loss
    return arrays


@dataclass
class RunAnalysis(Result):
    """Per-sample analysis of a recorded run: validation and training subset."""

    val: SampleAnalysis
    train: SampleAnalysis | None = None

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by name; training-subset tables are prefixed ``train_``."""
        out = dict(self.val.tables())
        out["samples"] = self.val.samples
        out["data_map"] = self.val.data_map
        if self.train is not None:
            out["train_data_map"] = self.train.data_map
            out["train_per_epoch"] = self.train.per_epoch
            out["train_churn"] = self.train.churn
            out["train_samples"] = self.train.samples
        return out


def analysis_of_run(run: Run, *, seed: int = 0) -> RunAnalysis:
    """Stream once over the run's validation (and training-subset) predictions.

    Raises :class:`~dynamics.errors.InputError` when the run has no recorded
    validation predictions.

    Examples
    --------
    >>> from dynamics.simulate import simulate_run
    >>> result = analysis_of_run(simulate_run("minority", n=200, epochs=5, n_train=50))
    >>> result.val.per_epoch.shape[0], result.train.n_samples
    (5, 50)
    """
    val = analyze_predictions(require_predictions(run, "val"), split="val", seed=seed)
    train = None
    if run.train_predictions is not None and len(run.train_predictions):
        train = analyze_predictions(run.train_predictions, split="train", calibration=False, seed=seed)
    return RunAnalysis(val, train)


#: The name :func:`analysis_of_run` had before the stats API's naming rule (still used outside stats).
analyze = analysis_of_run
