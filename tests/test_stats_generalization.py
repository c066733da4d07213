"""Gap, best epochs, overfitting onset, training-loss rises and sanity limits."""

import math

import numpy as np
import pytest
from scipy import stats

from dynamics.run import Run, make_epoch_table
from dynamics.stats.fluctuations import loss_rises, loss_rises_of_run
from dynamics.stats.generalization import (
    best_epoch,
    gap_table,
    generalization_gap,
    overfitting_onset,
    overfitting_onset_of_run,
)
from dynamics.stats.precision import metric_direction, print_halfwidth
from dynamics.stats.sanity import (
    frozen_stretches,
    loss_excess_table,
    loss_limits,
    prior_entropy_range,
)


def test_gap_is_positive_when_validation_is_worse(seed_run):
    gaps = gap_table(seed_run)
    assert list(gaps.columns) == ["loss", "accuracy"]
    assert gaps.loc[77, "loss"] == pytest.approx(0.9105 - 0.0129)
    assert gaps.loc[77, "accuracy"] == pytest.approx(0.9883 - 0.8234)
    assert gaps.loc[1, "loss"] < 0  # val below train at epoch 1: the dropout / running-mean artefact
    with pytest.raises(ValueError):
        generalization_gap([1.0], [1.0], "up")


def test_gap_table_skips_confusion_counts_and_unknown_directions():
    run = Run(make_epoch_table({1: {"loss": 1.0, "val_loss": 1.2, "tp": 4.0, "val_tp": 1.0, "foo": 1.0, "val_foo": 2.0}}))
    assert list(gap_table(run).columns) == ["loss"]


def test_best_epoch_keeps_the_first_of_ties():
    assert best_epoch([1, 2, 3], [0.5, 0.4, 0.4], "min") == (2, 0.4)
    assert best_epoch([1, 2, 3], [0.5, 0.8, 0.8], "max") == (2, 0.8)
    assert best_epoch([1], [np.nan], "min") is None


def test_seed_onset(seed_run):
    o = overfitting_onset_of_run(seed_run)
    assert (o.status, o.best_epoch, o.best_val, o.onset_epoch, o.last_val) == ("overfitting", 3, 0.3736, 4, 0.9105)
    assert o.rise_pct == pytest.approx(100 * (0.9105 / 0.3736 - 1))
    assert round(o.rise_pct) == 144
    assert o.train_last == 0.0129
    assert o.val_trend.n == 5 and o.val_trend.s == 8


def test_onset_kinds():
    ep = np.arange(1, 7)
    assert overfitting_onset(ep, [0.5, 0.4, 0.3, 0.2, 0.1, 0.05], 1 / ep).status == "still improving"
    # a rise inside print rounding is no rise
    assert overfitting_onset(ep, [0.5, 0.4, 0.3, 0.2, 0.1, 0.10009], 1 / ep).status == "still improving"
    assert overfitting_onset(ep, [0.5, 0.4, 0.3, 0.4, 0.5, 0.6], [0.5, 0.4, 0.3, 0.4, 0.5, 0.6]).status == "both rising"
    o = overfitting_onset([1, 2, 3, 10], [0.5, 0.4, 0.3, 0.6], [0.5, 0.4, 0.3, 0.2])
    assert (o.onset_epoch, o.onset_known) == (10, False)


def test_print_halfwidth_follows_keras_formatting():
    assert print_halfwidth([0.3736, 12.5, 5.1156e-04, 0.0]).tolist() == [5e-5, 5e-5, 5e-9, 0.0]
    assert print_halfwidth([0.5], exact=True)[0] == pytest.approx(5e-7)
    assert metric_direction("val_mean_absolute_error") == "min"
    assert metric_direction("val_auc_1") == "max"
    assert metric_direction("val_mcc") is None


def test_seed_training_loss_rise_at_76(seed_run):
    rises = loss_rises_of_run(seed_run)
    assert list(rises.index) == [76]
    r = rises.loc[76]
    assert round(r.rise, 4) == 0.0022
    assert round(r.rise_pct) == 16
    assert r.recovered_at == 77
    assert r.pct_of_initial == pytest.approx(100 * 0.0022 / 0.5438)


def test_rises_need_consecutive_epochs_and_more_than_rounding():
    rises = loss_rises([1, 2, 5, 6], [0.5, 0.4, 0.6, 0.40005])
    assert rises.empty  # 2 -> 5 is across a gap; 5 -> 6 falls
    assert loss_rises([1, 2], [0.4, 0.40009]).empty  # within two half-widths


def test_loss_limits_by_hand():
    lo, hi = loss_limits(0.97, classes=10)
    assert lo == pytest.approx(0.03 * math.log(2))
    assert hi == pytest.approx(0.03 * -math.log(1e-7) + 0.97 * math.log(10))


def test_prior_entropy_range_matches_scipy_entropy():
    lo, hi = prior_entropy_range(0.7188, classes=3)
    assert lo == pytest.approx(stats.entropy([0.7188, 0.2812]))
    assert hi == pytest.approx(stats.entropy([0.7188, 0.1406, 0.1406]))


def test_frozen_stretches_and_loss_excess():
    assert frozen_stretches([1, 2, 3, 5, 6, 7], [0.7, 0.7, 0.7, 0.7, 0.7, 0.6], min_length=3) == [(1, 3, 0.7)]
    run = Run(make_epoch_table({1: {"val_loss": 1.0, "val_a_loss": 0.4, "val_b_loss": 0.5}}))
    assert loss_excess_table(run).tolist() == [pytest.approx(0.1)]
    assert loss_excess_table(Run(make_epoch_table({1: {"val_loss": 1.0}}))) is None
