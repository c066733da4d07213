"""PredictionRecorder under JAX multi-process DataParallel (2 local CPU processes,
gloo collectives), against one process with the same seed; and the reader's merge
of part files, with padding duplicates and gaps, on parts written by hand."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import ROOT
from dynamics.errors import InputError
from dynamics.sources.rundir import RunDirWriter, read_run_dir
from dynamics.sources.rundir.writer import PartWriter, part_folder

_WORKER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
    process, count, port, directory = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    import keras, numpy as np
    if count > 1:
        keras.distribution.initialize(job_addresses=f"127.0.0.1:{{port}}", num_processes=count, process_id=process)
        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=keras.distribution.list_devices(), auto_shard_dataset=False))
    from dynamics.keras.callback import PredictionRecorder
    from test_callback import _data, _model
    (x, y), (xv, yv) = _data()
    # each process feeds its half of every global batch of 32: the global batches are one process's
    rows = np.arange(len(y))
    mine = np.concatenate([chunk[process * len(chunk) // count:(process + 1) * len(chunk) // count]
                           for chunk in np.split(rows, range(32, len(rows), 32))])
    recorder = PredictionRecorder((xv, yv), directory, dtype="float32", sample_ids=np.arange(len(yv)) + 500,
                                  train_data=(x, y), train_subset=20, metadata={{"seed": 0}})
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=5)
    _model().fit(x[mine], y[mine], batch_size=32 // count, epochs=2, shuffle=False, verbose=2,
                 callbacks=[recorder, stopper])
    print("DONE", process, recorder.logs[-1]["val_loss"], flush=True)
""")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.train
@pytest.mark.skipif(importlib.util.find_spec("jax") is None or importlib.util.find_spec("keras") is None,
                    reason="needs the [train] extra (keras, jax)")
def test_two_processes_record_the_one_process_run(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(_WORKER.format(root=str(ROOT), tests=str(ROOT / "tests")))
    env = {**os.environ, "KERAS_BACKEND": "jax", "KERAS_HOME": str(tmp_path / "kh"), "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)
    port = str(_free_port())
    workers = [subprocess.Popen([sys.executable, str(script), str(i), "2", port, str(tmp_path / "two")],
                                cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for i in range(2)]
    one = subprocess.run([sys.executable, str(script), "0", "1", port, str(tmp_path / "one")], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=300)
    outputs = []
    for worker in workers:
        try:
            outputs.append(worker.communicate(timeout=300)[0])
        finally:
            worker.kill()
    assert one.returncode == 0, one.stdout[-2000:] + one.stderr[-3000:]
    for worker, out in zip(workers, outputs):
        assert worker.returncode == 0, out[-4000:]
    # every process computed val_loss from all the samples: the same number, so EarlyStopping agrees
    assert outputs[0].split("DONE 0 ")[1].split()[0] == outputs[1].split("DONE 1 ")[1].split()[0]
    two, single = read_run_dir(tmp_path / "two"), read_run_dir(tmp_path / "one")
    parts = sorted(p.name for p in (tmp_path / "two" / "val").iterdir() if p.is_dir())
    assert parts == ["part-00000-of-00002", "part-00001-of-00002"]
    assert np.load(tmp_path / "two" / part_folder("val", 0, 2) / "ids.npy").tolist()[-2:] == [549, 549]  # padding
    assert two.meta.extra["processes"] == 2 and two.meta.extra["devices"] == 2 and two.meta.n_val == 101
    assert list(two.epochs.index) == [1, 2] and two.meta.extra["status"] == "finished"
    assert two.predictions.sample_ids.tolist() == single.predictions.sample_ids.tolist()
    np.testing.assert_array_equal(two.predictions.y_true, single.predictions.y_true)
    # the same training up to the order of the all-reduce's sums
    np.testing.assert_allclose(two.predictions.stacked(), single.predictions.stacked(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(two.train_predictions.stacked(), single.train_predictions.stacked(), rtol=1e-4,
                               atol=1e-6)
    for column in ("loss", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(two.epochs[column], single.epochs[column], rtol=1e-4, err_msg=column)


def _parts_run(path, shares, *, epochs=2, n=7):
    """A run directory as several processes write it: the table and val/ids.npy, one part per share."""
    ids = np.arange(n) + 100
    labels = np.arange(n) % 2
    proba = [np.linspace(0.05, 0.95, n) ** (e + 1) for e in range(epochs)]
    writer = RunDirWriter(path, dtype="float32")
    writer.start({"epochs": epochs, "n_val": n}, val_labels=labels, val_ids=ids)
    for index, rows in enumerate(shares):
        part = PartWriter(path, index, len(shares), dtype="float32")
        part.write_ids(ids[rows])
        for e in range(epochs):
            if index > 0:
                part.write_epoch(e + 1, proba[e][rows])
    for e in range(epochs):
        writer.write_epoch(e + 1, {"val_loss": 0.5}, val_proba=proba[e][shares[0]],
                           val_folder=part_folder("val", 0, len(shares)))
    writer.finish()
    return labels, ids, proba


def test_parts_merge_by_id_and_keep_a_padded_sample_once(tmp_path):
    shares = [np.array([4, 0, 1, 1]), np.array([2, 6, 5, 3])]  # any order; sample 1 twice (padding)
    labels, ids, proba = _parts_run(tmp_path / "run", shares)
    run = read_run_dir(tmp_path / "run")
    assert run.predictions.sample_ids.tolist() == ids.tolist()
    np.testing.assert_array_equal(run.predictions.y_true, labels)
    np.testing.assert_array_equal(run.predictions.stacked(), np.stack(proba).astype(np.float32))
    assert run.meta.notes == []


def test_a_gap_in_the_parts_is_refused(tmp_path):
    _parts_run(tmp_path / "run", [np.array([0, 1, 2]), np.array([4, 5, 6])])
    with pytest.raises(InputError, match=r"has a gap: no part file holds samples 103 \(1 of 7\)"):
        read_run_dir(tmp_path / "run")


def test_a_missing_part_epoch_or_part_folder_is_refused(tmp_path):
    _parts_run(tmp_path / "run", [np.array([0, 1, 2, 3]), np.array([4, 5, 6, 6])])
    (tmp_path / "run" / part_folder("val", 1, 2) / "epoch_0002.npy").unlink()
    with pytest.raises(InputError, match="gap in epoch 2: part-00001-of-00002 did not write epoch_0002.npy"):
        read_run_dir(tmp_path / "run")
    _parts_run(tmp_path / "other", [np.array([0, 1, 2]), np.array([3, 4]), np.array([5, 6])])
    import shutil

    shutil.rmtree(tmp_path / "other" / part_folder("val", 1, 3))
    with pytest.raises(InputError, match="some process's part is missing"):
        read_run_dir(tmp_path / "other")
