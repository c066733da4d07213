"""The HTML report: one self-contained file, verdict first, every log string escaped, and it renders."""

from __future__ import annotations

import base64
import re
import struct
from html.parser import HTMLParser
from pathlib import Path

import chromium
import pytest

from conftest import SEED_LOG
from dynamics.report import write_report
from dynamics.report.content import run_report
from dynamics.report.html import CSP
from dynamics.simulate import simulate_run

EVIL = "x<script>alert(1)</script>&y"

EVIL_LOG = """Train on 1000 samples, validate on 200 samples
Epoch 1/3
1000/1000 [==============================] - 1s - loss: 0.6931 - acc: 0.5000 - val_loss: 0.6900 - val_acc: 0.5100
Epoch 00001: val_loss improved from inf to 0.69000, saving model to <script>alert("m")</script>&model.h5
Epoch 2/3
1000/1000 [==============================] - 1s - loss: 0.6000 - acc: 0.6500 - val_loss: 0.6500 - val_acc: 0.6000
Epoch 00002: val_loss improved from 0.69000 to 0.65000, saving model to <script>alert("m")</script>&model.h5
Epoch 3/3
1000/1000 [==============================] - 1s - loss: 0.5000 - acc: 0.7500 - val_loss: 0.7000 - val_acc: 0.5900
Epoch 00003: val_loss did not improve
"""


def evil_csv(folder: Path) -> Path:
    """A CSVLogger file whose metric name and file name carry markup."""
    path = folder / "<i>run&co.csv"
    rows = ["epoch,accuracy,loss,val_accuracy,val_loss,{0},val_{0}".format(EVIL)]
    for e, (a, l, va, vl, m, vm) in enumerate([(0.5, 0.69, 0.51, 0.69, 0.25, 0.24), (0.65, 0.6, 0.6, 0.65, 0.2, 0.23),
                                                (0.75, 0.5, 0.59, 0.7, 0.15, 0.26), (0.8, 0.45, 0.6, 0.72, 0.1, 0.27)]):
        rows.append(f"{e},{a},{l},{va},{vl},{m},{vm}")
    path.write_text("\n".join(rows) + "\n")
    return path


class Tags(HTMLParser):
    """Every start tag and attribute of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        self.tags.append((tag, dict(attrs)))


def tags_of(text: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(text)
    return parser.tags


@pytest.fixture(scope="module")
def seed_html(tmp_path_factory) -> Path:
    return write_report(SEED_LOG, tmp_path_factory.mktemp("seed") / "seed.html")


@pytest.fixture(scope="module")
def run_html(tmp_path_factory) -> Path:
    run = simulate_run("overconfident", n=400, epochs=10, n_train=50, seed=2)
    texts = {i: f"review {i}: <b>great</b> & @octocat" for i in range(400)}
    report = run_report(run, decoder=texts.__getitem__)
    return write_report([report], tmp_path_factory.mktemp("run") / "run.html")


def test_seed_report_reads_verdict_findings_plots_tables(seed_html):
    text = seed_html.read_text()
    order = [text.index(s) for s in ('class="verdict"', "<h3>Findings</h3>", "<h3>Plots</h3>", "<h3>Tables</h3>")]
    assert order == sorted(order)
    verdict = text[text.index('class="verdict"'):text.index("<h3>Findings</h3>")]
    for needle in ("0.3736", "epoch 3", "0.9105", "+144%", "at least 1.92 nats", "patience=2"):
        assert needle in verdict.replace("&quot;", '"'), needle
    # Findings keep one numbering across topics.
    numbers = [int(v) for v in re.findall(r'<li value="(\d+)">', text)]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 10
    assert "6-74</td><td colspan=" in text  # the elided epochs in the epoch table


def test_report_is_self_contained(seed_html, run_html):
    for path in (seed_html, run_html):
        text = path.read_text()
        tags = tags_of(text)
        names = {t for t, _ in tags}
        assert not names & {"script", "link", "iframe", "object", "embed", "base", "form", "video", "audio"}
        assert "@import" not in text and "url(" not in text and "@font-face" not in text
        images = [attrs for t, attrs in tags if t == "img"]
        assert images
        for attrs in images:
            src = attrs["src"] or ""
            assert src.startswith("data:image/png;base64,")
            png = base64.b64decode(src.split(",", 1)[1])
            assert png[:8] == b"\x89PNG\r\n\x1a\n"
            assert struct.unpack(">II", png[16:24]) == (int(attrs["width"]), int(attrs["height"]))
        for t, attrs in tags:
            for name, value in attrs.items():
                assert not (name.startswith("on")), (t, name)
                if name in ("href", "src"):
                    assert value.startswith(("#", "data:")), (t, value)
        meta = [a for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
        assert meta and meta[0]["content"] == CSP


def test_log_strings_are_escaped(tmp_path):
    log = tmp_path / "evil & <b>bold.log"
    log.write_text(EVIL_LOG)
    path = write_report([log, evil_csv(tmp_path)], tmp_path / "evil.html")
    text = path.read_text()
    assert "<script" not in text.lower()
    assert "x&lt;script&gt;alert(1)&lt;/script&gt;&amp;y" in text  # the metric name
    assert "saving model to &lt;script&gt;alert(&quot;m&quot;)&lt;/script&gt;&amp;model.h5" in text  # the message
    assert "evil &amp; &lt;b&gt;bold.log" in text  # the source name
    assert "&lt;i&gt;run&amp;co.csv" in text
    names = {t for t, _ in tags_of(text)}
    assert not names & {"script", "b", "i"}


def test_recorded_run_report_has_the_sample_figures_and_tables(run_html):
    text = run_html.read_text()
    for key in ("learning_curves", "loss_decomposition", "confidence", "reliability", "temperature", "churn",
                "data_map"):
        assert f'id="run-1-{key}"' in text, key
    assert "Samples driving the loss" in text
    assert "review 3: &lt;b&gt;great&lt;/b&gt; &amp; @octocat" in text or re.search(
        r"review \d+: &lt;b&gt;great&lt;/b&gt; &amp; @octocat", text)
    assert "Sample by sample: val_loss rose" in text


def test_several_runs_get_a_contents_list_and_a_section_each(tmp_path):
    path = write_report([SEED_LOG, simulate_run("healthy", n=150, epochs=4, n_train=20)], tmp_path / "two.html")
    tags = tags_of(path.read_text())
    sections = [a["id"] for t, a in tags if t == "section"]
    assert sections == ["run-1", "run-2"]
    assert [a["href"] for t, a in tags if t == "a"] == ["#run-1", "#run-2"]


# -- in a real browser -------------------------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.skipif(not chromium.available(), reason="needs Debian's chromium (.ci/run installs it)")
def test_reports_render_in_headless_chromium(seed_html, run_html, tmp_path):
    with chromium.Chromium() as browser:
        browser.start(width=1280, height=900)
        for path in (seed_html, run_html):
            url = path.resolve().as_uri()
            expected = sum(1 for t, _ in tags_of(path.read_text()) if t == "img")
            page = browser.open(url)
            assert page["scripts"] == 0
            assert len(page["images"]) == expected > 0
            for image in page["images"]:
                assert image["complete"] and image["naturalWidth"] > 0, image
            shot = browser.screenshot(tmp_path / f"{path.stem}.png", full_page=True)
            header = shot.read_bytes()[:24]
            assert header[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">I", header[16:20])[0] == 1280
            # Every request the page made is the page itself or one of its inline data: images.
            others = [u for u in browser.requests if u != url and not u.startswith("data:")]
            assert not others, others
            assert sum(1 for u in browser.requests if u.startswith("data:")) >= expected
        # A phone: the page fits its width (wide tables scroll inside their own box).
        browser.viewport(width=390, height=844, mobile=True, scale=2)
        page = browser.open(run_html.resolve().as_uri())
        assert page["scrollWidth"] <= page["innerWidth"] == 390
        assert all(i["width"] <= 390 for i in page["images"])
        browser.screenshot(tmp_path / "phone.png")
        assert not [u for u in browser.requests if not u.startswith(("data:", "file:"))]
