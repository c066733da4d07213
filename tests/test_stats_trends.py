"""Mann-Kendall / Theil-Sen trend tests against independent computations."""

import itertools
import math

import numpy as np
import pytest

from dynamics.stats.trends import mann_kendall_s, min_attainable_p, trend_test


def _exact_p_by_enumeration(y):
    """Two-sided exact MK p-value: share of all orderings with |S| >= observed |S|."""
    s_obs = abs(mann_kendall_s(np.asarray(y)))
    hits = total = 0
    for perm in itertools.permutations(y):
        total += 1
        hits += abs(mann_kendall_s(np.asarray(perm))) >= s_obs
    return hits / total


def test_s_is_the_hand_count_of_concordant_minus_discordant_pairs():
    y = [0.4206, 0.3844, 0.9045, 0.9078, 0.9105]  # seed val_loss after epoch 3
    # pairs: (1,2) down; the other 9 up -> S = 9 - 1
    assert mann_kendall_s(np.array(y)) == 8


@pytest.mark.parametrize("y", [[0.4206, 0.3844, 0.9045, 0.9078, 0.9105], [3.0, 1.0, 4.0, 1.5, 5.0, 9.0], [5, 4, 3, 2, 1, 0.5]])
def test_exact_p_value_matches_enumeration_of_all_orderings(y):
    x = np.arange(len(y)) * 7 + 1  # gaps in x do not change a rank test
    r = trend_test(x, y)
    assert r.method == "exact"
    assert r.p_value == pytest.approx(_exact_p_by_enumeration(y), abs=1e-12)


def test_theil_sen_slope_is_the_median_pairwise_slope_over_real_epochs():
    x = np.array([4, 5, 75, 76, 77])
    y = np.array([0.4206, 0.3844, 0.9045, 0.9078, 0.9105])
    slopes = [(y[j] - y[i]) / (x[j] - x[i]) for i, j in itertools.combinations(range(5), 2)]
    r = trend_test(x, y)
    assert r.slope == pytest.approx(float(np.median(slopes)))
    assert r.slope_low <= r.slope <= r.slope_high
    assert (r.first_epoch, r.last_epoch) == (4, 77)


def test_verdicts_rising_falling_flat_and_too_few():
    x = np.arange(1, 9)
    assert trend_test(x, x * 0.1).verdict == "rising"
    assert trend_test(x, -x * 0.1).verdict == "falling"
    assert trend_test(x, [1, 3, 2, 4, 1, 3, 2, 3.5]).verdict == "flat"
    # 4 points: even a perfect order has exact p = 2/4! = 0.083 > 0.05
    assert trend_test([1, 2, 3, 4], [1, 2, 3, 4]).verdict == "too few epochs"
    assert min_attainable_p(4) == pytest.approx(1 / 12)


def test_constant_series_is_flat_with_p_one_and_ties_use_the_asymptotic_test():
    r = trend_test(np.arange(1, 7), [0.7188] * 6)
    assert r.verdict == "flat" and r.p_value == 1.0 and math.isnan(r.tau)
    tied = trend_test(np.arange(1, 9), [1, 1, 2, 2, 3, 3, 4, 4])
    assert tied.method == "asymptotic" and tied.verdict == "rising"


def test_nan_values_are_dropped_with_their_epochs():
    r = trend_test([1, 2, 3, 4, 5, 6], [1.0, np.nan, 2.0, 3.0, 4.0, 5.0])
    assert r.n == 5 and r.first_epoch == 1
