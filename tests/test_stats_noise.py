"""Wilson intervals, the variance-ratio test, counts and n_val inference."""

import math

import numpy as np
import pytest
from scipy import stats

from dynamics.stats.noise import (
    count_range,
    fits_denominator,
    infer_n_val,
    mcnemar_min_p,
    min_changed_samples,
    n_to_resolve,
    variance_ratio_test,
    wilson_interval,
)


@pytest.mark.parametrize("k,n", [(2110, 2500), (2058, 2500), (0, 20), (20, 20), (56, 75), (1, 3)])
def test_wilson_matches_scipy_binomtest(k, n):
    ci = stats.binomtest(k, n).proportion_ci(method="wilson")
    lo, hi = wilson_interval(k / n, n)
    assert float(lo) == pytest.approx(ci.low, abs=1e-12)
    assert float(hi) == pytest.approx(ci.high, abs=1e-12)


def test_seed_intervals_are_about_one_and_a_half_points():
    lo, hi = wilson_interval(np.array([0.8440, 0.8234]), 2500)
    half = (hi - lo) / 2
    assert np.all((half > 0.0135) & (half < 0.0155))


def test_variance_ratio_statistic_by_hand():
    a = np.array([0.8372, 0.8384, 0.8132, 0.8211, 0.8234])
    r = variance_ratio_test(a, 2500)
    p = a.mean()
    stat = ((a - p) ** 2).sum() / (p * (1 - p) / 2500)
    assert r.statistic == pytest.approx(stat)
    assert r.df == 4
    assert r.p_value == pytest.approx(stats.chi2.sf(stat, 4))
    # n_significant is where the same spread reaches the 5 % critical value
    assert variance_ratio_test(a, math.ceil(r.n_significant)).p_value <= 0.05 < variance_ratio_test(
        a, math.floor(r.n_significant)).p_value


def test_variance_ratio_test_holds_its_level_on_binomial_draws():
    rng = np.random.default_rng(0)
    n, m, trials = 2500, 6, 2000
    draws = rng.binomial(n, 0.83, size=(trials, m)) / n
    rejected = np.mean([variance_ratio_test(row, n).p_value < 0.05 for row in draws])
    assert 0.03 < rejected < 0.07


def test_counts_respect_print_rounding():
    assert count_range(0.8440, 2500, 5e-5) == (2110, 2110)
    lo, hi = count_range(0.8234, 2500, 5e-5)
    assert lo > hi  # no whole count prints as 0.8234
    # brute force: the fewest changed samples between two printed accuracies
    for a1, a2, n in [(0.8076, 0.8332, 2500), (0.7467, 0.7333, 75), (0.5, 0.5, 10)]:
        ks1 = [k for k in range(n + 1) if round(k / n, 4) == a1]
        ks2 = [k for k in range(n + 1) if round(k / n, 4) == a2]
        assert min_changed_samples(a1, a2, n) == min(abs(x - y) for x in ks1 for y in ks2)


def test_mcnemar_minimum_is_all_flips_one_way():
    for d in range(1, 12):
        assert mcnemar_min_p(d) == pytest.approx(stats.binomtest(0, d, 0.5).pvalue)
        # any flips in both directions (b > 0, c = b + d) only raise the exact p-value
        ps = [stats.binomtest(b, 2 * b + d, 0.5).pvalue for b in range(0, 6)]
        assert all(x <= y + 1e-15 for x, y in zip(ps, ps[1:]))


def test_n_to_resolve_gives_80_percent_power():
    delta, p = 0.005, 0.83
    n = n_to_resolve(delta, p)
    p1, p2 = p + delta / 2, p - delta / 2

    def power(m):
        pbar = (p1 + p2) / 2
        se0 = math.sqrt(2 * pbar * (1 - pbar) / m)
        se1 = math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / m)
        return stats.norm.cdf((delta - stats.norm.isf(0.025) * se0) / se1)

    assert power(n) >= 0.8 > power(n - 2)


def test_fits_denominator_flags_the_seed_epochs_76_and_77():
    seed = np.array([0.8076, 0.8332, 0.8440, 0.8372, 0.8384, 0.8132, 0.8211, 0.8234])
    fits = fits_denominator(seed, 2500, np.full(8, 5e-5))
    assert fits.tolist() == [True] * 6 + [False, False]


def test_infer_n_val_finds_a_small_denominator_with_certainty():
    r = infer_n_val(np.array([56, 61, 58, 60, 57, 59]) / 75)
    assert r.n == 75 and r.certainty == "certain" and r.chance < 1e-6


def test_infer_n_val_is_right_or_says_it_cannot_tell():
    rng = np.random.default_rng(1)
    for _ in range(30):
        n = int(rng.integers(20, 3000))
        values = np.round(rng.integers(int(0.6 * n), int(0.9 * n), size=8) / n, 4)
        r = infer_n_val(values)
        assert r.n is not None and r.n <= n
        assert fits_denominator(values, r.n, np.full(8, 5e-5)).all()
        if r.certainty == "certain":
            assert n % r.n == 0  # n itself, or the values happen to be multiples of 1/divisor


def test_infer_n_val_on_unrelated_values_is_not_identifiable():
    rng = np.random.default_rng(2)
    values = np.round(rng.uniform(0.6, 0.9, size=6), 4)
    assert infer_n_val(values).certainty == "not identifiable"
