"""Keras 3 EarlyStopping replay and Prechelt's criteria."""

import os

import numpy as np
import pytest

from dynamics.errors import ArgumentError
from dynamics.stats.early_stopping import (
    early_stopping_table,
    missing_ranges,
    replay_early_stopping,
)
from dynamics.stats.prechelt import prechelt_criteria, prechelt_table

SEED_EPOCHS = [1, 2, 3, 4, 5, 75, 76, 77]
SEED_VAL_LOSS = [0.4305, 0.3791, 0.3736, 0.4206, 0.3844, 0.9045, 0.9078, 0.9105]
SEED_LOSS = [0.5438, 0.3843, 0.3099, 0.2458, 0.2120, 0.0134, 0.0156, 0.0129]


def test_seed_patience_2_stops_at_5_keeping_3_and_larger_patience_is_unknown(seed_run):
    table = early_stopping_table(seed_run)
    assert (table.loc[2, "status"], table.loc[2, "stop_epoch"], table.loc[2, "kept_epoch"]) == ("stopped", 5, 3)
    assert table.loc[2, "epochs_saved"] == 95
    assert table.loc[2, "kept_val_accuracy"] == 0.8440
    assert list(table.loc[[0, 1], "stop_epoch"]) == [4, 4]
    for p in range(3, 11):
        assert table.loc[p, "status"] == "undetermined"
        assert table.loc[p, "reason"] == "epochs 6-74 are missing from the log"


class _FakeModel:
    """What keras.callbacks.EarlyStopping touches on a model."""

    def __init__(self):
        self.stop_training = False
        self.epoch = None
        self.restored = None

    def get_weights(self):
        return [self.epoch]

    def set_weights(self, weights):
        self.restored = weights[0]


def _keras_outcome(values, **kwargs):
    from keras.callbacks import EarlyStopping  # noqa: PLC0415 - keras only for this comparison

    cb = EarlyStopping(monitor="val_loss", **kwargs)
    model = _FakeModel()
    cb.set_model(model)
    cb.on_train_begin()
    stop = None
    for epoch, v in enumerate(values):
        model.epoch = epoch + 1
        cb.on_epoch_end(epoch, {"val_loss": v})
        if model.stop_training:
            stop = epoch + 1
            break
    cb.on_train_end()
    last = stop or len(values)
    kept = model.restored if model.restored is not None else last
    return ("stopped" if stop else "completed"), last, kept


@pytest.mark.train
def test_replay_matches_keras_early_stopping_decision_by_decision():
    os.environ.setdefault("KERAS_BACKEND", "jax")  # the project's backend; tensorflow is not installed
    pytest.importorskip("keras")
    rng = np.random.default_rng(3)
    for trial in range(250):
        n = int(rng.integers(2, 25))
        # dyadic values: exact in float32 as in float64, so Keras's backend ops compare them the same way
        values = (np.cumsum(rng.integers(-3, 4, size=n)) + 64) / 64.0
        mode = str(rng.choice(["min", "max"]))
        kwargs = dict(patience=int(rng.integers(0, 5)), mode=mode, min_delta=float(rng.choice([0.0, 1 / 32, 1 / 16])),
                      restore_best_weights=bool(rng.integers(0, 2)), start_from_epoch=int(rng.integers(0, 4)))
        if rng.random() < 0.3:
            kwargs["baseline"] = float(values[0] + (rng.integers(-3, 4) / 64.0))
        expected = _keras_outcome(values.tolist(), **kwargs)
        got = replay_early_stopping(np.arange(1, n + 1), values, final_epoch=n, **kwargs)
        assert (got.status, got.stop_epoch, got.kept_epoch) == expected, (trial, values.tolist(), kwargs)


def test_missing_epochs_only_matter_once_the_rule_reaches_them():
    ep = [1, 2, 3, 10, 11]
    v = [0.5, 0.6, 0.7, 0.1, 0.1]
    assert replay_early_stopping(ep, v, patience=1).stop_epoch == 2  # decided before the gap
    assert replay_early_stopping(ep, v, patience=3).reason == "epochs 4-9 are missing from the log"
    # epochs skipped by start_from_epoch may be missing without doing harm
    o = replay_early_stopping([4, 5, 6], [0.5, 0.6, 0.7], patience=1, start_from_epoch=3)
    assert (o.status, o.stop_epoch) == ("stopped", 5)
    assert replay_early_stopping([4, 5, 6], [0.5, 0.6, 0.7], patience=1).reason == "epochs 1-3 are missing from the log"


def test_values_that_tie_at_print_precision_are_followed_both_ways():
    ep, v = [1, 2, 3, 4], [0.5, 0.4, 0.4, 0.41]
    tied = replay_early_stopping(ep, v, patience=1, halfwidths=[5e-5] * 4)
    assert tied.status == "undetermined" and "stops at epoch 3 or 4" in tied.reason
    exact = replay_early_stopping(ep, v, patience=1)  # full precision: 0.4 is not below 0.4
    assert (exact.status, exact.stop_epoch) == ("stopped", 3)
    # a tie that cannot change the answer leaves it known
    assert replay_early_stopping(ep, [0.5, 0.4, 0.4, 0.6], patience=0, halfwidths=[5e-5] * 4).status == "undetermined"
    assert replay_early_stopping(ep, [0.5, 0.4, 0.4001, 0.6], patience=5, final_epoch=4,
                                 halfwidths=[5e-5] * 4).status == "completed"


def test_printed_nan_never_improves_but_an_absent_value_is_unknown():
    o = replay_early_stopping([1, 2, 3], [0.5, float("nan"), float("nan")], patience=1, printed_nan=[2, 3])
    assert (o.status, o.stop_epoch) == ("stopped", 2)
    assert replay_early_stopping([1, 2, 3], [0.5, float("nan"), 0.4], patience=1).reason == "val_loss is missing at epoch 2"


def test_arguments_are_checked():
    with pytest.raises(ArgumentError, match="Received: patience=-1"):
        replay_early_stopping([1], [0.5], patience=-1)
    with pytest.raises(ArgumentError, match="mode"):
        replay_early_stopping([1], [0.5], mode="auto")


def test_missing_ranges():
    assert missing_ranges([3, 4, 9]) == [(1, 2), (5, 8)]
    assert missing_ranges([1, 2], upto=2) == []


def test_prechelt_gl_by_hand_on_the_seed():
    out = {o.rule: o for o in prechelt_criteria(SEED_EPOCHS, SEED_VAL_LOSS, SEED_LOSS, final_epoch=100)}
    # GL(4) = 100 (0.4206 / 0.3736 - 1) = 12.58 > 5: every GL_alpha up to 12 stops at epoch 4
    assert 100 * (0.4206 / 0.3736 - 1) == pytest.approx(12.58, abs=0.01)
    for alpha in ("1", "2", "3", "5"):
        assert (out[f"GL_{alpha}"].stop_epoch, out[f"GL_{alpha}"].kept_epoch) == (4, 3)
    # PQ at the first strip end (5): GL(5)=2.89, P_5(5)=1000(mean/min-1)=599.8 -> 0.005, no stop; epoch 10 missing
    assert out["PQ_0.5"].status == "undetermined" and "6-74" in out["PQ_0.5"].reason
    assert out["UP_2"].status == "undetermined"


def test_prechelt_pq_and_up_by_hand():
    # val error falls to epoch 5, then rises at strip ends 10 and 15; training error falls steadily
    ep = np.arange(1, 16)
    va = np.array([1.0, 0.9, 0.8, 0.7, 0.6, 0.62, 0.64, 0.66, 0.68, 0.70, 0.72, 0.74, 0.76, 0.78, 0.80])
    tr = 1.0 / ep
    out = {o.rule: o for o in prechelt_criteria(ep, va, tr, gl_alphas=[15.0], pq_alphas=[0.5], up_strips=[1, 2])}
    # GL(t) = 100 (va/0.6 - 1) first exceeds 15 at 0.70 (t=10: 16.7)
    assert out["GL_15"].stop_epoch == 10
    # P_5(10) = 1000 (mean(1/6..1/10) / 0.1 - 1) = 1000 * 0.3456 = 345.6; PQ(10) = 16.67 / 345.6 = 0.048
    # P_5(15) = 1000 (mean(1/11..1/15)/(1/15) - 1) = 195.2; PQ(15) = 33.3 / 195.2 = 0.17 -> PQ_0.5 never stops
    assert out["PQ_0.5"].status == "undetermined" and "log ends" in out["PQ_0.5"].reason
    # UP_1: E(10) > E(5) -> stop at 10; UP_2 needs E(15) > E(10) too -> 15
    assert out["UP_1"].stop_epoch == 10 and out["UP_2"].stop_epoch == 15


def test_prechelt_table_on_a_run(seed_run):
    table = prechelt_table(seed_run)
    assert table.loc["GL_2", "stop_epoch"] == 4
    assert set(table["status"]) == {"stopped", "undetermined"}
