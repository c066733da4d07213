"""``Run``: the one structure that flows through dynamics.

Every source -- a pasted log, a CSVLogger file, a History JSON, a recorded run
directory -- is turned into one or more :class:`Run` objects, and everything
downstream (statistics, diagnosis, plots, reports) takes a ``Run``.

A run has

* ``epochs``: the *wide* epoch table. One row per epoch, indexed by the
  1-based epoch number as Keras's progress bar prints it (index name
  ``"epoch"``), one float column per metric with canonical names (``loss``,
  ``accuracy``, ``val_loss``, ``val_accuracy``; other metrics as printed).
  NaN where a value is absent. Elided epochs are *gaps in the index*, never
  filled rows.
* ``meta``: where the run came from and what is known about it
  (:class:`RunMeta`).
* ``events``: callback messages (checkpoint, early stopping, learning-rate
  changes, terminate-on-NaN), each with its 1-based epoch (:class:`Event`).
* ``timing``: seconds per epoch and per step/sample where the source shows
  them (same index as ``epochs``), or ``None``.
* ``predictions`` / ``train_predictions``: per-sample predicted
  probabilities of a recorded run (:class:`Predictions`), or ``None`` for
  logs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

#: Printed metric names that mean the same thing as a canonical name. Only
#: unambiguous spellings are folded (docs/keras-formats.md#10-checklist-for-the-parser, item 10):
#: ``acc`` is always accuracy, ``lr`` is always the learning rate; names such
#: as ``sparse_categorical_accuracy`` or ``mae`` are kept as printed.
_ALIASES = {
    "acc": "accuracy",
    "acc.": "accuracy",  # Keras 0.1.x
    "val. acc.": "val_accuracy",
    "val. loss": "val_loss",
    "val_acc": "val_accuracy",
    "lr": "learning_rate",
    "val_lr": "val_learning_rate",
}

#: Event kinds, in the vocabulary used by ``Event.kind``.
EVENT_KINDS = (
    "checkpoint_saved",  # ModelCheckpoint saved (improved, or save every epoch)
    "checkpoint_not_improved",  # ModelCheckpoint: monitor did not improve
    "early_stopping",  # EarlyStopping stopped training after this epoch
    "restored_best_weights",  # EarlyStopping restored weights of this epoch
    "lr_reduced",  # ReduceLROnPlateau
    "lr_set",  # LearningRateScheduler
    "terminated_on_nan",  # TerminateOnNaN
    "interrupted",  # the log ends inside this epoch
)


def canonical_metric_name(printed: str) -> str:
    """Return the canonical name of a metric as Keras printed it.

    Parameters
    ----------
    printed : str
        The key as it appeared in the log (``acc``, ``val_acc``, ``lr``...).

    Returns
    -------
    str
        ``accuracy`` for ``acc``, ``val_accuracy`` for ``val_acc``,
        ``learning_rate`` for ``lr``; any other name unchanged.

    Examples
    --------
    >>> canonical_metric_name("val_acc")
    'val_accuracy'
    >>> canonical_metric_name("val_top_k_categorical_accuracy")
    'val_top_k_categorical_accuracy'
    """
    return _ALIASES.get(printed, printed)


def is_callback_key(name: str) -> bool:
    """True for keys that callbacks add to the logs, not model metrics.

    The learning rate (``learning_rate``, ``learning_rate_<optimizer>``) is
    not a metric of the model and has no generalization gap.

    >>> is_callback_key("learning_rate"), is_callback_key("val_loss")
    (True, False)
    """
    return name == "learning_rate" or name.startswith("learning_rate_")


@dataclass(frozen=True)
class Event:
    """A callback message seen in a log (or recorded by the recorder).

    Attributes
    ----------
    epoch : int or None
        1-based epoch the message belongs to (Keras <= 2.0.8's 0-based
        ``Epoch 00020:`` numbers already corrected), or None when unknown.
    kind : str
        One of :data:`EVENT_KINDS`.
    message : str
        The message as printed, without paste damage.
    monitor : str or None
        The monitored quantity named in the message (``val_loss``), if any.
    value : float or None
        The number the message carries: the new learning rate, the value a
        checkpoint improved to, or the best epoch restored.
    """

    epoch: int | None
    kind: str
    message: str
    monitor: str | None = None
    value: float | None = None


@dataclass
class RunMeta:
    """What is known about a run besides its numbers.

    ``format`` says what the source was: ``"progbar"`` (a printed log),
    ``"csvlogger"``, ``"csv"`` (a History saved with pandas' ``to_csv``),
    ``"table"`` (a table printed by pandas, or pasted as Markdown or text),
    ``"history-json"``, ``"recorded"`` (a run directory), ``"tensorboard"``
    (event files), ``"lightning-csv"``, ``"hf-trainer-state"`` or ``"live"`` (the
    epoch logs of a training in progress, :class:`dynamics.keras.live.LiveDiagnosis`).
    ``era`` is the detected Keras generation when the format shows it:
    ``"keras0"``, ``"keras1"`` (0.2 to 2.0.8), ``"keras2"`` (2.0.9 to 2.3.1),
    ``"tfkeras"`` (tf.keras / tf-keras) or ``"keras3"``. ``verbose`` is 1 or 2
    for printed logs.

    ``metric_names`` maps each canonical column to the name as printed.
    ``inferred_epochs`` lists rows whose epoch number was not printed but
    inferred (from the next header or a callback message). ``elided`` lists
    inclusive ``(first, last)`` ranges of epochs known to be missing (a
    ``....`` in a paste, or a jump in ``Epoch k/N``). ``interrupted_epoch`` is
    the epoch that was in progress when the log ended, if any.
    ``printed_nan`` maps a column to the epochs where the log printed ``nan``
    (as opposed to a value that is merely absent).
    """

    source: str = "<text>"
    format: str = "progbar"
    era: str | None = None
    verbose: int | None = None
    run_index: int = 0
    n_train: int | None = None
    n_val: int | None = None
    steps_train: int | None = None
    steps_val: int | None = None
    epochs_declared: int | None = None
    seconds_per_epoch: float | None = None
    classes: int | None = None
    metric_names: dict[str, str] = field(default_factory=dict)
    inferred_epochs: list[int] = field(default_factory=list)
    elided: list[tuple[int, int]] = field(default_factory=list)
    interrupted_epoch: int | None = None
    printed_nan: dict[str, list[int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        out = asdict(self)
        out["elided"] = [list(r) for r in self.elided]
        return _json_ready(out)


@dataclass
class Predictions:
    """Per-sample predicted probabilities of one split, epoch by epoch.

    Attributes
    ----------
    epochs : ndarray of int, shape (E,)
        1-based epoch of each recorded snapshot.
    y_true : ndarray of int, shape (n,)
        Class label of each sample.
    proba : sequence of E arrays
        ``proba[i]`` holds the predictions after ``epochs[i]``: shape ``(n,)``
        with P(class 1) for a binary (sigmoid) model, or ``(n, k)`` class
        probabilities. A list, or any sequence: read-only memory maps, or a
        run directory's lazily decoded epochs
        (:class:`dynamics.encoding.EncodedEpochs`), so analysis can
        stream over epochs without holding them all.
    sample_ids : ndarray of int, shape (n,), or None
        Index of each sample in its dataset (for a training subset, or to
        look up a review's text).
    """

    epochs: np.ndarray
    y_true: np.ndarray
    proba: Sequence[np.ndarray]
    sample_ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.epochs = np.asarray(self.epochs, dtype=int)
        self.y_true = np.asarray(self.y_true)
        if len(self.proba) != len(self.epochs):
            raise ValueError(
                f"proba has {len(self.proba)} epochs but epochs has {len(self.epochs)}"
            )

    @property
    def n_samples(self) -> int:
        return int(self.y_true.shape[0])

    @property
    def n_classes(self) -> int:
        """2 for a binary (sigmoid) model, else the width of the proba arrays."""
        known = getattr(self.proba, "n_classes", None)  # compact storage says; its records do not show K
        if known is not None:
            return int(known)
        if not len(self.proba):
            return int(self.y_true.max()) + 1 if self.y_true.size else 0
        first = self.proba[0]
        return 2 if first.ndim == 1 else int(first.shape[1])

    def __len__(self) -> int:
        return len(self.epochs)

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(epoch, proba)`` one epoch at a time."""
        for epoch, proba in zip(self.epochs, self.proba):
            yield int(epoch), proba

    @property
    def compact(self) -> bool:
        """True when the epochs are stored compactly (top-k classes, no full vectors; :mod:`dynamics.sources.rundir.compact`)."""
        return getattr(self.proba, "encoding", None) == "compact-float16"

    def stacked(self, dtype: Any = np.float32) -> np.ndarray:
        """All epochs as one array ``(E, n)`` or ``(E, n, k)`` (holds it all)."""
        if self.compact:
            from dynamics.errors import InputError

            raise InputError("these predictions are stored compactly (top-k classes): there are no full "
                             "probability vectors to stack")
        return np.stack([np.asarray(p, dtype=dtype) for p in self.proba])


@dataclass
class Run:
    """A training run: the epoch table, its metadata and its events."""

    epochs: pd.DataFrame
    meta: RunMeta = field(default_factory=RunMeta)
    events: list[Event] = field(default_factory=list)
    timing: pd.DataFrame | None = None
    predictions: Predictions | None = None
    train_predictions: Predictions | None = None

    def __post_init__(self) -> None:
        self.epochs.index.name = "epoch"

    # -- columns -----------------------------------------------------------
    @property
    def metrics(self) -> list[str]:
        """Model metric columns (callback keys such as learning_rate left out)."""
        return [c for c in self.epochs.columns if not is_callback_key(c)]

    def has(self, name: str) -> bool:
        """True if the column exists and holds at least one finite value."""
        return name in self.epochs.columns and bool(
            np.isfinite(self.epochs[name].to_numpy(dtype=float)).any()
        )

    def series(self, name: str) -> pd.Series:
        """One column as a float Series indexed by epoch (NaN where absent)."""
        return self.epochs[name].astype(float)

    def train_val_pairs(self) -> list[tuple[str, str]]:
        """``(metric, val_metric)`` pairs present in the table, loss first."""
        cols = set(self.metrics)
        pairs = [(c, "val_" + c) for c in self.metrics if not c.startswith("val_") and "val_" + c in cols]
        return sorted(pairs, key=lambda p: (p[0] != "loss", self.metrics.index(p[0])))

    @property
    def label(self) -> str:
        """A short name for displays: source, plus the run number if several."""
        name = self.meta.source
        return f"{name} (run {self.meta.run_index + 1})" if self.meta.run_index else name

    def _repr_html_(self) -> str:
        """Jupyter's display: the run's diagnosis -- verdict, loss/accuracy figure, first findings (static HTML)."""
        from dynamics.report.notebook import run_html

        return run_html(self)

    # -- export ------------------------------------------------------------
    def to_cleanlab(self, *, epoch: int | None = None) -> Any:
        """``(pred_probs, labels, samples, epoch)`` for ``cleanlab.filter.find_label_issues(labels, pred_probs)``.

        One recorded epoch's validation probabilities (the kept epoch by
        default) with each sample's training dynamics; see
        :func:`dynamics.cleanlab_inputs.cleanlab_inputs`.
        """
        from dynamics.cleanlab_inputs import cleanlab_inputs

        return cleanlab_inputs(self, epoch=epoch)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``dynamics parse --json``: meta, epochs, events.

        Epoch rows carry canonical names and 1-based epochs; a value that is
        absent is left out of its row, a printed ``nan`` is the string
        ``"nan"`` and infinities are ``"inf"`` / ``"-inf"`` (JSON has no NaN).
        """
        nan_cells = {(m, e) for m, eps in self.meta.printed_nan.items() for e in eps}
        rows = []
        for epoch, row in self.epochs.iterrows():
            item: dict[str, Any] = {"epoch": int(epoch)}
            for name, value in row.items():
                value = float(value)
                if math.isnan(value):
                    if (name, int(epoch)) in nan_cells:
                        item[name] = "nan"
                    continue
                item[name] = _json_number(value)
            if self.timing is not None and epoch in self.timing.index:
                for name, value in self.timing.loc[epoch].items():
                    if pd.notna(value):
                        item.setdefault("timing", {})[name] = float(value)
            rows.append(item)
        return {
            "meta": self.meta.to_dict(),
            "epochs": rows,
            "events": [_json_ready(asdict(e)) for e in self.events],
        }


def _json_number(value: float) -> float | str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _json_ready(obj: Any) -> Any:
    """Replace NaN/inf floats and numpy scalars so ``json.dumps`` is strict."""
    if isinstance(obj, dict):
        return {str(k): _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_ready(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return _json_number(obj)
    return obj


def runs_to_json_dict(runs: Sequence[Run]) -> dict[str, Any]:
    """``{"runs": [...]}``, the top-level shape of every ``--json`` output."""
    return {"runs": [run.to_dict() for run in runs]}


def make_epoch_table(rows: dict[int, dict[str, float]], columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Build a wide epoch table from ``{epoch: {metric: value}}``.

    Columns keep first-seen order unless ``columns`` is given; missing cells
    are NaN; the index is the sorted 1-based epoch.

    >>> make_epoch_table({1: {"loss": 0.5}, 3: {"loss": 0.4, "val_loss": 0.6}})
           loss  val_loss
    epoch
    1       0.5       NaN
    3       0.4       0.6
    """
    if columns is None:
        seen: dict[str, None] = {}
        for values in rows.values():
            for name in values:
                seen.setdefault(name, None)
        columns = list(seen)
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(columns), dtype=float)
    table = table.sort_index()
    table.index = table.index.astype(int)
    table.index.name = "epoch"
    return table
