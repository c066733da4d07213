"""The Markdown report: images beside it by relative path, numbered findings, log strings neutralised."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from test_report_html import EVIL, EVIL_LOG, evil_csv

from conftest import SEED_LOG
from dynamics.report import write_report
from dynamics.report.markdown import files_dir, md_text
from dynamics.report.tables import MARKDOWN_ROWS
from dynamics.simulate import simulate_run


def render(text: str) -> str:
    """GitHub-flavoured enough: CommonMark with tables and strikethrough (markdown-it-py, not our code)."""
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(text)


class Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        self.tags.append((tag, dict(attrs)))


def tags_of(html: str) -> list[tuple[str, dict[str, str | None]]]:
    c = Collect()
    c.feed(html)
    return c.tags


@pytest.fixture(scope="module")
def seed_md(tmp_path_factory) -> Path:
    return write_report(SEED_LOG, tmp_path_factory.mktemp("md") / "seed report.md")


def test_seed_markdown_references_only_images_that_exist(seed_md):
    text = seed_md.read_text()
    refs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(refs) == 3
    rendered = [a["src"] for t, a in tags_of(render(text)) if t == "img"]
    assert len(rendered) == len(refs)
    from urllib.parse import unquote

    for src in rendered:
        assert not src.startswith(("/", "http", "file:", "data:")), src
        path = seed_md.parent / unquote(src)
        assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", src
        assert path.parent == files_dir(seed_md)


def test_seed_markdown_puts_verdict_and_numbered_findings_first(seed_md):
    text = seed_md.read_text()
    assert text.index("### Verdict") < text.index("### Findings") < text.index("### Plots") < text.index("### Tables")
    verdict = text[text.index("### Verdict"):text.index("### Findings")]
    assert verdict.count("> ") >= 1 and "0.3736" in verdict and "+144%" in verdict
    numbers = [int(n) for n in re.findall(r"^(\d+)\. \*\*", text, flags=re.M)]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 10
    html = render(text)
    # Every topic's list keeps the running number (GitHub honours an ordered list's first number).
    starts = [int(a.get("start") or 1) for t, a in tags_of(html) if t == "ol"]
    assert starts[0] == 1 and starts == sorted(starts) and len(starts) >= 4
    assert "<table>" in html and "6-74" in html  # the epoch table, with the elided epochs as a row


def test_markdown_neutralises_log_strings(tmp_path):
    log = tmp_path / "evil @octocat *bold* | pipe.log"
    log.write_text(EVIL_LOG)
    path = write_report([log, evil_csv(tmp_path)], tmp_path / "evil.md")
    text = path.read_text()
    assert "<script" not in text.lower()
    html = render(text)
    assert "<script" not in html.lower()
    assert not {t for t, _ in tags_of(html)} & {"script", "i"}
    assert all((a["href"] or "").startswith("#") for t, a in tags_of(html) if t == "a")  # only the contents list
    plain = re.sub(r"<[^>]+>", "", html)
    assert "x&lt;script&gt;alert(1)&lt;/script&gt;&amp;y" in plain  # the metric name, shown as the text it was
    assert "saving model to &lt;script&gt;alert(&quot;m&quot;)" in plain  # the callback message
    assert "evil @\u200boctocat *bold* | pipe.log" in plain  # markup shown literally; the mention broken
    assert "@octocat" not in text and "@octocat" not in plain  # cannot mention anyone once pasted into an issue


def test_md_text_escapes_markup():
    assert md_text(EVIL) == "x&lt;script&gt;alert(1)&lt;/script&gt;&amp;y"
    assert md_text("a_b *c* [d](e) `f` | g ~h~ $i$") == r"a\_b \*c\* \[d\](e) \`f\` \| g \~h\~ \$i\$"
    assert md_text("line one\nline two") == "line one line two"


def test_long_tables_are_shortened_in_markdown():
    from dynamics.report.content import run_report
    from dynamics.report.document import run_document
    from dynamics.report.markdown import render_markdown

    run = simulate_run("flipping", n=200, epochs=60, n_train=20)
    text, images = render_markdown(run_document([run_report(run)], figures=False))
    assert images == {}
    html = render(text)
    tables = re.findall(r"<table>.*?</table>", html, flags=re.S)
    assert tables
    for table in tables:
        assert table.count("<tr>") <= MARKDOWN_ROWS + 2  # header + rows + the "... N rows" marker
    assert "... 36 more rows" in text
    assert "(60 rows)" in text
