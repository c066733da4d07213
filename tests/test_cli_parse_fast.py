"""``dynamics parse`` started without Typer (the fast path of ``cli.main.main``) answers as Typer does."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from cli.main import app, main
from cli.parse_cmd import fast_arguments
from conftest import CORPUS, SEED_LOG

THREE_RUNS = str(CORPUS / "logs" / "046_keras-core-torch-three-runs-plus-evaluate.txt")


def _main(argv, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["dynamics", *argv])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "argv",
    [
        ["parse", str(SEED_LOG)],
        ["parse", "--json", str(SEED_LOG)],
        ["parse", THREE_RUNS, "--run", "2"],
        ["parse", THREE_RUNS, "--run=3", "--json"],
        ["parse", THREE_RUNS, "--run", "4"],
        ["parse", str(SEED_LOG), "--csv", "-"],
        ["parse", str(SEED_LOG), "--json", "--csv", "-"],
        ["parse", "no-such-file.txt"],
        ["parse", str(CORPUS / "logs" / "017_non-tty-progress-lines-no-complete-epoch.txt")],
    ],
)
def test_same_output_and_exit_code_as_through_typer(argv, monkeypatch, capsys):
    assert fast_arguments(argv) is not None
    code, out, err = _main(argv, monkeypatch, capsys)
    typer_result = CliRunner().invoke(app, argv)
    assert (code, out, err) == (typer_result.exit_code, typer_result.stdout, typer_result.stderr)


@pytest.mark.parametrize(
    "argv",
    [
        ["parse"],
        ["parse", "--help"],
        ["parse", "a.txt", "b.txt"],
        ["parse", "a.txt", "--run", "two"],
        ["parse", "a.txt", "--run"],
        ["parse", "a.txt", "--json", "--json"],
        ["parse", "a.txt", "--verbose"],
        ["analyze", "a.txt"],
        [],
    ],
)
def test_everything_else_goes_through_typer(argv):
    assert fast_arguments(argv) is None
