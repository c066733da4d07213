"""Simulated recorded runs saved as run directories (the format ``dynamics train`` writes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from dynamics.run import Run


def write_run_dir(run: Run, directory: str | Path, *, dtype: str = "float16", **meta: Any) -> Path:
    """Write a recorded :class:`Run` (e.g. from :func:`dynamics.simulate.simulate_run`) as a run directory.

    The epoch table goes to ``epochs.csv`` exactly as it is (full precision,
    as the recorder writes Keras's logs); the predictions go through the
    writer's encoding to ``val/epoch_NNNN.npy`` (and ``train/``): float16
    in log space, or float32 probabilities.
    """
    from dynamics.sources.rundir import RunDirWriter

    directory = Path(directory)
    val, train = run.predictions, run.train_predictions
    writer = RunDirWriter(directory, dtype=dtype)
    info = {"n_val": val.n_samples, "n_train": run.meta.n_train, "classes": run.meta.classes,
            "epochs": run.meta.epochs_declared, **run.meta.extra, **meta}
    writer.start(info, val_labels=val.y_true, val_ids=val.sample_ids,
                 train_labels=train.y_true if train is not None else None,
                 train_ids=train.sample_ids if train is not None else None)
    train_by_epoch = dict(iter(train)) if train is not None else {}
    for epoch, proba in val:
        logs = {k: float(v) for k, v in run.epochs.loc[epoch].items()}
        writer.write_epoch(epoch, logs, val_proba=proba, train_proba=train_by_epoch.get(epoch))
    writer.finish()
    return directory


def write_format1_run_dir(run: Run, directory: str | Path, *, dtype: str = "float16") -> Path:
    """The same as dynamics wrote it before log-space storage (run format 1): raw probabilities in ``dtype``."""
    directory = write_run_dir(run, directory, dtype="float32")
    for split, preds in (("val", run.predictions), ("train", run.train_predictions)):
        for epoch, proba in preds or []:
            np.save(directory / split / f"epoch_{epoch:04d}.npy", np.asarray(proba).astype(dtype))
    meta_path = directory / "meta.json"
    meta = json.loads(meta_path.read_text())
    del meta["prediction_encoding"]
    meta.update(format_version=1, prediction_dtype=dtype)
    meta_path.write_text(json.dumps(meta, indent=1))
    return directory
