"""TensorBoard event files: our reader against a real writer (tensorboardX), value for value; damage; layouts."""

from __future__ import annotations

import glob
import importlib.util
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import ROOT

pytest.importorskip("tensorboardX")

from tensorboard_writer import SCALARS, tf2_scalar_event  # noqa: E402
from tensorboardX import SummaryWriter  # noqa: E402
from tensorboardX.event_file_writer import EventFileWriter  # noqa: E402
from tensorboardX.proto.event_pb2 import Event  # noqa: E402
from tensorboardX.proto.summary_pb2 import HistogramProto, Summary  # noqa: E402
from tensorboardX.proto.tensor_pb2 import TensorProto  # noqa: E402
from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto  # noqa: E402

from cli.main import app  # noqa: E402
from dynamics.errors import DamagedInputError, InputError, NoEpochsError  # noqa: E402
from dynamics.sources.io import damage_error, load_runs  # noqa: E402
from dynamics.sources.tfevents import read_scalars  # noqa: E402

runner = CliRunner()


def _only_file(folder: Path) -> Path:
    (path,) = glob.glob(str(folder / "events.out.tfevents.*"))
    return Path(path)


def _write(folder: Path, events: list[Event]) -> Path:
    writer = EventFileWriter(str(folder), flush_secs=3600)
    for event in events:
        writer.add_event(event)
    writer.close()
    return _only_file(folder)


def _tensor_event(tag: str, step: int, **tensor: object) -> Event:
    value = Summary.Value(tag=tag, tensor=TensorProto(**tensor), metadata=SCALARS)
    return Event(step=step, wall_time=1.7e9 + step, summary=Summary(value=[value]))


# -- the reader against the writer ------------------------------------------------


def test_tensorboardx_add_scalar_is_read_value_for_value(tmp_path):
    rng = np.random.default_rng(1)
    loss = rng.random(300).astype(np.float32)
    acc = rng.random(300).astype(np.float32)
    writer = SummaryWriter(str(tmp_path))
    for step in range(300):
        writer.add_scalar("epoch_loss", float(loss[step]), step)  # TF1's simple_value
        writer.add_scalar("epoch_accuracy", float(acc[step]), step, walltime=1.7e9 + step)
    writer.close()
    scalars = read_scalars(_only_file(tmp_path))
    assert scalars.damage == [] and scalars.records == 601  # + the file_version record
    got = {tag: [] for tag in ("epoch_loss", "epoch_accuracy")}
    for tag, step, value in zip(scalars.tags, scalars.steps, scalars.values):
        got[tag].append((step, value))
    assert [s for s, _ in got["epoch_loss"]] == list(range(300))
    np.testing.assert_array_equal(np.float32([v for _, v in got["epoch_loss"]]), loss)
    np.testing.assert_array_equal(np.float32([v for _, v in got["epoch_accuracy"]]), acc)
    walls = [w for t, w in zip(scalars.tags, scalars.wall_times) if t == "epoch_accuracy"]
    assert walls == [1.7e9 + s for s in range(300)]


def test_every_tensor_encoding_of_a_scalar(tmp_path):
    shape = TensorShapeProto()
    events = [
        tf2_scalar_event("content_f32", 0.1, 0),  # what TF2 writes
        _tensor_event("float_val", 1, dtype=1, tensor_shape=shape, float_val=[0.25]),
        _tensor_event("double_val", 2, dtype=2, tensor_shape=shape, double_val=[1 / 3]),
        _tensor_event("content_f64", 3, dtype=2, tensor_shape=shape, tensor_content=np.float64(2 / 3).tobytes()),
        _tensor_event("content_f16", 4, dtype=19, tensor_shape=shape, tensor_content=np.float16(0.5).tobytes()),
        _tensor_event("half_val", 5, dtype=19, tensor_shape=shape,
                      half_val=[int(np.float16(1.5).view(np.uint16))]),
        _tensor_event("int64_val", 6, dtype=9, tensor_shape=shape, int64_val=[-7]),
        _tensor_event("shape_1", 7, dtype=1, tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]),
                      float_val=[4.0]),
        # not scalars: three elements stored as one repeated value, and a histogram
        _tensor_event("shape_3", 8, dtype=1, tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=3)]),
                      float_val=[9.0]),
        Event(step=9, summary=Summary(value=[Summary.Value(tag="histo", histo=HistogramProto(min=0, max=1))])),
        tf2_scalar_event("big_step", 0.75, 2**40),
    ]
    scalars = read_scalars(_write(tmp_path, events))
    got = {tag: (step, value) for tag, step, value in zip(scalars.tags, scalars.steps, scalars.values)}
    assert got == {
        "content_f32": (0, float(np.float32(0.1))), "float_val": (1, 0.25), "double_val": (2, 1 / 3),
        "content_f64": (3, 2 / 3), "content_f16": (4, 0.5), "half_val": (5, 1.5), "int64_val": (6, -7.0),
        "shape_1": (7, 4.0), "big_step": (2**40, 0.75),
    }
    assert scalars.other_tags == {"shape_3", "histo"}


def test_the_layout_cache_never_mixes_tags_of_one_length(tmp_path):
    # epoch_aaaa and epoch_bbbb serialize to summaries of the same length: each must keep its own tag.
    rng = np.random.default_rng(2)
    values = rng.random((50, 2)).astype(np.float32)
    events = [tf2_scalar_event(tag, values[s, i], s) for s in range(50) for i, tag in enumerate(("epoch_aaaa", "epoch_bbbb"))]
    events += [_tensor_event("epoch_aaaa", 50, dtype=1, tensor_shape=TensorShapeProto(), float_val=[5.0])]
    scalars = read_scalars(_write(tmp_path, events))
    assert scalars.tags == ["epoch_aaaa", "epoch_bbbb"] * 50 + ["epoch_aaaa"]
    np.testing.assert_array_equal(np.float32(scalars.values[:-1]).reshape(50, 2), values)
    assert scalars.values[-1] == 5.0 and scalars.steps[-1] == 50


def test_the_vectorised_reader_agrees_with_the_record_by_record_one(tmp_path):
    from dynamics.sources.tfevents import _scan, _scan_clean

    rng = np.random.default_rng(3)
    events = [tf2_scalar_event(f"epoch_{'m' * (1 + s % 3)}", rng.random(), s) for s in range(400)]  # steps past 127
    events += [_tensor_event("d", 7, dtype=2, tensor_shape=TensorShapeProto(), double_val=[0.125])]
    events += [Event(step=9, summary=Summary(value=[Summary.Value(tag="histo", histo=HistogramProto(min=0, max=1))]))]
    two = Summary(value=[Summary.Value(tag="a", simple_value=1.5), Summary.Value(tag="b", simple_value=2.5)])
    events += [Event(step=3, wall_time=5.0, summary=two)]  # two values in one event
    data = _write(tmp_path, events).read_bytes()
    fast, slow = _scan_clean(data, "x"), _scan(data, "x")
    assert fast is not None and fast.records == slow.records == len(events) + 1
    for field in ("tags", "steps", "values", "wall_times", "other_tags"):
        assert getattr(fast, field) == getattr(slow, field), field
    assert fast.tags[-2:] == ["a", "b"] and fast.values[-2:] == [1.5, 2.5]


def test_the_numpy_crc32c_matches_the_published_check_value():
    from dynamics.sources.tfevents import _bad_headers, masked_crc32c

    header = b"123456789"[:8]
    good = header + struct.pack("<I", masked_crc32c(header))
    assert _bad_headers(good + good, [0, 12]) is None
    assert _bad_headers(good + header + b"\0\0\0\0", [0, 12]) == 1
    from dynamics.sources.tfevents import _crc32c_table

    table, crc = _crc32c_table(), 0xFFFFFFFF
    for byte in b"123456789":
        crc = int(table[(crc ^ byte) & 0xFF]) ^ (crc >> 8)
    assert crc ^ 0xFFFFFFFF == 0xE3069283


# -- the Keras layout --------------------------------------------------------------


def _log_dir(root: Path, history: dict[str, list[float]]) -> Path:
    """A log_dir as keras.callbacks.TensorBoard lays it out, for a History given as lists."""
    n = len(history["loss"])
    train = [tf2_scalar_event(f"epoch_{k}", v[e], e) for e in range(n) for k, v in history.items() if not k.startswith("val_")]
    train.append(tf2_scalar_event("batch_loss", 0.5, 3))
    val = [tf2_scalar_event(f"epoch_{k[4:]}", v[e], e) for e in range(n) for k, v in history.items() if k.startswith("val_")]
    val.append(tf2_scalar_event("evaluation_loss_vs_iterations", history["val_loss"][-1], 40))
    for split, events in (("train", train), ("validation", val)):
        (root / split).mkdir(parents=True)
        _write(root / split, events)
    return root


HISTORY = {"loss": [0.69, 0.52, 0.41, 0.37], "accuracy": [0.55, 0.71, 0.80, 0.83],
           "val_loss": [0.61, 0.50, 0.47, 0.49], "val_accuracy": [0.66, 0.75, 0.78, 0.77]}


def test_a_log_dir_becomes_the_epoch_table(tmp_path):
    (run,) = load_runs(_log_dir(tmp_path / "logs", HISTORY))
    assert run.meta.format == "tensorboard" and list(run.epochs.index) == [1, 2, 3, 4]
    for name, values in HISTORY.items():
        np.testing.assert_array_equal(run.epochs[name].to_numpy(np.float32), np.float32(values))
    assert run.meta.metric_names["val_loss"] == "validation/epoch_loss"
    assert any("batch* (1)" in n and "evaluation* (1)" in n for n in run.meta.notes)
    # one event file given alone brings its log_dir along
    (alone,) = load_runs(_only_file(tmp_path / "logs" / "validation"))
    assert alone.epochs.equals(run.epochs)


def test_a_tuner_tree_gives_one_run_per_execution_and_groups_them_by_trial(tmp_path):
    root = tmp_path / "tb"
    for trial in ("00", "01"):
        for k in range(2):
            shifted = {n: [v + 0.01 * k + (0.1 if trial == "01" else 0) for v in vs] for n, vs in HISTORY.items()}
            _log_dir(root / trial / f"execution{k}", shifted)
    runs = load_runs(root)
    assert [(r.meta.extra["tuner_trial"], r.meta.extra["execution"]) for r in runs] == [
        ("00", 0), ("00", 1), ("01", 0), ("01", 1)]
    np.testing.assert_allclose(runs[3].epochs["loss"], np.float32(HISTORY["loss"]) + np.float32(0.11), rtol=1e-6)
    from dynamics.diagnosis.configuration import group_runs

    groups = group_runs(runs, n_val=200)
    assert [len(g.runs) for g in groups] == [2, 2]
    assert "tuner_trial=00" in groups[0].title and "tuner_trial=01" in groups[1].title


def test_analyze_diagnoses_a_log_dir_and_a_tuner_tree(tmp_path):
    _log_dir(tmp_path / "logs", HISTORY)
    result = runner.invoke(app, ["analyze", str(tmp_path / "logs"), "--json", "--no-tables"])
    assert result.exit_code == 0, result.output
    import json

    out = json.loads(result.output)
    assert len(out["runs"]) == 1 and "seeds" not in out
    for trial in ("00", "01"):
        for k in range(2):
            _log_dir(tmp_path / "tb" / trial / f"execution{k}", HISTORY)
    out = json.loads(runner.invoke(app, ["analyze", str(tmp_path / "tb"), "--json", "--no-tables"]).output)
    assert len(out["runs"]) == 4 and len(out["seeds"]) == 2


def test_event_files_without_epoch_scalars_say_what_they_hold(tmp_path):
    _write(tmp_path, [tf2_scalar_event("batch_loss", 0.5, s) for s in range(3)])
    with pytest.raises(NoEpochsError, match=r"no epoch_\* scalars in its event files \(batch\)"):
        load_runs(tmp_path)


# -- damage ------------------------------------------------------------------------


def _records(path: Path) -> list[tuple[int, int]]:
    """``(offset, length)`` of each record, walked from the framing alone."""
    data = path.read_bytes()
    out, pos = [], 0
    while pos < len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        out.append((pos, length))
        pos += 12 + length + 4
    return out


@pytest.fixture
def damaged(tmp_path):
    """A log_dir whose train file can be damaged by the test; 6 epochs, records 1-6 (0 is file_version)."""
    history = {"loss": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4], "val_loss": [0.95, 0.85, 0.8, 0.78, 0.77, 0.79]}
    root = _log_dir(tmp_path / "logs", history)
    path = _only_file(root / "train")
    return root, path, _records(path)


def _patch(path: Path, offset: int, data: bytes) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset:offset + len(data)] = data
    path.write_bytes(bytes(raw))


def test_a_truncated_file_keeps_the_epochs_before_the_cut(damaged):
    root, path, records = damaged
    offset, _ = records[5]
    path.write_bytes(path.read_bytes()[:offset + 20])  # inside record 5 (epoch 5's loss)
    (run,) = load_runs(root)
    assert run.epochs["loss"].dropna().index.tolist() == [1, 2, 3, 4]
    assert run.epochs["val_loss"].notna().all()  # the validation file is intact
    (damage,) = run.meta.extra["damage"]
    assert damage == (f"{path}: record 5 at byte {offset}: the record declares {records[5][1]} bytes but only 8 "
                      "remain (cut short?) (nothing after it was read)")
    assert any(n.startswith("damaged event file:") for n in run.meta.notes)


def test_a_wrong_data_crc_skips_that_record_only(damaged):
    root, path, records = damaged
    offset, length = records[3]
    _patch(path, offset + 12 + length - 1, bytes([path.read_bytes()[offset + 12 + length - 1] ^ 0xFF]))
    (run,) = load_runs(root)
    assert run.epochs["loss"].dropna().index.tolist() == [1, 2, 4, 5, 6]
    assert f"record 3 at byte {offset}: the CRC of the record's data is wrong (this record was skipped)" in \
        run.meta.extra["damage"][0]


def test_a_wrong_length_crc_stops_the_reading(damaged):
    root, path, records = damaged
    offset, _ = records[4]
    _patch(path, offset + 8, b"\0\0\0\0")
    (run,) = load_runs(root)
    assert run.epochs["loss"].dropna().index.tolist() == [1, 2, 3]
    assert f"record 4 at byte {offset}: the CRC of the record's length is wrong" in run.meta.extra["damage"][0]


def test_a_huge_declared_length_is_damage_not_a_memory_error(damaged):
    from dynamics.sources.tfevents import masked_crc32c

    root, path, records = damaged
    offset, _ = records[2]
    length = struct.pack("<Q", 1 << 60)
    _patch(path, offset, length + struct.pack("<I", masked_crc32c(length)))  # a length whose own CRC is right
    (run,) = load_runs(root)
    assert run.epochs["loss"].dropna().index.tolist() == [1]
    assert f"record 2 at byte {offset}: the record declares {1 << 60} bytes" in run.meta.extra["damage"][0]


def test_a_file_that_is_not_an_event_file(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "events.out.tfevents.1.host").write_bytes(b"\x10\0\0\0\0\0\0\0garbage-garbage-garbage")
    with pytest.raises(InputError, match="is not a TensorBoard event file"):
        load_runs(tmp_path)


def test_the_cli_shows_what_was_read_then_fails_in_one_line(damaged):
    root, path, records = damaged
    path.write_bytes(path.read_bytes()[:records[5][0] + 3])
    for command in (["parse", str(root)], ["analyze", str(root)]):
        result = runner.invoke(app, command)
        assert result.exit_code == DamagedInputError.exit_code, result.output
        lines = result.output.strip().splitlines()
        assert lines[-1].startswith(f"error: {root} is damaged ({path}: record 5 at byte {records[5][0]}: the file ends "
                                    "inside the record's header")
        assert lines[-1].endswith("the 6 epochs read before the damage are shown")
        assert "Traceback" not in result.output and len(lines) > 3  # the table or the diagnosis came first
    assert damage_error(load_runs(root)) is not None


# -- keras.callbacks.TensorBoard itself ---------------------------------------------

_KERAS = importlib.util.find_spec("keras") is not None


@pytest.mark.train
@pytest.mark.slow
@pytest.mark.skipif(not _KERAS, reason="needs the [train] extra (keras)")
@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is not None, reason="TensorFlow is installed here")
def test_keras_tensorboard_needs_tensorflow_on_jax(tmp_path):
    code = (
        "import keras, numpy as np\n"
        "m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)]); m.compile('sgd', 'mse')\n"
        f"m.fit(np.zeros((4, 3)), np.zeros(4), epochs=1, verbose=0, callbacks=[keras.callbacks.TensorBoard({str(tmp_path)!r})])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={"KERAS_BACKEND": "jax", "PATH": "/usr/bin:/bin", "KERAS_HOME": str(tmp_path / "kh")})
    assert out.returncode != 0 and "No module named 'tensorflow'" in out.stderr


def _fit(keras, log_dir: Path, *, seed: int = 0, epochs: int = 4, units: int = 4):  # type: ignore[no-untyped-def]
    from tensorboard_writer import tensorboard_callback

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(160, 6)).astype("float32")
    y = (x[:, 0] + rng.normal(0, 0.7, 160) > 0).astype("float32")
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(units, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    return model.fit(x[:120], y[:120], validation_data=(x[120:], y[120:]), epochs=epochs, batch_size=32, verbose=0,
                     callbacks=[tensorboard_callback(keras, str(log_dir))])


@pytest.mark.train
@pytest.mark.slow
@pytest.mark.skipif(not _KERAS, reason="needs the [train] extra (keras)")
def test_a_keras_run_with_the_tensorboard_callback_gives_its_history(tmp_path):
    from dynamics.keras.env import import_keras

    keras = import_keras()
    history = _fit(keras, tmp_path / "logs").history
    assert sorted((tmp_path / "logs").iterdir()) == [tmp_path / "logs" / "train", tmp_path / "logs" / "validation"]
    (run,) = load_runs(tmp_path / "logs")
    assert sorted(c for c in run.epochs.columns if c != "learning_rate") == sorted(history)
    for name, values in history.items():  # tf.summary.scalar stores float32
        np.testing.assert_array_equal(run.epochs[name].to_numpy(np.float32), np.float32(values), err_msg=name)
    np.testing.assert_allclose(run.epochs["learning_rate"], 0.001, rtol=1e-6)  # added by the callback itself
    result = runner.invoke(app, ["analyze", str(tmp_path / "logs"), "--n-val", "40"])
    assert result.exit_code == 0 and "val_loss" in result.output, result.output


@pytest.mark.train
@pytest.mark.slow
@pytest.mark.skipif(not _KERAS or importlib.util.find_spec("keras_tuner") is None, reason="needs keras and keras-tuner")
def test_a_keras_tuner_search_tree_gives_each_executions_history(tmp_path, monkeypatch):
    from dynamics.keras.env import import_keras

    keras = import_keras()
    import keras_tuner
    from tensorboard_writer import tensorboard_callback

    histories: dict[str, dict[str, list[float]]] = {}

    class Tuner(keras_tuner.RandomSearch):
        def _configure_tensorboard_dir(self, callbacks, trial, execution=0):  # type: ignore[no-untyped-def]
            # keras-tuner moves TensorBoard's log_dir to <log_dir>/<trial>/execution<k> on the TensorFlow backend
            # only (it adds an hparams callback that needs tensorboard); the move, with keras-tuner's own path:
            for callback in callbacks:
                if callback.__class__.__name__ == "TensorBoard":
                    callback.log_dir = self._get_tensorboard_dir(callback.log_dir, trial.trial_id, execution)

        def _build_and_fit_model(self, trial, *args, **kwargs):  # type: ignore[no-untyped-def]
            (tb,) = [c for c in kwargs["callbacks"] if c.__class__.__name__ == "TensorBoard"]
            result = super()._build_and_fit_model(trial, *args, **kwargs)
            histories[tb.log_dir] = result.history
            return result

    def build(hp):  # type: ignore[no-untyped-def]
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(hp.Choice("units", [2, 8]), activation="relu"),
                                  keras.layers.Dense(1, activation="sigmoid")])
        model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
        return model

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    tuner = Tuner(build, objective="val_loss", max_trials=2, executions_per_trial=2, seed=1,
                  directory=str(tmp_path / "tuner"), project_name="p")
    tuner.search(x[:90], y[:90], validation_data=(x[90:], y[90:]), epochs=3, batch_size=30, verbose=0,
                 callbacks=[tensorboard_callback(keras, str(tmp_path / "tb"))])
    assert len(histories) == 4
    runs = load_runs(tmp_path / "tb")
    assert len(runs) == 4
    for run in runs:
        history = histories[run.meta.source]
        assert Path(run.meta.source).name == f"execution{run.meta.extra['execution']}"
        for name, values in history.items():
            np.testing.assert_array_equal(run.epochs[name].to_numpy(np.float32), np.float32(values), err_msg=name)
    result = runner.invoke(app, ["analyze", str(tmp_path / "tb"), "--json", "--no-tables", "--n-val", "30"])
    assert result.exit_code == 0, result.output
    with pytest.raises(InputError, match="is a keras-tuner project folder: its trial.json files keep each trial's "
                                         "best values, not its epochs"):
        load_runs(tmp_path / "tuner" / "p")
    import json

    seeds = json.loads(result.output)["seeds"]
    assert sorted(len(g["runs"]) for g in seeds) == [2, 2]


def test_reading_event_files_imports_no_keras_backend_or_tensorflow(tmp_path):
    _log_dir(tmp_path / "logs", HISTORY)
    code = (
        "import sys\nfrom dynamics.sources.io import load_runs\n"
        f"load_runs({str(tmp_path / 'logs')!r})\n"
        "heavy = {'keras', 'jax', 'torch', 'tensorflow', 'tensorboard', 'tensorboardX', 'google.protobuf', 'matplotlib'}\n"
        "print('HEAVY', sorted(m for m in sys.modules if m in heavy or m.split('.')[0] in heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout
