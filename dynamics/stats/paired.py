"""Paired comparison of two epochs scored on the same samples: McNemar's exact test.

Two epochs of one run are evaluated on the same validation samples, so the
question "is epoch B's accuracy really different from epoch A's?" is a
*paired* one. Only the samples whose correctness changed carry information:
``b`` went right -> wrong, ``c`` went wrong -> right (the accuracy change is
``(c - b) / n``). Under the null hypothesis that both epochs have the same
accuracy, each changed sample is equally likely to go either way, so
``c ~ Binomial(b + c, 1/2)`` -- McNemar's test in its exact (binomial) form
(McNemar 1947; Fagerland, Lydersen & Laake 2013 recommend the exact or
mid-p version for small ``b + c``). A log shows only ``c - b``; a recorded
run shows ``b`` and ``c``, so the test can be run.

Samples that changed from one wrong class to another (k classes) are
unchanged in correctness and do not enter the test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dynamics.errors import ArgumentError
from dynamics.stats.result import Result

__all__ = ["consecutive_tests", "McNemar", "mcnemar_p", "mcnemar_test"]


@dataclass(frozen=True)
class McNemar(Result):
    """Outcome of :func:`mcnemar_test`.

    ``right_to_wrong`` (b) and ``wrong_to_right`` (c) are sample counts,
    ``n`` the number of samples, ``p_value`` the exact two-sided p-value.
    """

    right_to_wrong: int
    wrong_to_right: int
    n: int
    p_value: float

    @property
    def discordant(self) -> int:
        """Samples whose correctness changed (b + c)."""
        return self.right_to_wrong + self.wrong_to_right

    @property
    def accuracy_change(self) -> float:
        """(c - b) / n: exactly the change in accuracy."""
        return (self.wrong_to_right - self.right_to_wrong) / self.n if self.n else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {"right_to_wrong": self.right_to_wrong, "wrong_to_right": self.wrong_to_right, "n": self.n,
                "discordant": self.discordant, "accuracy_change": self.accuracy_change, "p_value": self.p_value}


def mcnemar_p(right_to_wrong: int, wrong_to_right: int) -> float:
    """Exact two-sided McNemar p-value from the two discordant counts.

    ``scipy.stats.binomtest(c, b + c, 0.5)``; 1.0 when no sample changed.

    Examples
    --------
    >>> round(mcnemar_p(2, 10), 4), mcnemar_p(0, 0), mcnemar_p(0, 6)
    (0.0386, 1.0, 0.03125)
    """
    from scipy.stats import binomtest

    b, c = int(right_to_wrong), int(wrong_to_right)
    if b < 0 or c < 0:
        raise ArgumentError(f"counts must be >= 0. Received: right_to_wrong={b}, wrong_to_right={c}")
    if b + c == 0:
        return 1.0
    return float(binomtest(c, b + c, 0.5).pvalue)


def mcnemar_test(correct_before: Any, correct_after: Any) -> McNemar:
    """McNemar's exact test between two epochs' per-sample correctness.

    Parameters
    ----------
    correct_before, correct_after : array-like of bool, shape (n,)
        Whether each sample was classified correctly at the two epochs.

    Returns
    -------
    McNemar

    Examples
    --------
    >>> t = mcnemar_test([True, True, False, False, True], [True, False, True, True, True])
    >>> t.right_to_wrong, t.wrong_to_right, t.p_value, t.accuracy_change
    (1, 2, 1.0, 0.2)
    """
    a = np.asarray(correct_before, dtype=bool)
    z = np.asarray(correct_after, dtype=bool)
    if a.shape != z.shape or a.ndim != 1:
        raise ArgumentError(
            f"correct_before and correct_after must be 1-D and of one length. Received: shapes {a.shape} and {z.shape}"
        )
    b = int(np.count_nonzero(a & ~z))
    c = int(np.count_nonzero(~a & z))
    return McNemar(b, c, int(a.shape[0]), mcnemar_p(b, c))


def consecutive_tests(churn: pd.DataFrame, n: int, *, alpha: float = 0.05) -> pd.DataFrame:
    """McNemar's test for every pair of consecutive epochs of a churn table.

    Parameters
    ----------
    churn : DataFrame
        :func:`~dynamics.stats.churn.churn_table` (fractions of ``n`` per pair,
        indexed by the later epoch, with ``from_epoch``).
    n : int
        Number of samples the fractions are of.
    alpha : float
        Level for the ``significant`` and ``significant_fdr`` columns.

    Returns
    -------
    DataFrame
        Indexed by the later epoch: ``from_epoch``, ``changed`` (samples whose
        class changed), ``right_to_wrong``, ``wrong_to_right`` (counts),
        ``accuracy_change``, ``p_value`` (exact McNemar), ``q_value``
        (Benjamini-Hochberg over the pairs, ``scipy.stats.false_discovery_control``),
        ``significant`` (p < alpha) and ``significant_fdr`` (q < alpha).

    Examples
    --------
    >>> churn = pd.DataFrame({"from_epoch": [1, 2], "changed": [0.1, 0.02], "right_to_wrong": [0.0, 0.01],
    ...                       "wrong_to_right": [0.1, 0.01]}, index=pd.Index([2, 3], name="epoch"))
    >>> t = consecutive_tests(churn, 100)
    >>> t["wrong_to_right"].tolist(), t["significant"].tolist()
    ([10, 1], [True, False])
    """
    from scipy.stats import false_discovery_control

    if n < 1:
        raise ArgumentError(f"n must be >= 1. Received: n={n}")
    # The churn table stores count / n; rounding recovers the integer counts exactly.
    b = np.rint(churn["right_to_wrong"].to_numpy(dtype=float) * n).astype(int)
    c = np.rint(churn["wrong_to_right"].to_numpy(dtype=float) * n).astype(int)
    p = np.array([mcnemar_p(x, y) for x, y in zip(b, c)], dtype=float)
    q = false_discovery_control(p) if p.size else p
    table = pd.DataFrame(
        {
            "from_epoch": churn["from_epoch"].to_numpy(dtype=int),
            "changed": np.rint(churn["changed"].to_numpy(dtype=float) * n).astype(int),
            "right_to_wrong": b,
            "wrong_to_right": c,
            "accuracy_change": (c - b) / n,
            "p_value": p,
            "q_value": q,
            "significant": p < alpha,
            "significant_fdr": q < alpha,
        },
        index=churn.index.copy(),
    )
    table.index.name = "epoch"
    return table
