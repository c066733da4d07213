"""Analysing a log never imports keras, a backend or matplotlib: each path checked in a fresh interpreter.

One list of heavy packages for every path (a package counts with its
submodules); each case also proves it did its work, so a path that failed
early cannot pass by importing nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import FIXTURES, ROOT, SEED_LOG

HEAVY = ("keras", "jax", "jaxlib", "tensorflow", "torch", "matplotlib")
RECORDED = FIXTURES / "recorded" / "synthetic-last-seed0"

#: name -> (code run in a fresh interpreter; it leaves its proof of work in ``done``, text expected in it)
CASES = {
    "parse a log": (
        f"from dynamics.sources.io import load_runs\ndone = str(int(load_runs({str(SEED_LOG)!r})[0].epochs.index[-1]))", "77"),
    "analyze a log, terminal and --json": (
        "from typer.testing import CliRunner\nfrom cli.main import app\n"
        f"done = ''.join(CliRunner().invoke(app, ['analyze', {str(SEED_LOG)!r}, *a]).output for a in ([], ['--json']))",
        "1.92 nats"),
    "analyze a recorded run directory": (
        "from typer.testing import CliRunner\nfrom cli.main import app\n"
        f"done = CliRunner().invoke(app, ['analyze', {str(RECORDED)!r}, '--json', '--no-tables']).output",
        '"code": "val_loss_rise"'),
    "explain a recorded run": (
        "from dynamics.simulate import simulate_run\nfrom dynamics.diagnosis.samples.stories import explain\n"
        "done = ' '.join(f.code for f in explain(simulate_run('overconfident', n=300, epochs=5)))", "val_loss_rise"),
    "import the command line and the report package": (
        "import cli.main, dynamics.report, dynamics.pipeline, dynamics.report.writer\ndone = 'imported'", "imported"),
    "import the recorder's helpers and the train command": (
        "import dynamics, dynamics.sources.rundir, dynamics.keras.capture, dynamics.keras.datasets, dynamics.keras.synthetic, dynamics.keras.env\n"
        "import cli.train_cmd\ndone = 'imported'", "imported"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_no_heavy_package_is_imported(name):
    code, proof = CASES[name]
    script = (f"import json, sys\n{code}\n"
              f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
              "print(json.dumps({'done': done, 'heavy': heavy}))\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert proof in result["done"]
    assert result["heavy"] == []
