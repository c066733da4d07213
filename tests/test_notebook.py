"""Notebook displays: a real Jupyter kernel executes a notebook and its HTML outputs are checked."""

from __future__ import annotations

import re

import pytest

from conftest import ROOT
from dynamics.report.notebook import MAX_FINDINGS, comparison_html, diagnosis_html

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

CELLS = [
    f"import sys; sys.path.insert(0, {str(ROOT)!r})",
    "from dynamics.simulate import simulate_run\n"
    "run = simulate_run('overconfident', n=300, epochs=8, n_train=50)\nrun",
    "from dynamics.diagnose import diagnose\nd = diagnose(run)\nd",
    "from dynamics.diagnosis.compare import compare\n"
    "compare([d, diagnose(simulate_run('overconfident', n=300, epochs=8, seed=1, n_train=50))])",
    # LiveDiagnosis in a kernel: one display, redrawn in place at each epoch end
    "import os; os.environ['KERAS_BACKEND'] = 'jax'\n"
    "import numpy as np\n"
    "from dynamics.keras.live import LiveDiagnosis, keras\n"
    "rng = np.random.default_rng(0); x = rng.normal(size=(200, 4)).astype('float32'); y = (x[:, 0] > 0).astype('float32')\n"
    "model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation='sigmoid')])\n"
    "model.compile(optimizer='adam', loss='binary_crossentropy', metrics=['accuracy'])\n"
    "live = LiveDiagnosis(n_val=100)\n"
    "_ = model.fit(x[:100], y[:100], validation_data=(x[100:], y[100:]), epochs=3, verbose=0, callbacks=[live])",
]


def _html_outputs(cell) -> list[str]:
    return [o["data"]["text/html"] for o in cell["outputs"] if "text/html" in o.get("data", {})]


def _check_display(html: str, *, title: str) -> None:
    assert html.startswith('<div class="dynamics-nb">') and title in html
    assert "<script" not in html.lower() and "<iframe" not in html.lower() and "ipywidgets" not in html
    assert '<div class="verdict"><h3>Verdict</h3>' in html
    assert len(re.findall(r'src="data:image/png;base64,[A-Za-z0-9+/=]{1000,}"', html)) == 1
    assert 1 <= html.count("<li value=") <= MAX_FINDINGS


@pytest.mark.slow
@pytest.mark.train
def test_a_notebook_renders_runs_diagnoses_comparisons_and_the_live_verdict():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in CELLS])
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    run_cell, diag_cell, compare_cell, live_cell = nb.cells[1:]
    for cell, title in ((run_cell, "simulated:overconfident"), (diag_cell, "simulated:overconfident"),
                        (compare_cell, "Comparison of 2 runs")):
        (html,) = _html_outputs(cell)
        _check_display(html, title=title)
    # a recorded run shows its sample-by-sample verdict too
    assert "Sample by sample" in _html_outputs(run_cell)[0]
    assert "more finding" in _html_outputs(diag_cell)[0]
    # the live display was updated in place: one output, showing all three epochs, no terminal lines
    (live,) = _html_outputs(live_cell)
    _check_display(live, title="sequential")
    assert "3 epochs logged (1-3 of 3)" in live
    assert not [o for o in live_cell["outputs"] if o["output_type"] == "stream" and "epoch 1:" in o.get("text", "")]


def test_displays_escape_what_came_from_the_log():
    from dynamics.diagnose import diagnose
    from dynamics.diagnosis.compare import compare
    from dynamics.run import Run, RunMeta, make_epoch_table

    rows = {e: {"loss": 1 / e, "val_loss": 0.4 + abs(e - 3) / 20, "val_accuracy": 0.8} for e in range(1, 7)}
    d = diagnose(Run(make_epoch_table(rows), RunMeta(source="<img src=x onerror=alert(1)>")), n_val=500)
    html = diagnosis_html(d, figure=False, max_findings=2)
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert html.count("<li value=") == 2 and f"and {len(d.findings) - 2} more findings" in html
    c = compare([d, d])
    assert "&lt;img src=x" in comparison_html(c, figure=False) and "<img src=x" not in comparison_html(c, figure=False)
