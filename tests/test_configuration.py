"""One definition of "the same configuration": ``analyze`` and ``compare`` group the same runs the same way.

The expected groups are written out by hand for each set of inputs. Two of
the sets are where the two commands used to disagree: logs named together
(``analyze`` took them as seeds of one configuration, ``compare`` as
different runs) and runs of ``dynamics train`` that differ in a training
option outside ``compare``'s old allow-list (``compare`` took them as one
configuration, ``analyze`` as two).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from recorded_runs import write_run_dir
from typer.testing import CliRunner

from cli.main import app
from dynamics.diagnosis.configuration import configuration, group_runs
from dynamics.run import Run, RunMeta, make_epoch_table
from dynamics.simulate import simulate_run

runner = CliRunner()


def _json(*args: str) -> dict:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _partitions(paths: list[str], *extra: str) -> tuple[list[list[str]], list[list[str]]]:
    """The groups (as lists of run labels) ``analyze`` and ``compare`` make of the same sources."""
    analyzed = _json("analyze", *paths, "--json", "--no-tables", *extra)
    by_analyze = [g["runs"] for g in analyzed["seeds"]]
    labels = [r["label"] for r in analyzed["runs"]]  # both commands load the sources in the same order
    compared = _json("compare", *paths, "--json", *extra)
    by_compare = [[labels[i] for i in members] for members in compared["groups"].values()]
    return by_analyze, by_compare


def _logs(tmp_path: Path) -> list[str]:
    paths = []
    for s in range(3):
        run = simulate_run("healthy", n=600, epochs=6, seed=s)
        path = tmp_path / f"log{s}.csv"
        run.epochs.reset_index().to_csv(path, index=False)
        paths.append(str(path))
    return paths


def _trained(tmp_path: Path) -> list[str]:
    """Four runs as ``dynamics train`` records them: batch size 32 for seeds 0 and 1, 64 for seeds 2 and 3."""
    paths = []
    for s in range(4):
        options = {"dataset": "synthetic", "epochs": 5, "seed": s, "batch_size": 32 if s < 2 else 64, "verbose": 2}
        run = simulate_run("flipping", n=400, epochs=5, seed=s, n_train=10)
        paths.append(str(write_run_dir(run, tmp_path / f"synthetic-last-seed{s}", dataset="synthetic",
                                       pooling="last", options=options, started=f"2026-01-0{s + 1}")))
    return paths


def test_logs_named_together_stand_alone_in_both_commands(tmp_path):
    paths = _logs(tmp_path)
    by_analyze, by_compare = _partitions(paths)
    assert by_analyze == by_compare == [[p] for p in paths]
    by_analyze, by_compare = _partitions(paths, "--group-by", "n_val", "--n-val", "600")
    assert by_analyze == by_compare == [paths]


def test_a_training_option_splits_the_configuration_in_both_commands(tmp_path):
    paths = _trained(tmp_path)
    by_analyze, by_compare = _partitions(paths)
    assert by_analyze == by_compare == [paths[:2], paths[2:]]
    compared = _json("compare", *paths, "--json")
    assert list(compared["groups"]) == ["batch_size=32", "batch_size=64"]
    # The seed finding each command reports for a group carries the same spread, checked against epochs.csv.
    analyzed = _json("analyze", *paths, "--json", "--no-tables")
    acc = np.vstack([np.loadtxt(Path(p) / "epochs.csv", delimiter=",", skiprows=1,
                                usecols=_column(Path(p) / "epochs.csv", "val_accuracy")) for p in paths[:2]])
    expected = acc[:, 2:].std(axis=0, ddof=1).mean()  # epochs 3-5 of 5: the second half
    from_analyze = analyzed["seeds"][0]["finding"]["evidence"]["run_sd"]
    from_compare = next(f for f in compared["findings"] if f["code"] == "seeds")["evidence"]["run_sd"]
    assert from_analyze == from_compare == pytest.approx(expected)
    by_analyze, by_compare = _partitions(paths, "--group-by", "pooling")
    assert by_analyze == by_compare == [paths]


def _column(path: Path, name: str) -> int:
    return path.read_text().splitlines()[0].split(",").index(name)


def test_simulated_stories_group_by_story_in_both_commands(tmp_path):
    paths = [str(write_run_dir(simulate_run(story, n=300, epochs=5, seed=s, n_train=10), tmp_path / f"{story}{s}"))
             for story, s in (("flipping", 0), ("minority", 0), ("flipping", 1))]
    by_analyze, by_compare = _partitions(paths)
    assert by_analyze == by_compare == [[paths[0], paths[2]], [paths[1]]]


def test_the_spread_is_computed_once_per_group(monkeypatch):
    import dynamics.stats.seeds as seeds

    calls = []
    real = seeds.seed_spread_of_runs
    monkeypatch.setattr(seeds, "seed_spread_of_runs", lambda runs, **kw: calls.append(len(runs)) or real(runs, **kw))
    runs = [simulate_run(story, n=200, epochs=4, seed=s) for story in ("healthy", "flipping") for s in (0, 1, 2)]
    groups = group_runs(runs)
    assert calls == [3, 3]
    assert [g.indices for g in groups] == [[0, 1, 2], [3, 4, 5]]
    assert all(g.table is g.spread.table for g in groups)


def test_what_a_configuration_is():
    log = Run(make_epoch_table({1: {"val_accuracy": 0.5}}), RunMeta(n_val=100, extra={"counter_target": 782}))
    assert configuration(log) is None  # a log says nothing of how it was trained
    seeded = Run(log.epochs, RunMeta(n_val=100, extra={"seed": 3, "started": "today"}))
    assert configuration(seeded) == {"n_val": 100}
    trained = Run(log.epochs, RunMeta(n_val=100, extra={"dataset": "imdb", "pooling": "max", "seed": 1,
                                                         "options": {"seed": 1, "verbose": 2, "batch_size": 32}}))
    assert configuration(trained) == {"batch_size": 32, "dataset": "imdb", "pooling": "max", "n_val": 100}
    # Grouped by keys, a log has its n_val; a run without any of the keys stands alone.
    groups = group_runs([log, trained, log], keys=["n_val"])
    assert [g.indices for g in groups] == [[0, 1, 2]] and groups[0].name == "n_val=100"
    groups = group_runs([log, trained], keys=["pooling"])
    assert [(g.indices, g.configuration) for g in groups] == [([0], None), ([1], {"pooling": "max"})]
