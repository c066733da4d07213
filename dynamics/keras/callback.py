"""``PredictionRecorder``: every validation sample's prediction, every epoch.

This module imports Keras (through :func:`dynamics.keras.env.import_keras`, so
a program that has not chosen a backend gets JAX rather than a failed import).
The callback measures; what it measures is kept by a
:class:`~dynamics.keras.storage.RecordingStorage` (a run directory or
memory), and the validation input is read by :mod:`dynamics.keras.inputs`.
"""

from __future__ import annotations

import time
import warnings
import weakref
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dynamics.errors import ArgumentError
from dynamics.keras.callback_data import (
    check_pair,
    class_labels,
    n_rows,
    pad_rows,
    probabilities,
    take,
    train_rows,
)
from dynamics.keras.describe import evaluation_metrics, fit_events, training_meta
from dynamics.keras.env import import_keras
from dynamics.keras.inputs import (
    ArraySource,
    BatchSource,
    Pass,
    align,
    check_ids,
    source_for,
)
from dynamics.keras.placement import (
    Placement,
    callback_list,
    randomness_kept,
    wait_for_step,
)
from dynamics.keras.storage import RecordingStorage
from dynamics.run import Event

keras = import_keras(respect_config=True)


class PredictionRecorder(keras.callbacks.Callback):
    """Record each validation sample's predicted probability after every epoch.

    At the end of each epoch the recorder runs the model once over the
    validation set (and, optionally, over a fixed subset of the training
    set) in inference mode, keeps the probabilities, and -- unless Keras
    already validated -- computes ``val_loss`` and ``val_<metric>`` from them
    with the model's own compiled loss and metrics and puts them into the
    epoch logs. So leave ``validation_data`` out of ``fit``: the validation
    pass happens once, and ``EarlyStopping``, ``ModelCheckpoint``,
    ``CSVLogger`` and the progress bar still see ``val_loss``.

    Callbacks see the epoch logs in list order, so the recorder must run
    before any callback that reads ``val_*`` values. Put it first in
    ``callbacks=[...]``; if it is not first, it moves itself to the front of
    Keras's ``CallbackList`` when training begins (Keras's own progress bar
    and ``History`` always come after user callbacks).

    With ``directory``, every finished epoch is written to a run directory
    before the next epoch starts (see :mod:`dynamics.sources.rundir`), with the
    captured progress output; ``dynamics.load_run(directory)`` reads it back
    without Keras.

    Under ``keras.distribution.DataParallel`` on JAX the recorder waits for
    each training step to finish (XLA's CPU all-reduce can deadlock when
    steps overlap) and pads its own prediction batches so they divide evenly
    among the devices. With several JAX processes (``jax.distributed`` /
    ``keras.distribution.initialize``, ``DataParallel`` with
    ``auto_shard_dataset=False``), give every process the same
    ``(x_val, y_val)`` and the same ``directory`` (a shared filesystem): each
    process predicts one share of the samples on its own device and writes it
    as a part of the run directory (see :mod:`dynamics.sources.rundir`); the metrics
    come from all the shares, the same in every process.

    Args:
        validation_data: What ``fit(validation_data=...)`` accepts: a tuple
            ``(x_val, y_val)`` of arrays (``x_val`` may be a dict or list of
            arrays for a multi-input model), a ``keras.utils.PyDataset``, a
            generator (with ``steps``), a ``tf.data.Dataset`` or a torch
            ``DataLoader`` yielding ``(x, y)`` or ``(x, y, sample_weight)``.
            Labels may be 0/1, sparse class indices or one-hot; from batches
            they are taken as the batches go by. Every epoch must go over the
            same samples: a shuffling loader, or one whose number of samples
            changes, is refused with one line (see
            :func:`dynamics.keras.inputs.align`).
        directory: Run directory to write, or ``None`` to keep everything in
            memory (see :attr:`run`).
        storage: A :class:`~dynamics.keras.storage.RecordingStorage`, for
            whoever builds it themselves; then leave ``directory``,
            ``dtype``, ``overwrite``, ``metadata``, ``vocabulary`` and
            ``capture_progress`` out (they are its arguments).
        train_data: Optional tuple ``(x_train, y_train)`` of arrays:
            training samples whose predictions are recorded too (for
            forgetting events and data maps).
        train_subset: Which rows of ``train_data`` to record: ``None`` for
            all, an int ``k`` for ``k`` rows drawn once with ``seed``, or a
            sequence of row indices.
        sample_ids: With arrays, the index of each validation sample in its
            dataset (default ``0..n-1``), kept with the predictions. With
            batches, where each batch carries the ids: ``2`` for batches
            ``(x, y, ids)``, or a key of the input dict (taken out before
            predicting); by default the samples' order.
        steps: Batches per epoch of a generator or an infinite dataset (as
            ``validation_steps`` in ``fit``); with a finite dataset, at most
            that many.
        from_logits: Whether the model outputs logits rather than
            probabilities; they are turned into probabilities with a sigmoid
            (one output) or a softmax (several).
        inject_metrics: Whether to compute ``val_loss`` / ``val_<metric>``
            and add them to the epoch logs when Keras has not.
        batch_size: Batch size of the recorder's prediction pass over arrays
            (batches are predicted as they come).
        seed: Seed for drawing ``train_subset``.
        dtype, overwrite, metadata, vocabulary, capture_progress, top_k: Arguments
            of the :class:`~dynamics.keras.storage.RecordingStorage` the
            recorder builds (defaults ``"float16"``, ``False``, ``None``,
            ``None``, ``True``, ``None``): storage precision, replacing a
            recorded run, extra facts for ``meta.json``, words by token id,
            copying the progress output into ``progress.log``, and for many
            classes (K >> 10) compact storage of the ``top_k`` most probable
            classes per sample (:mod:`dynamics.sources.rundir.compact`; needs
            ``directory``).

    Example:

    ```python
    recorder = dynamics.PredictionRecorder((x_val, y_val), directory="runs/lstm")
    model.fit(
        x_train, y_train, epochs=10,
        callbacks=[recorder, keras.callbacks.EarlyStopping(patience=3)],
    )
    run = dynamics.load_run("runs/lstm")  # or recorder.run
    run.predictions.proba[-1]  # P(class 1) of every validation sample, last epoch
    ```
    """

    def __init__(
        self,
        validation_data: Any,
        directory: str | Path | None = None,
        *,
        storage: RecordingStorage | None = None,
        train_data: tuple[Any, Any] | None = None,
        train_subset: int | Sequence[int] | None = None,
        sample_ids: Sequence[int] | int | str | None = None,
        steps: int | None = None,
        from_logits: bool = False,
        inject_metrics: bool = True,
        batch_size: int = 256,
        seed: int = 0,
        dtype: str | None = None,
        overwrite: bool | None = None,
        metadata: Mapping[str, Any] | None = None,
        vocabulary: Sequence[str] | None = None,
        capture_progress: bool | None = None,
        top_k: int | None = None,
    ) -> None:
        super().__init__()
        self.source = source_for(validation_data, steps=steps, sample_ids=sample_ids)
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ArgumentError(f"batch_size must be a positive integer. Received: batch_size={batch_size!r}")
        shortcuts = {"directory": directory, "dtype": dtype, "overwrite": overwrite, "metadata": metadata,
                     "vocabulary": vocabulary, "capture_progress": capture_progress, "top_k": top_k}
        if storage is not None:
            if not isinstance(storage, RecordingStorage):
                raise ArgumentError(f"storage must be a RecordingStorage. Received: storage={type(storage).__name__}")
            given = [k for k, v in shortcuts.items() if v is not None]
            if given:
                raise ArgumentError(f"pass {', '.join(given)} to the RecordingStorage, not beside it. "
                                    f"Received: storage and {given[0]}={shortcuts[given[0]]!r}")
            self.storage = storage
        else:
            self.storage = RecordingStorage(
                directory, dtype=dtype or "float16", overwrite=bool(overwrite),
                capture_progress=True if capture_progress is None else capture_progress,
                metadata=metadata, vocabulary=vocabulary, top_k=top_k,
            )
        self.x_train = self.y_train = self.train_ids = None
        if train_data is not None:
            x_tr, y_tr = check_pair("train_data", train_data)
            self.train_ids = train_rows(train_subset, n_rows(x_tr), seed)
            self.x_train, self.y_train = take(x_tr, self.train_ids), np.asarray(y_tr)[self.train_ids]
        elif train_subset is not None:
            raise ArgumentError(
                f"train_subset needs train_data. Received: train_subset={train_subset!r}, train_data=None"
            )
        self.from_logits = bool(from_logits)
        self.inject_metrics = bool(inject_metrics)
        self.batch_size = int(batch_size)
        self._reset()
        if keras.backend.backend() == "jax":
            dist = keras.distribution.distribution()
            if dist is not None and int(np.prod(dist.device_mesh.shape)) > 1:
                self._install_step_sync()

    # -- state -------------------------------------------------------------
    def _reset(self) -> None:
        self._first: Pass | None = None  # the first epoch's pass: later passes must match it
        self._callbacks_ref = None
        self._last_logs: dict | None = None
        self._epoch_start = None
        self.placement = Placement(keras)
        self._checked_range = False
        self._warned = False

    @property
    def directory(self) -> Path | None:
        return self.storage.directory

    @property
    def epochs(self) -> list[int]:
        """The recorded epochs (1-based)."""
        return self.storage.epochs

    @property
    def logs(self) -> list[dict[str, float]]:
        """Each recorded epoch's logs, the injected ``val_*`` values included."""
        return self.storage.logs

    @property
    def seconds(self) -> list[float | None]:
        return self.storage.seconds

    @property
    def record_seconds(self) -> list[float | None]:
        """Seconds of the recorder's own pass, each epoch."""
        return self.storage.record_seconds

    @property
    def val_proba(self):
        """The validation probabilities kept in memory (without ``directory``), one float32 array per epoch."""
        return self.storage.val_proba

    @property
    def train_proba(self):
        """The same for the recorded training samples."""
        return self.storage.train_proba

    @property
    def run(self):
        """The recording so far as a :class:`~dynamics.run.Run`.

        Read back from ``directory`` when there is one (memory-mapped), else
        built from memory.
        """
        return self.storage.to_run()

    def close(self) -> None:
        """Stop copying the progress output; safe at any time, and twice.

        ``fit`` ends a recording itself (``on_train_end``); call this in a
        ``finally`` when ``fit`` may raise, so that ``sys.stdout`` is given
        back. A run directory closed before its end stays ``"running"``,
        which is how a reader tells an interrupted run.
        """
        self.storage.close()

    # -- training hooks ----------------------------------------------------
    def on_train_begin(self, logs=None):
        self.close()
        self._reset()
        self._find_callback_list()
        self._setup_distribution()
        if self.placement.processes > 1:
            self._open_parts()
        else:
            self.storage.open(self._meta())
        if isinstance(self.source, ArraySource):
            x = self.source.x
            self.storage.set_samples("val", self.source.labels(), self.source.ids,
                                     inputs=x if isinstance(x, np.ndarray) else None)
        if self.y_train is not None:
            self.storage.set_samples("train", class_labels(self.y_train), self.train_ids)

    def _find_callback_list(self) -> None:
        """Run before callbacks that read val_* logs (they see logs in list order)."""
        owner = callback_list(self, keras)
        if owner is None:
            return
        self._callbacks_ref = weakref.ref(owner)
        callbacks = owner.callbacks
        if not self.inject_metrics:
            return
        mine = callbacks.index(self)
        passive = (keras.callbacks.ProgbarLogger, keras.callbacks.History, PredictionRecorder)
        if any(not isinstance(cb, passive) for cb in callbacks[:mine]):
            # Moving an item to the front while CallbackList iterates over the
            # list is safe: the items after it keep their positions.
            callbacks.insert(0, callbacks.pop(mine))

    def _setup_distribution(self) -> None:
        self.placement = Placement(keras)
        if self.placement.mesh_size > 1 and "on_train_batch_end" not in self.__dict__:
            self._install_step_sync()
            callbacks = self._callbacks_ref() if self._callbacks_ref is not None else None
            if callbacks is not None and hasattr(callbacks, "_async_train"):
                callbacks._async_train = False  # the list decided before the override existed

    def _open_parts(self) -> None:
        """Several JAX processes: each predicts a share of the validation set and writes it as a part."""
        if not isinstance(self.source, ArraySource):
            raise ArgumentError("with several processes the recorder takes (x_val, y_val) arrays, the same in "
                                f"every process. Received: validation_data={self.source.name}")
        share = self.placement.split(self.source.n)
        self.storage.open(self._meta(), process=self.placement.process, processes=self.placement.processes,
                          barrier=self.placement.barrier)
        self.storage.set_part(self.source.ids[share])

    def _meta(self) -> dict[str, Any]:
        """What ``meta.json`` says about the training (the storage adds the user's metadata)."""
        return training_meta(self.model, self.source, self.params, train_ids=self.train_ids,
                             from_logits=self.from_logits, placement=self.placement)

    def _install_step_sync(self) -> None:
        """Block on each train step under DataParallel (:func:`~dynamics.keras.placement.wait_for_step` says why)."""
        self.on_train_batch_end = wait_for_step

    def on_epoch_begin(self, epoch, logs=None):
        self._refresh_last_row()
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        try:
            with randomness_kept(keras.backend.backend()):
                self._record_epoch(epoch, logs if logs is not None else {})
        except BaseException:
            self.close()  # fit stops here, without on_train_end: give sys.stdout back
            raise

    def _record_epoch(self, epoch: int, logs: dict) -> None:
        started = time.perf_counter()
        current = self._validation_pass()
        if self._first is None:
            if isinstance(self.source, BatchSource):
                ids = check_ids(current.ids, self.source.name)
                self.storage.set_samples("val", class_labels(current.y), ids)
            self._first = current
        else:
            current = align(self._first, current, epoch + 1, getattr(self.source, "name", "arrays"))
        proba = self._probabilities(current.raw)
        share = self.placement.share
        if share is not None:  # this process keeps its part; the metrics are of the whole set
            proba = proba[share]
        if self.inject_metrics and not any(k.startswith("val_") for k in logs):
            for name, value in self._val_metrics(current.raw, current.y, current.sample_weight).items():
                logs.setdefault(f"val_{name}", value)
        train_proba = None
        if self.x_train is not None and self.placement.process == 0:
            train_proba = self._probabilities(self._predict(self.x_train))
        done = time.perf_counter()
        seconds = done - self._epoch_start if self._epoch_start is not None else None
        row = {k: float(v) for k, v in logs.items() if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)}
        self._last_logs = logs  # later callbacks may still add keys (learning_rate...)
        # the storage encodes (float64 probabilities in, float16 log space or float32 out)
        self.storage.write_epoch(epoch + 1, row, val_proba=proba, train_proba=train_proba,
                                 seconds=seconds, record_seconds=done - started)

    def on_train_end(self, logs=None):
        self._refresh_last_row()
        self.storage.finish(self._events(), finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    def _refresh_last_row(self) -> None:
        """Fold in keys that callbacks after the recorder added to the last epoch's logs."""
        if self._last_logs is None or not self.logs:
            return
        row = self.logs[-1]
        extra = {k: float(v) for k, v in self._last_logs.items()
                 if k not in row and isinstance(v, (int, float, np.number)) and not isinstance(v, bool)}
        if extra:
            self.storage.update_row(self.epochs[-1], extra)
        self._last_logs = None

    def _events(self) -> list[Event]:
        callbacks = self._callbacks_ref() if self._callbacks_ref is not None else None
        return fit_events(callbacks.callbacks if callbacks is not None else [], self.model,
                          self.params.get("epochs") if self.params else None, self.epochs)

    # -- the prediction pass -----------------------------------------------
    def _validation_pass(self) -> Pass:
        source = self.source
        share = self.placement.share
        if share is not None:
            return Pass(self.placement.gather(self._predict(take(source.x, share)), source.n), source.y, source.ids)
        if isinstance(source, ArraySource):
            return Pass(self._predict(source.x), source.y, source.ids, None, source.x)
        return source.run_pass(self._predict_batches, self.placement.n_devices)

    def _predict_batches(self, inputs: Iterator[tuple], steps: int | None) -> np.ndarray:
        with warnings.catch_warnings():
            # the generator ends where the pass ends: Keras's "ran out of data" is no news here
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            out = self.model.predict(inputs, steps=steps, verbose=0)
        self._one_output(out)
        return np.asarray(out)

    def _predict(self, x: Any) -> np.ndarray:
        if self.placement.processes > 1:
            return self.placement.local_predict(self.model, x, self.batch_size)
        n = n_rows(x)
        d = self.placement.n_devices
        batch = max(d, self.batch_size // d * d)  # every batch divides among the devices
        pad = (-n) % d
        if pad:
            x = pad_rows(x, n, pad)
        out = self.model.predict(x, batch_size=batch, verbose=0)
        self._one_output(out)
        return np.asarray(out)[:n]

    @staticmethod
    def _one_output(out: Any) -> None:
        if isinstance(out, (list, tuple, dict)):
            raise ArgumentError(
                "PredictionRecorder records models with one output. "
                f"Received: a model with {len(out)} outputs"
            )

    def _probabilities(self, raw: np.ndarray) -> np.ndarray:
        proba = probabilities(raw, from_logits=self.from_logits, check=not self._checked_range)
        self._checked_range = True
        return proba

    def _val_metrics(self, raw: np.ndarray, y: Any, sample_weight: Any = None) -> dict[str, float]:
        """val_loss and the compiled metrics, as ``model.evaluate`` computes them (empty for a custom model)."""
        try:
            return evaluation_metrics(self.model, raw, y, sample_weight)
        except Exception as exc:  # noqa: BLE001 - a custom model: record, but do not inject
            if not self._warned:
                self._warned = True
                warnings.warn(
                    f"PredictionRecorder could not compute val metrics ({type(exc).__name__}: {exc}); "
                    "predictions are still recorded", stacklevel=2,
                )
            return {}
