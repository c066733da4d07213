"""Float16 storage: the loss range each stored value allows, checked against float32 truth."""

from __future__ import annotations

import numpy as np
import pytest

from dynamics.stats.storage import (
    FLOAT16_TOP,
    loss_interval,
    rounding_interval,
    stored_loss,
)


def keras_bce(p32: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Keras's binary cross-entropy on float32 outputs, written out (clip in float32, then log)."""
    eps = np.float32(1e-7)
    pc = np.clip(p32, eps, np.float32(1) - eps).astype(np.float64)
    return -(y * np.log(pc) + (1 - y) * np.log(1 - pc))


def test_every_float32_probability_lies_in_the_interval_of_its_float16():
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.random(20000), 1 - 10 ** rng.uniform(-9, -1, 20000), 10 ** rng.uniform(-9, -1, 20000)])
    p32 = p.astype(np.float32)
    lo, hi = rounding_interval(p32.astype(np.float16))
    x = p32.astype(np.float64)
    assert np.all((lo <= x) & (x <= hi))
    y = rng.integers(0, 2, p.size)
    llo, lhi = loss_interval(p32.astype(np.float16), y)
    truth = keras_bce(p32, y)
    assert np.all((llo - 1e-9 <= truth) & (truth <= lhi + 1e-9))


def test_the_saturated_mistake_and_its_range():
    assert np.float16(FLOAT16_TOP) < 1 and np.float16(FLOAT16_TOP + 2**-12 + 1e-7) == 1.0
    lo, hi = loss_interval(np.array([1.0], dtype=np.float16), np.array([0]))
    assert hi[0] == keras_bce(np.array([1.0], dtype=np.float32), np.array([0]))[0]  # 15.94: clipped in float32
    assert lo[0] == -np.log(2**-12)  # the largest float32 that rounds to 1.0 leaves 2**-12 to class 0


def test_stored_loss_brackets_the_mean_keras_computed():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 5000)
    logit = np.where(y == 1, 1, -1) * rng.normal(3, 6, 5000)  # many confident mistakes either way
    p32 = (1 / (1 + np.exp(-logit))).astype(np.float32)
    p16 = p32.astype(np.float16)
    stored = p16.astype(np.float64)
    recomputed = keras_bce(p16.astype(np.float32), y)
    correct = (stored > 0.5) == (y == 1)
    s = stored_loss(p16, y)
    assert s.stored_mean == pytest.approx(recomputed.mean(), rel=1e-12)
    assert s.wrong_low <= recomputed[~correct].mean() <= s.wrong_high
    truth = keras_bce(p32, y)
    assert s.saturated == int(((p16 == 1) & (y == 0)).sum()) > 50
    assert s.low <= truth.mean() <= s.high
    assert s.stored_mean > truth.mean() + 0.01  # float16 overstates the confident mistakes
    wrong = ~correct
    assert s.wrong_low <= truth[wrong].mean() <= s.wrong_high
