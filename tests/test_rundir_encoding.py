"""Float16 storage in log space: Keras's val_loss comes back from the stored predictions, read lazily.

Float16 *probabilities* round every P(class 1) above 0.99976 to 1.0, so a
confidently wrong sample was recomputed at 15.94 nats whatever Keras computed.
The run directory now stores float16 logits (sigmoid) or log-probabilities
(softmax). Here the loss Keras logs is computed independently (its formula
written out on the float32 outputs) and compared with the loss recomputed
from what the writer stored and the reader decoded.
"""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest

from dynamics.errors import InputError
from dynamics.run import Predictions, Run, RunMeta, make_epoch_table
from dynamics.simulate import epoch_arrays
from dynamics.sources.rundir import RunDirWriter, read_run_dir
from dynamics.sources.rundir.encoding import (
    EncodedEpochs,
    decode,
    decode_table,
    encode,
    value_ranks,
)
from dynamics.stats.decomposition import decomposition_table

EPS = np.float32(1e-7)


def keras_bce(p32: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Keras's binary cross-entropy of float32 outputs: clip in float32, then -log of the true class."""
    pc = np.clip(np.asarray(p32, dtype=np.float32), EPS, np.float32(1) - EPS).astype(np.float64)
    return -np.where(y == 1, np.log(pc), np.log(1 - pc))


def keras_cce(p32: np.ndarray, y: np.ndarray) -> np.ndarray:
    """categorical_crossentropy: rows divided by their sum, clipped, -log of the true class."""
    p = np.asarray(p32, dtype=np.float32)
    p = np.clip(p / p.sum(axis=1, keepdims=True), EPS, np.float32(1) - EPS).astype(np.float64)
    return -np.log(p[np.arange(len(y)), y])


def _overconfident(n=3000, epochs=12, seed=7):
    """The simulation where float16 probabilities failed: many class-0 mistakes above 0.99976."""
    y, arrays = epoch_arrays("overconfident", n=n, epochs=epochs, seed=seed, margin=(1.0, 2.5), dtype=np.float32)
    return y, list(arrays)


def _write(path, y, outputs, logged, *, dtype="float16"):
    writer = RunDirWriter(path, dtype=dtype)
    writer.start({"n_val": len(y), "epochs": len(outputs)}, val_labels=y)
    for epoch, (p, loss) in enumerate(zip(outputs, logged), start=1):
        writer.write_epoch(epoch, {"val_loss": loss}, val_proba=p)
    writer.finish()
    return path


def _as_format1(path, outputs):
    """Rewrite a run directory as dynamics wrote it before log-space storage: raw float16 probabilities."""
    for epoch, p in enumerate(outputs, start=1):
        np.save(path / "val" / f"epoch_{epoch:04d}.npy", np.asarray(p).astype(np.float16))
    meta = json.loads((path / "meta.json").read_text())
    del meta["prediction_encoding"]
    meta.update(format_version=1, prediction_dtype="float16")
    (path / "meta.json").write_text(json.dumps(meta))
    return path


def test_default_storage_gives_back_the_val_loss_keras_logged(tmp_path):
    y, outputs = _overconfident()
    logged = [float(keras_bce(p, y).mean()) for p in outputs]
    saturated = [int(((p > 0.99976) & (y == 0)).sum()) for p in outputs]
    assert max(saturated) >= 20  # confident mistakes that float16 probabilities store as 1.0

    new = read_run_dir(_write(tmp_path / "new", y, outputs, logged))
    old = read_run_dir(_as_format1(_write(tmp_path / "old", y, outputs, logged, dtype="float32"), outputs))
    assert isinstance(new.predictions.proba, EncodedEpochs) and new.meta.extra["prediction_encoding"] == "logit-float16"
    assert old.predictions.proba[0].dtype == np.float16  # the old format is read as it is

    new_rel = [keras_bce(p, y).mean() / L - 1 for p, L in zip(new.predictions.proba, logged)]
    old_rel = [keras_bce(p, y).mean() / L - 1 for p, L in zip(old.predictions.proba, logged)]
    assert max(map(abs, new_rel)) < 1e-4
    assert max(map(abs, old_rel)) > 0.01  # what raw float16 probabilities gave
    # and what the analysis recomputes (dynamics' own loss, from the decoded epochs)
    table = decomposition_table(new)
    np.testing.assert_allclose(table["val_loss"], logged, rtol=1e-4)
    np.testing.assert_allclose(table["val_loss"], new.epochs["val_loss"], rtol=1e-4)


def test_every_sample_keeps_its_loss_to_eight_thousandths_of_a_nat():
    rng = np.random.default_rng(0)
    z = np.concatenate([rng.uniform(-20, 20, 200_000), rng.normal(0, 0.01, 20_000)])
    p32 = (1 / (1 + np.exp(-z))).astype(np.float32)
    decoded = decode(encode(p32, "logit-float16"), "logit-float16")
    for label in (0, 1):
        y = np.full(z.shape, label)
        assert np.abs(keras_bce(decoded, y) - keras_bce(p32, y)).max() <= 16.125 * 2**-11
    # near saturation one float32 step is far wider than the float16 rounding: the model's output, bit for bit
    near = (p32 > 1 - 1e-6) & (p32 <= np.float32(1) - EPS)
    assert near.sum() > 1000 and np.array_equal(decoded[near], p32[near])
    # beyond Keras's clip the loss is the clipped one, as in Keras
    assert np.array_equal(keras_bce(decoded[p32 == 1], np.zeros(1)), keras_bce(p32[p32 == 1], np.zeros(1)))


def test_softmax_outputs_are_stored_as_log_probabilities(tmp_path):
    rng = np.random.default_rng(3)
    n, k = 4000, 4
    y = rng.integers(0, k, n)
    outputs, logged = [], []
    for scale in (1.0, 4.0, 9.0):  # growing confidence, right and wrong
        logits = scale * rng.normal(0, 1, (n, k))
        logits[np.arange(n), y] += 1.5
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        p32 = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
        outputs.append(p32)
        logged.append(float(keras_cce(p32, y).mean()))
    run = read_run_dir(_write(tmp_path / "k", y, outputs, logged))
    assert run.meta.extra["prediction_encoding"] == "logprob-float16" and run.predictions.n_classes == k
    stored = np.load(tmp_path / "k" / "val" / "epoch_0003.npy")
    assert stored.dtype == np.float16 and stored.shape == (n, k) and stored.min() >= np.log(1e-7) - 0.01
    for p, expected in zip(run.predictions.proba, logged):
        assert p.dtype == np.float32 and keras_cce(p, y).mean() == pytest.approx(expected, rel=1e-4)
    np.testing.assert_allclose(decomposition_table(run)["val_loss"], logged, rtol=1e-4)


def test_epochs_are_decoded_one_at_a_time(tmp_path):
    n, epochs = 100_000, 24
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, n)
    writer = RunDirWriter(tmp_path / "run")
    writer.start({}, val_labels=y)
    for epoch in range(1, epochs + 1):
        writer.write_epoch(epoch, {"val_loss": 1.0}, val_proba=rng.random(n).astype(np.float32))
    preds = read_run_dir(tmp_path / "run").predictions
    assert all(isinstance(s, np.memmap) for s in preds.proba.stored)
    tracemalloc.start()
    try:
        total = sum(float(p.sum(dtype=np.float64)) for _, p in preds)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 0
    # decoding one epoch: its int index (8 bytes a sample), the float32 result and the epoch the caller
    # still holds (16 bytes a sample, measured); never the 24 epochs (96 bytes)
    assert peak < 24 * n
    # indexing like a list: negative, slices, the end
    proba = preds.proba
    assert len(proba) == epochs and np.array_equal(proba[-1], proba[epochs - 1]) and len(proba[2:5]) == 3
    assert not proba[0].flags.writeable
    with pytest.raises(IndexError):
        proba[epochs]


def test_decoding_is_a_lookup_of_the_same_numbers():
    codes = np.arange(1 << 16, dtype=np.uint16)
    z = codes.view(np.float16).astype(np.float64)
    finite = np.isfinite(z) & (np.abs(z) < 17)
    expected = (1 / (1 + np.exp(-z[finite]))).astype(np.float32)
    assert np.array_equal(decode_table("logit-float16")[finite], expected)
    logp = z[finite & (z <= 0)]
    assert np.array_equal(decode_table("logprob-float16")[finite & (z <= 0)], np.exp(logp).astype(np.float32))
    # ranks order the decoded values, equal values share a rank
    for encoding in ("logit-float16", "proba-float16"):
        values, ranks = decode_table(encoding), value_ranks(encoding)
        ok = np.isfinite(values)
        order = np.argsort(values[ok], kind="stable")
        assert np.all(np.diff(ranks[ok][order]) >= 0)
        assert np.array_equal(np.diff(values[ok][order]) == 0, np.diff(ranks[ok][order]) == 0)


def test_counting_codes_gives_what_sorting_decoded_values_gives(tmp_path):
    """The AUC and the temperature fits key on the float16 codes; on the decoded float32 values they agree."""
    from dynamics.stats.calibration import calibration_row
    from dynamics.stats.probabilities import EpochView
    from dynamics.stats.temperature import default_halves, temperature_row
    from dynamics.stats.views import iter_views

    y, outputs = _overconfident(n=30_000, epochs=3, seed=2)  # above the counting threshold (20,000)
    preds = read_run_dir(_write(tmp_path / "run", y, outputs, [1.0] * 3)).predictions
    halves = default_halves(len(y))
    for view in iter_views(preds):
        assert view.coded is not None and view.coded.encoding == "logit-float16"
        plain = EpochView(np.array(view.raw, dtype=np.float64), y)  # no codes: ranks and per-sample sums
        assert plain.coded is None
        assert calibration_row(view)["auc"] == pytest.approx(calibration_row(plain)["auc"], rel=1e-12)
        fast, slow = temperature_row(view, halves), temperature_row(plain, halves)
        for key in fast:
            assert fast[key] == pytest.approx(slow[key], rel=1e-5), key


def test_old_run_directories_load_as_they_are(tmp_path):
    from conftest import FIXTURES

    path = FIXTURES / "recorded" / "synthetic-last-seed0"
    assert "prediction_encoding" not in json.loads((path / "meta.json").read_text())
    run = read_run_dir(path)
    for epoch, proba in run.predictions:
        assert isinstance(proba, np.memmap) and proba.dtype == np.float16
        assert np.array_equal(proba, np.load(path / "val" / f"epoch_{epoch:04d}.npy"))


def test_the_encoding_is_on_disk_before_the_first_epoch_file(tmp_path, monkeypatch):
    import dynamics.sources.rundir.writer as writer_module

    seen = []
    original = writer_module._save_npy

    def save(path, array):
        if path.name.startswith("epoch_"):
            seen.append(json.loads((path.parent.parent / "meta.json").read_text()).get("prediction_encoding"))
        original(path, array)

    monkeypatch.setattr(writer_module, "_save_npy", save)
    writer = RunDirWriter(tmp_path / "run")
    writer.start({}, val_labels=np.array([0, 1]), train_labels=np.array([1]))
    writer.write_epoch(1, {}, val_proba=np.array([0.2, 0.9]), train_proba=np.array([0.6]))
    writer.write_epoch(2, {}, val_proba=np.array([[0.2], [0.9]]))  # a sigmoid's (n, 1) is (n,)
    assert seen == ["logit-float16"] * 3
    with pytest.raises(Exception, match="unlike the earlier epochs"):
        writer.write_epoch(3, {}, val_proba=np.array([[0.2, 0.8], [0.9, 0.1]]))


def test_unknown_encodings_and_mismatched_files(tmp_path):
    y, outputs = np.array([0, 1, 1]), [np.array([0.1, 0.8, 0.99]), np.array([0.2, 0.7, 0.999])]
    path = _write(tmp_path / "run", y, outputs, [0.3, 0.2])
    np.save(path / "val" / "epoch_0002.npy", outputs[1].astype(np.float32))  # not float16 logits
    run = read_run_dir(path)
    assert list(run.predictions.epochs) == [1]
    assert any("epoch_0002.npy" in note and "logit-float16" in note for note in run.meta.notes)
    meta = json.loads((path / "meta.json").read_text())
    meta["prediction_encoding"] = "logit-bfloat8"
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="unknown prediction_encoding 'logit-bfloat8'"):
        read_run_dir(path)


def test_in_memory_predictions_with_encoded_epochs_analyse_like_a_list():
    """Predictions accepts the lazy sequence anywhere a list of arrays goes."""
    from dynamics.diagnosis.samples.stories import analyze

    y, outputs = _overconfident(n=800, epochs=6, seed=1)
    rows = {e: {"val_loss": float(keras_bce(p, y).mean())} for e, p in enumerate(outputs, start=1)}
    encoded = EncodedEpochs([encode(p, "logit-float16") for p in outputs], "logit-float16")
    as_list = [np.array(p) for p in encoded]
    a = analyze(Run(make_epoch_table(rows), RunMeta(format="recorded"), predictions=Predictions(range(1, 7), y, encoded)))
    b = analyze(Run(make_epoch_table(rows), RunMeta(format="recorded"), predictions=Predictions(range(1, 7), y, as_list)))
    np.testing.assert_allclose(a.val.per_epoch.to_numpy(dtype=float), b.val.per_epoch.to_numpy(dtype=float),
                               rtol=1e-6, equal_nan=True)
    assert a.val.per_epoch["val_loss"].to_numpy() == pytest.approx([r["val_loss"] for r in rows.values()], rel=1e-4)
