"""The error boundary of every command: bad input is one ``error: ...`` line on stderr and its exit code.

Exit codes (:mod:`dynamics.errors`): 2 for a bad argument or an input
dynamics cannot read, 3 for a missing optional dependency, 4 for a dataset
that cannot be loaded, 1 for a bug (an ``internal error`` line, still no
traceback), 130 for an interrupt. Every case names the message it expects,
and nothing is written to stdout or left on disk.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from conftest import CORPUS, SEED_LOG

runner = CliRunner()
OTHER = CORPUS / "logs" / "002_lstm-val-acc-fluctuation-keras1.txt"
THREE_RUNS = CORPUS / "logs" / "046_keras-core-torch-three-runs-plus-evaluate.txt"
NO_EPOCH = CORPUS / "logs" / "017_non-tty-progress-lines-no-complete-epoch.txt"

#: (command line with {tmp} for a fresh folder, stdin, exit code, text the one line must hold)
CASES = [
    # parse
    (["parse", str(NO_EPOCH)], None, 2, "the log ends inside epoch 1 (3 progress updates, the last at 1408/60000)"),
    (["parse", str(THREE_RUNS), "--run", "4"], None, 2, "--run must be between 1 and 3"),
    (["parse", str(SEED_LOG), "--json", "--csv", "-"], None, 2, "both want stdout"),
    (["parse", "{tmp}/missing.txt"], None, 2, "no such file"),
    (["parse", "{tmp}"], None, 2, "not a dynamics run directory"),
    (["parse", "-"], "", 2, "is empty"),
    (["parse", str(SEED_LOG), "--csv", "{tmp}/no/dir.csv"], None, 2, "cannot write"),
    # analyze
    (["analyze", "{tmp}/nope.txt"], None, 2, "no such file"),
    (["analyze", str(SEED_LOG), "--run", "3"], None, 2, "--run must be between 1 and 1 for this source"),
    (["analyze", str(SEED_LOG), str(OTHER), "--run", "3"], None, 2, f"--run must be between 1 and 1 for {SEED_LOG}"),
    (["analyze", str(SEED_LOG), "--n-val", "0"], None, 2, "--n-val must be a positive number of samples"),
    (["analyze", str(SEED_LOG), "--classes", "1"], None, 2, "--classes must be at least 2"),
    (["analyze", str(SEED_LOG), str(OTHER), "--group-by", " , "], None, 2, "--group-by needs at least one key"),
    (["analyze", "-", "-"], "", 2, "standard input (-) can be read only once"),
    (["analyze", "{tmp}"], None, 2, "is a directory but not a dynamics run directory"),
    (["analyze", "{tmp}/empty.txt"], None, 2, "no complete training epoch"),
    # report
    (["report", str(SEED_LOG), "--out", "{tmp}/x.pdf"], None, 2, "must end in .html or .md"),
    (["report", "{tmp}/missing.log", "--out", "{tmp}/x.html"], None, 2, "missing.log"),
    (["report", str(SEED_LOG), "--out", "{tmp}/a-file/x.html"], None, 2, "is a file, not a folder"),
    (["report", str(SEED_LOG), "--run", "2", "--out", "{tmp}/x.html"], None, 2, "--run must be between 1 and 1"),
    (["report", str(SEED_LOG), "--n-val", "0", "--out", "{tmp}/x.html"], None, 2, "--n-val"),
    (["report", "-", "-", "--out", "{tmp}/x.html"], "", 2, "standard input"),
    (["report", str(SEED_LOG), "--out", "{tmp}/folder.html"], None, 2, "not a folder"),
    # compare
    (["compare", str(SEED_LOG)], None, 2, "compare needs at least 2 runs"),
    (["compare", str(SEED_LOG), str(OTHER), "--out", "{tmp}/x.txt"], None, 2, "must end in .html or .md"),
    (["compare", str(SEED_LOG), str(OTHER), "--group-by", " , "], None, 2, "--group-by needs at least one key"),
    (["compare", "{tmp}/missing.log", str(SEED_LOG)], None, 2, "no such file"),
    # train (refused before Keras is imported)
    (["train", "--out", "{tmp}", "--pooling", "avg"], None, 2, "--pooling must be one of last, mean, max. Received: pooling=['avg']"),
    (["train", "--out", "{tmp}", "--label-noise", "0.9"], None, 2, "Received: label_noise=0.9"),
    (["train", "--out", "{tmp}", "--validation", "dev"], None, 2, "--validation must be split or test. Received: validation='dev'"),
    (["train", "--out", "{tmp}", "--dataset", "mnist"], None, 2, "Received: dataset='mnist'"),
    (["train", "--out", "{tmp}", "--epochs", "0"], None, 2, "--epochs must be >= 1. Received: epochs=0"),
    (["train", "--out", "{tmp}", "--dataset", "imdb", "--data", "{tmp}/imdb.npz"], None, 4, "--dataset synthetic"),
]  # fmt: skip


def _one_line(result) -> str:
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


HAS_KERAS = importlib.util.find_spec("keras") is not None
#: Loading IMDB is tried only once Keras is there (without it the answer is exit 3, tested in test_cli_train).
PARAMS = [pytest.param(*case, id=" ".join(case[0][:3]),
                       marks=[pytest.mark.skipif(not HAS_KERAS, reason="needs the [train] extra")] if case[2] == 4 else [])
          for case in CASES]


@pytest.mark.parametrize("args, stdin, code, needle", PARAMS)
def test_every_command_fails_in_one_line_with_its_exit_code(tmp_path, args, stdin, code, needle):
    (tmp_path / "empty.txt").write_text("no epochs here\n")
    (tmp_path / "folder.html").mkdir()
    (tmp_path / "a-file").write_text("")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = runner.invoke(app, [a.replace("{tmp}", str(tmp_path)) for a in args], input=stdin)
    assert result.exit_code == code, result.output
    assert needle in _one_line(result)
    assert result.stdout == ""
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written


def test_every_command_is_inside_the_boundary():
    from cli.main import guarded

    commands = {c.name: c.callback for c in app.registered_commands}
    assert set(commands) == {"parse", "analyze", "report", "compare", "train"}
    assert {c[0][0] for c in CASES} == set(commands)  # every command has its failure cases above
    assert all(getattr(fn, "__wrapped__", None) is not None and fn.__code__ is guarded(lambda: 0).__code__
               for fn in commands.values())


@pytest.mark.parametrize("command", ["parse", "analyze", "report", "compare", "train"])
@pytest.mark.parametrize("exc, code, needle", [(RuntimeError("boom"), 1, "internal error (RuntimeError: boom); please report it"),
                                                (KeyboardInterrupt(), 130, "error: interrupted")])
def test_a_bug_or_an_interrupt_is_still_one_line(monkeypatch, tmp_path, command, exc, code, needle):
    import dynamics.keras.training
    import dynamics.sources.io

    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(dynamics.sources.io, "load_runs", fail)
    monkeypatch.setattr(dynamics.keras.training, "train", fail)
    args = {"parse": [str(SEED_LOG)], "analyze": [str(SEED_LOG)], "report": [str(SEED_LOG), "--out", f"{tmp_path}/r.html"],
            "compare": [str(SEED_LOG), str(OTHER)], "train": ["--out", str(tmp_path)]}[command]
    result = runner.invoke(app, [command, *args])
    assert result.exit_code == code
    assert needle in _one_line(result)
    assert not Path(tmp_path, "r.html").exists()
