"""The recorder's validation inputs without Keras: what counts as arrays or batches,
how many batches a pass takes, and the one-line refusals (endless, shuffled, changed)."""

from __future__ import annotations

import numpy as np
import pytest

from dynamics.errors import ArgumentError
from dynamics.keras.inputs import (
    ArraySource,
    BatchSource,
    Pass,
    align,
    check_ids,
    source_for,
    stacked,
)


class FakePyDataset:
    """What the recorder sees of a keras.utils.PyDataset: num_batches, __getitem__, the epoch hooks."""

    def __init__(self, x, y, batch_size, num_batches="len"):
        self.x, self.y, self.batch_size, self._n = x, y, batch_size, num_batches
        self.calls = []

    @property
    def num_batches(self):
        return -(-len(self.x) // self.batch_size) if self._n == "len" else self._n

    def __getitem__(self, i):
        s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self.x[s], self.y[s]

    def on_epoch_begin(self):
        self.calls.append("begin")

    def on_epoch_end(self):
        self.calls.append("end")


def _xy(n=10):
    return np.arange(n * 2, dtype="float32").reshape(n, 2), np.arange(n) % 2


def test_pairs_are_arrays_and_everything_else_batches():
    x, y = _xy()
    assert isinstance(source_for((x, y)), ArraySource)
    assert isinstance(source_for([[x, x], y]), ArraySource)  # a two-input model's x
    batches = [(x[:5], y[:5]), (x[5:], y[5:])]  # a list of two batches is not a pair
    assert isinstance(source_for(batches), BatchSource) and source_for(batches).n_batches == 2
    assert source_for(FakePyDataset(x, y, 4)).n_batches == 3
    assert source_for(FakePyDataset(x, y, 4), steps=2).n_batches == 2  # at most steps
    assert source_for(iter(batches), steps=7).n_batches == 7


@pytest.mark.parametrize(
    "data, kwargs, message",
    [
        (lambda: (b for b in []), {}, "has no end the recorder can see: pass steps=<batches per epoch>"),
        (lambda: FakePyDataset(*_xy(), 4, num_batches=None), {}, "Received: steps=None"),
        (lambda: _xy(), {"steps": 3}, "steps applies to a dataset or generator, not to arrays"),
        (lambda: iter([]), {"steps": 0}, "Received: steps=0"),
        (lambda: "x", {}, "Received: validation_data=str"),
        (lambda: [(1, 2)] * 3, {"sample_ids": 5}, "Received: sample_ids=5"),
        (lambda: [(1, 2)] * 3, {"sample_ids": [1, 2, 3]}, "not the ids themselves. Received: sample_ids=list"),
    ],
)
def test_refusals_at_construction(data, kwargs, message):
    with pytest.raises(ArgumentError) as info:
        source_for(data(), **kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_pass_over_a_pydataset_and_over_an_iterator():
    x, y = _xy(10)
    dataset = FakePyDataset(x, y, 4)
    source = source_for(dataset)
    source.begin_pass()
    parts = [source.split(b) for b in source.batches()]
    source.end_pass()
    assert [len(p[1]) for p in parts] == [4, 4, 2] and dataset.calls == ["begin", "end"]
    np.testing.assert_array_equal(stacked([p[0] for p in parts]), x)
    # a generator: each pass takes the next `steps` batches, as fit(validation_steps=...) does
    stream = ((x[i:i + 5], y[i:i + 5]) for _ in range(2) for i in (0, 5))
    source = source_for(stream, steps=2)
    for _ in range(2):
        np.testing.assert_array_equal(stacked([source.split(b)[1] for b in source.batches()]), y)
    with pytest.raises(ArgumentError, match="ended before the 2 batches of a pass"):
        list(source.batches())


def test_ids_from_a_batch_item_or_an_input_key():
    x, y = _xy(4)
    ids = np.array([9, 3, 5, 1])
    by_item = source_for([(x, y, ids)], sample_ids=2)
    got_x, got_y, weight, got_ids = by_item.split((x, y, ids))
    assert got_ids.tolist() == [9, 3, 5, 1] and weight is None and got_y.tolist() == y.tolist()
    by_key = source_for([({"tokens": x, "id": ids}, y)], sample_ids="id")
    got_x, _, _, got_ids = by_key.split(({"tokens": x, "id": ids}, y, np.ones(4)))
    assert list(got_x) == ["tokens"] and got_ids.tolist() == [9, 3, 5, 1]
    with pytest.raises(ArgumentError, match="names a key of the input dict"):
        by_key.split((x, y))
    with pytest.raises(ArgumentError, match="must be a tuple \\(x, y\\)"):
        by_item.split(x)
    with pytest.raises(ArgumentError, match="must be unique: 1 repeat"):
        check_ids(np.array([1, 2, 2]), "DataLoader")


def _pass(order, labels, ids=None):
    order = np.asarray(order)
    raw = order / 10.0
    return Pass(raw, np.asarray(labels)[order], order if ids is None else np.asarray(ids))


def test_align_puts_a_reordered_pass_back_by_id_and_refuses_the_rest():
    labels = np.array([0, 1, 1, 0, 1, 0])
    first = _pass(range(6), labels)
    shuffled = _pass([3, 0, 5, 1, 4, 2], labels)
    back = align(first, shuffled, 2, "DataLoader")  # ids from the data: the order is restored
    np.testing.assert_array_equal(back.raw, first.raw)
    np.testing.assert_array_equal(back.ids, first.ids)
    # ids from the order (0..n-1 every pass): only the labels tell the reshuffle
    blind = Pass(shuffled.raw, shuffled.y, np.arange(6))
    with pytest.raises(ArgumentError) as info:
        align(first, blind, 3, "DataLoader")
    message = str(info.value)
    assert "came in another order in epoch 3 than in epoch 1" in message and "shuffle=False" in message
    assert f"the labels of {int((labels[[3, 0, 5, 1, 4, 2]] != labels).sum())} of 6 samples differ" in message
    with pytest.raises(ArgumentError, match="gave 5 samples in epoch 2 and 6 in epoch 1"):
        align(first, _pass(range(5), labels), 2, "DataLoader")
    with pytest.raises(ArgumentError, match="2 of the first epoch's sample ids are missing"):
        align(first, _pass(range(6), labels, ids=[0, 1, 2, 3, 10, 11]), 2, "DataLoader")
    wide = Pass(np.zeros((6, 3)), labels, np.arange(6))
    with pytest.raises(ArgumentError, match="outputs changed shape"):
        align(first, wide, 2, "DataLoader")
