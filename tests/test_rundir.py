"""The run directory: atomic epoch-by-epoch writing, and reading without Keras."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from conftest import FIXTURES
from dynamics.errors import ArgumentError, InputError, NoEpochsError
from dynamics.keras.capture import ProgressCapture, render_terminal_line
from dynamics.keras.storage import RecordingStorage
from dynamics.run import Event
from dynamics.sources.rundir import RunDirWriter, is_run_dir, read_run_dir, sample_texts

N_VAL = 7


def _write_run(path, *, epochs=3, dtype="float16", finish=True, train=True, n_classes=2):
    rng = np.random.default_rng(0)
    writer = RunDirWriter(path, dtype=dtype)
    labels = rng.integers(0, n_classes, N_VAL)
    writer.start(
        {"n_train": 40, "n_val": N_VAL, "classes": n_classes, "epochs": 5, "seed": 3, "dataset": "toy",
         "verbose": 2, "pooling": "mean"},
        val_labels=labels,
        val_ids=np.arange(100, 100 + N_VAL),
        val_inputs=np.array([[0, 0, 1, 4, 5]] * N_VAL),
        train_labels=np.array([0, 1, 1]),
        train_ids=np.array([5, 9, 11]) if train else None,
        vocabulary=["<pad>", "<start>", "<oov>", "x", "good", "film"],
    )
    probas, logs = [], []
    for epoch in range(1, epochs + 1):
        shape = (N_VAL,) if n_classes == 2 else (N_VAL, n_classes)
        proba = rng.random(shape)
        log = {"loss": 1.0 / epoch, "accuracy": 0.5 + epoch / 100, "val_loss": 0.7 + epoch / 10,
               "val_accuracy": 0.6, "note": "not a number"}
        writer.write_epoch(epoch, log, val_proba=proba, train_proba=rng.random(3) if train else None,
                           seconds=10.0 + epoch, record_seconds=0.5)
        probas.append(proba)
        logs.append(log)
    if finish:
        writer.add_event(Event(epochs, "early_stopping", f"Epoch {epochs}: early stopping", monitor="val_loss"))
        writer.finish()
    return labels, probas, logs


def test_round_trip_table_predictions_meta(tmp_path):
    labels, probas, logs = _write_run(tmp_path / "run")
    run = read_run_dir(tmp_path / "run")
    assert list(run.epochs.index) == [1, 2, 3] and run.epochs.index.name == "epoch"
    assert list(run.epochs.columns) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    # the CSV holds repr(float): the table comes back bit for bit
    assert run.epochs["loss"].tolist() == [log["loss"] for log in logs]
    assert run.epochs["val_loss"].tolist() == [log["val_loss"] for log in logs]
    assert run.timing["seconds"].tolist() == [11.0, 12.0, 13.0]
    assert run.meta.format == "recorded" and run.meta.era == "keras3"
    assert (run.meta.n_train, run.meta.n_val, run.meta.classes, run.meta.epochs_declared) == (40, N_VAL, 2, 5)
    assert run.meta.verbose == 2 and run.meta.seconds_per_epoch == 12.0
    assert run.meta.extra["seed"] == 3 and run.meta.extra["pooling"] == "mean"
    assert run.meta.extra["status"] == "finished" and run.meta.notes == []
    assert [(e.epoch, e.kind) for e in run.events] == [(3, "early_stopping")]
    preds = run.predictions
    assert list(preds.epochs) == [1, 2, 3] and preds.n_samples == N_VAL and preds.n_classes == 2
    assert np.array_equal(preds.y_true, labels) and list(preds.sample_ids) == list(range(100, 107))
    # the default: float16 logits on disk (memory-mapped), float32 probabilities when read
    meta = json.loads((tmp_path / "run" / "meta.json").read_text())
    assert meta["prediction_encoding"] == "logit-float16" and meta["format_version"] == 2
    assert len(preds.proba.stored) == 3
    for stored, decoded, original in zip(preds.proba.stored, preds.proba, probas):
        assert isinstance(stored, np.memmap) and stored.dtype == np.float16 and not stored.flags.writeable
        pc = np.clip(original, 1e-7, 1 - 1e-7)
        assert np.array_equal(stored, (np.log(pc) - np.log1p(-pc)).astype(np.float16))
        assert decoded.dtype == np.float32 and not decoded.flags.writeable
        assert np.array_equal(decoded, (1 / (1 + np.exp(-stored.astype(np.float64)))).astype(np.float32))
        np.testing.assert_allclose(decoded, original, rtol=2e-3)
    assert list(run.train_predictions.sample_ids) == [5, 9, 11] and len(run.train_predictions) == 3
    assert sample_texts(tmp_path / "run") == ["<start> good film"] * N_VAL


def test_float32_and_multiclass(tmp_path):
    _, probas, _ = _write_run(tmp_path / "run", dtype="float32", n_classes=4, train=False)
    run = read_run_dir(tmp_path / "run")
    assert isinstance(run.predictions.proba[0], np.memmap)  # float32 probabilities: the files themselves
    assert run.predictions.proba[0].dtype == np.float32 and run.predictions.n_classes == 4
    assert np.array_equal(run.predictions.stacked(), np.stack(probas).astype(np.float32))
    assert run.train_predictions is not None and len(run.train_predictions) == 0  # labels, no epochs


def test_unfinished_run_reports_the_interrupted_epoch(tmp_path):
    _write_run(tmp_path / "run", epochs=2, finish=False)
    run = read_run_dir(tmp_path / "run")
    assert list(run.epochs.index) == [1, 2]
    assert run.meta.interrupted_epoch == 3
    assert run.events[-1].kind == "interrupted" and run.events[-1].epoch == 3
    assert any("had not finished" in note for note in run.meta.notes)


def test_temp_files_and_orphan_epochs_are_ignored(tmp_path):
    _write_run(tmp_path / "run", epochs=2, finish=False)
    val = tmp_path / "run" / "val"
    (val / ".epoch_0003.npy.tmp-123").write_bytes(b"\x93NUMPY half written")  # a writer killed mid-file
    np.save(val / "epoch_0003.npy", np.zeros(N_VAL, dtype=np.float16))  # renamed, but no table row yet
    run = read_run_dir(tmp_path / "run")
    assert list(run.predictions.epochs) == [1, 2]
    assert any("epoch_0003.npy has no row" in note for note in run.meta.notes)


def test_truncated_or_pickled_epoch_file_is_skipped_with_a_note(tmp_path):
    _write_run(tmp_path / "run", epochs=3)
    val = tmp_path / "run" / "val"
    data = (val / "epoch_0002.npy").read_bytes()
    (val / "epoch_0002.npy").write_bytes(data[: len(data) - 5])
    np.save(val / "epoch_0003.npy", np.array([{"evil": 1}] * N_VAL, dtype=object), allow_pickle=True)
    run = read_run_dir(tmp_path / "run")
    assert list(run.predictions.epochs) == [1]
    assert list(run.epochs.index) == [1, 2, 3]  # the table is intact
    notes = " | ".join(run.meta.notes)
    assert "val/epoch_0002.npy is unreadable" in notes and "val/epoch_0003.npy is unreadable" in notes


def test_damaged_csv_row_is_left_out(tmp_path):
    _write_run(tmp_path / "run", epochs=3)
    path = tmp_path / "run" / "epochs.csv"
    lines = path.read_text().splitlines()
    lines[2] = "2,0.5,garbage"
    path.write_text("\n".join(lines) + "\n")
    run = read_run_dir(tmp_path / "run")
    assert list(run.epochs.index) == [1, 3] and list(run.predictions.epochs) == [1, 3]
    assert any("line 3 is damaged" in note for note in run.meta.notes)


def test_errors(tmp_path):
    with pytest.raises(InputError, match="not a directory"):
        read_run_dir(tmp_path / "missing")
    with pytest.raises(InputError, match="has no meta.json"):
        read_run_dir(tmp_path)
    (tmp_path / "meta.json").write_text("{broken")
    with pytest.raises(InputError, match="unreadable"):
        read_run_dir(tmp_path)
    (tmp_path / "meta.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(InputError, match="not a dynamics run"):
        read_run_dir(tmp_path)
    writer = RunDirWriter(tmp_path / "fresh")
    writer.start({"epochs": 3}, val_labels=np.zeros(2))
    with pytest.raises(NoEpochsError, match="no finished epoch yet"):
        read_run_dir(tmp_path / "fresh")


def test_existing_run_is_not_overwritten_by_accident(tmp_path):
    _write_run(tmp_path / "run")
    (tmp_path / "run" / "mine.txt").write_text("the user's file")
    with pytest.raises(ArgumentError, match="already holds a recorded run"):
        RunDirWriter(tmp_path / "run").start({}, val_labels=np.zeros(2))
    assert len(read_run_dir(tmp_path / "run").epochs) == 3
    RunDirWriter(tmp_path / "run", overwrite=True).start({"epochs": 1}, val_labels=np.zeros(2))
    assert not (tmp_path / "run" / "epochs.csv").exists() and (tmp_path / "run" / "mine.txt").exists()
    assert is_run_dir(tmp_path / "run")
    with pytest.raises(ArgumentError, match="Received: dtype='float64'"):
        RunDirWriter(tmp_path / "x", dtype="float64")


def _record(storage, proba, labels, ids):
    """One recording through a RecordingStorage, as the recorder drives it."""
    storage.open({"epochs": len(proba), "n_train": 40})
    print("Epoch 1/2")  # captured into progress.log with a directory
    storage.set_samples("val", labels, ids, inputs=np.array([[0, 3, 4]] * len(labels)))
    for epoch, p in enumerate(proba, start=1):
        storage.write_epoch(epoch, {"loss": 1.0 / epoch, "val_loss": 0.5 + epoch}, val_proba=p,
                            seconds=2.0, record_seconds=0.25)
    storage.update_row(len(proba), {"learning_rate": 0.001})
    storage.finish([Event(2, "early_stopping", "Epoch 2: early stopping", monitor="val_loss")])
    return storage.to_run()


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_storage_in_memory_and_on_disk_keep_the_same_run(dtype, tmp_path, capsys):
    rng = np.random.default_rng(1)
    labels, ids = np.array([0, 1, 1, 0, 1]), np.array([40, 41, 42, 43, 44])
    proba = [rng.random(5), rng.random(5)]
    words = ["<pad>", "<start>", "<oov>", "good", "film"]
    memory = _record(RecordingStorage(dtype=dtype, metadata={"seed": 7}, vocabulary=words), proba, labels, ids)
    disk_storage = RecordingStorage(tmp_path / "run", dtype=dtype, metadata={"seed": 7}, vocabulary=words)
    disk = _record(disk_storage, proba, labels, ids)
    assert sys.stdout is sys.__stdout__ or not hasattr(sys.stdout, "close_capture")  # capture stopped
    for run in (memory, disk):
        assert run.epochs["loss"].tolist() == [1.0, 0.5] and run.epochs["learning_rate"].tolist()[-1] == 0.001
        assert run.meta.n_val == 5 and run.meta.classes == 2 and run.meta.extra["seed"] == 7
        assert run.predictions.sample_ids.tolist() == ids.tolist() and run.predictions.y_true.tolist() == labels.tolist()
        assert [(e.epoch, e.kind) for e in run.events] == [(2, "early_stopping")]
        assert run.timing["record_seconds"].tolist() == [0.25, 0.25]
    np.testing.assert_array_equal(memory.predictions.stacked(), disk.predictions.stacked())
    tolerance = 2e-3 if dtype == "float16" else 1e-7  # float16 logits: 2**-11 of |z| (the encoding's test)
    np.testing.assert_allclose(disk.predictions.stacked(), np.stack(proba), rtol=tolerance)
    assert (tmp_path / "run" / "progress.log").read_text().splitlines() == ["Epoch 1/2"]
    assert sample_texts(tmp_path / "run") == ["good film"] * 5
    assert disk.meta.extra["status"] == "finished"
    disk_storage.close()  # after finish: nothing left to stop, and no error
    assert "Epoch 1/2" in capsys.readouterr().out


def test_storage_closed_before_finish_leaves_a_running_run(tmp_path):
    storage = RecordingStorage(tmp_path / "run")
    storage.open({"epochs": 3})
    storage.set_samples("val", np.array([0, 1]))
    storage.write_epoch(1, {"val_loss": 0.3}, val_proba=np.array([0.2, 0.7]))
    storage.close()
    storage.close()
    assert not hasattr(sys.stdout, "close_capture")
    run = read_run_dir(tmp_path / "run")
    assert run.meta.extra["status"] == "running" and run.meta.interrupted_epoch == 2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dtype": "float64"}, "Received: dtype='float64'"),
        ({"directory": 3}, "Received: directory=int"),
        ({"metadata": [("seed", 1)]}, "Received: metadata=list"),
        ({"vocabulary": "words"}, "Received: vocabulary=str"),
    ],
)
def test_storage_arguments_are_checked(kwargs, message):
    with pytest.raises(ArgumentError) as info:
        RecordingStorage(**kwargs)
    assert message in str(info.value)


def test_render_terminal_line_matches_keras3_verbose1_capture():
    # read_text() would turn every \r into \n (universal newlines): read the bytes
    raw = (FIXTURES / "keras3_raw" / "out_verbose1.txt").read_bytes().decode("utf-8")
    lines = [render_terminal_line(line) for line in raw.split("\n")]
    lines = [line for line in lines if line]
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    assert lines[3] == ("157/157 ━━━━━━━━━━━━━━━━━━━━ 8s 51ms/step - accuracy: 0.8372 - loss: 0.4060 "
                        "- val_accuracy: 0.5070 - val_loss: 0.9528")
    assert "\x1b" not in lines[1] and "\b" not in lines[1] and "\r" not in lines[1]


def test_progress_capture_tees_and_renders(tmp_path, capsys):
    with ProgressCapture(tmp_path / "progress.log"):
        print("Epoch 1/1")
        sys.stdout.write("1/2 [==>...]\b\b\b\b\b\b\b\b\b\b\b\r\x1b[1m2/2\x1b[0m [======] - loss: 0.1\n")
        sys.stdout.write("partial line without newline")
    assert capsys.readouterr().out.startswith("Epoch 1/1\n1/2 [==>...]")
    assert (tmp_path / "progress.log").read_text().splitlines() == [
        "Epoch 1/1", "2/2 [======] - loss: 0.1", "partial line without newline"]


def test_shipped_recorded_run_loads_and_its_log_parses_back():
    from dynamics.sources.io import load_run, load_runs

    path = FIXTURES / "recorded" / "synthetic-last-seed0"
    run = load_run(path)
    assert run.meta.format == "recorded" and run.meta.extra["status"] == "finished"
    assert list(run.epochs.index) == [1, 2, 3, 4] and run.meta.n_val == 200
    assert run.predictions.stacked().shape == (4, 200) and run.train_predictions.stacked().shape == (4, 50)
    assert len(run.meta.extra["val_flipped_ids"]) == 20
    printed = load_runs(path / "progress.log")[0].epochs
    for column in run.epochs.columns:
        expected = [float(f"{v:.4f}" if abs(v) > 1e-3 else f"{v:.4e}") for v in run.epochs[column]]
        assert printed[column].tolist() == expected, column
    texts = sample_texts(path)
    assert len(texts) == 200 and all(texts)
