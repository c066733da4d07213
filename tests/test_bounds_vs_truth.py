"""Issue 5, item 9: the log-only bounds contain the exact group means of recorded runs.

``dynamics.stats.bounds`` bounds the mean cross-entropy of the misclassified and
of the correctly classified validation samples from an epoch's printed
(4-decimal) val_loss and val_accuracy alone. A recorded run knows those
means exactly. Over many recorded epochs -- simulated runs of every story,
several seeds, binary and k-class, with and without label noise, tiny and
ordinary validation sets -- the bounds computed from the printed numbers
must contain the truth computed from the predictions, and the printed pair
must never be declared impossible ("too_low" / "too_high").
"""

from __future__ import annotations

import itertools
import json
import math
import random

import numpy as np
import pandas as pd
import pytest

from dynamics.run import Run, RunMeta, make_epoch_table
from dynamics.simulate import simulate_run
from dynamics.stats.bounds import confidence_bounds, group_loss_bounds
from dynamics.stats.decomposition import decomposition_table

STORIES = ("overconfident", "minority", "flipping", "healthy")
CLASSES = (2, 3, 5)
SEEDS = (0, 1, 2)
NOISE = (0.0, 0.1)


def printed(value: float) -> float:
    """A value as a Keras progress line shows it (``%.4f``, or ``%.4e`` below 1e-3), read back."""
    return float("%.4f" % value if abs(value) > 1e-3 else "%.4e" % value)


def _truth_and_bounds(run: Run, classes: int) -> pd.DataFrame:
    """Per epoch: exact group means from the predictions beside the bounds from the printed numbers."""
    truth = decomposition_table(run)
    rows = {e: {"val_loss": printed(truth.at[e, "val_loss"]), "val_accuracy": printed(truth.at[e, "accuracy"])}
            for e in truth.index}
    log = Run(make_epoch_table(rows), RunMeta(format="progbar"))
    bounds = confidence_bounds(log, classes=classes)
    return truth.join(bounds.drop(columns=["loss", "accuracy"]))


@pytest.fixture(scope="module")
def simulated() -> pd.DataFrame:
    frames = []
    for story, k, seed, noise in itertools.product(STORIES, CLASSES, SEEDS, NOISE):
        # n varies so that accuracies are not all round numbers at 4 decimals
        n = 300 + 37 * seed + 11 * k
        run = simulate_run(story, n=n, epochs=10, classes=k, seed=seed, label_noise=noise, n_train=2)
        table = _truth_and_bounds(run, k)
        table["case"] = f"{story}/{k}/{seed}/{noise}"
        frames.append(table)
    return pd.concat(frames)


def _check_contains(table: pd.DataFrame) -> None:
    assert (table["feasible"] == "ok").all(), table.loc[table["feasible"] != "ok", ["case", "val_loss", "accuracy"]]
    wrong = table[table["n_wrong"] > 0]
    bad = wrong[(wrong["loss_wrong"] < wrong["wrong_low"]) | (wrong["loss_wrong"] > wrong["wrong_high"])]
    assert bad.empty, bad[["case", "loss_wrong", "wrong_low", "wrong_high"]]
    right = table[table["n_correct"] > 0]
    bad = right[(right["loss_correct"] < right["correct_low"]) | (right["loss_correct"] > right["correct_high"])]
    assert bad.empty, bad[["case", "loss_correct", "correct_low", "correct_high"]]
    gm = np.exp(-wrong["loss_wrong"])
    assert ((gm >= wrong["gm_wrong_low"]) & (gm <= wrong["gm_wrong_high"])).all()


def test_bounds_contain_the_exact_group_means_over_many_epochs(simulated):
    assert len(simulated) == len(STORIES) * len(CLASSES) * len(SEEDS) * len(NOISE) * 10 == 720
    _check_contains(simulated)
    # the bounds are not vacuous: where the truth is far above ln 2 they often say so
    informative = simulated["wrong_low"] > math.log(2) + 0.05
    assert informative.sum() > 50
    assert (simulated.loc[informative, "wrong_low"] <= simulated.loc[informative, "loss_wrong"]).all()


def test_tiny_validation_sets_and_extreme_accuracies():
    """Seven samples: accuracies of 0, 1/7 ... 1 and losses near the clipping limit."""
    frames = []
    for story, k, seed in itertools.product(STORIES, (2, 4), range(6)):
        run = simulate_run(story, n=7, epochs=8, classes=k, seed=seed, label_noise=0.3, n_train=2)
        table = _truth_and_bounds(run, k)
        table["case"] = f"{story}/{k}/{seed}"
        frames.append(table)
    table = pd.concat(frames)
    _check_contains(table)
    assert (table["accuracy"] == 1.0).any() or (table["n_wrong"] <= 1).any()


def test_extreme_hand_built_epochs():
    """Saturated mistakes (loss at the clipping limit), all-correct and all-wrong epochs, ties at 0.5."""
    from dynamics.run import Predictions

    y = np.array([1, 0, 1, 0, 1, 0, 1, 1])
    epochs = [
        np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0], dtype=np.float32),  # all wrong, saturated
        np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0], dtype=np.float32),  # all right, saturated
        np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5], dtype=np.float32),  # ties: class 0 predicted
        np.array([0.5001, 0.4999, 1e-9, 0.9999, 0.7, 0.3, 0.2, 0.9], dtype=np.float32),
    ]
    run = Run(make_epoch_table({e: {} for e in range(1, 5)}),
              predictions=Predictions(np.arange(1, 5), y, epochs))
    _check_contains(_truth_and_bounds(run, 2).assign(case="hand"))


def test_bounds_through_the_printed_log_and_the_parser():
    """Render recorded epochs as Keras prints them (every era), parse the text, bound from the parsed run."""
    from keras_printer import ERAS, Epoch, Printer

    from dynamics.sources.io import load_runs

    rng = random.Random(5)
    for i, (story, k) in enumerate(itertools.product(STORIES, (2, 3))):
        run = simulate_run(story, n=911, epochs=6, classes=k, seed=i, label_noise=0.05, n_train=200)
        truth = decomposition_table(run)
        era = ERAS[i % len(ERAS)]
        acc = "acc" if era in ("keras1", "keras2") else "accuracy"
        printer = Printer(era=era, verbose=1 + i % 2, names=["loss", acc], validation=True, lr_key=None,
                          total=6, target=29, rng=rng, train_on=(200, 911) if era == "keras1" else None)
        epochs = []
        for e in truth.index:
            row = run.epochs.loc[e]
            values = {"loss": row["loss"], acc: row["accuracy"], "val_loss": row["val_loss"],
                      "val_" + acc: row["val_accuracy"]}
            epochs.append(Epoch(int(e), values, elapsed=3, per_unit=0.01))
        (parsed,) = load_runs(printer.render(epochs))
        bounds = confidence_bounds(parsed, classes=k)
        table = truth.join(bounds.drop(columns=["loss", "accuracy"]))
        table["case"] = f"{era}/{story}/{k}"
        # the parsed values are the printed ones
        assert parsed.epochs["val_loss"].tolist() == [printed(v) for v in run.epochs["val_loss"]]
        _check_contains(table)


def _check_recorded_directory(directory, classes: int) -> int:
    """Bounds from the run's captured progress output (what the user saw) against its recorded predictions."""
    from dynamics.sources.io import load_runs
    from dynamics.sources.rundir import read_run_dir

    (printed_run,) = load_runs(directory / "progress.log")
    assert printed_run.meta.format == "progbar"
    truth = decomposition_table(read_run_dir(directory))
    bounds = confidence_bounds(printed_run, classes=classes)
    table = truth.join(bounds.drop(columns=["loss", "accuracy"]), how="inner")
    assert len(table) == len(truth)
    table["case"] = directory.name
    _check_contains(table)
    return len(table)


@pytest.mark.slow
@pytest.mark.train
def test_real_tiny_training_runs(tmp_path):
    """Tiny real Keras runs: the IMDB LSTM on the synthetic reviews (2 seeds, label noise) and a 4-class softmax."""
    pytest.importorskip("jax")
    from typer.testing import CliRunner

    from cli.main import app
    from dynamics.keras.callback import PredictionRecorder
    from dynamics.keras.env import import_keras

    out = tmp_path / "runs"
    result = CliRunner().invoke(app, ["train", "--dataset", "synthetic", "--max-samples", "400", "--epochs", "5",
                                      "--seeds", "2", "--train-subset", "50", "--label-noise", "0.1", "--verbose", "2",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    checked = sum(_check_recorded_directory(d, 2) for d in sorted(out.iterdir()) if d.is_dir())  # not compare.html

    keras = import_keras()
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1.2, (4, 8))
    y = rng.integers(0, 4, 900)
    x = (centres[y] + rng.normal(0, 1.5, (900, 8))).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(4, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    directory = tmp_path / "softmax"
    model.fit(x[:600], y[:600], epochs=8, batch_size=32, verbose=2,
              callbacks=[PredictionRecorder((x[600:], y[600:]), directory, metadata={"classes": 4})])
    checked += _check_recorded_directory(directory, 4)
    assert checked == 2 * 5 + 8

    # and the whole CLI on the folder `dynamics train --seeds 2` wrote: both runs explained, seeds compared
    result = CliRunner().invoke(app, ["analyze", str(out), "--json", "--no-tables"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data["runs"]) == 2 and [len(g["runs"]) for g in data["seeds"]] == [2]
    for run in data["runs"]:
        codes = {f["code"] for f in run["findings"]}
        assert {"val_loss_rise", "paired_flips", "churn"} <= codes


def test_float16_storage_not_the_bound_is_what_fails_on_saturated_mistakes():
    """Keras logs the loss of float32 outputs; the recorder stores float16 by default.

    A class-0 sample with P(class 1) above 0.99976 is stored as 1.0 and its
    loss recomputed as 15.94 nats, whatever Keras computed (8.3 to 15.9). The
    bounds from the logged numbers contain the float32 truth; the float16
    recomputation can leave them, and the range the float16 values allow
    (:mod:`dynamics.stats.storage`) always contains the logged loss.
    """
    from dynamics.simulate import epoch_arrays
    from dynamics.stats.probabilities import EpochView
    from dynamics.stats.storage import stored_loss

    y, arrays = epoch_arrays("overconfident", n=3000, epochs=12, seed=7, margin=(1.0, 2.5), dtype=np.float32)
    gaps, outside16 = [], 0
    for p32 in arrays:
        v32, v16 = EpochView(p32, y), EpochView(p32.astype(np.float16), y)
        L, a = v32.loss.mean(), v32.correct.mean()
        b = group_loss_bounds(printed(L), printed(a))
        wrong = ~v32.correct
        assert b["wrong_low"][0] <= v32.loss[wrong].mean() <= b["wrong_high"][0]
        st = stored_loss(v16.raw, y)
        assert st.low <= L <= st.high
        assert st.wrong_low <= b["wrong_high"][0] and st.wrong_high >= b["wrong_low"][0]
        gaps.append(v16.loss.mean() / L - 1)
        outside16 += bool(v16.loss[~v16.correct].mean() > b["wrong_high"][0])
    assert max(gaps) > 0.01  # float16 overstates the loss by more than 1% at some epoch
    assert outside16 >= 3  # and the mistakes' float16 mean leaves the (valid) bound: the truth computation was wrong


def test_default_storage_recomputes_the_truth_the_bounds_contain(tmp_path):
    """The same saturated mistakes, written by the run-directory writer in its default storage (float16 logits).

    The group means recomputed from the run directory are Keras's own (to
    1e-4), and the bounds from the printed log contain them at every epoch --
    where float16 probabilities left them (the test above).
    """
    from dynamics.simulate import epoch_arrays
    from dynamics.sources.rundir import RunDirWriter, read_run_dir
    from dynamics.stats.probabilities import EpochView

    y, arrays = epoch_arrays("overconfident", n=3000, epochs=12, seed=7, margin=(1.0, 2.5), dtype=np.float32)
    writer = RunDirWriter(tmp_path / "run")
    writer.start({"n_val": 3000}, val_labels=y)
    exact = {}
    for epoch, p32 in enumerate(arrays, start=1):
        v32 = EpochView(p32, y)  # the float32 outputs Keras computed its loss from
        exact[epoch] = (float(v32.loss.mean()), float(v32.loss[~v32.correct].mean()), float(v32.correct.mean()))
        writer.write_epoch(epoch, {"val_loss": exact[epoch][0], "val_accuracy": exact[epoch][2]}, val_proba=p32)
    writer.finish()
    run = read_run_dir(tmp_path / "run")
    assert run.meta.extra["prediction_encoding"] == "logit-float16"
    # bounds from what Keras printed, truth from the run directory
    log = Run(make_epoch_table({e: {"val_loss": printed(v[0]), "val_accuracy": printed(v[2])} for e, v in exact.items()}),
              RunMeta(format="progbar"))
    table = decomposition_table(run).join(confidence_bounds(log, classes=2).drop(columns=["loss", "accuracy"]))
    assert table.index.tolist() == list(range(1, 13))
    np.testing.assert_allclose(table["val_loss"], [exact[e][0] for e in table.index], rtol=1e-4)
    np.testing.assert_allclose(table["loss_wrong"], [exact[e][1] for e in table.index], rtol=1e-4)
    _check_contains(table.assign(case="default storage"))


def test_the_shipped_real_recorded_run():
    """fixtures/recorded: a real Keras run (verbose=1 progress bar, float16 predictions, 10% label noise)."""
    from conftest import FIXTURES

    assert _check_recorded_directory(FIXTURES / "recorded" / "synthetic-last-seed0", 2) == 4
