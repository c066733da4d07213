"""Logs inside JSON (a Jupyter notebook, a Kaggle log) and what only starts like JSON."""

from __future__ import annotations

import io
import json

import pytest

from dynamics.errors import NoEpochsError
from dynamics.sources.io import load_runs

ROW = "1875/1875 [==============================] - 5s 3ms/step - loss: {:.4f} - val_loss: {:.4f}\n"


def test_a_notebook_file_is_read_for_what_fit_printed(tmp_path):
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": ["# Training"]},
            {
                "cell_type": "code",
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": ["Epoch 1/2\n", ROW.format(0.5, 0.6), "Epoch 2/2\n", ROW.format(0.4, 0.55)]},
                    {"output_type": "execute_result", "data": {"text/plain": ["<keras.src.callbacks.history.History at 0x7f>"]}},
                ],
            },
        ],
        "metadata": {},
        "nbformat": 4,
    }
    path = tmp_path / "train.ipynb"
    path.write_text(json.dumps(notebook))
    (run,) = load_runs(path)
    assert run.epochs["val_loss"].tolist() == [0.6, 0.55] and run.meta.epochs_declared == 2


def test_a_kaggle_log_download():
    records = [
        {"stream_name": "stdout", "time": 12.5, "data": "Epoch 1/2\n"},
        {"stream_name": "stdout", "time": 17.9, "data": ROW.format(0.5, 0.6)},
        {"stream_name": "stderr", "time": 18.0, "data": "2024-03-01 12:00:00.1: W tensorflow/core/...\n"},
        {"stream_name": "stdout", "time": 18.1, "data": "Epoch 2/2\n"},
        {"stream_name": "stdout", "time": 23.3, "data": ROW.format(0.4, 0.55)},
    ]
    (run,) = load_runs(json.dumps(records).encode())
    assert run.epochs["loss"].tolist() == [0.5, 0.4]


def test_json_that_is_not_a_history_is_not_taken_for_one():
    with pytest.raises(NoEpochsError):
        load_runs(json.dumps([{"name": "conv1", "kind": "Conv2D"}, {"name": "dense", "units": 10}]).encode())


def test_a_keras3_capture_whose_escapes_were_lost_is_streamed_not_read_as_json(monkeypatch):
    import dynamics.sources.io as dio

    monkeypatch.setattr(dio, "_MAX_TABLE_BYTES", 1024)  # a JSON read would refuse this size
    k3 = "━" * 20
    text = "".join(f"[1m10/10[0m [32m{k3}[0m [1m1s[0m 9ms/step - loss: 0.{i}000\n" for i in range(1, 9))
    runs = load_runs(io.BytesIO(text.encode()))
    assert sum(len(r.epochs) for r in runs) == 8  # (headerless Keras 3 rows: fit(epochs=1) runs)
