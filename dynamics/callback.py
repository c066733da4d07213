"""``PredictionRecorder``: every validation sample's prediction, every epoch.

This module imports Keras (through :func:`dynamics.kerasenv.import_keras`, so
a program that has not chosen a backend gets JAX rather than a failed import).
"""

from __future__ import annotations

import sys
import time
import warnings
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dynamics.callback_data import check_pair, class_labels, n_rows, pad_rows, sigmoid, softmax, take
from dynamics.errors import ArgumentError
from dynamics.kerasenv import backend_version, import_keras
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
    before the next epoch starts (see :mod:`dynamics.rundir`), with the
    captured progress output; ``dynamics.load_run(directory)`` reads it back
    without Keras.

    Under ``keras.distribution.DataParallel`` on JAX the recorder waits for
    each training step to finish (XLA's CPU all-reduce can deadlock when
    steps overlap) and pads its own prediction batches so they divide evenly
    among the devices.

    Args:
        validation_data: Tuple ``(x_val, y_val)`` of arrays (``x_val`` may be
            a dict or list of arrays for a multi-input model). Labels may be
            0/1, sparse class indices or one-hot.
        directory: Run directory to write, or ``None`` to keep everything in
            memory (see :attr:`run`).
        train_data: Optional tuple ``(x_train, y_train)``: training samples
            whose predictions are recorded too (for forgetting events and
            data maps).
        train_subset: Which rows of ``train_data`` to record: ``None`` for
            all, an int ``k`` for ``k`` rows drawn once with ``seed``, or a
            sequence of row indices.
        sample_ids: Index of each validation sample in its dataset (default
            ``0..n-1``), kept with the predictions.
        from_logits: Whether the model outputs logits rather than
            probabilities; they are turned into probabilities with a sigmoid
            (one output) or a softmax (several).
        inject_metrics: Whether to compute ``val_loss`` / ``val_<metric>``
            and add them to the epoch logs when Keras has not.
        batch_size: Batch size of the recorder's prediction pass.
        dtype: ``"float16"`` (default) or ``"float32"``: storage size of
            the predictions. ``"float16"`` stores them in log space -- the
            logit of a sigmoid output, the log-probabilities of a softmax --
            computed in float64 from the model's outputs and clipped as
            Keras clips them, so a confidently wrong sample keeps its loss
            (to 0.008 nats) in 2 bytes; ``"float32"`` stores the
            probabilities themselves, exactly. Either way they read back as
            float32 probabilities (see :mod:`dynamics.rundir.encoding`).
        capture_progress: Copy the progress output printed during ``fit``
            into ``progress.log`` in ``directory``.
        overwrite: Replace a run already recorded in ``directory``.
        metadata: Extra facts for ``meta.json`` (seed, dataset, options...).
        vocabulary: Words by token id, saved so samples can be shown as text
            (the validation inputs are saved with them).
        seed: Seed for drawing ``train_subset``.
        top_k: For many classes (K >> 10), store each sample compactly in
            ``directory``: the ``top_k`` most probable classes and their
            probabilities, the true class's probability, the entropy and the
            Brier score (18 bytes a sample for ``top_k=3``, against 2 bytes a
            class). Everything but temperature scaling and the Brier
            decomposition is computed from it (see
            :mod:`dynamics.rundir.compact`). Needs ``directory``.

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
        validation_data: tuple[Any, Any],
        directory: str | Path | None = None,
        *,
        train_data: tuple[Any, Any] | None = None,
        train_subset: int | Sequence[int] | None = None,
        sample_ids: Sequence[int] | None = None,
        from_logits: bool = False,
        inject_metrics: bool = True,
        batch_size: int = 256,
        dtype: str = "float16",
        capture_progress: bool = True,
        overwrite: bool = False,
        metadata: Mapping[str, Any] | None = None,
        vocabulary: Sequence[str] | None = None,
        seed: int = 0,
        top_k: int | None = None,
    ) -> None:
        super().__init__()
        if top_k is not None and directory is None:
            raise ArgumentError(f"compact storage is written to a run directory; pass directory=... "
                                f"Received: top_k={top_k!r}, directory=None")
        self.top_k = top_k
        self.x_val, self.y_val = check_pair("validation_data", validation_data)
        self.n_val = n_rows(self.x_val)
        if sample_ids is None:
            self.sample_ids = np.arange(self.n_val)
        else:
            self.sample_ids = np.asarray(sample_ids)
            if self.sample_ids.shape != (self.n_val,) or self.sample_ids.dtype.kind not in "iu":
                raise ArgumentError(
                    f"sample_ids must be {self.n_val} integers, one per validation sample. "
                    f"Received: sample_ids of shape {self.sample_ids.shape} and dtype {self.sample_ids.dtype}"
                )
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ArgumentError(f"batch_size must be a positive integer. Received: batch_size={batch_size!r}")
        if dtype not in ("float16", "float32"):
            raise ArgumentError(f'dtype must be "float16" or "float32". Received: dtype={dtype!r}')
        self.x_train = self.y_train = self.train_ids = None
        if train_data is not None:
            x_tr, y_tr = check_pair("train_data", train_data)
            n_tr = n_rows(x_tr)
            self.train_ids = self._subset(train_subset, n_tr, seed)
            self.x_train, self.y_train = take(x_tr, self.train_ids), np.asarray(y_tr)[self.train_ids]
        elif train_subset is not None:
            raise ArgumentError(
                f"train_subset needs train_data. Received: train_subset={train_subset!r}, train_data=None"
            )
        self.directory = Path(directory) if directory is not None else None
        self.from_logits = bool(from_logits)
        self.inject_metrics = bool(inject_metrics)
        self.batch_size = int(batch_size)
        self.dtype = dtype
        self.capture_progress = bool(capture_progress)
        self.overwrite = bool(overwrite)
        self.metadata = dict(metadata or {})
        self.vocabulary = list(vocabulary) if vocabulary is not None else None
        self._reset()
        if keras.backend.backend() == "jax":
            dist = keras.distribution.distribution()
            if dist is not None and int(np.prod(dist.device_mesh.shape)) > 1:
                self._install_step_sync()

    @staticmethod
    def _subset(train_subset: Any, n: int, seed: int) -> np.ndarray:
        if train_subset is None:
            return np.arange(n)
        if isinstance(train_subset, (int, np.integer)) and not isinstance(train_subset, bool):
            if not 1 <= train_subset <= n:
                raise ArgumentError(
                    f"train_subset must be between 1 and the {n} training samples. "
                    f"Received: train_subset={train_subset}"
                )
            return np.sort(np.random.default_rng(seed).choice(n, size=int(train_subset), replace=False))
        index = np.asarray(train_subset)
        if index.ndim != 1 or index.size == 0 or index.dtype.kind not in "iu" or index.min() < 0 or index.max() >= n:
            raise ArgumentError(
                f"train_subset must be an int or row indices in [0, {n}). Received: train_subset={train_subset!r}"
            )
        return index

    # -- state -------------------------------------------------------------
    def _reset(self) -> None:
        self.epochs: list[int] = []
        self.logs: list[dict[str, float]] = []
        self.seconds: list[float] = []
        self.record_seconds: list[float] = []
        self._val_stored: list[np.ndarray] = []
        self._train_stored: list[np.ndarray] = []
        self._encoding: str | None = None
        self.events: list[Event] = []
        self._writer = None
        self._capture = None
        self._callbacks_ref = None
        self._last_logs: dict | None = None
        self._epoch_start = None
        self._n_devices = 1
        self._checked_range = False

    @property
    def val_proba(self):
        """The validation probabilities kept in memory (without ``directory``), one float32 array per epoch."""
        from dynamics.rundir.encoding import EncodedEpochs

        return EncodedEpochs(self._val_stored, self._encoding or "proba-float32")

    @property
    def train_proba(self):
        """The same for the recorded training samples."""
        from dynamics.rundir.encoding import EncodedEpochs

        return EncodedEpochs(self._train_stored, self._encoding or "proba-float32")

    @property
    def run(self):
        """The recording so far as a :class:`~dynamics.run.Run`.

        Read back from ``directory`` when there is one (memory-mapped), else
        built from memory.
        """
        from dynamics.run import Predictions, Run, RunMeta, make_epoch_table

        if self.directory is not None and self._writer is not None:
            from dynamics.rundir import read_run_dir

            return read_run_dir(self.directory)
        table = make_epoch_table(dict(zip(self.epochs, self.logs)))
        timing = make_epoch_table(
            {e: {"seconds": s, "record_seconds": r} for e, s, r in zip(self.epochs, self.seconds, self.record_seconds)}
        )
        meta = RunMeta(source="<PredictionRecorder>", format="recorded", era="keras3",
                       n_val=self.n_val, classes=self._classes if self.epochs else None,
                       extra=dict(self.metadata))
        preds = Predictions(np.asarray(self.epochs), class_labels(self.y_val), self.val_proba, self.sample_ids)
        train = None
        if self.x_train is not None:
            train = Predictions(np.asarray(self.epochs), class_labels(self.y_train), self.train_proba, self.train_ids)
        return Run(epochs=table, meta=meta, events=list(self.events), timing=timing,
                   predictions=preds, train_predictions=train)

    # -- training hooks ----------------------------------------------------
    def on_train_begin(self, logs=None):
        self._stop_capture()
        self._reset()
        self._find_callback_list(sys._getframe(1))
        self._setup_distribution()
        if self.directory is not None:
            self._start_directory()

    def _find_callback_list(self, frame: Any) -> None:
        """Run before callbacks that read val_* logs (they see logs in list order)."""
        owner = frame.f_locals.get("self") if frame is not None else None
        if not isinstance(owner, keras.callbacks.CallbackList):
            return
        self._callbacks_ref = weakref.ref(owner)
        callbacks = owner.callbacks
        if not self.inject_metrics or self not in callbacks:
            return
        mine = callbacks.index(self)
        passive = (keras.callbacks.ProgbarLogger, keras.callbacks.History, PredictionRecorder)
        if any(not isinstance(cb, passive) for cb in callbacks[:mine]):
            # Moving an item to the front while CallbackList iterates over the
            # list is safe: the items after it keep their positions.
            callbacks.insert(0, callbacks.pop(mine))

    def _setup_distribution(self) -> None:
        if keras.backend.backend() != "jax":
            return
        dist = keras.distribution.distribution()
        if dist is None:
            return
        mesh = dist.device_mesh
        axis = getattr(dist, "batch_dim_name", None)
        if axis in mesh.axis_names:
            self._n_devices = int(mesh.shape[mesh.axis_names.index(axis)])
        else:
            self._n_devices = int(np.prod(mesh.shape))
        if int(np.prod(mesh.shape)) > 1 and "on_train_batch_end" not in self.__dict__:
            self._install_step_sync()
            callbacks = self._callbacks_ref() if self._callbacks_ref is not None else None
            if callbacks is not None and hasattr(callbacks, "_async_train"):
                callbacks._async_train = False  # the list decided before the override existed

    def _start_directory(self) -> None:
        from dynamics.rundir import PROGRESS, RunDirWriter

        self._writer = RunDirWriter(self.directory, dtype=self.dtype, overwrite=self.overwrite, top_k=self.top_k)
        backend = keras.backend.backend()
        meta = {
            "keras_version": keras.__version__,
            "backend": backend,
            "backend_version": backend_version(backend),
            "python": sys.version.split()[0],
            "n_val": self.n_val,
            "n_train": self.metadata.get("n_train"),
            "epochs": self.params.get("epochs") if self.params else None,
            "verbose": self.params.get("verbose") if self.params else None,
            "train_subset": None if self.train_ids is None else len(self.train_ids),
            "from_logits": self.from_logits,
            "devices": self._n_devices,
            "model": self._model_info(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **{k: v for k, v in self.metadata.items() if k != "n_train"},
        }
        x = self.x_val
        inputs = x if isinstance(x, np.ndarray) and x.ndim == 2 and x.dtype.kind in "iu" else None
        self._writer.start(
            meta,
            val_labels=class_labels(self.y_val),
            val_ids=self.sample_ids,
            val_inputs=inputs if self.vocabulary is not None else None,
            train_labels=None if self.y_train is None else class_labels(self.y_train),
            train_ids=self.train_ids,
            vocabulary=self.vocabulary,
        )
        if self.capture_progress:
            from dynamics.capture import ProgressCapture

            self._capture = ProgressCapture(self.directory / PROGRESS)
            self._capture.start()

    def _model_info(self) -> dict[str, Any]:
        lines: list[str] = []

        def collect(text: str = "", line_break: bool = True) -> None:
            lines.append(str(text))

        try:
            self.model.summary(print_fn=collect)
        except Exception:  # noqa: BLE001 - a summary is a courtesy, never a failure
            pass
        try:
            params = int(self.model.count_params())
        except Exception:  # noqa: BLE001 - unbuilt subclassed models
            params = None
        return {"name": self.model.name, "params": params, "summary": "\n".join(lines)}

    def _install_step_sync(self) -> None:
        """Work around jaxlib's CPU all-reduce deadlock under DataParallel.

        Measured here (jaxlib 0.10.2, 2 virtual CPU devices): consecutive
        train steps overlap and XLA's all-reduce waits forever for the second
        device (SIGABRT after 40 s), with or without Keras. Blocking on each
        step's logs in ``on_train_batch_end`` fixes it -- and only if that hook
        runs in the training loop's thread: Keras dispatches batch-end hooks
        to a thread pool unless some callback overrides ``on_train_batch_end``
        (``CallbackList._configure_async_dispatch``). So the override exists
        only on recorders that train under a distribution: an instance
        attribute, set when the recorder is created (after
        ``set_distribution``) or, failing that, when training begins.
        """
        self.on_train_batch_end = self._wait_for_step

    def _wait_for_step(self, batch, logs=None):
        import jax

        jax.block_until_ready(logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._refresh_last_row()
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        started = time.perf_counter()
        raw = self._predict(self.x_val)
        proba = self._probabilities(raw)
        if self.inject_metrics and not any(k.startswith("val_") for k in logs):
            for name, value in self._val_metrics(raw).items():
                logs.setdefault(f"val_{name}", value)
        train_proba = None
        if self.x_train is not None:
            train_proba = self._probabilities(self._predict(self.x_train))
        done = time.perf_counter()
        seconds = done - self._epoch_start if self._epoch_start is not None else None
        row = {k: float(v) for k, v in logs.items() if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)}
        self.epochs.append(epoch + 1)
        self.logs.append(row)
        self.seconds.append(seconds)
        self.record_seconds.append(done - started)
        self._last_logs = logs  # later callbacks may still add keys (learning_rate...)
        if self._writer is not None:  # it encodes (float64 probabilities in, float16 log space or float32 out)
            self._writer.write_epoch(epoch + 1, row, val_proba=proba, train_proba=train_proba,
                                     seconds=seconds, record_seconds=done - started)
        else:
            from dynamics.rundir.encoding import encode, encoding_for

            self._encoding = encoding_for(self.dtype, proba.ndim)
            self._val_stored.append(encode(proba, self._encoding))
            if train_proba is not None:
                self._train_stored.append(encode(train_proba, self._encoding))

    def on_train_end(self, logs=None):
        self._refresh_last_row()
        self._collect_events()
        if self._writer is not None:
            for event in self.events:
                self._writer.add_event(event)
            self._writer.finish("finished", finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        self._stop_capture()

    def _stop_capture(self) -> None:
        capture = getattr(self, "_capture", None)
        if capture is not None:
            capture.stop()
            self._capture = None

    def _refresh_last_row(self) -> None:
        """Fold in keys that callbacks after the recorder added to the last epoch's logs."""
        if self._last_logs is None or not self.logs:
            return
        row = self.logs[-1]
        extra = {k: float(v) for k, v in self._last_logs.items()
                 if k not in row and isinstance(v, (int, float, np.number)) and not isinstance(v, bool)}
        if extra:
            row.update(extra)
            if self._writer is not None:
                self._writer.update_row(self.epochs[-1], row)
        self._last_logs = None

    def _collect_events(self) -> None:
        callbacks = self._callbacks_ref() if self._callbacks_ref is not None else None
        declared = self.params.get("epochs") if self.params else None
        for cb in callbacks.callbacks if callbacks is not None else []:
            if isinstance(cb, keras.callbacks.EarlyStopping) and getattr(cb, "stopped_epoch", 0) > 0:
                stopped = int(cb.stopped_epoch) + 1
                self.events.append(Event(stopped, "early_stopping",
                                         f"Epoch {stopped}: early stopping", monitor=cb.monitor))
                best = getattr(cb, "best_epoch", None)
                if getattr(cb, "restore_best_weights", False) and best is not None:
                    self.events.append(Event(stopped, "restored_best_weights",
                                             f"Restoring model weights from the end of the best epoch: {best + 1}.",
                                             monitor=cb.monitor, value=float(best + 1)))
        if self.epochs and declared and self.model.stop_training and self.epochs[-1] < declared \
                and not any(e.kind == "early_stopping" for e in self.events):
            last = self.epochs[-1]
            self.events.append(Event(last, "early_stopping", f"training stopped after epoch {last} of {declared}"))

    # -- the prediction pass -----------------------------------------------
    def _predict(self, x: Any) -> np.ndarray:
        n = n_rows(x)
        d = self._n_devices
        batch = max(d, self.batch_size // d * d)  # every batch divides among the devices
        pad = (-n) % d
        if pad:
            x = pad_rows(x, n, pad)
        out = self.model.predict(x, batch_size=batch, verbose=0)
        if isinstance(out, (list, tuple, dict)):
            raise ArgumentError(
                "PredictionRecorder records models with one output. "
                f"Received: a model with {len(out)} outputs"
            )
        return np.asarray(out)[:n]

    @property
    def _classes(self) -> int:
        return 2 if self._width == 1 else self._width

    def _probabilities(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=np.float64)
        self._width = 1 if raw.ndim == 1 else int(np.prod(raw.shape[1:]))
        if self._width == 1:
            z = raw.reshape(len(raw))
            proba = sigmoid(z) if self.from_logits else z
        else:
            z = raw.reshape(len(raw), self._width)
            proba = softmax(z) if self.from_logits else z
        if not self._checked_range:
            self._checked_range = True
            finite = proba[np.isfinite(proba)]
            if finite.size and (finite.min() < -1e-6 or finite.max() > 1 + 1e-6):
                raise ArgumentError(
                    "the model's outputs are not probabilities (they fall outside [0, 1]); "
                    "if it outputs logits, pass from_logits=True. Received: from_logits=False"
                )
        return np.clip(proba, 0.0, 1.0)

    def _val_metrics(self, raw: np.ndarray) -> dict[str, float]:
        """val_loss and the compiled metrics, as ``model.evaluate`` computes them."""
        model = self.model
        y = np.asarray(self.y_val)
        try:
            # convert_to_numpy, not np.asarray: on a GPU (torch) the results are device tensors.
            loss = float(keras.ops.convert_to_numpy(model.compute_loss(x=None, y=y, y_pred=raw, training=False)))
            model.reset_metrics()
            values = model.compute_metrics(None, y, raw, sample_weight=None)
        except Exception as exc:  # noqa: BLE001 - a custom model: record, but do not inject
            if not getattr(self, "_warned", False):
                self._warned = True
                warnings.warn(
                    f"PredictionRecorder could not compute val metrics ({type(exc).__name__}: {exc}); "
                    "predictions are still recorded", stacklevel=2,
                )
            return {}
        out = {"loss": loss}
        for name, value in values.items():
            if name != "loss":
                try:
                    out[name] = float(keras.ops.convert_to_numpy(value))
                except (TypeError, ValueError):
                    continue
        return out
