"""LiveDiagnosis in a terminal: one line per epoch, each the diagnosis of the epochs so far."""

from __future__ import annotations

import importlib.util
import io

import numpy as np
import pytest

pytestmark = pytest.mark.train
if importlib.util.find_spec("keras") is None:
    pytest.skip("needs the [train] extra (keras)", allow_module_level=True)

from dynamics.diagnose import diagnose  # noqa: E402
from dynamics.errors import ArgumentError  # noqa: E402
from dynamics.keras.live import LiveDiagnosis, keras  # noqa: E402
from dynamics.report.epoch_line import epoch_line  # noqa: E402
from dynamics.run import Run, RunMeta, make_epoch_table  # noqa: E402


def test_one_line_per_epoch_equal_to_the_diagnosis_of_the_logs_so_far():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6)).astype("float32")
    y = (x[:, 0] + rng.normal(0, 1.5, 300) > 0).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"])
    out = io.StringIO()
    live = LiveDiagnosis(n_val=100, mode="terminal", stream=out)
    history = model.fit(x[:200], y[:200], validation_data=(x[200:], y[200:]), epochs=5, verbose=0, callbacks=[live])
    lines = out.getvalue().splitlines()
    assert lines == live.lines and len(lines) == 5
    h = history.history
    for k, line in enumerate(lines, start=1):
        rows = {e: {name: h[name][e - 1] for name in h} for e in range(1, k + 1)}
        d = diagnose(Run(make_epoch_table(rows), RunMeta(format="live", epochs_declared=5)), n_val=100)
        assert line == epoch_line(d)
        assert line.startswith(f"epoch {k}: val_loss ")
        assert k == 1 or "of 100 samples" in line  # from epoch 2 on, the val_accuracy move against its noise
    assert live.diagnosis is not None and list(live.diagnosis.run.epochs.index) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("kwargs, message", [
    ({"n_val": 0}, "Received: n_val=0"),
    ({"mode": "widget"}, "Received: mode='widget'"),
    ({"max_findings": -1}, "Received: max_findings=-1"),
])
def test_arguments_are_checked(kwargs, message):
    with pytest.raises(ArgumentError, match=message):
        LiveDiagnosis(**kwargs)
