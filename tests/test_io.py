"""load_runs / load_run: sniffing and the CSVLogger and History JSON readers."""

from __future__ import annotations

import io
import json
import math
import sys
import types

import pytest

from conftest import CORPUS, SEED_LOG
from dynamics.errors import DynamicsError, InputError, NoEpochsError
from dynamics.sources.io import load_run, load_runs, parse_text

ROW = "10/10 [==============================] - 0s - loss: {:.4f}\n"


def _log(*losses: float, total: int | None = None) -> str:
    total = total or len(losses)
    return "".join(f"Epoch {i}/{total}\n" + ROW.format(v) for i, v in enumerate(losses, start=1))


# -- CSVLogger ----------------------------------------------------------------


def test_csvlogger_epochs_are_shown_one_based_and_na_is_absent(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("epoch,acc,loss,lr,val_acc,val_loss\n0,0.5,0.7,0.001,NA,NA\n1,0.6,0.6,0.001,0.55,0.65\n")
    (run,) = load_runs(path)
    assert list(run.epochs.index) == [1, 2]
    assert list(run.epochs.columns) == ["accuracy", "loss", "learning_rate", "val_accuracy", "val_loss"]
    assert math.isnan(run.epochs.loc[1, "val_loss"]) and run.meta.printed_nan == {}
    assert run.meta.format == "csvlogger" and run.meta.metric_names["accuracy"] == "acc"


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_csvlogger_any_separator(sep):
    text = sep.join(["epoch", "loss", "val_loss"]) + "\n" + sep.join(["0", "0.5", "nan"]) + "\n"
    (run,) = parse_text(text)
    assert run.epochs.loc[1, "loss"] == 0.5 and run.meta.printed_nan == {"val_loss": [1]}


def test_csvlogger_appended_resumed_run_and_continued_run():
    restarted = "epoch,loss\n0,0.9\n1,0.8\n2,0.7\n0,0.95\n1,0.85\n"
    first, second = parse_text(restarted)
    assert list(first.epochs.index) == [1, 2, 3] and list(second.epochs.index) == [1, 2]
    assert second.meta.run_index == 1
    continued = "epoch,loss\n0,0.9\n1,0.8\n2,0.7\n3,0.6\n"
    (run,) = parse_text(continued)
    assert list(run.epochs.index) == [1, 2, 3, 4]


def test_csvlogger_half_written_last_line_and_list_values():
    (run,) = parse_text('epoch,loss,per_class\n0,0.9,"[0.1, 0.2]"\n1,0.8,"[0.2, 0.3]"\n2,0.7')
    assert list(run.epochs.index) == [1, 2]
    assert "per_class" not in run.epochs.columns
    assert any("left out" in note for note in run.meta.notes)


def test_csvlogger_header_only_is_no_epochs():
    with pytest.raises(NoEpochsError, match="header but no rows"):
        parse_text("epoch,loss,val_loss\n")


# -- History JSON -------------------------------------------------------------


def test_history_json_with_keras3_nan_tokens(tmp_path):
    path = tmp_path / "history.json"
    path.write_text('{"loss": [0.5, NaN, Infinity], "val_loss": [0.6, 0.7, NaN], "learning_rate": [0.001, 0.001, 0.0001]}')
    (run,) = load_runs(path)
    assert run.meta.format == "history-json"
    assert list(run.epochs.index) == [1, 2, 3]
    assert run.epochs.loc[3, "loss"] == math.inf
    assert run.meta.printed_nan == {"loss": [2], "val_loss": [3]}
    assert run.metrics == ["loss", "val_loss"]


def test_history_wrapped_with_epoch_indices_and_list_of_dicts():
    (run,) = parse_text(json.dumps({"history": {"acc": [0.5, 0.6]}, "epoch": [5, 6], "params": {}}))
    assert list(run.epochs.index) == [6, 7] and list(run.epochs.columns) == ["accuracy"]
    (run,) = parse_text(json.dumps([{"loss": 0.5}, {"loss": 0.4, "val_loss": 0.45}]))
    assert run.epochs.loc[2, "val_loss"] == 0.45 and math.isnan(run.epochs.loc[1, "val_loss"])


def test_history_printed_by_python_with_numpy_scalars():
    text = "{'loss': [np.float32(0.5), nan], 'val_loss': [0.6, 0.7]}"
    (run,) = parse_text(text)
    assert run.epochs.loc[1, "loss"] == 0.5 and run.meta.printed_nan == {"loss": [2]}


def test_history_validation_freq_places_val_values():
    (run,) = parse_text(json.dumps({"loss": [1, 2, 3, 4, 5, 6], "val_loss": [10, 20, 30]}))
    assert run.epochs["val_loss"].dropna().index.tolist() == [2, 4, 6]
    with pytest.raises(InputError, match="no single validation_freq"):
        parse_text(json.dumps({"loss": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "val_loss": [1]}))


def test_json_that_is_not_a_history_is_read_as_text():
    with pytest.raises(NoEpochsError):
        parse_text('{"name": "model", "layers": 3}')


# -- sources ------------------------------------------------------------------


def test_text_bytes_and_file_objects():
    text = _log(0.5, 0.4)
    assert load_runs(text)[0].epochs["loss"].tolist() == [0.5, 0.4]
    assert load_runs(text.encode())[0].epochs["loss"].tolist() == [0.5, 0.4]
    assert load_runs(io.StringIO(text))[0].meta.source == "<stream>"
    assert load_runs(io.BytesIO(text.encode()), name="paste")[0].meta.source == "paste"


def test_stdin_dash(monkeypatch):
    fake = types.SimpleNamespace(buffer=io.BytesIO(SEED_LOG.read_bytes()))
    monkeypatch.setattr(sys, "stdin", fake)
    (run,) = load_runs("-")
    assert run.meta.source == "<stdin>" and len(run.epochs) == 8


def test_load_run_picks_the_longest_or_the_index():
    text = _log(0.9) + _log(0.5, 0.4, 0.3) + _log(0.8, 0.7, 0.6)
    assert load_run(text).meta.run_index == 2  # the last of the longest
    assert load_run(text, 1).epochs.loc[1, "loss"] == 0.5
    assert load_run(text, -1).meta.run_index == 2
    with pytest.raises(InputError, match="run 5 does not exist: the source holds 3 runs"):
        load_run(text, 5)


def test_directory_without_meta_json(tmp_path):
    with pytest.raises(InputError, match="not a dynamics run directory"):
        load_runs(tmp_path)


def test_run_directory_goes_to_rundir(tmp_path, monkeypatch):
    (tmp_path / "meta.json").write_text("{}")
    seen = []
    fake = types.ModuleType("dynamics.sources.rundir")
    fake.read_run_dir = lambda path: seen.append(path) or "RUN"
    monkeypatch.setitem(sys.modules, "dynamics.sources.rundir", fake)
    assert load_runs(tmp_path) == ["RUN"] and seen == [tmp_path]


def test_run_directory_without_the_reader(tmp_path, monkeypatch):
    (tmp_path / "meta.json").write_text("{}")
    monkeypatch.setitem(sys.modules, "dynamics.sources.rundir", None)  # import fails
    with pytest.raises(InputError, match="cannot read run directories"):
        load_runs(tmp_path)


def test_corpus_csv_goes_to_the_csv_reader():
    (run,) = load_runs(CORPUS / "logs" / "050_csvlogger-paste-double-spaced.txt")
    assert run.meta.format == "csvlogger" and list(run.epochs.index) == list(range(1, 11))


def test_every_error_is_a_dynamics_error(tmp_path):
    for bad in (tmp_path / "missing.txt", "", tmp_path):
        with pytest.raises(DynamicsError):
            load_runs(bad)
