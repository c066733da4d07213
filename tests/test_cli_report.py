"""``dynamics report`` through the Typer app: files written, one-line errors, light imports."""

from __future__ import annotations

from typer.testing import CliRunner

from cli.main import app
from conftest import CORPUS, SEED_LOG

runner = CliRunner()


def test_report_writes_html(tmp_path):
    out = tmp_path / "seed.html"
    result = runner.invoke(app, ["report", str(SEED_LOG), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"wrote {out} (1 run, 3 figures)"
    text = out.read_text()
    assert text.startswith("<!DOCTYPE html>") and "val_loss fell to 0.3736 at epoch 3" in text


def test_report_writes_markdown_and_its_images(tmp_path):
    out = tmp_path / "seed.md"
    result = runner.invoke(app, ["report", str(SEED_LOG), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"images in {tmp_path / 'seed_files'}" in result.output
    assert sorted(p.name for p in (tmp_path / "seed_files").iterdir()) == [
        "run-1-generalization_gap.png", "run-1-learning_curves.png", "run-1-mistake_bounds.png"]


def test_report_of_several_sources_and_runs(tmp_path):
    three = CORPUS / "logs" / "046_keras-core-torch-three-runs-plus-evaluate.txt"
    out = tmp_path / "all.html"
    result = runner.invoke(app, ["report", str(SEED_LOG), str(three), "--out", str(out), "--title", "all of it"])
    assert result.exit_code == 0, result.output
    assert "(4 runs," in result.output
    text = out.read_text()
    assert "<title>all of it</title>" in text and text.count("<section ") == 4
    result = runner.invoke(app, ["report", str(three), "--run", "2", "--out", str(out)])
    assert result.exit_code == 0 and "(1 run," in result.output


def test_report_reads_stdin(tmp_path):
    out = tmp_path / "stdin.html"
    result = runner.invoke(app, ["report", "-", "--out", str(out)], input=SEED_LOG.read_text())
    assert result.exit_code == 0, result.output
    assert "0.9105" in out.read_text()


def test_missing_folders_of_out_are_created(tmp_path):
    out = tmp_path / "new" / "folder" / "r.md"
    result = runner.invoke(app, ["report", str(SEED_LOG), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file() and (out.parent / "r_files").is_dir()


def test_a_source_that_fails_leaves_no_new_folder(tmp_path):
    out = tmp_path / "new" / "r.html"
    result = runner.invoke(app, ["report", str(tmp_path / "missing.log"), "--out", str(out)])
    assert result.exit_code == 2 and "missing.log" in _one_error_line(result)
    assert not (tmp_path / "new").exists()


def test_a_folder_as_out_is_refused(tmp_path):
    folder = tmp_path / "r.html"
    folder.mkdir()
    result = runner.invoke(app, ["report", str(SEED_LOG), "--out", str(folder)])
    assert result.exit_code == 2 and "not a folder" in _one_error_line(result)


def test_out_below_a_file_is_refused(tmp_path):
    (tmp_path / "a-file").write_text("")
    result = runner.invoke(app, ["report", str(SEED_LOG), "--out", str(tmp_path / "a-file" / "x.html")])
    assert result.exit_code == 2 and "is a file, not a folder" in _one_error_line(result)


def _one_error_line(result) -> str:  # type: ignore[no-untyped-def]
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]
