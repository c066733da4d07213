"""``dynamics compare``: runs side by side in the terminal, as JSON and as a report; the comparison itself."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app
from conftest import CORPUS, SEED_LOG
from dynamics.diagnose import diagnose
from dynamics.diagnosis.compare import compare
from dynamics.errors import ArgumentError
from dynamics.report.compare_terminal import render_comparison_text
from dynamics.report.content import compare_report, run_reports
from dynamics.simulate import simulate_run

runner = CliRunner()
OTHER = CORPUS / "logs" / "002_lstm-val-acc-fluctuation-keras1.txt"


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_compare_two_logs_in_the_terminal():
    result = runner.invoke(app, ["compare", str(SEED_LOG), str(OTHER)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = _flat(result.output)
    assert "dynamics compare: 2 runs, 2 configurations" in out
    assert "0.3736 (3)" in out and "0.9105" in out and "+144%" in out  # the seed's row
    assert "2 -> 5, 3" in out  # patience 2 stops after epoch 5 and keeps 3
    assert "overfits later than" in out


def test_compare_as_json_and_as_report(tmp_path):
    out = tmp_path / "cmp.html"
    result = runner.invoke(app, ["compare", str(SEED_LOG), str(OTHER), "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    seed = next(r for r in data["summary"] if r["run"] == SEED_LOG.name)
    assert seed["best_val_loss_epoch"] == 3 and seed["best_val_loss"] == pytest.approx(0.3736)
    assert seed["last_val_loss"] == pytest.approx(0.9105) and seed["kept_epoch"] == 3
    assert data["findings"][0]["code"] == "compare_best_epochs"
    text = out.read_text()
    assert text.count("<img ") == 1 and "Runs side by side" in text and "<script" not in text
    md = tmp_path / "cmp.md"
    result = runner.invoke(app, ["compare", str(SEED_LOG), str(OTHER), "--out", str(md)])
    assert result.exit_code == 0 and (tmp_path / "cmp_files" / "compare-compare.png").is_file()


def test_seeds_are_grouped_with_their_spread():
    runs = [simulate_run(story, n=400, epochs=10, seed=s) for story in ("overconfident", "healthy") for s in (0, 1, 2)]
    report = compare_report(run_reports(runs))
    c = report.comparison
    assert list(c.groups) == ["story=overconfident", "story=healthy"]
    assert c.labels[0] == "simulated:overconfident seed=0"
    # The band is the seed spread: min and max across the three runs, checked directly.
    acc = np.vstack([r.series("val_accuracy").to_numpy() for r in runs[:3]])
    table = c.spreads["story=overconfident"].table
    np.testing.assert_allclose(table["min"], acc.min(axis=0))
    np.testing.assert_allclose(table["max"], acc.max(axis=0))
    np.testing.assert_allclose(table["run_sd"], acc.std(axis=0, ddof=1))
    g = c.group_summary
    best = [diagnose(r).get("best_epochs").evidence["val_loss"]["epoch"] for r in runs[:3]]
    assert g.at["story=overconfident", "best_epoch_mean"] == pytest.approx(np.mean(best))
    codes = [f.code for f in c.findings]
    assert codes == ["compare_best_epochs", "seeds", "seeds"]
    first = c.findings[0]
    assert first.evidence["later"] == "story=healthy" and "does not overfit within its epochs" in first.claim
    text = _flat(render_comparison_text(c, width=220))
    assert "story=overconfident: Across 3 runs" in text and "from wrong" in text  # recorded-run columns


def test_group_by_names_the_keys():
    runs = [simulate_run("healthy", n=200, epochs=4, seed=s) for s in (0, 1)]
    runs[1].meta.extra["pooling"] = "mean"
    runs[0].meta.extra["pooling"] = "last"
    c = compare([diagnose(r) for r in runs], group_by=["pooling"])
    assert list(c.groups) == ["pooling=last", "pooling=mean"]
    c = compare([diagnose(r) for r in runs], group_by=["dataset"])  # nobody has it: each run alone
    assert len(c.groups) == 2 and all(len(m) == 1 for m in c.groups.values())


def test_compare_refuses_one_run():
    with pytest.raises(ArgumentError, match="at least 2 runs"):
        compare([diagnose(simulate_run("healthy", n=100, epochs=3))])


def test_summary_reads_the_diagnosis():
    d = diagnose(simulate_run("overconfident", n=300, epochs=8, seed=4))
    other = diagnose(simulate_run("healthy", n=300, epochs=8, seed=4))
    c = compare([d, other])
    row = c.summary.iloc[0]
    best = d.get("best_epochs").evidence["val_loss"]
    assert row["best_val_loss_epoch"] == best["epoch"] and row["best_val_loss"] == best["value"]
    last = d.run.epochs["val_loss"].iloc[-1]
    assert row["last_val_loss"] == last
    assert math.isclose(row["val_loss_rise_pct"], 100 * (last / best["value"] - 1), rel_tol=1e-6)


def _groups(rows):
    import pandas as pd

    cols = ["runs", "best_epoch_mean", "best_epoch_min", "best_epoch_max", "best_val_loss_mean",
            "last_val_loss_mean", "rise_pct_mean"]
    return pd.DataFrame.from_dict(rows, orient="index", columns=cols)


def test_a_later_bottom_within_the_seed_ranges_is_not_called_a_difference():
    from dynamics.diagnosis.compare import _best_epochs_finding

    overlapping = _groups({"pooling=mean": [2, 1.5, 1, 2, 0.41, 1.04, 150], "pooling=max": [2, 2.5, 2, 3, 0.36, 0.77, 112]})
    f = _best_epochs_finding(overlapping, {"pooling=mean": 10, "pooling=max": 10})
    assert f.evidence["later"] == "pooling=max" and f.evidence["epochs_later"] == 1
    assert f.evidence["ranges_overlap"] is True
    assert "ranges overlap (epochs 1-2 against 2-3)" in f.claim and "within run-to-run variation" in f.claim
    apart = _groups({"pooling=mean": [2, 1.5, 1, 2, 0.41, 1.04, 150], "pooling=max": [2, 5.5, 5, 6, 0.36, 0.77, 112]})
    f = _best_epochs_finding(apart, {"pooling=mean": 10, "pooling=max": 10})
    assert "ranges_overlap" not in f.evidence and "bottoms out 4 epochs later" in f.claim
