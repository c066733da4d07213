"""``dynamics analyze`` on recorded run directories: the per-sample findings inside the diagnosis, and seeds.

Runs are simulated (:mod:`dynamics.simulate`) and saved in the run-directory
format ``dynamics train`` writes. The numbers the CLI prints are checked
against computations done here straight from the ``.npy`` files: per-sample
losses, flips, McNemar's exact p-value (a binomial sum with ``math.comb``) and
the run-to-run standard deviation of ``epochs.csv``.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from recorded_runs import write_run_dir
from typer.testing import CliRunner

from cli.main import app
from conftest import SEED_LOG
from dynamics.simulate import simulate_run

runner = CliRunner()


def invoke(*args: str):
    if "--json" not in args and "--full" not in args:
        args = (*args, "--full")  # these tests read the findings, not only the first screen
    result = runner.invoke(app, ["analyze", *args])
    return result


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    out = {
        "over": write_run_dir(simulate_run("overconfident", n=1500, epochs=12, seed=3, n_train=100), root / "over"),
        "k": write_run_dir(simulate_run("flipping", n=1200, epochs=10, classes=4, seed=4, label_noise=0.2,
                                        n_train=50), root / "k"),
        "healthy": write_run_dir(simulate_run("healthy", n=500, epochs=6, seed=1, n_train=20), root / "healthy"),
    }
    seeds = root / "seeds"
    for s in range(3):
        write_run_dir(simulate_run("flipping", n=800, epochs=8, seed=s, n_train=20), seeds / f"sim-flipping-seed{s}")
    write_run_dir(simulate_run("minority", n=800, epochs=8, seed=0, n_train=20), seeds / "sim-minority-seed0")
    out["seeds"] = seeds
    return out


# -- independent computations from the raw files ---------------------------------


def raw(directory: Path) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Labels and each epoch's probabilities, decoded here from the files as meta.json says they are stored."""
    encoding = json.loads((directory / "meta.json").read_text()).get("prediction_encoding")
    y = np.load(directory / "val" / "labels.npy")
    epochs = {}
    for path in sorted((directory / "val").glob("epoch_*.npy")):
        stored = np.load(path).astype(np.float64)
        if encoding == "logit-float16":
            stored = 1 / (1 + np.exp(-stored))
        elif encoding == "logprob-float16":
            stored = np.exp(stored)
        # the reader hands out float32 probabilities
        epochs[int(path.stem.split("_")[1])] = stored.astype(np.float32).astype(np.float64)
    return y, epochs


def correct(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    pred = (p > 0.5).astype(int) if p.ndim == 1 else np.argmax(p, axis=1)
    return pred == y


def losses(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Keras's cross-entropy: clip the output to [eps, 1 - eps] (float32 numbers), then -log of the true class."""
    lo, hi = float(np.float32(1e-7)), float(np.float32(1) - np.float32(1e-7))
    if p.ndim == 1:  # binary_crossentropy clips P(class 1), so a saturated mistake costs 15.94 or 16.12 nats
        pc = np.clip(p, lo, hi)
        return -(y * np.log(pc) + (1 - y) * np.log(1 - pc))
    q = np.clip(p / p.sum(axis=1, keepdims=True), lo, hi)
    return -np.log(q[np.arange(len(y)), y])


def exact_mcnemar(b: int, c: int) -> float:
    """Two-sided exact p: twice the smaller binomial tail, at most 1."""
    m = b + c
    if m == 0:
        return 1.0
    tail = sum(math.comb(m, i) for i in range(min(b, c) + 1)) / 2**m
    return min(1.0, 2 * tail)


def as_frame(table: dict) -> pd.DataFrame:
    return pd.DataFrame(table["rows"]).set_index(table["index"]) if table["index"] else pd.DataFrame(table["rows"])


# -- one recorded run ------------------------------------------------------------


@pytest.fixture(scope="module")
def over_json(runs):
    result = invoke(str(runs["over"]), "--json")
    assert result.exit_code == 0, result.output
    (run,) = json.loads(result.output)["runs"]
    return run


def test_verdict_states_which_story_holds_with_numbers_from_the_raw_predictions(runs):
    y, epochs = raw(runs["over"])
    loss = {e: losses(y, p) for e, p in epochs.items()}
    best = min(loss, key=lambda e: loss[e].mean())
    last = max(epochs)
    delta = loss[last] - loss[best]
    share = delta[~correct(y, epochs[best])].sum() / delta.sum()
    result = invoke(str(runs["over"]))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.replace("│", " ").split())
    verdict = text[text.index("Verdict"):text.index("Overfitting -")]
    assert (f"Sample by sample (1,500 validation samples, 12 epochs recorded): the rise is {100 * share:.0f}% from "
            f"samples already wrong at epoch {best}") in verdict
    assert re.search(r"temperature scaling removes \d+% of it, \d+\.\d% of samples carry half of it, \d+\.\d% of "
                     r"samples flip each epoch while accuracy moves \d\.\d\d points: overconfident mistakes", verdict)
    assert "mostly miscalibration" in verdict
    assert "Counting the flips" in verdict
    for title in ("Sample by sample: where the val_loss rise comes from", "Recorded epochs: where the loss sits",
                  "Recorded epochs: samples trading places"):
        assert title in result.output
    # what the log could only bound is answered, not repeated as "cannot be told"
    assert "cannot be told from this log, because both epochs score the same samples" not in text
    assert "the log cannot show" not in text


def test_json_carries_the_per_sample_findings_and_tables(runs, over_json):
    codes = [f["code"] for f in over_json["findings"]]
    assert {"val_loss_rise", "overconfident_mistakes", "temperature_scaling", "minority_loss_growth",
            "borderline_flipping", "churn", "label_issues", "forgetting", "paired_flips", "mistake_loss_exact"} <= set(codes)
    assert "paired_comparison_needs_samples" not in codes and "confident_mistakes" not in codes
    assert over_json["context"]["superseded"] == {"paired_comparison_needs_samples": "paired_flips",
                                                   "confident_mistakes": "mistake_loss_exact"}
    tables = over_json["tables"]
    assert {"samples_per_epoch", "samples_churn", "samples_mcnemar", "samples_reliability", "samples_top_samples",
            "samples_label_issues", "samples_transitions", "samples_train_per_epoch"} <= set(tables)
    assert not {"samples_per_sample", "samples_data_map"} & set(tables)
    assert len(tables["samples_per_epoch"]["rows"]) == 12
    # the log-level tables are still there, with the exact mistake loss joined to the epoch table
    assert {"epochs", "early_stopping", "confidence_bounds"} <= set(tables)
    y, epochs = raw(runs["over"])
    exact = [losses(y, p)[~correct(y, p)].mean() for p in epochs.values()]
    assert as_frame(tables["epochs"])["mistake_loss"].to_numpy() == pytest.approx(exact)
    full = json.loads(invoke(str(runs["over"]), "--json", "--per-sample").output)["runs"][0]["tables"]
    assert len(full["samples_per_sample"]["rows"]) == 1500 and len(full["samples_data_map"]["rows"]) == 1500


def test_mcnemar_counts_and_p_values_match_the_raw_predictions(runs, over_json):
    y, epochs = raw(runs["over"])
    ok = {e: correct(y, p) for e, p in epochs.items()}
    f = next(x for x in over_json["findings"] if x["code"] == "paired_flips")
    pair = f["evidence"]["best_accuracy_vs_last"]
    a, z = ok[pair["from_epoch"]], ok[pair["to_epoch"]]
    b, c = int((a & ~z).sum()), int((~a & z).sum())
    assert (pair["right_to_wrong"], pair["wrong_to_right"]) == (b, c)
    assert pair["p_value"] == pytest.approx(exact_mcnemar(b, c))
    assert pair["from_epoch"] == max(ok, key=lambda e: (ok[e].sum(), -e))  # highest accuracy, earliest
    assert f"{b} samples went right -> wrong and {c} wrong -> right" in f["claim"]
    table = as_frame(over_json["tables"]["samples_mcnemar"])
    for e, row in table.iterrows():
        prev, cur = ok[e - 1], ok[e]
        b, c = int((prev & ~cur).sum()), int((~prev & cur).sum())
        assert (row["right_to_wrong"], row["wrong_to_right"]) == (b, c)
        assert row["p_value"] == pytest.approx(exact_mcnemar(b, c))
    after = table[table["from_epoch"] >= f["evidence"]["consecutive_after_best"]["from_epoch"]]
    assert f["evidence"]["consecutive_after_best"]["significant"] == int((after["p_value"] < 0.05).sum())


def test_exact_mistake_loss_matches_the_raw_predictions_and_lies_in_the_log_bounds(runs, over_json):
    y, epochs = raw(runs["over"])
    f = next(x for x in over_json["findings"] if x["code"] == "mistake_loss_exact")
    for e, item in f["evidence"]["epochs"].items():
        p = epochs[int(e)]
        wrong = ~correct(y, p)
        assert item["n_wrong"] == int(wrong.sum())
        assert item["loss_wrong"] == pytest.approx(losses(y, p)[wrong].mean())
        assert item["bound_low"] <= item["loss_wrong"] <= item["bound_high"] and item["inside_bounds"]
        if "stored_low" in item:  # float16 leaves saturated mistakes' losses a range
            assert item["stored_low"] <= item["loss_wrong"] <= item["stored_high"]
    assert ("the exact values lie inside those bounds" in f["claim"]
            or "the ranges the stored values allow overlap those bounds" in f["claim"])


def test_k_class_run_counts_only_changes_of_correctness(runs):
    result = invoke(str(runs["k"]), "--json")
    assert result.exit_code == 0, result.output
    run = json.loads(result.output)["runs"][0]
    assert run["context"]["classes"] == 4
    y, epochs = raw(runs["k"])
    ok = {e: correct(y, p) for e, p in epochs.items()}
    pred = {e: np.argmax(p, axis=1) for e, p in epochs.items()}
    table = as_frame(run["tables"]["samples_mcnemar"])
    other = 0
    for e, row in table.iterrows():
        b, c = int((ok[e - 1] & ~ok[e]).sum()), int((~ok[e - 1] & ok[e]).sum())
        changed = int((pred[e - 1] != pred[e]).sum())
        assert (row["right_to_wrong"], row["wrong_to_right"], row["changed"]) == (b, c, changed)
        other += changed - b - c
    assert other > 0  # samples that moved between two wrong classes exist and are not counted by McNemar


def test_a_run_without_a_rise_tests_no_story_but_still_counts_flips(runs):
    result = invoke(str(runs["healthy"]), "--json")
    run = json.loads(result.output)["runs"][0]
    by = {f["code"]: f for f in run["findings"]}
    assert by["val_loss_rise"]["severity"] == "undetermined"
    assert "overconfident_mistakes" not in by
    assert "paired_flips" in by
    assert "Sample by sample (" not in run["verdict"]["text"]


def test_a_log_is_diagnosed_exactly_as_before(tmp_path):
    from dynamics.diagnose import diagnose
    from dynamics.sources.io import load_runs

    result = invoke(str(SEED_LOG), "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert list(data) == ["runs"]
    expected = json.loads(json.dumps([diagnose(r).to_dict() for r in load_runs(SEED_LOG)], allow_nan=False))
    assert data["runs"] == expected


# -- seeds -----------------------------------------------------------------------------


def _spread(dirs: list[Path]) -> pd.DataFrame:
    acc = pd.concat({d.name: pd.read_csv(d / "epochs.csv", index_col="epoch")["val_accuracy"] for d in dirs}, axis=1)
    return pd.DataFrame({"mean": acc.mean(axis=1), "run_sd": acc.std(axis=1, ddof=1)})


def test_a_folder_of_run_directories_compares_the_seeds_of_each_configuration(runs):
    result = invoke(str(runs["seeds"]), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data["runs"]) == 4
    groups = {len(g["runs"]): g for g in data["seeds"]}
    single, three = groups[1], groups[3]
    assert single["finding"]["code"] == "seeds_single" and "story=minority" in single["title"]
    assert three["finding"]["code"] == "seeds" and "story=flipping" in three["title"]
    assert three["configuration"]["story"] == "flipping" and "seed" not in three["configuration"]
    dirs = sorted(runs["seeds"].glob("sim-flipping-seed*"))
    expected = _spread(dirs)
    table = as_frame(three["table"])
    assert table["run_sd"].to_numpy() == pytest.approx(expected["run_sd"].to_numpy())
    ev = three["finding"]["evidence"]
    plateau = expected.loc[expected.index >= ev["from_epoch"]]
    assert ev["run_sd"] == pytest.approx(plateau["run_sd"].mean())
    mean = plateau["mean"].mean()
    assert ev["binomial_se"] == pytest.approx(math.sqrt(mean * (1 - mean) / 800))
    text = invoke(str(runs["seeds"])).output
    assert "Across runs: is the seed a bigger source of variation than the validation set?" in text
    assert f"binomial noise of 800 validation samples is {100 * ev['binomial_se']:.2f} points" in " ".join(text.split())


def test_several_sources_are_compared_and_one_source_is_not(runs):
    dirs = sorted(str(p) for p in runs["seeds"].glob("sim-flipping-seed*"))
    data = json.loads(invoke(*dirs, "--json", "--no-tables").output)
    assert [len(g["runs"]) for g in data["seeds"]] == [3]
    assert "seeds" not in json.loads(invoke(dirs[0], "--json", "--no-tables").output)


def test_logs_stand_alone_unless_grouped_and_n_val_can_be_given(tmp_path):
    paths = []
    for s in range(3):
        run = simulate_run("healthy", n=600, epochs=6, seed=s, n_train=20)
        path = tmp_path / f"log{s}.csv"
        run.epochs.reset_index().to_csv(path, index=False)
        paths.append(str(path))
    alone = json.loads(invoke(*paths, "--json", "--no-tables").output)["seeds"]
    assert [g["runs"] for g in alone] == [[p] for p in paths]
    assert all(g["finding"]["code"] == "seeds_single" and "--group-by n_val" in g["finding"]["suggestion"]
               for g in alone)
    unknown = json.loads(invoke(*paths, "--json", "--no-tables", "--group-by", "n_val").output)["seeds"]
    assert [g["runs"] for g in unknown] == [paths]
    assert unknown[0]["finding"]["severity"] == "undetermined"
    assert "validation size is unknown" in unknown[0]["finding"]["claim"]
    given = json.loads(invoke(*paths, "--json", "--no-tables", "--n-val", "600", "--group-by", "n_val").output)["seeds"]
    assert given[0]["finding"]["evidence"]["n_val"] == 600 and given[0]["finding"]["severity"] in ("info", "warning")
    acc = np.vstack([pd.read_csv(p, index_col="epoch")["val_accuracy"].to_numpy() for p in paths])
    plateau = acc[:, 3:]  # from epoch 4 of 6: the second half
    assert given[0]["finding"]["evidence"]["run_sd"] == pytest.approx(plateau.std(axis=0, ddof=1).mean())


def test_float16_probabilities_are_flagged_when_they_change_the_loss_and_log_space_storage_is_not(tmp_path):
    """epochs.csv holds Keras's float32 losses; the predictions are stored as raw float16 probabilities (run
    format 1, the recorder's old default) or in the current default (float16 logits)."""
    from recorded_runs import write_format1_run_dir

    from dynamics.run import Predictions, Run, RunMeta, make_epoch_table
    from dynamics.simulate import epoch_arrays
    from dynamics.stats.probabilities import EpochView

    y, arrays = epoch_arrays("overconfident", n=2000, epochs=10, seed=7, margin=(1.0, 2.5), dtype=np.float32)
    p32 = list(arrays)
    rows = {}
    for e, p in enumerate(p32, start=1):
        v = EpochView(p, y)
        rows[e] = {"loss": 0.5 / e, "val_loss": float(v.loss.mean()), "val_accuracy": float(v.correct.mean())}
    preds = Predictions(np.arange(1, 11), y, p32, np.arange(2000))
    run = Run(make_epoch_table(rows), RunMeta(n_val=2000, classes=2, epochs_declared=10), predictions=preds)

    current = json.loads(invoke(str(write_run_dir(run, tmp_path / "logit")), "--json").output)["runs"][0]
    assert "stored_precision" not in {x["code"] for x in current["findings"]}
    assert "Caution" not in current["verdict"]["text"] and "samples_storage" not in current["tables"]
    recomputed = as_frame(current["tables"]["samples_per_epoch"])["val_loss"]
    np.testing.assert_allclose(recomputed.to_numpy(), [rows[e]["val_loss"] for e in recomputed.index], rtol=1e-4)

    directory = write_format1_run_dir(run, tmp_path / "f16")
    data = json.loads(invoke(str(directory), "--json").output)["runs"][0]
    f = next(x for x in data["findings"] if x["code"] == "stored_precision")
    assert f["severity"] == "warning"
    last = f["evidence"]["epochs"]["10"]
    _, raw_epochs = raw(directory)
    stored = raw_epochs[10]
    assert last["saturated"] == int(((stored == 1.0) & (y == 0)).sum()) > 0
    assert last["stored_mean"] == pytest.approx(losses(y, stored).mean())
    assert last["logged"] == pytest.approx(rows[10]["val_loss"])
    assert last["low"] <= last["logged"] <= last["high"] and last["logged_within"]
    assert "Caution: the predictions are stored as float16 probabilities" in data["verdict"]["text"]
    codes = [x["code"] for x in data["findings"]]
    assert codes.index("stored_precision") == codes.index("val_loss_rise") + 1


def test_runs_of_dynamics_train_are_grouped_by_pooling_not_by_seed():
    from dynamics.diagnosis.configuration import configuration, group_runs

    runs = []
    for pooling in ("last", "mean"):
        for seed in (0, 1):
            run = simulate_run("healthy", n=300, epochs=5, seed=seed + (pooling == "mean"), n_train=10)
            options = {"dataset": "synthetic", "epochs": 5, "seed": seed, "batch_size": 32, "verbose": 2}
            run.meta.extra = {"dataset": "synthetic", "pooling": pooling, "seed": seed, "options": options,
                              "started": f"2026-01-0{seed + 1}", "command": f"dynamics train --seed {seed}"}
            runs.append(run)
    assert configuration(runs[0]) == configuration(runs[1]) != configuration(runs[2])
    groups = group_runs(runs)
    assert [(len(g.runs), g.configuration["pooling"]) for g in groups] == [(2, "last"), (2, "mean")]
    assert all("pooling=" in g.title and "seed" not in g.configuration for g in groups)
    assert all(g.finding.code == "seeds" and g.table is not None and list(g.table.index) == [1, 2, 3, 4, 5]
               for g in groups)


def test_the_shipped_real_recorded_run_through_the_cli():
    from conftest import FIXTURES

    directory = FIXTURES / "recorded" / "synthetic-last-seed0"
    result = invoke(str(directory), "--json")
    assert result.exit_code == 0, result.output
    run = json.loads(result.output)["runs"][0]
    codes = {f["code"] for f in run["findings"]}
    assert {"paired_flips", "churn", "label_issues", "forgetting", "val_loss_rise"} <= codes
    assert "paired_comparison_needs_samples" not in codes
    y, epochs = raw(directory)
    per_epoch = as_frame(run["tables"]["samples_per_epoch"])
    assert per_epoch["accuracy"].to_numpy() == pytest.approx([correct(y, p).mean() for p in epochs.values()])
    text = invoke(str(directory)).output
    assert "Recorded epochs: samples trading places" in text
