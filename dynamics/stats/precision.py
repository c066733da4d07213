"""How exactly a logged number is known: print rounding and metric direction.

A Keras progress line rounds every value: ``' %.4f'`` when ``abs(v) > 1e-3``,
else ``' %.4e'`` (docs/keras-formats.md#31-keras-01-to-208; the same rule in every
era). A value read back from such a line is only known to lie within a
*half-width* of the printed number, and every statistic in
:mod:`dynamics.stats` that makes a yes/no decision (did val_loss improve? is
this loss possible at this accuracy?) widens its inputs by that half-width
so the decision stays true for every value that prints the same way.

CSVLogger files, History JSON and recorded runs carry full precision; their
values are float32 results, so a relative half-width of 1e-6 covers the
float32 arithmetic Keras did on them.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ACCURACY_NAMES", "EXACT_FORMATS", "FLOAT32_RELATIVE", "is_count_metric", "metric_direction", "print_halfwidth",
]

#: Sources that store values at full precision (``RunMeta.format``).
EXACT_FORMATS = frozenset({"csvlogger", "csv", "history-json", "recorded", "live"})

#: Relative half-width used for full-precision sources (float32 arithmetic).
FLOAT32_RELATIVE = 1e-6


def print_halfwidth(values: np.ndarray | float, *, exact: bool = False) -> np.ndarray:
    """Half-width of the interval every printed value stands for.

    Parameters
    ----------
    values : array_like
        Values as read from a log.
    exact : bool, default False
        True for full-precision sources (CSVLogger, History JSON).

    Returns
    -------
    ndarray
        ``5e-5`` for values printed with ``%.4f``; half a unit in the fourth
        mantissa digit for ``%.4e`` values (``|v| < 1e-3``); 0 for an exact
        zero (``0.0000e+00`` is only printed for 0); NaN stays NaN.

    Notes
    -----
    Keras switches to ``%.4e`` only when ``abs(v) <= 1e-3``. A value read as
    0.0010 may have been printed either way, so values down to 9.5e-4 get the
    wider ``%.4f`` half-width: wider is always safe.

    Examples
    --------
    >>> print_halfwidth([0.3736, 5.1156e-04, 0.0]).tolist()
    [5e-05, 5e-09, 0.0]
    """
    v = np.asarray(values, dtype=float)
    if exact:
        return np.abs(v) * FLOAT32_RELATIVE + np.where(np.isnan(v), np.nan, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        exponent = np.floor(np.log10(np.abs(v)))
    sci = 0.5e-4 * np.power(10.0, exponent)
    out = np.where(np.abs(v) >= 9.5e-4, 5e-5, sci)
    out = np.where(v == 0, 0.0, out)
    return np.where(np.isnan(v), np.nan, out)


_LOWER_IS_BETTER = ("loss", "error", "mae", "mse", "mape", "msle", "crossentropy", "hinge", "divergence",
                    "poisson", "logcosh", "false_positives", "false_negatives")
_HIGHER_IS_BETTER = ("acc", "auc", "prc", "precision", "recall", "f1", "iou", "true_positives",
                     "true_negatives", "specificity", "sensitivity", "r2", "cosine_similarity", "mcor")
#: Confusion counts scale with the size of the split: a train/val gap in them
#: is meaningless.
_COUNTS = frozenset({"tp", "fp", "tn", "fn", "true_positives", "false_positives", "true_negatives",
                     "false_negatives"})


def metric_direction(name: str) -> str | None:
    """``"min"`` if lower is better, ``"max"`` if higher is better, else None.

    Follows Keras's own rule for losses (anything whose name, without the
    ``val_`` prefix, contains ``loss`` is minimised) and the ``_direction`` of
    Keras's built-in metrics for the rest; unknown custom metrics give None.

    Examples
    --------
    >>> metric_direction("val_loss"), metric_direction("val_accuracy"), metric_direction("mcc_x")
    ('min', 'max', None)
    """
    base = name.removeprefix("val_")
    if "loss" in base:
        return "min"
    # Strip trailing Keras de-duplication suffixes such as ``auc_1``.
    stem = base.rstrip("0123456789").rstrip("_") or base
    if stem in ("tp", "tn"):
        return "max"
    if stem in ("fp", "fn"):
        return "min"
    if any(key in stem for key in _LOWER_IS_BETTER):
        return "min"
    if any(key in stem for key in _HIGHER_IS_BETTER):
        return "max"
    return None


def is_count_metric(name: str) -> bool:
    """True for confusion-count metrics (``tp``, ``val_false_negatives``...).

    >>> is_count_metric("val_tp"), is_count_metric("val_accuracy")
    (True, False)
    """
    base = name.removeprefix("val_").rstrip("0123456789").rstrip("_")
    return base in _COUNTS


#: Metric names (without ``val_``) that are the fraction of samples whose
#: argmax / thresholded prediction is right.
ACCURACY_NAMES = ("accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy")
