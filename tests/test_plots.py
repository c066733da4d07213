"""The figures: readable, drawn from the diagnosis's numbers, and checked against direct computations."""

from __future__ import annotations

import itertools
import subprocess
import sys
from unittest import mock

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection, QuadMesh
from matplotlib.lines import Line2D
from matplotlib.text import Text
from scipy import stats

from conftest import CORPUS, ROOT, SEED_LOG
from dynamics.diagnose import diagnose
from dynamics.diagnosis.compare import compare
from dynamics.diagnosis.samples.stories import analyze
from dynamics.plots import log, samples
from dynamics.plots.axes import EpochAxis
from dynamics.plots.compare import compare_curves
from dynamics.simulate import simulate_run
from dynamics.sources.io import load_runs

LOG_PLOTS = ("learning_curves", "generalization_gap", "mistake_bounds")
SAMPLE_PLOTS = ("confidence_heatmap", "reliability_diagrams", "loss_decomposition", "temperature_scaling", "churn",
                "data_map")


# -- helpers ------------------------------------------------------------------------------------
def drawn_texts(fig) -> list[tuple[str, object]]:
    """(text, window extent) of every text the canvas actually draws (tick labels outside the view are not)."""
    drawn: list[Text] = []
    original = Text.draw

    def record(self, renderer):  # type: ignore[no-untyped-def]
        drawn.append(self)
        return original(self, renderer)

    with mock.patch.object(Text, "draw", record):
        fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    out = []
    for t in drawn:
        if t.get_visible() and t.get_text().strip():
            box = t.get_window_extent(renderer)
            if box.width >= 1 and box.height >= 1:
                out.append((t.get_text(), box))
    return out


def layout_problems(fig) -> list[tuple[str, str, str]]:
    """Texts that overlap one another or leave the figure."""
    width, height = fig.bbox.width, fig.bbox.height
    boxes = drawn_texts(fig)
    bad = [("outside", text, "") for text, b in boxes
           if b.x0 < -1 or b.y0 < -1 or b.x1 > width + 1 or b.y1 > height + 1]
    for (t1, b1), (t2, b2) in itertools.combinations(boxes, 2):
        if min(b1.x1, b2.x1) - max(b1.x0, b2.x0) > 1 and min(b1.y1, b2.y1) - max(b1.y0, b2.y0) > 1:
            bad.append(("overlap", t1, t2))
    return bad


def assert_readable(fig, name: str) -> None:
    assert isinstance(fig.canvas, FigureCanvasAgg), name
    assert fig._suptitle is not None and fig._suptitle.get_text(), f"{name}: no title"
    for ax in fig.axes:
        if not ax.get_visible() or not ax.axison:
            continue
        colorbar = ax.get_label() == "<colorbar>"
        labels = [ax.get_ylabel()] if colorbar else [ax.get_xlabel() or _shared_xlabel(fig, ax), ax.get_ylabel()]
        for label in labels:
            assert label and "(" in label and ")" in label, f"{name}: axis label without a unit: {label!r}"
    has_key = bool(fig.legends) or any(ax.get_label() == "<colorbar>" for ax in fig.axes)
    assert has_key, f"{name}: no legend or colour bar"
    problems = layout_problems(fig)
    assert not problems, f"{name}: {problems[:5]}"


def _shared_xlabel(fig, ax) -> str:
    """Stacked panels sharing x label only the bottom one."""
    same_column = [a for a in fig.axes if a.get_label() != "<colorbar>" and abs(a.get_position().x0 -
                   ax.get_position().x0) < 1e-6]
    return next((a.get_xlabel() for a in same_column if a.get_xlabel()), "")


@pytest.fixture(scope="module")
def seed():
    return diagnose(load_runs(SEED_LOG)[0])


@pytest.fixture(scope="module")
def recorded():
    run = simulate_run("overconfident", n=600, epochs=12, n_train=60, seed=3)
    return run, analyze(run).val


# -- readability -----------------------------------------------------------------------------------
def test_seed_figures_are_readable(seed):
    for name in LOG_PLOTS:
        assert_readable(getattr(log, name)(seed), name)


@pytest.mark.parametrize("classes", [2, 3])
def test_recorded_run_figures_are_readable(classes):
    a = analyze(simulate_run("minority", n=500, epochs=30, classes=classes, n_train=40, seed=1)).val
    for name in SAMPLE_PLOTS:
        assert_readable(getattr(samples, name)(a), f"{name} ({classes} classes)")


CORPUS_SAMPLE = ["002_lstm-val-acc-fluctuation-keras1.txt", "042_multi-output-two-fits-no-epoch-header.txt",
                 "048_keras3-verbose2-checkpoint-reducelr-learning-rate-indented.txt",
                 "040_interrupted-mid-epoch-eta-last-line.txt"]  # fmt: skip


@pytest.mark.parametrize("name", CORPUS_SAMPLE)
def test_corpus_figures_are_readable(name):
    for run in load_runs(CORPUS / "logs" / name):
        d = diagnose(run)
        for plot in LOG_PLOTS:
            fig = getattr(log, plot)(d)
            if fig is not None:
                assert_readable(fig, f"{name} run {run.meta.run_index + 1} {plot}")


@pytest.mark.slow
def test_every_corpus_figure_is_readable():
    from dynamics.errors import NoEpochsError

    for path in sorted((CORPUS / "logs").iterdir()):
        try:
            runs = load_runs(path)
        except NoEpochsError:
            continue
        for run in runs:
            d = diagnose(run)
            for plot in LOG_PLOTS:
                fig = getattr(log, plot)(d)
                if fig is not None:
                    assert_readable(fig, f"{path.name} {plot}")


def test_the_overlap_check_catches_an_overlap():
    from dynamics.plots.axes import new_figure

    fig, axes = new_figure()
    axes[0, 0].set_title("a title on the left", loc="left")
    axes[0, 0].text(0.02, 1.01, "a text on top of it", transform=axes[0, 0].transAxes)
    assert any(kind == "overlap" for kind, _, _ in layout_problems(fig))


def test_figures_are_built_without_pyplot():
    code = (
        "import sys\n"
        "from dynamics.sources.io import load_runs\n"
        "from dynamics.diagnose import diagnose\n"
        "from dynamics.diagnosis.samples.stories import analyze\n"
        "from dynamics.simulate import simulate_run\n"
        "from dynamics.plots import log, samples\n"
        f"d = diagnose(load_runs({str(SEED_LOG)!r})[0])\n"
        "a = analyze(simulate_run('flipping', n=200, epochs=5, n_train=20)).val\n"
        "figs = [log.learning_curves(d), log.mistake_bounds(d), samples.data_map(a), samples.churn(a)]\n"
        "print('PYPLOT', 'matplotlib.pyplot' in sys.modules, type(figs[0].canvas).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert "PYPLOT False FigureCanvasAgg" in out.stdout


# -- the epoch axis -----------------------------------------------------------------------------------
def test_epoch_axis_compresses_long_gaps_and_keeps_short_ones():
    axis = EpochAxis([1, 2, 3, 5, 6, 40, 41])
    assert [s.tolist() for s in axis.segments] == [[1, 2, 3], [5, 6], [40, 41]]
    x = axis.x([3, 5, 6, 40])
    assert x[1] - x[0] == 2  # one missing epoch: true width
    assert x[3] - x[2] < 40 - 6  # 33 missing epochs: compressed
    assert [(lo, hi) for lo, hi, _, _ in axis.gaps] == [(4, 4), (7, 39)]


@pytest.mark.parametrize("epochs", [range(1, 301), [1, 2, 3, 4, 5, 75, 76, 77], [1, 50, 51, 52, 99, 100], [7]])
def test_epoch_ticks_never_crowd(epochs):
    from dynamics.plots.axes import new_figure

    fig, axes = new_figure()
    axis = EpochAxis(list(epochs))
    axis.plot(axes[0, 0], list(epochs), np.linspace(0, 1, len(list(epochs))))
    axis.setup(axes[0, 0])
    assert not layout_problems(fig)


# -- log figures show the diagnosis's numbers ----------------------------------------------------------
def _gap_x(axis: EpochAxis) -> list[tuple[float, float]]:
    return [(x0, x1) for _, _, x0, x1 in axis.gaps]


def test_elided_epochs_are_breaks_never_lines(seed):
    fig = log.learning_curves(seed)
    axis = EpochAxis(seed.run.epochs.index)
    (x0, x1), = _gap_x(axis)
    lines = [line for ax in fig.axes for line in ax.get_lines() if len(line.get_xdata()) > 1]
    assert lines
    for line in lines:
        xs = np.asarray(line.get_xdata(), dtype=float)
        if np.ptp(xs) == 0:  # a vertical marker line (best epoch)
            continue
        assert not ((xs[:-1] < x0) & (xs[1:] > x1)).any(), "a line crosses the elided epochs"
    texts = [t for t, _ in drawn_texts(fig)]
    assert texts.count("epochs 6-74\nnot in log") == 2  # one per panel


def test_learning_curves_plot_the_epoch_table(seed):
    fig = log.learning_curves(seed)
    loss_ax, acc_ax = fig.axes[:2]
    t = seed.run.epochs  # the parsed log, independent of the diagnosis tables
    from dynamics.plots.axes import COLORS

    for ax, column in ((loss_ax, "val_loss"), (acc_ax, "val_accuracy")):
        ys = np.concatenate([line.get_ydata() for line in ax.get_lines()
                             if line.get_color() == COLORS["val"] and len(line.get_ydata()) > 1])
        np.testing.assert_allclose(ys, t[column].to_numpy())


def test_accuracy_band_is_the_wilson_interval(seed):
    fig = log.learning_curves(seed)
    acc_ax = fig.axes[1]
    bands = [c for c in acc_ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2  # one per segment, broken at the gap
    axis = EpochAxis(seed.run.epochs.index)
    x3 = axis.x([3])[0]
    vertices = np.vstack([p.vertices for b in bands for p in b.get_paths()])
    at3 = vertices[np.isclose(vertices[:, 0], x3), 1]
    # Independent: scipy's Wilson interval for 2110 of 2500 (val_accuracy 0.8440 at epoch 3).
    ci = stats.binomtest(2110, 2500).proportion_ci(confidence_level=0.95, method="wilson")
    np.testing.assert_allclose([at3.min(), at3.max()], [ci.low, ci.high], atol=2e-4)


def test_best_epoch_and_early_stopping_are_marked(seed):
    fig = log.learning_curves(seed)
    axis = EpochAxis(seed.run.epochs.index)
    loss_ax = fig.axes[0]
    vertical = [line for line in loss_ax.get_lines() if np.ptp(np.asarray(line.get_xdata(), float)) == 0
                and len(line.get_xdata()) == 2]
    assert any(np.isclose(line.get_xdata()[0], axis.x([3])[0]) for line in vertical)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "EarlyStopping(patience=2) on val_loss: stops after epoch 5, keeps 3" in legend
    assert "where patience 0-1 would stop (see the early-stopping table)" in legend
    assert "patience 3-10: cannot tell (epochs 6-74 are missing from the log)" in legend
    stop = [line for line in loss_ax.get_lines() if line.get_marker() == "v" and line.get_markersize() >= 9]
    assert stop and np.isclose(stop[0].get_xdata()[0], 5) and np.isclose(stop[0].get_ydata()[0], 0.3844)


def test_mistake_bounds_plot_the_bounds_table(seed):
    fig = log.mistake_bounds(seed)
    b = seed.tables["confidence_bounds"]
    axis = EpochAxis(b.index)
    ax = fig.axes[0]
    vertices = np.vstack([p.vertices for c in ax.collections for p in c.get_paths()])
    at77 = vertices[np.isclose(vertices[:, 0], axis.x([77])[0]), 1]
    for value in (b.at[77, "wrong_low"], b.at[77, "wrong_high"]):
        assert np.isclose(at77, value).any()
    assert b.at[77, "wrong_low"] == pytest.approx(1.92, abs=0.005)  # the number


def test_log_without_validation_has_no_gap_or_bounds_plot():
    d = diagnose(load_runs(CORPUS / "logs" / "006_no-validation-stuck-keras1.txt")[0])
    assert log.generalization_gap(d) is None
    assert log.mistake_bounds(d) is None
    assert log.learning_curves(d) is not None


# -- recorded-run figures against direct computations ------------------------------------------------------
def test_confidence_heatmap_is_the_histogram_of_confidences(recorded):
    run, a = recorded
    fig = samples.confidence_heatmap(a)
    p = np.asarray(run.predictions.proba[-1], dtype=np.float64)
    y = run.predictions.y_true
    correct = (p > 0.5).astype(int) == y
    conf = np.maximum(p, 1 - p)
    edges = np.linspace(0, 1, 16)
    for ax, group in zip(fig.axes[:2], (correct, ~correct)):
        counts = np.bincount(np.searchsorted(edges[1:-1], conf[group], side="left"), minlength=15)
        mesh = next(c for c in ax.collections if isinstance(c, QuadMesh))
        column = np.ma.filled(mesh.get_array(), 0.0).reshape(15, -1)[:, -1]
        np.testing.assert_allclose(column, counts / group.sum(), atol=1e-12)


def test_loss_decomposition_stacks_to_val_loss(recorded):
    run, a = recorded
    fig = samples.loss_decomposition(a)
    ax = fig.axes[0]
    top = np.vstack([p.vertices for p in ax.collections[1].get_paths()])
    # The upper edge of the misclassified area at each epoch is val_loss as Keras computes it (simulate's table).
    for epoch, value in run.epochs["val_loss"].items():
        assert np.isclose(top[np.isclose(top[:, 0], epoch), 1].max(), value, rtol=1e-5)


def test_churn_bars_count_the_samples_that_changed(recorded):
    run, a = recorded
    fig = samples.churn(a)
    ax = fig.axes[0]
    up, down = ax.containers[0], ax.containers[1]
    y = run.predictions.y_true
    right = [(np.asarray(p, np.float64) > 0.5).astype(int) == y for p in run.predictions.proba]
    w2r = [np.mean(~right[i - 1] & right[i]) for i in range(1, len(right))]
    r2w = [np.mean(right[i - 1] & ~right[i]) for i in range(1, len(right))]
    np.testing.assert_allclose([b.get_height() for b in up], w2r)
    np.testing.assert_allclose([-b.get_height() for b in down], r2w)


def test_data_map_points_are_each_samples_mean_and_sd(recorded):
    run, a = recorded
    fig = samples.data_map(a)
    offsets = fig.axes[0].collections[0].get_offsets()
    stack = np.stack([np.asarray(p, np.float64) for p in run.predictions.proba])
    p_true = np.where(run.predictions.y_true == 1, stack, 1 - stack)
    np.testing.assert_allclose(offsets[:, 0], p_true.std(axis=0), atol=1e-6)
    np.testing.assert_allclose(offsets[:, 1], p_true.mean(axis=0), atol=1e-6)


def test_data_map_thins_many_samples_and_says_so(recorded):
    _, a = recorded
    fig = samples.data_map(a, max_points=100)
    assert len(fig.axes[0].collections[0].get_offsets()) == 100
    assert "every 6th of 600 shown" in fig._suptitle.get_text()


def test_reliability_and_temperature_plot_the_analysis(recorded):
    _, a = recorded
    fig = samples.reliability_diagrams(a)
    bins = a.reliability.xs(a.last_epoch, level="epoch")
    bars = [r.get_height() for r in fig.axes[1].patches][:15]
    np.testing.assert_allclose(bars, bins["accuracy"].fillna(0.0).to_numpy())
    assert f"ECE {100 * a.per_epoch.at[a.last_epoch, 'ece']:.1f}%" in fig.axes[1].get_title(loc="left")
    fig = samples.temperature_scaling(a)
    ys = {tuple(np.round(line.get_ydata(), 12)) for line in fig.axes[0].get_lines()}
    assert tuple(np.round(a.per_epoch["loss_scaled"].to_numpy(), 12)) in ys


def test_compare_band_spans_the_seeds():
    runs = [simulate_run("overconfident", n=400, epochs=6, seed=s) for s in range(3)]
    runs.append(simulate_run("healthy", n=400, epochs=6, seed=9))
    c = compare([diagnose(r) for r in runs])
    fig = compare_curves(c)
    assert_readable(fig, "compare")
    band = next(col for col in fig.axes[1].collections if isinstance(col, PolyCollection))
    vertices = band.get_paths()[0].vertices
    acc = np.vstack([r.series("val_accuracy").to_numpy() for r in runs[:3]])
    at1 = vertices[np.isclose(vertices[:, 0], 1), 1]
    np.testing.assert_allclose([at1.min(), at1.max()], [acc[:, 0].min(), acc[:, 0].max()])
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "story=overconfident (3 runs)" in legend


def test_no_figure_line_is_a_loose_default():
    """Every Line2D a log figure draws has a colour from the house palette or black/white (no default cycle)."""
    from dynamics.plots.axes import COLORS

    fig = log.learning_curves(diagnose(load_runs(SEED_LOG)[0]))
    allowed = {c.lower() for c in COLORS.values()} | {"black", "white", "#000000", "#ffffff"}
    for ax in fig.axes:
        for line in ax.get_lines():
            color = line.get_color()
            assert isinstance(color, str) and color.lower() in allowed, color
    assert all(isinstance(line, Line2D) for line in fig.axes[0].get_lines())


def test_dollar_signs_from_logs_are_not_mathtext():
    runs = [simulate_run("healthy", n=200, epochs=4, seed=s) for s in (0, 1)]
    runs[0].meta.extra["pooling"], runs[1].meta.extra["pooling"] = r"$\notacommand{", "$x$"
    fig = compare_curves(compare([diagnose(r) for r in runs], group_by=["pooling"]))
    texts = [t for t, _ in drawn_texts(fig)]  # drawing would raise on bad mathtext
    assert r"pooling=\$\notacommand{" in texts and r"pooling=\$x\$" in texts
