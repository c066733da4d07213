"""Compact storage for many classes: every statistic against the same statistic on full vectors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import entropy as scipy_entropy

from dynamics.diagnosis.samples.stories import explain
from dynamics.errors import ArgumentError, InputError
from dynamics.run import Predictions, Run, RunMeta
from dynamics.simulate import epoch_arrays
from dynamics.sources.rundir import RunDirWriter, read_run_dir
from dynamics.sources.rundir.compact import CompactEpochs, compact_dtype, encode_compact
from dynamics.stats.analysis import analyze_predictions
from dynamics.stats.compact import UNAVAILABLE, CompactView

K, N, E, TOP = 20, 1500, 8, 3


@pytest.fixture(scope="module")
def pair():
    """The same simulated run twice: full float32 vectors (the oracle) and compact records."""
    y, arrays = epoch_arrays("overconfident", n=N, epochs=E, classes=K, seed=4, label_noise=0.05, dtype=np.float32)
    full = list(arrays)
    epochs = np.arange(1, E + 1)
    compact = CompactEpochs([encode_compact(p, y, TOP) for p in full], top_k=TOP, n_classes=K)
    return (Predictions(epochs, y, full, np.arange(N)), Predictions(epochs, y, compact, np.arange(N)))


@pytest.fixture(scope="module")
def analyses(pair):
    full, compact = pair
    return analyze_predictions(full), analyze_predictions(compact)


def test_records_against_numpy_on_the_full_vectors(pair):
    full, compact = pair
    p, rec, y = full.proba[-1].astype(np.float64), compact.proba[-1], full.y_true
    p /= p.sum(axis=1, keepdims=True)
    assert rec.dtype == compact_dtype(TOP, K) and rec.dtype.itemsize == 18
    order = np.argsort(-p, axis=1, kind="stable")[:, :TOP]  # independent top-k: a full stable sort
    assert np.array_equal(rec["top_class"], order)
    # float16 log-probabilities: half a float16 step (2**-11 of |log p|; 2**-25 among subnormals), clipped at log 1e-7
    for stored, exact in ((rec["top_logp"], np.take_along_axis(p, order, 1)), (rec["true_logp"], p[np.arange(N), y])):
        log_p = np.log(np.maximum(exact, 1e-7))
        assert np.all(np.abs(stored.astype(float) - log_p) <= 2.0**-11 * np.abs(log_p) + 2.0**-25)
    np.testing.assert_allclose(rec["entropy"].astype(float), scipy_entropy(p, axis=1), rtol=1e-3, atol=1e-6)
    onehot = np.eye(K)[y]
    np.testing.assert_allclose(rec["brier"].astype(float), ((p - onehot) ** 2).sum(axis=1), rtol=1e-3, atol=1e-6)


def test_ties_put_the_first_argmax_first():
    p = np.array([[0.2, 0.2, 0.2, 0.2, 0.2], [0.1, 0.3, 0.3, 0.2, 0.1]])
    rec = encode_compact(p, np.array([4, 2]), 2)
    assert rec["top_class"].tolist() == [[0, 1], [1, 2]]


def test_per_epoch_statistics_match_the_full_vectors(analyses):
    a_full, a_comp = analyses
    f, c = a_full.per_epoch, a_comp.per_epoch
    # exact: the predicted class is the stored top-1 class
    np.testing.assert_array_equal(f["accuracy"], c["accuracy"])
    # the loss comes from the float16 log-probability of the label: 0.004 nats a sample at most
    np.testing.assert_allclose(c["val_loss"], f["val_loss"], rtol=2e-3, atol=1e-4)
    for col in a_full.groups["decomposition"] + a_full.groups["confidence"]:
        np.testing.assert_allclose(c[col], f[col], rtol=5e-3, atol=2e-3, err_msg=col)
    for col in ("ece", "mce", "brier", "uncertainty"):
        np.testing.assert_allclose(c[col], f[col], rtol=5e-3, atol=2e-3, err_msg=col)
    assert c[["reliability", "resolution", "residual"]].isna().all().all()
    assert "temperature" in f and "temperature" not in c
    assert a_comp.unavailable == UNAVAILABLE and a_full.unavailable == {}


def test_top_k_accuracy_against_a_full_sort(pair, analyses):
    full, _ = pair
    col = analyses[1].per_epoch[f"top{TOP}_accuracy"]
    for i, p in enumerate(full.proba):
        top = np.argsort(-p.astype(np.float64), axis=1, kind="stable")[:, :TOP]
        assert col.iloc[i] == pytest.approx((top == full.y_true[:, None]).any(axis=1).mean())


def test_per_sample_statistics_match(analyses):
    a_full, a_comp = analyses
    assert a_full.best_epoch == a_comp.best_epoch
    for name in ("flips", "flips_since_best", "correctness", "pred_best", "pred_end", "correct_end"):
        np.testing.assert_array_equal(a_comp.arrays[name], a_full.arrays[name], err_msg=name)
    for name in ("confidence", "variability", "p_true_end", "loss_change"):
        np.testing.assert_allclose(a_comp.arrays[name], a_full.arrays[name], rtol=2e-2, atol=2e-3, err_msg=name)
    np.testing.assert_array_equal(a_comp.churn.to_numpy(), a_full.churn.to_numpy())
    np.testing.assert_allclose(a_comp.reliability["count"], a_full.reliability["count"], atol=2)
    assert set(a_comp.label_issues["sample"]) == set(a_full.label_issues["sample"])


def test_explain_says_what_compact_storage_cannot_compute(pair):
    full, compact = pair
    meta = RunMeta(source="sim", format="recorded", n_val=N)
    table = analyze_predictions(full).per_epoch[["val_loss", "accuracy"]].rename(columns={"accuracy": "val_accuracy"})
    by_full = {f.code: f for f in explain(Run(table.copy(), meta, predictions=full))}
    by_comp = {f.code: f for f in explain(Run(table.copy(), meta, predictions=compact))}
    assert set(by_full) == set(by_comp)
    t = by_comp["temperature_scaling"]
    assert t.severity == "undetermined" and "not available with compact storage" in t.claim
    assert by_full["temperature_scaling"].severity != "undetermined"
    for code in ("overconfident_mistakes", "minority_loss_growth", "borderline_flipping", "churn", "forgetting"):
        assert by_comp[code].severity == by_full[code].severity, code


def test_view_refuses_the_full_vector(pair):
    _, compact = pair
    view = CompactView(compact.proba[0], compact.y_true, n_classes=K, epoch=1)
    with pytest.raises(InputError, match="compact storage keeps the top 3 of 20 classes"):
        view.proba
    with pytest.raises(InputError, match="stored compactly"):
        compact.stacked()
    assert compact.n_classes == K and compact.compact


def _write(path, *, top_k=TOP, epochs=3, train=True):
    rng = np.random.default_rng(1)
    y = rng.integers(0, K, 50)
    writer = RunDirWriter(path, top_k=top_k)
    writer.start({"n_val": 50}, val_labels=y, train_labels=y[:10] if train else None)
    probas = []
    for epoch in range(1, epochs + 1):
        p = rng.dirichlet(np.ones(K), 50).astype(np.float32)
        writer.write_epoch(epoch, {"loss": 1.0, "val_loss": 2.0}, val_proba=p, train_proba=p[:10] if train else None)
        probas.append(p)
    writer.finish()
    return y, probas


def test_run_directory_round_trip(tmp_path):
    y, probas = _write(tmp_path / "r")
    meta = json.loads((tmp_path / "r" / "meta.json").read_text())
    assert meta["format_version"] == 3 and meta["prediction_encoding"] == "compact-float16"
    assert (meta["compact_top_k"], meta["compact_classes"]) == (TOP, K)
    assert (tmp_path / "r" / "val" / "epoch_0001.npy").stat().st_size < 50 * 18 + 300  # the header names the fields
    run = read_run_dir(tmp_path / "r")
    assert run.meta.classes == K and run.predictions.compact and run.train_predictions.compact
    for stored, p in zip(run.predictions.proba, probas):
        np.testing.assert_array_equal(stored, encode_compact(p, y, TOP))
    assert run.train_predictions.proba[0].shape == (10,)


def test_full_storage_keeps_format_2(tmp_path):
    writer = RunDirWriter(tmp_path / "f")
    writer.start({}, val_labels=np.array([0, 1, 2]))
    writer.write_epoch(1, {"loss": 1.0}, val_proba=np.full((3, 3), 1 / 3))
    assert json.loads((tmp_path / "f" / "meta.json").read_text())["format_version"] == 2


def test_writer_and_reader_refuse_what_compact_storage_cannot_hold(tmp_path):
    with pytest.raises(ArgumentError, match="top_k must be a positive integer"):
        RunDirWriter(tmp_path / "a", top_k=0)
    writer = RunDirWriter(tmp_path / "b", top_k=3)
    writer.start({}, val_labels=np.array([0, 1]))
    with pytest.raises(ArgumentError, match=r"shape \(n, k\)"):
        writer.write_epoch(1, {}, val_proba=np.array([0.2, 0.9]))
    with pytest.raises(ArgumentError, match="top_k must be below the 3 classes"):
        writer.write_epoch(1, {}, val_proba=np.full((2, 3), 1 / 3))
    _write(tmp_path / "c")
    meta_path = tmp_path / "c" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["compact_top_k"] = None
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(InputError, match="without a valid compact_top_k"):
        read_run_dir(tmp_path / "c")


def test_an_epoch_of_the_wrong_record_is_skipped_with_a_note(tmp_path):
    _write(tmp_path / "d", train=False)
    np.save(tmp_path / "d" / "val" / "epoch_0002.npy", np.zeros((50, K), dtype=np.float16))
    run = read_run_dir(tmp_path / "d")
    assert run.predictions.epochs.tolist() == [1, 3]
    assert any("epoch_0002.npy" in n and "compact records" in n for n in run.meta.notes)
