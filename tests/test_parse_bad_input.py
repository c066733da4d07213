"""Bad input: a one-line DynamicsError, never a traceback, never data loss."""

from __future__ import annotations

import os

import pytest

from conftest import SEED_LOG
from dynamics.errors import InputError, NoEpochsError
from dynamics.sources.io import load_runs

K3 = "━" * 20


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and text
    return text


def test_empty_paste(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(NoEpochsError) as info:
        load_runs(path)
    assert _one_line(info.value) == f"{path} is empty: no training log to read"
    with pytest.raises(NoEpochsError, match="only blank lines"):
        load_runs("\n\n   \n")


def test_binary_file(tmp_path):
    path = tmp_path / "weights.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 64)
    with pytest.raises(InputError) as info:
        load_runs(path)
    assert _one_line(info.value) == f"{path} is not a text log: it holds binary data"


def test_half_written_file_keeps_every_complete_epoch(tmp_path):
    text = SEED_LOG.read_text()
    cut = text.index("val_acc: 0.8211") + len("val_a")  # the writer stopped mid-row of epoch 76
    path = tmp_path / "half.txt"
    path.write_text(text[:cut])
    (run,) = load_runs(path)
    assert list(run.epochs.index) == [1, 2, 3, 4, 5, 75, 76]
    assert run.epochs.loc[76, "val_loss"] == 0.9078 and "val_accuracy" in run.epochs.columns


def test_killed_run_reports_the_interrupted_epoch():
    text = (
        f"Epoch 1/10\n\r 1/50 {K3} 5s 100ms/step - loss: 0.9\r50/50 {K3} 6s 110ms/step - loss: 0.8 - val_loss: 0.85\n"
        f"Epoch 2/10\n\r 1/50 {K3} 5s 100ms/step - loss: 0.7\r 9/50 {K3} 4s 100ms/step - loss: 0.6"
    )
    (run,) = load_runs(text)
    assert list(run.epochs.index) == [1] and run.meta.interrupted_epoch == 2
    assert run.events[-1].message == "the log ends inside epoch 2 (1 progress update, the last at 9/50)"


def test_non_utf8_bytes_and_utf16(tmp_path):
    latin = "Modèle entraîné\nEpoch 1/1\n10/10 [==============================] - 0s - loss: 0.2500\n".encode("latin-1")
    (run,) = load_runs(latin)
    assert run.epochs.loc[1, "loss"] == 0.25
    path = tmp_path / "powershell.txt"
    path.write_bytes("Epoch 1/1\r\n10/10 [==============================] - 0s - loss: 0.2500\r\n".encode("utf-16"))
    assert load_runs(path)[0].epochs.loc[1, "loss"] == 0.25


def test_directory_that_is_not_a_run_dir(tmp_path):
    with pytest.raises(InputError) as info:
        load_runs(tmp_path)
    assert _one_line(info.value).startswith(f"{tmp_path} is a directory but not a dynamics run directory (no meta.json), "
                                            "and it holds no other training history dynamics reads: no TensorBoard")


def test_missing_file(tmp_path):
    with pytest.raises(InputError) as info:
        load_runs(tmp_path / "nope.txt")
    assert _one_line(info.value) == f"no such file: {tmp_path / 'nope.txt'}"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text("x")
    path.chmod(0)
    with pytest.raises(InputError, match="permission denied"):
        load_runs(path)


def test_huge_file_without_line_breaks(tmp_path):
    # 20 MB with neither \n nor \r: read in pieces, never as one string.
    path = tmp_path / "huge.txt"
    with path.open("wb") as out:
        for _ in range(20):
            out.write(b"lorem ipsum dolor " * (1 << 16))
    with pytest.raises(NoEpochsError, match="no Keras progress bar"):
        load_runs(path)


def test_huge_capture_of_progress_updates(tmp_path):
    # One epoch of 200 000 redraws on one physical line, then the row.
    path = tmp_path / "capture.txt"
    update = "\b" * 60 + "\r{:>6}/200000 [=====>........................] - ETA: 3s - loss: 0.6931"
    with path.open("w") as out:
        out.write("Epoch 1/1\n")
        out.write("".join(update.format(i) for i in range(1, 200_000)))
        out.write("\b" * 60 + "\r200000/200000 [==============================] - 9s 45us/step - loss: 0.5000\n")
    (run,) = load_runs(path)
    assert run.epochs.loc[1, "loss"] == 0.5 and run.timing.loc[1, "seconds_per_step"] == pytest.approx(45e-6)
