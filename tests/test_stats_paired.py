"""McNemar's exact test on per-sample correctness, against a binomial sum written out."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dynamics.errors import ArgumentError
from dynamics.stats.churn import ChurnAccumulator
from dynamics.stats.paired import consecutive_tests, mcnemar_p, mcnemar_test
from dynamics.stats.probabilities import EpochView


def by_hand(b: int, c: int) -> float:
    m = b + c
    if m == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(m, i) for i in range(min(b, c) + 1)) / 2**m)


@pytest.mark.parametrize("b,c", [(0, 0), (0, 5), (0, 6), (3, 3), (10, 2), (47, 38), (117, 156), (400, 350)])
def test_exact_p_value(b, c):
    assert mcnemar_p(b, c) == pytest.approx(by_hand(b, c), rel=1e-9)
    assert mcnemar_p(b, c) == mcnemar_p(c, b)


def test_large_counts_agree_with_the_chi_square_approximation():
    from scipy.stats import chi2

    b, c = 900, 1000
    approx = chi2.sf((abs(b - c) - 1) ** 2 / (b + c), 1)  # McNemar with continuity correction
    assert mcnemar_p(b, c) == pytest.approx(approx, rel=0.05)


def test_mcnemar_test_counts_and_validation():
    rng = np.random.default_rng(2)
    a, z = rng.random(500) < 0.8, rng.random(500) < 0.8
    t = mcnemar_test(a, z)
    assert (t.right_to_wrong, t.wrong_to_right) == (int((a & ~z).sum()), int((~a & z).sum()))
    assert t.accuracy_change == pytest.approx(z.mean() - a.mean())
    with pytest.raises(ArgumentError):
        mcnemar_test(a, z[:10])
    with pytest.raises(ArgumentError):
        mcnemar_p(-1, 2)


def test_consecutive_tests_recover_counts_from_a_churn_table():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 777)
    acc = ChurnAccumulator()
    probas = [rng.dirichlet(np.ones(3), 777) for _ in range(6)]
    for e, p in enumerate(probas, start=1):
        acc.update(EpochView(p, y, epoch=e))
    table = consecutive_tests(acc.table(), 777)
    for e in range(2, 7):
        before = np.argmax(probas[e - 2], axis=1) == y
        after = np.argmax(probas[e - 1], axis=1) == y
        b, c = int((before & ~after).sum()), int((~before & after).sum())
        assert (table.at[e, "right_to_wrong"], table.at[e, "wrong_to_right"]) == (b, c)
        assert table.at[e, "p_value"] == pytest.approx(by_hand(b, c))
    # Benjamini-Hochberg, written out: q_(i) = min_{j >= i} p_(j) m / j
    p = table["p_value"].to_numpy()
    order = np.argsort(p)
    m = len(p)
    q = np.minimum.accumulate((p[order] * m / np.arange(1, m + 1))[::-1])[::-1]
    expected = np.empty(m)
    expected[order] = np.minimum(q, 1)
    assert table["q_value"].to_numpy() == pytest.approx(expected)
    empty = pd.DataFrame(columns=["from_epoch", "changed", "right_to_wrong", "wrong_to_right"], dtype=float)
    assert consecutive_tests(empty, 10).empty  # one recorded epoch: no pair
