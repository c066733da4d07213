"""Regenerate the report screenshots in docs/ with headless Chromium.

    python docs/screenshots.py [RUNS_DIR]

Writes ``docs/report-log.png`` (the seed log), ``docs/report-run.png`` and
``docs/report-compare.png``, each the
top of the HTML report at a laptop's width; ``report-log-plots.png`` and
``report-run-plots.png`` show where their figures begin; and
``docs/report-phone.png`` the log report at a phone's width. The HTML files
are written to a temporary folder and thrown away.

With ``RUNS_DIR`` (a folder ``dynamics train --pooling ... --seeds ...``
wrote), the run report is its first run directory's and the comparison is of
all of them -- the shipped screenshots come from
``dynamics train --pooling last --pooling mean --pooling max --seeds 2 --float32``;
without it both are simulated (``dynamics.simulate``: story "overconfident";
three seeds of two stories).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from chromium import Chromium  # noqa: E402  (tests/chromium.py: the DevTools-pipe driver)

from dynamics.report import write_compare_report, write_report  # noqa: E402
from dynamics.report.content import run_reports  # noqa: E402
from dynamics.simulate import simulate_run  # noqa: E402

DOCS = ROOT / "docs"
SEED = "fixtures/seed/fluctuating-val-acc-lstm.txt"  # relative, as a user types it (run from the repository root)


def main() -> None:
    import os

    os.chdir(ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        log = write_report(SEED, folder / "log.html")
        if len(sys.argv) > 1:
            dirs = sorted(p for p in Path(sys.argv[1]).iterdir() if (p / "meta.json").is_file())
            run = write_report(dirs[0], folder / "run.html")
            runs = dirs
        else:
            run = write_report(simulate_run("overconfident", n=2000, epochs=30, n_train=300, seed=0), folder / "run.html")
            runs = [simulate_run(story, n=2000, epochs=30, seed=s) for story in ("overconfident", "healthy")
                    for s in range(3)]
        cmp = write_compare_report(run_reports(runs), folder / "compare.html")
        with Chromium() as browser:
            browser.start(width=1100, height=1000)
            for html, name in ((log, "report-log"), (run, "report-run"), (cmp, "report-compare")):
                page = browser.open(html.resolve().as_uri())
                assert page["images"] and all(i["naturalWidth"] > 0 for i in page["images"]), name
                browser.screenshot(DOCS / f"{name}.png", height=1150 if name != "report-compare" else 1700)
                if name != "report-compare":  # the figures start further down: a second picture of them
                    browser.screenshot(DOCS / f"{name}-plots.png", top=browser.top_of("figure") - 60, height=2300)
            browser.viewport(width=390, height=1400, mobile=True, scale=1)
            browser.open(log.resolve().as_uri())
            browser.screenshot(DOCS / "report-phone.png")
    for path in sorted(DOCS.glob("report-*.png")):
        print(path)


if __name__ == "__main__":
    main()
