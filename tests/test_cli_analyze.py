"""``dynamics analyze`` through the Typer app, and what it imports."""

import json
import re

from typer.testing import CliRunner

from cli.main import app
from conftest import CORPUS, SEED_LOG

runner = CliRunner()


def _flat(text: str) -> str:
    """Terminal output with line wrapping undone."""
    return " ".join(text.split())


def test_seed_report_states_the_issue_numbers():
    result = runner.invoke(app, ["analyze", str(SEED_LOG), "--full"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    out = _flat(result.output)
    assert out.index("Verdict") < out.index("Overfitting: val_loss rose from 0.3736 (epoch 3) to 0.9105")
    for needle in [
        "val_loss fell to 0.3736 at epoch 3, then rose to 0.9105 at epoch 77 (+144%)",
        "0.0129",
        "0.8440 at epoch 3 (95% Wilson interval 0.8292-0.8577, ±1.4 points)",
        "0.8234 at epoch 77 (95% Wilson interval 0.8080-0.8378, ±1.5 points)",
        'EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True) would have stopped after epoch 5 '
        "and restored epoch 3",
        "Patience 3-10 cannot be judged from this log, because epochs 6-74 are missing",
        "must average at least 1.92 nats",
        "at most 0.146",
        "only had to average at least 0.69 nats",
        "at epoch 76 from 0.0134 to 0.0156 (+0.0022, +16%)",
    ]:
        assert needle in out, needle
    assert re.search(r"6-74\W+not in log", out)  # the elided epochs in the table


def test_json_has_the_same_findings_as_data():
    result = runner.invoke(app, ["analyze", str(SEED_LOG), "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    (d,) = data["runs"]
    codes = [f["code"] for f in d["findings"]]
    assert {"overfitting_onset", "confident_mistakes", "early_stopping", "val_accuracy_intervals",
            "training_loss_rises", "paired_comparison_needs_samples"} <= set(codes)
    onset = next(f for f in d["findings"] if f["code"] == "overfitting_onset")
    assert onset["evidence"]["best_epoch"] == 3 and onset["severity"] == "warning"
    assert d["context"]["n_val"] == 2500
    assert d["tables"]["epochs"]["rows"][0]["epoch"] == 1
    slim = json.loads(runner.invoke(app, ["analyze", str(SEED_LOG), "--json", "--no-tables"]).stdout)
    assert "tables" not in slim["runs"][0]


def test_every_run_or_one_run_of_a_multi_run_paste():
    path = CORPUS / "logs" / "046_keras-core-torch-three-runs-plus-evaluate.txt"
    result = runner.invoke(app, ["analyze", str(path), "--json", "--no-tables"])
    assert len(json.loads(result.stdout)["runs"]) == 3
    result = runner.invoke(app, ["analyze", str(path), "--run", "2"], env={"COLUMNS": "120"})
    assert result.exit_code == 0 and "(run 2 of 3)" in result.output
    assert "--run 2 --full" in _flat(result.output)  # the first screen names the command for the rest


def test_n_val_and_classes_options():
    path = CORPUS / "logs" / "040_interrupted-mid-epoch-eta-last-line.txt"
    data = json.loads(runner.invoke(app, ["analyze", str(path), "--json", "--n-val", "6000", "--classes", "10"]).stdout)
    ctx = data["runs"][0]["context"]
    assert (ctx["n_val"], ctx["n_val_source"], ctx["classes"]) == (6000, "option", 10)


def test_stdin():
    result = runner.invoke(app, ["analyze", "-", "--json", "--no-tables"], input=SEED_LOG.read_text())
    assert result.exit_code == 0
    assert json.loads(result.stdout)["runs"][0]["context"]["epochs_logged"][-1] == 77
