"""``dynamics parse`` through the Typer app, as a user runs it."""

from __future__ import annotations

import csv
import io
import json

from typer.testing import CliRunner

from cli.main import app
from conftest import CORPUS, SEED_LOG

runner = CliRunner()
THREE_RUNS = CORPUS / "logs" / "046_keras-core-torch-three-runs-plus-evaluate.txt"


def test_human_output_has_header_table_gap_and_events(tmp_path):
    result = runner.invoke(app, ["parse", str(SEED_LOG)])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "printed log (keras1, verbose=1)" in out
    assert "22500 training samples, 2500 validation samples" in out
    assert "8 complete (1-5, 75-77) of 100 declared" in out
    assert "elided:       6-74" in out
    assert "... 69 epochs not in the log ..." in out
    assert "   77  0.0129    0.9883    0.9105        0.8234" in out


def test_events_and_interrupted_epoch_are_shown(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text(
        "Epoch 1/3\n - 5s - loss: 0.5000 - val_loss: 0.6000\nEpoch 2/3\nEpoch 00002: val_loss did not improve\n"
        "  3/100 [>....] - ETA: 5s - loss: 0.4000\n"
    )
    result = runner.invoke(app, ["parse", str(log)])
    assert result.exit_code == 0
    assert "interrupted:  2" in result.stdout
    assert "epoch 2     checkpoint_not_improved  Epoch 00002: val_loss did not improve" in result.stdout


def test_json_is_strict_and_canonical():
    result = runner.invoke(app, ["parse", str(SEED_LOG), "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    (run,) = data["runs"]
    assert run["meta"]["n_train"] == 22500 and run["meta"]["elided"] == [[6, 74]]
    assert run["epochs"][0] == {
        "epoch": 1,
        "loss": 0.5438,
        "accuracy": 0.7209,
        "val_loss": 0.4305,
        "val_accuracy": 0.8076,
        "timing": {"seconds": 236.0},
    }
    assert [r["epoch"] for r in run["epochs"]] == [1, 2, 3, 4, 5, 75, 76, 77]


def test_json_keeps_printed_nan_as_a_string():
    result = runner.invoke(app, ["parse", str(CORPUS / "logs" / "030_nan-nested-epoch-header-glued.txt"), "--json"])
    rows = json.loads(result.stdout)["runs"][0]["epochs"]
    assert rows[1]["loss"] == "nan"


def test_csv_to_stdout_and_to_a_file(tmp_path):
    result = runner.invoke(app, ["parse", str(THREE_RUNS), "--csv", "-"])
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 2 * 11
    assert rows[0] == {"run": "1", "epoch": "1", "metric": "mean_absolute_error", "value": "0.4083"}
    assert rows[-1] == {"run": "3", "epoch": "3", "metric": "loss", "value": "0.101"}
    target = tmp_path / "tidy.csv"
    result = runner.invoke(app, ["parse", str(SEED_LOG), "--csv", str(target)])
    assert result.exit_code == 0 and "elided" in result.stdout
    assert target.read_text().splitlines()[1] == "1,1,loss,0.5438"


def test_run_option_selects_one_run():
    result = runner.invoke(app, ["parse", str(THREE_RUNS), "--run", "2", "--json"])
    (run,) = json.loads(result.stdout)["runs"]
    assert run["meta"]["run_index"] == 1 and len(run["epochs"]) == 5
    result = runner.invoke(app, ["parse", str(THREE_RUNS), "--run", "2"])
    assert "run 2 of 3" in result.stdout


def test_stdin():
    result = runner.invoke(app, ["parse", "-"], input=SEED_LOG.read_text())
    assert result.exit_code == 0 and "<stdin>" in result.stdout

