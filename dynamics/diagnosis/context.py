"""What a diagnosis knows about a run besides its table: n_val, classes, columns.

The number of validation samples comes from ``--n-val``, else the log
(``validate on N samples``), else the printed accuracies when they reveal it
(:func:`~dynamics.stats.noise.infer_n_val`). The number of classes comes
from ``--classes``, else the run's metadata, else the metric names
(``binary_accuracy`` -> 2; ``categorical_accuracy`` -> several, number
unknown); for a plain ``accuracy`` it stays unknown and the claims that
need it say which value they assume.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dynamics.diagnosis.facts import Facts
from dynamics.errors import ArgumentError
from dynamics.run import Run
from dynamics.stats.noise import NValInference, infer_n_val
from dynamics.stats.precision import ACCURACY_NAMES, EXACT_FORMATS, print_halfwidth

_BINARY = ("binary_accuracy", "binary_crossentropy")
_MULTI = ("categorical_accuracy", "sparse_categorical_accuracy", "categorical_crossentropy",
          "sparse_categorical_crossentropy", "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy")


@dataclass
class Context:
    """Shared state of one diagnosis.

    Producers read ``run``, ``n_val``, ``classes`` and the column names,
    publish tables in ``tables``, share intermediate results in ``facts``
    (a typed :class:`~dynamics.diagnosis.facts.Facts`) and offer verdict sentences.
    """

    run: Run
    n_val: int | None = None
    n_val_source: str | None = None
    n_val_inference: NValInference | None = None
    classes: int | None = None
    classes_source: str = "unknown"
    multiclass: bool = False
    binary_plausible: bool = True
    val_accuracy: str | None = None
    accuracy: str | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    facts: Facts = field(default_factory=Facts)
    superseded: dict[str, str] = field(default_factory=dict)
    _verdict: list[tuple[int, int, str, str | None]] = field(default_factory=list)

    # -- values ---------------------------------------------------------------
    @property
    def exact(self) -> bool:
        """True when the source keeps full precision (CSVLogger, History)."""
        return self.run.meta.format in EXACT_FORMATS

    def halfwidth(self, column: str) -> np.ndarray:
        """Print half-widths of a column (0 where the value is absent)."""
        return np.nan_to_num(print_halfwidth(self.run.series(column).to_numpy(), exact=self.exact))

    def has(self, column: str | None) -> bool:
        return column is not None and self.run.has(column)

    @property
    def epochs(self) -> np.ndarray:
        return self.run.epochs.index.to_numpy()

    @property
    def bound_classes(self) -> int | None:
        """Classes to use for bounds: the known number, else 2 unless the names say several."""
        if self.classes is not None:
            return self.classes
        return 2 if self.classes_assumed else None

    @property
    def classes_assumed(self) -> bool:
        """True when a binary model is assumed: nothing says otherwise and no accuracy is below 0.5."""
        return self.classes is None and not self.multiclass and self.binary_plausible

    def valid_run(self) -> Run:
        """The run as the analyses should see it: impossible validation epochs (sanity glitches) blanked in
        the ``val_`` columns, and every number of an epoch whose loss was NaN or inf blanked (a NaN model's
        accuracy of 0 is not a prediction)."""
        bad_val = self.facts.glitch_epochs.get("val_") or []
        dead = self.facts.nonfinite_epochs
        if not bad_val and not dead:
            return self.run
        table = self.run.epochs.copy()
        cols = [c for c in table.columns if c.startswith("val_")]
        table.loc[table.index.isin(bad_val), cols] = np.nan
        table.loc[table.index.isin(dead), :] = np.nan
        return Run(table, self.run.meta, self.run.events)

    def add_epoch_columns(self, columns: pd.DataFrame) -> None:
        """Join per-epoch columns onto ``tables["epochs"]`` (the run's table at first)."""
        base = self.tables.get("epochs")
        if base is None:
            base = self.run.epochs.copy()
        self.tables["epochs"] = base.join(columns, how="left")

    # -- verdict ----------------------------------------------------------------
    def offer_verdict(self, priority: int, sentence: str, *, key: str | None = None) -> None:
        """Offer a verdict sentence; lower priority numbers come first.

        ``key`` names the sentence so a later producer that knows better
        (per-sample data answering what a log could only bound) can
        :meth:`withdraw_verdict` it.
        """
        self._verdict.append((priority, len(self._verdict), sentence, key))

    def withdraw_verdict(self, key: str) -> list[str]:
        """Remove the verdict sentences offered under ``key``; return them."""
        gone = [s for _, _, s, k in self._verdict if k == key]
        self._verdict = [v for v in self._verdict if v[3] != key]
        return gone

    def supersede(self, code: str, by: str) -> None:
        """Drop findings with ``code`` from the diagnosis: finding ``by`` answers them."""
        self.superseded[code] = by

    def verdict(self, limit: int = 5) -> str:
        parts = [s for _, _, s, _ in sorted(self._verdict, key=lambda v: v[:2])[:limit]]
        return " ".join(parts) if parts else "Nothing in this log calls for action."

    def describe(self) -> dict[str, Any]:
        return {
            "n_val": self.n_val,
            "n_val_source": self.n_val_source,
            "n_val_inference": self.n_val_inference.to_dict() if self.n_val_inference else None,
            "classes": self.classes,
            "classes_source": self.classes_source,
            "bound_classes": self.bound_classes,
            "epochs_logged": [int(e) for e in self.epochs],
            "epochs_declared": self.run.meta.epochs_declared,
            "format": self.run.meta.format,
            # the columns the diagnosis read, so printers and plots need not guess them again
            "columns": {"val_loss": "val_loss" if self.has("val_loss") else None,
                        "loss": "loss" if self.has("loss") else None,
                        "val_accuracy": self.val_accuracy if self.has(self.val_accuracy) else None,
                        "accuracy": self.accuracy if self.has(self.accuracy) else None},
        } | ({"superseded": dict(self.superseded)} if self.superseded else {})


def resolve_context(run: Run, *, n_val: int | None = None, classes: int | None = None) -> Context:
    """Fill in n_val, classes and the accuracy columns for a run.

    Examples
    --------
    >>> from dynamics.run import RunMeta, make_epoch_table
    >>> run = Run(make_epoch_table({1: {"val_acc_x": 1.0, "val_binary_accuracy": 0.8}}), RunMeta(n_val=10))
    >>> ctx = resolve_context(run)
    >>> ctx.n_val, ctx.n_val_source, ctx.classes, ctx.val_accuracy
    (10, 'log', 2, 'val_binary_accuracy')
    """
    if n_val is not None and n_val <= 0:
        raise ArgumentError(f"n_val must be > 0. Received: n_val={n_val}")
    if classes is not None and classes < 2:
        raise ArgumentError(f"classes must be >= 2. Received: classes={classes}")
    ctx = Context(run)
    names = set(run.metrics)
    for name in ACCURACY_NAMES:
        if ctx.val_accuracy is None and run.has("val_" + name):
            ctx.val_accuracy = "val_" + name
            ctx.accuracy = name if run.has(name) else None
    if ctx.val_accuracy is None:
        ctx.accuracy = next((name for name in ACCURACY_NAMES if run.has(name)), None)
    bases = {c.removeprefix("val_") for c in names}
    if classes is not None:
        ctx.classes, ctx.classes_source = classes, "option"
    elif run.meta.classes:
        ctx.classes, ctx.classes_source = int(run.meta.classes), "log"
    elif bases & set(_BINARY):
        ctx.classes, ctx.classes_source = 2, "metric names"
    elif bases & set(_MULTI):
        ctx.multiclass, ctx.classes_source = True, "metric names (several classes, number unknown)"
    # A binary model is assumed only while every accuracy is at least 0.5: below that it would be
    # doing worse than predicting the majority class, far likelier a sign of several classes.
    accs = [run.series(c) for c in (ctx.accuracy, ctx.val_accuracy) if c is not None and run.has(c)]
    ctx.binary_plausible = all(bool((s.dropna() >= 0.5).all()) for s in accs)
    if n_val is not None:
        ctx.n_val, ctx.n_val_source = int(n_val), "option"
    elif run.meta.n_val:
        ctx.n_val, ctx.n_val_source = int(run.meta.n_val), "log"
    elif ctx.val_accuracy is not None:
        acc = run.series(ctx.val_accuracy).to_numpy()
        inference = infer_n_val(acc, ctx.halfwidth(ctx.val_accuracy))
        ctx.n_val_inference = inference
        if inference.n is not None and inference.certainty in ("certain", "likely"):
            ctx.n_val, ctx.n_val_source = inference.n, "inferred"
    return ctx
