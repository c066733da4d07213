"""Histories of other training loops: Lightning metrics.csv, HF trainer_state.json, BackupAndRestore, W&B output.log."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app
from conftest import FIXTURES, ROOT
from dynamics.errors import InputError, NoEpochsError
from dynamics.sources.io import load_runs

runner = CliRunner()
SOURCES = FIXTURES / "sources"

# -- PyTorch Lightning -------------------------------------------------------------

#: ``trainer.callback_metrics`` at each epoch's end of the run that wrote
#: fixtures/sources/lightning (fixtures/sources/lightning/run_lightning.py, lightning 2.6.6, CPU).
LIGHTNING_SEEN = {
    1: {"train_loss_epoch": 0.6021511554718018, "train_acc": 0.71875, "val_loss": 0.49400630593299866,
        "val_acc": 0.800000011920929},
    2: {"train_loss_epoch": 0.3444361090660095, "train_acc": 0.9312499761581421, "val_loss": 0.2641865611076355,
        "val_acc": 0.925000011920929},
    3: {"train_loss_epoch": 0.15459883213043213, "train_acc": 0.981249988079071, "val_loss": 0.14418625831604004,
        "val_acc": 0.949999988079071},
    4: {"train_loss_epoch": 0.07330039143562317, "train_acc": 1.0, "val_loss": 0.09752020984888077, "val_acc": 1.0},
}
_KERAS_NAME = {"train_loss_epoch": "loss", "train_acc": "accuracy", "val_loss": "val_loss", "val_acc": "val_accuracy"}


def _assert_lightning(run, seen) -> None:  # type: ignore[no-untyped-def]
    assert run.meta.format == "lightning-csv" and list(run.epochs.index) == sorted(seen)
    assert sorted(run.epochs.columns) == sorted(_KERAS_NAME.values())  # train_loss_step: the per-step twin, left out
    for epoch, values in seen.items():
        for name, value in values.items():
            if name in _KERAS_NAME:
                assert run.epochs.loc[epoch, _KERAS_NAME[name]] == value, (epoch, name)
    assert run.meta.metric_names["loss"] == "train_loss_epoch"


def test_lightning_metrics_csv_is_merged_by_epoch():
    base = SOURCES / "lightning"
    version = base / "lightning_logs" / "version_0"
    for source in (base, base / "lightning_logs", version, version / "metrics.csv"):
        (run,) = load_runs(source)
        _assert_lightning(run, LIGHTNING_SEEN)


def test_lightning_step_only_metrics_are_averaged_and_said(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,step,train/loss,valid/loss\n0,4,0.7,\n0,9,0.5,\n0,9,,0.55\n1,14,0.4,\n1,19,0.3,\n1,19,,0.45\n")
    (run,) = load_runs(path)
    assert run.epochs.to_dict("index") == {1: {"loss": (0.7 + 0.5) / 2, "val_loss": 0.55},
                                           2: {"loss": (0.4 + 0.3) / 2, "val_loss": 0.45}}
    assert any("loss: logged more than once per epoch" in n for n in run.meta.notes)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("lightning") is None, reason="needs lightning")
def test_a_real_lightning_run(tmp_path):
    script = SOURCES / "lightning" / "run_lightning.py"
    out = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    (run,) = load_runs(tmp_path)
    _assert_lightning(run, {int(k): v for k, v in seen.items()})


# -- Hugging Face trainer_state.json -------------------------------------------------


def _expected_from_log_history(log_history: list[dict]) -> dict[int, dict[str, float]]:
    """The epoch table by hand: each epoch takes the rows logged in (e - 1, e]."""
    out: dict[int, dict[str, float]] = {}
    for e in range(1, 1 + math.ceil(max(r["epoch"] for r in log_history) - 1e-9)):
        rows = [r for r in log_history if e - 1 < r["epoch"] <= e + 1e-9]
        losses = [r["loss"] for r in rows if "loss" in r]
        evals = [r for r in rows if "eval_loss" in r]
        out[e] = {"loss": float(np.mean(losses))}
        if evals:
            out[e].update({"val_" + k[len("eval_"):]: v for k, v in evals[-1].items() if k in ("eval_loss", "eval_accuracy")})
    return out


def test_trainer_state_of_the_last_checkpoint():
    folder = SOURCES / "hf" / "out"
    (run,) = load_runs(folder)
    assert run.meta.source.endswith("checkpoint-60/trainer_state.json")  # not checkpoint-20 or -40: the last step
    state = json.loads((folder / "checkpoint-60" / "trainer_state.json").read_text())
    expected = _expected_from_log_history(state["log_history"])
    got = {e: {k: v for k, v in row.items() if k in ("loss", "val_loss", "val_accuracy")}
           for e, row in run.epochs.to_dict("index").items()}
    assert got.keys() == expected.keys()
    for e in expected:
        assert got[e] == pytest.approx(expected[e], rel=1e-12), e
    assert "learning_rate" in run.epochs.columns and "grad_norm" not in run.epochs.columns
    assert run.meta.format == "hf-trainer-state" and run.meta.metric_names["val_loss"] == "eval_loss"


def test_step_based_evaluation_keeps_the_last_of_each_epoch(tmp_path):
    rows = [{"epoch": 0.5, "loss": 0.7, "step": 5}, {"epoch": 0.5, "eval_loss": 0.66, "step": 5},
            {"epoch": 1.0, "loss": 0.6, "step": 10}, {"epoch": 1.0, "eval_loss": 0.62, "step": 10},
            {"epoch": 1.5, "loss": 0.5, "step": 15}, {"epoch": 1.5, "eval_loss": 0.58, "step": 15}]
    (tmp_path / "trainer_state.json").write_text(json.dumps({"global_step": 15, "log_history": rows}))
    (run,) = load_runs(tmp_path)
    assert run.epochs.to_dict("index") == {1: {"loss": (0.7 + 0.6) / 2, "val_loss": 0.62}, 2: {"loss": 0.5, "val_loss": 0.58}}
    assert any("eval_strategy=\"steps\"" in n for n in run.meta.notes)


def test_a_trainer_state_without_values(tmp_path):
    (tmp_path / "trainer_state.json").write_text(json.dumps({"global_step": 0, "log_history": []}))
    with pytest.raises(NoEpochsError, match="log_history holds no loss"):
        load_runs(tmp_path / "trainer_state.json")


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("transformers") is None, reason="needs transformers")
def test_a_real_hugging_face_trainer(tmp_path):
    script = SOURCES / "hf" / "run_trainer.py"
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "out")], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    evaluations = json.loads(out.stdout.strip().splitlines()[-1])  # what on_evaluate saw, epoch by epoch
    (run,) = load_runs(tmp_path / "out")
    for epoch, metrics in evaluations.items():
        assert run.epochs.loc[int(epoch), "val_loss"] == metrics["eval_loss"]
        assert run.epochs.loc[int(epoch), "val_accuracy"] == metrics["eval_accuracy"]


# -- Keras BackupAndRestore beside a CSVLogger ----------------------------------------


@pytest.mark.train
@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("keras") is None, reason="needs the [train] extra (keras)")
def test_a_run_resumed_by_backup_and_restore(tmp_path):
    from dynamics.keras.env import import_keras

    keras = import_keras()
    seen: dict[int, dict[str, float]] = {}

    class Crash(keras.callbacks.Callback):
        def __init__(self, at):  # type: ignore[no-untyped-def]
            super().__init__()
            self.at = at

        def on_epoch_end(self, epoch, logs=None):  # type: ignore[no-untyped-def]
            seen[epoch + 1] = dict(logs)
            if epoch + 1 == self.at:
                raise RuntimeError("killed")

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 5)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"), delete_checkpoint=False)
    log = tmp_path / "training.log"
    for crash_at in (3, None):  # the CSV row of epoch 3 is written, the crash comes before the backup of it
        callbacks = [keras.callbacks.CSVLogger(str(log), append=True), Crash(crash_at or 99), backup]
        try:
            model.fit(x[:90], y[:90], validation_data=(x[90:], y[90:]), epochs=5, batch_size=30, verbose=0,
                      callbacks=callbacks)
        except RuntimeError:
            pass
    assert (tmp_path / "backup" / "training_metadata.json").is_file()
    assert log.read_text().count("\n2,") == 2  # epoch 3 (0-based 2) logged twice
    (run,) = load_runs(tmp_path)
    assert list(run.epochs.index) == [1, 2, 3, 4, 5]
    for epoch, logs in seen.items():  # epoch 3's values are those of the resumed attempt
        for name, value in logs.items():
            assert run.epochs.loc[epoch, name] == pytest.approx(float(value), rel=1e-15), (epoch, name)
    assert "resumed at epoch 3 (BackupAndRestore); epoch 3 was logged again and the later values kept" in run.meta.notes
    assert run.meta.extra["resumed_at"] == [3] and run.meta.extra["backup_epochs"] == 5


def test_backup_metadata_alone_is_refused_in_one_line(tmp_path):
    (tmp_path / "training_metadata.json").write_text('{"epoch": 3, "batch": 0}')
    with pytest.raises(NoEpochsError, match="BackupAndRestore's training_metadata.json: it holds where training would "
                                            r"resume \(epoch 3\), no metrics"):
        load_runs(tmp_path / "training_metadata.json")


# -- W&B's console capture -------------------------------------------------------------


def test_wandb_offline_output_log_is_the_printed_log_named_by_its_run():
    folder = SOURCES / "wandb"
    run_dir = folder / "wandb" / "offline-run-20251104_093112-k3x9q2mf"
    printed = load_runs(FIXTURES / "keras3_raw" / "out_verbose2.txt")
    for source in (folder, folder / "wandb", run_dir, run_dir / "files" / "output.log"):
        runs = load_runs(source)
        assert len(runs) == len(printed) == 1  # latest-run, a link to the same run, is not read twice
        assert runs[0].epochs.equals(printed[0].epochs)
        assert runs[0].meta.extra["wandb_run"] == run_dir.name and runs[0].meta.extra["wandb_id"] == "k3x9q2mf"


# -- folders and bad JSON through the CLI ------------------------------------------------


def test_analyze_diagnoses_each_folder_kind():
    for folder in (SOURCES / "lightning", SOURCES / "hf" / "out", SOURCES / "wandb"):
        result = runner.invoke(app, ["analyze", str(folder), "--json", "--no-tables", "--n-val", "40"])
        assert result.exit_code == 0, (folder, result.output)
        (diagnosis,) = json.loads(result.output)["runs"]
        assert diagnosis["findings"], folder


def test_two_lightning_versions_are_two_runs_and_seeds_only_when_asked(tmp_path):
    text = (SOURCES / "lightning" / "lightning_logs" / "version_0" / "metrics.csv").read_text()
    for v in (0, 1):
        (tmp_path / "lightning_logs" / f"version_{v}").mkdir(parents=True)
        (tmp_path / "lightning_logs" / f"version_{v}" / "metrics.csv").write_text(text)
    out = json.loads(runner.invoke(app, ["analyze", str(tmp_path), "--json", "--no-tables", "--n-val", "40"]).output)
    # metrics.csv does not say how a version was trained: each stands alone (dynamics.diagnosis.configuration)
    assert len(out["runs"]) == 2 and len(out["seeds"]) == 2
    out = json.loads(runner.invoke(app, ["analyze", str(tmp_path), "--json", "--no-tables", "--n-val", "40",
                                         "--group-by", "n_val"]).output)
    assert len(out["seeds"]) == 1 and len(out["seeds"][0]["runs"]) == 2


def test_json_that_is_not_a_history_is_one_line_through_the_cli(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"optimizer": "adam", "layers": [64, 32], "dropout": 0.1}))
    result = runner.invoke(app, ["analyze", str(path)])
    assert result.exit_code == NoEpochsError.exit_code
    assert result.output.strip() == (
        f"error: {path} is JSON but not a training history: it holds an object with keys 'optimizer', 'layers', "
        "'dropout', not a Keras History (a dict of lists such as {\"loss\": [...]}), a list of per-epoch dicts or a "
        "trainer_state.json")


def test_a_folder_with_nothing_readable(tmp_path):
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(InputError, match="holds no other training history"):
        load_runs(tmp_path)
    assert ROOT.is_dir()
