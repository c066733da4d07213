"""Datasets: the synthetic reviews (checked against an independent reading of
their text) and IMDB through Keras's loader (offline paths, a local file)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from dynamics.errors import ArgumentError, DataUnavailableError
from dynamics.keras import datasets
from dynamics.keras.synthetic import (
    INTENSIFIERS,
    NEGATIVE,
    NEGATORS,
    POSITIVE,
    SyntheticConfig,
    decode,
    generate,
    vocabulary,
)

SMALL = SyntheticConfig(n_train=600, n_test=200)


def _polarity_sum(words: list[str]) -> int:
    """Read a review as a person would: cue words count +1/-1, a negator flips the next cue.

    Written from the dataset's description, not from the generator's code.
    """
    total, negate = 0, False
    for word in words:
        if word in NEGATORS:
            negate = True
        elif word in INTENSIFIERS:
            continue
        elif word in POSITIVE or word in NEGATIVE:
            value = 1 if word in POSITIVE else -1
            total += -value if negate else value
            negate = False
        else:
            negate = False
    return total


def test_labels_follow_the_text_and_negations_flip_cues():
    x, y, xt, yt = generate(SMALL)
    words = vocabulary(SMALL.vocab_size)
    sums = np.array([_polarity_sum(decode(seq, words).split()) for seq in x + xt])
    labels = np.concatenate([y, yt])
    decided = sums != 0
    assert decided.mean() > 0.8
    assert np.array_equal(labels[decided], (sums[decided] > 0).astype(int))  # every decided review
    negated = sum(any(w in NEGATORS for w in decode(seq, words).split()) for seq in x)
    assert negated > 0.3 * len(x)  # negations are common enough to matter


def test_hidden_reviews_have_no_cue_in_the_model_window():
    config = SyntheticConfig(n_train=2000, n_test=10, hidden_rate=0.25)
    x, y, _, _ = generate(config)
    words = vocabulary(config.vocab_size)
    cues = set(POSITIVE) | set(NEGATIVE)
    no_cue_in_window = np.array([not any(w in cues for w in decode(s[-config.window:], words).split()) for s in x])
    no_cue_at_all = np.array([not any(w in cues for w in decode(s, words).split()) for s in x])
    assert not no_cue_at_all.any()  # every review states an opinion...
    # ...but about a quarter state it only before the last 80 tokens (binomial sd ~ 0.01)
    assert abs(no_cue_in_window.mean() - 0.25) < 0.04
    assert abs(y.mean() - 0.5) < 0.05


def test_generator_is_deterministic_and_shaped_like_imdb():
    a, b = generate(SMALL), generate(SMALL)
    assert all(np.array_equal(p, q) for p, q in zip(a[0], b[0])) and np.array_equal(a[1], b[1])
    c = generate(SyntheticConfig(n_train=600, n_test=200, seed=1))
    assert not np.array_equal(a[1], c[1])
    x = a[0]
    assert all(seq[0] == 1 and seq.dtype == np.int32 and seq.min() >= 1 for seq in x)
    assert max(int(s.max()) for s in x) < SMALL.vocab_size
    assert np.mean([len(s) > 80 for s in x]) > 0.2  # some reviews are cut by maxlen=80
    words = vocabulary(SMALL.vocab_size)
    assert len(set(words)) == len(words) and words[:3] == ["<pad>", "<start>", "<oov>"]


def test_config_checks_arguments():
    with pytest.raises(ArgumentError, match="Received: hidden_rate=1.5"):
        SyntheticConfig(hidden_rate=1.5)
    with pytest.raises(ArgumentError, match="Received: n_train=0"):
        SyntheticConfig(n_train=0)


def test_flip_labels_flips_exactly_the_requested_fraction():
    y = np.array([0, 1] * 50)
    flipped_y, mask = datasets.flip_labels(y, 0.2, seed=4)
    assert mask.sum() == 20 and np.array_equal(flipped_y[mask], 1 - y[mask])
    assert np.array_equal(flipped_y[~mask], y[~mask])
    again, mask2 = datasets.flip_labels(y, 0.2, seed=4)
    assert np.array_equal(mask, mask2)
    with pytest.raises(ArgumentError, match="Received: label_noise=0.7"):
        datasets.flip_labels(y, 0.7, seed=0)


def test_load_synthetic_with_max_samples():
    ds = datasets.load("synthetic", max_samples=50)
    assert (len(ds.x_train), len(ds.x_test)) == (50, 50) and ds.vocabulary[3] == "the"
    with pytest.raises(ArgumentError, match="--data is for --dataset imdb"):
        datasets.load("synthetic", data="imdb.npz")
    with pytest.raises(ArgumentError, match="Received: dataset='mnist'"):
        datasets.load("mnist")


# -- IMDB through keras.datasets.imdb.load_data --------------------------------


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return tmp_path / "keras_home"


def _imdb_module():
    from dynamics.keras.env import import_keras

    keras = import_keras()
    return sys.modules[keras.datasets.imdb.load_data.__module__]


def _fake_imdb_npz(path):
    """A tiny file in imdb.npz's layout: ragged object arrays of word ranks."""
    rng = np.random.default_rng(0)

    def ragged(n):
        out = np.empty(n, dtype=object)
        for i in range(n):
            out[i] = [int(w) for w in rng.integers(1, 50, size=rng.integers(3, 9))]
        return out

    x_train, x_test = ragged(12), ragged(8)
    np.savez(path, x_train=x_train, y_train=np.arange(12) % 2, x_test=x_test, y_test=np.arange(8) % 2)
    return x_train, x_test


@pytest.mark.train
def test_offline_download_failure_becomes_one_line(keras_home, monkeypatch):
    module = _imdb_module()

    def offline(*args, **kwargs):  # what Keras raises here without a network, measured
        raise Exception("URL fetch failure on https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
                        "imdb.npz: None -- [Errno -2] Name or service not known")

    monkeypatch.setattr(module, "get_file", offline)
    with pytest.raises(DataUnavailableError) as info:
        datasets.load_imdb()
    message = str(info.value)
    assert "\n" not in message and "URL fetch failure" in message
    assert "--data PATH" in message and "--dataset synthetic" in message


@pytest.mark.train
def test_local_file_goes_through_keras_loader(tmp_path, keras_home):
    x_train, x_test = _fake_imdb_npz(tmp_path / "imdb.npz")
    ds = datasets.load_imdb(tmp_path / "imdb.npz", num_words=30)
    # Keras's documented transformation: shuffle with RandomState(113), then
    # prepend start_char=1, shift ranks by index_from=3, ids >= num_words -> oov 2
    rng = np.random.RandomState(113)
    order = np.arange(12)
    rng.shuffle(order)
    expected = [[1] + [w + 3 if w + 3 < 30 else 2 for w in x_train[i]] for i in order]
    assert [s.tolist() for s in ds.x_train] == expected
    assert ds.y_train.tolist() == (order % 2).tolist() and len(ds.x_test) == 8
    assert ds.info["source"] == str(tmp_path / "imdb.npz")


@pytest.mark.train
def test_missing_or_damaged_files_are_reported_not_deleted(tmp_path, keras_home):
    with pytest.raises(DataUnavailableError, match="no such file"):
        datasets.load_imdb(tmp_path / "nope.npz")
    cached = keras_home / "datasets" / "imdb.npz"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"half a download")
    with pytest.raises(DataUnavailableError, match="sha256 mismatch"):
        datasets.load_imdb()
    assert cached.read_bytes() == b"half a download"  # Keras would have deleted it
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataUnavailableError, match="could not be read"):
        datasets.load_imdb(tmp_path / "bad.npz")
