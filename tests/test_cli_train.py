"""``dynamics train`` as a user runs it: bad options, no Keras, kill -9 in the
middle of a run, and keras.distribution.DataParallel on two CPU devices."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app
from conftest import ROOT
from dynamics.sources.io import load_run, load_runs
from dynamics.sources.rundir import read_run_dir

runner = CliRunner()
HAS_KERAS = importlib.util.find_spec("keras") is not None


def _env(tmp_path, **extra):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KERAS_HOME": str(tmp_path / "keras_home")}
    env.pop("KERAS_BACKEND", None)
    env.update(extra)
    return env


def test_an_existing_run_is_not_overwritten(tmp_path):
    (tmp_path / "synthetic-last-seed0").mkdir()
    (tmp_path / "synthetic-last-seed0" / "meta.json").write_text("{}")
    result = runner.invoke(app, ["train", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "already holds a recorded run; use --overwrite" in result.stderr
    assert (tmp_path / "synthetic-last-seed0" / "meta.json").read_text() == "{}"


def test_missing_keras_says_how_to_install(tmp_path):
    code = ("import sys; sys.modules['keras'] = None; sys.argv = ['dynamics', 'train', '--epochs', '1']; "
            "from cli.main import main; main()")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_env(tmp_path),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert result.stderr.strip() == (
        "error: training needs Keras 3 and JAX, which are not installed: pip install -e '.[train]'")


@pytest.mark.slow
@pytest.mark.train
@pytest.mark.skipif(not HAS_KERAS, reason="needs the [train] extra")
def test_sigkill_keeps_every_finished_epoch(tmp_path):
    out = tmp_path / "runs"
    run_dir = out / "synthetic-mean-seed0"
    cmd = [sys.executable, "-m", "dynamics", "train", "--pooling", "mean", "--max-samples", "120",
           "--epochs", "60", "--train-subset", "30", "--verbose", "2", "--out", str(out)]
    with open(tmp_path / "stderr.txt", "w") as err:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.DEVNULL, stderr=err)
        try:
            live_reads, deadline = 0, time.monotonic() + 240
            while time.monotonic() < deadline and proc.poll() is None:
                if (run_dir / "epochs.csv").exists():
                    live = read_run_dir(run_dir)  # reading while training goes on
                    live_reads += 1
                    assert len(live.predictions) == len(live.epochs)
                    if len(live.epochs) >= 2:
                        break
                time.sleep(0.02)
            assert proc.poll() is None, (tmp_path / "stderr.txt").read_text()[-3000:]
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL and live_reads >= 1
    run = load_run(run_dir)
    n = len(run.epochs)
    assert 2 <= n < 60 and list(run.epochs.index) == list(range(1, n + 1))
    assert list(run.predictions.epochs) == list(range(1, n + 1))
    assert list(run.train_predictions.epochs) == list(range(1, n + 1))
    assert np.isfinite(run.predictions.stacked()).all()
    assert run.meta.interrupted_epoch == n + 1 and run.events[-1].kind == "interrupted"
    assert run.meta.extra["status"] == "running"
    assert not any("unreadable" in note for note in run.meta.notes)
    printed = load_runs(run_dir / "progress.log")[0].epochs  # the last line may not have been printed yet
    assert n - 1 <= len(printed) <= n
    assert np.allclose(printed["val_loss"], run.epochs["val_loss"].iloc[: len(printed)], atol=5e-5)


@pytest.mark.slow
@pytest.mark.train
@pytest.mark.skipif(not HAS_KERAS, reason="needs the [train] extra")
def test_data_parallel_on_two_cpu_devices(tmp_path):
    # 101 samples: the last training batch (5) and the validation set (101) do
    # not divide by 2 devices -- IndivisibleError unless dynamics handles it;
    # without waiting for each step, jaxlib's CPU all-reduce deadlocks.
    env = _env(tmp_path, XLA_FLAGS="--xla_force_host_platform_device_count=2", KERAS_BACKEND="jax")
    cmd = [sys.executable, "-m", "dynamics", "train", "--data-parallel", "--max-samples", "101", "--epochs", "2",
           "--train-subset", "33", "--verbose", "2", "--out", str(tmp_path / "runs")]
    result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "2 device(s)" in result.stdout
    run = load_run(tmp_path / "runs" / "synthetic-last-seed0")
    assert run.meta.extra["devices"] == 2 and run.meta.n_train == 100
    assert run.meta.extra["training_samples_dropped"] == 1
    assert list(run.epochs.index) == [1, 2] and run.predictions.proba[1].shape == (101,)
    assert run.train_predictions.proba[1].shape == (33,)
    assert np.isfinite(run.predictions.stacked()).all() and np.isfinite(run.epochs["val_loss"]).all()
    # dynamics train writes the run's report when it finishes (issue 6)
    report = tmp_path / "runs" / "synthetic-last-seed0" / "report.html"
    assert f"report: {report}" in result.stdout
    assert "<img" in report.read_text() and "Verdict" in report.read_text()
