"""The README and docs/: short, linked, and cited correctly from the code.

The README is the newcomer's page and ``docs/`` holds the reference. These
tests keep that true: the README stays short, every relative link (and its
``#anchor``) resolves, every ``docs/...`` path the code cites exists, the
code cites no note that is not in the repository, and the README's commands
are the ones CI runs and print what the README shows.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
#: Where the code's docstrings and comments cite the documentation.
CODE_DIRS = ("dynamics", "cli", "benchmarks", "tests")
MAX_README_LINES = 300

_LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.MULTILINE)
_CITED = re.compile(r"docs/[\w./-]*\w(?:#[\w-]+)?")
#: The research notes the code once cited; their content now lives in docs/.
_NOTES = re.compile(r"(?<![\w/-])(anchors\.md|keras_log_formats\.md|backends\.md)")


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens.

    >>> github_slug("3.4 Keras 3 (keras-core and 3.x)")
    '34-keras-3-keras-core-and-3x'
    >>> github_slug("`dynamics analyze` on a recorded run")
    'dynamics-analyze-on-a-recorded-run'
    >>> github_slug("Prechelt's criteria")
    'prechelts-criteria'
    """
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = text.replace("`", "").replace("*", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file, with GitHub's -1, -2 for repeats."""
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    out = set()
    for m in _HEADING.finditer(text):
        slug = github_slug(m.group(2))
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def links(path: Path) -> list[str]:
    """Relative link targets of a Markdown file, outside code blocks and code spans."""
    text = _CODE_SPAN.sub("", _FENCE.sub("", path.read_text(encoding="utf-8")))
    return [t for t in _LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def resolve(target: str, base: Path) -> str | None:
    """What is wrong with a relative link from ``base``, or None."""
    file, _, anchor = target.partition("#")
    dest = (base.parent / file).resolve() if file else base
    if not dest.exists():
        return f"{target}: no such file"
    if anchor and dest.suffix == ".md" and anchor not in anchors(dest):
        return f"{target}: no heading #{anchor} in {dest.name}"
    return None


def code_files() -> list[Path]:
    return sorted(p for d in CODE_DIRS for p in (ROOT / d).rglob("*.py"))


def test_slugs_follow_github_on_hand_worked_headings() -> None:
    # As github.com renders them (github-slugger: lower case, drop what is not
    # a letter, digit, underscore, hyphen or space; spaces become hyphens).
    assert github_slug("8. CSVLogger") == "8-csvlogger"
    assert github_slug("9. `History.history`") == "9-historyhistory"
    assert github_slug("Trends: Mann-Kendall and Theil-Sen") == "trends-mann-kendall-and-theil-sen"
    assert github_slug("The run directory") == "the-run-directory"


def test_readme_is_short() -> None:
    n = len(README.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_README_LINES, f"README.md has {n} lines; the reference belongs in docs/"


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    found = links(page)
    broken = [why for t in found if (why := resolve(t, page))]
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_link_checker_catches_a_broken_anchor_and_file(tmp_path: Path) -> None:
    page = tmp_path / "a.md"
    (tmp_path / "b.md").write_text("# Title\n\n## Two words\n\n```\n# not a heading\n```\n")
    page.write_text("[ok](b.md#two-words) [bad](b.md#not-a-heading) [gone](c.md) `[code](x.md)`\n")
    assert links(page) == ["b.md#two-words", "b.md#not-a-heading", "c.md"]
    assert [resolve(t, page) is None for t in links(page)] == [True, False, False]


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {(README.parent / t.partition("#")[0]).resolve() for t in links(README)}
    orphans = [p.name for p in PAGES if p.resolve() not in linked]
    assert not orphans, f"docs pages the README does not link: {orphans}"


def test_docs_paths_cited_in_the_code_exist() -> None:
    cited = {(p, m.group(0).rstrip(".")) for p in code_files() for m in _CITED.finditer(p.read_text(encoding="utf-8"))}
    assert cited, "the code cites no docs/ page at all"
    broken = [f"{p.relative_to(ROOT)}: {why}" for p, target in sorted(cited) if (why := resolve(target, ROOT / "x"))]
    assert not broken, "\n".join(broken)


def test_the_code_cites_no_note_outside_the_repository() -> None:
    stale = [f"{p.relative_to(ROOT)}:{i}: {line.strip()}"
             for p in code_files() for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if _NOTES.search(line)]
    assert not stale, "cite docs/<page>.md#<section> instead:\n" + "\n".join(stale)


def _quick_start() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, "the Quick start has no bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def _words(command: str) -> list[str]:
    return [w for w in shlex.split(command) if w != "-q"]  # CI installs quietly; same command otherwise


def test_quick_start_test_command_is_what_ci_runs() -> None:
    seed, tests = _quick_start()
    assert seed == "pip install -e . && dynamics analyze fixtures/seed/fluctuating-val-acc-lstm.txt"
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.lstrip().startswith("#")]
    install, run = (part.strip() for part in tests.split("&&"))
    assert _words(install) in [_words(line) for line in ci], f"CI does not run {install!r}"
    assert ci[-1] == run == "python -m pytest"


def test_first_screen_is_what_analyze_prints() -> None:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- first-screen -->\n```\n(.*?)```\n<!-- /first-screen -->", text, re.DOTALL)
    assert block, "README.md has no <!-- first-screen --> ... <!-- /first-screen --> block"
    command, *shown = block.group(1).splitlines()
    assert command == "$ dynamics analyze fixtures/seed/fluctuating-val-acc-lstm.txt" == "$ " + _quick_start()[0].split(" && ")[1]
    if shown and shown[-1] == "...":
        shown = shown[:-1]
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
    out = subprocess.run([sys.executable, "-m", "cli.main", *command.split()[2:]], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    printed = [line.rstrip() for line in out.stdout.splitlines()]
    assert shown and printed[: len(shown)] == shown, "the README's first screen is not what analyze prints now"


@pytest.mark.slow
@pytest.mark.train
def test_readme_python_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from dynamics.errors import MissingDependencyError
    from dynamics.keras.env import import_keras

    try:
        import_keras()  # JAX unless KERAS_BACKEND says otherwise, as the recorder does
    except MissingDependencyError as exc:
        pytest.skip(str(exc))

    code = re.search(r"## In Python\n\n```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert code, "README.md has no Python block under 'In Python'"
    assert len(code.group(1).splitlines()) <= 10
    (tmp_path / "fixtures").symlink_to(ROOT / "fixtures")
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    namespace = {"x_val": rng.integers(1, 100, size=(8, 5)), "y_val": rng.integers(0, 2, size=8)}
    exec(compile(code.group(1), "README.md", "exec"), namespace)
    assert (tmp_path / "seed-report.html").stat().st_size > 0
    assert namespace["d"].verdict and namespace["recorder"].source.n == 8
