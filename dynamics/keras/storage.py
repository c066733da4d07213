"""Where :class:`~dynamics.keras.callback.PredictionRecorder` puts what it records.

:class:`RecordingStorage` is the storage side of the recorder: a run
directory (written epoch by epoch, crash-safe, see :mod:`dynamics.sources.rundir`)
or memory, the storage precision, the user's metadata and vocabulary, and the
copy of the progress output. The callback measures (it predicts and computes
the metrics); the storage keeps. A storage option -- a new encoding, a
compact many-class layout -- belongs here, not in the callback.

This module imports numpy and the standard library only (no Keras).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dynamics.encoding import PROBA32, EncodedEpochs, encode, encoding_for
from dynamics.errors import ArgumentError
from dynamics.run import Event

DTYPES = ("float16", "float32")


class RecordingStorage:
    """A run directory or memory, for one recording at a time.

    Parameters
    ----------
    directory : str, PathLike or None
        Run directory to write, or ``None`` to keep everything in memory.
    dtype : {"float16", "float32"}
        Storage size of the predictions: ``"float16"`` stores them in log
        space (the logit of a sigmoid output, the log-probabilities of a
        softmax) so a confidently wrong sample keeps its loss (to 0.008
        nats) in 2 bytes; ``"float32"`` stores the probabilities themselves,
        exactly. Either way they read back as float32 probabilities (see
        :mod:`dynamics.sources.rundir.encoding`).
    overwrite : bool
        Replace a run already recorded in ``directory``.
    capture_progress : bool
        Copy what is printed during the recording (Keras's progress output)
        into ``progress.log`` in ``directory``.
    metadata : mapping, optional
        Extra facts for ``meta.json`` (seed, dataset, options...).
    vocabulary : sequence of str, optional
        Words by token id, saved so samples can be shown as text (the
        validation inputs are saved with them when they are token ids).

    Examples
    --------
    >>> storage = RecordingStorage(metadata={"seed": 3})
    >>> storage.open({})
    >>> storage.set_samples("val", np.array([0, 1]), np.array([10, 11]))
    >>> storage.write_epoch(1, {"val_loss": 0.5}, val_proba=np.array([0.25, 0.75]))
    >>> storage.epochs, storage.val_proba[0].round(2).tolist()
    ([1], [0.25, 0.75])
    >>> run = storage.to_run()
    >>> run.meta.n_val, run.meta.extra["seed"], run.predictions.sample_ids.tolist()
    (2, 3, [10, 11])
    """

    def __init__(
        self,
        directory: str | os.PathLike | None = None,
        *,
        dtype: str = "float16",
        overwrite: bool = False,
        capture_progress: bool = True,
        metadata: Mapping[str, Any] | None = None,
        vocabulary: Sequence[str] | None = None,
        top_k: int | None = None,
    ) -> None:
        if top_k is not None and directory is None:
            raise ArgumentError(f"compact storage is written to a run directory; pass directory=... "
                                f"Received: top_k={top_k!r}, directory=None")
        if dtype not in DTYPES:
            raise ArgumentError(f'dtype must be "float16" or "float32". Received: dtype={dtype!r}')
        if directory is not None and not isinstance(directory, (str, os.PathLike)):
            raise ArgumentError(
                f"directory must be a path or None. Received: directory={type(directory).__name__}"
            )
        if metadata is not None and not isinstance(metadata, Mapping):
            raise ArgumentError(f"metadata must be a mapping. Received: metadata={type(metadata).__name__}")
        if vocabulary is not None and (isinstance(vocabulary, (str, bytes)) or not isinstance(vocabulary, Sequence)):
            raise ArgumentError(
                f"vocabulary must be a sequence of words. Received: vocabulary={type(vocabulary).__name__}"
            )
        self.directory = Path(directory) if directory is not None else None
        self.dtype = dtype
        self.overwrite = bool(overwrite)
        self.capture_progress = bool(capture_progress)
        self.metadata = dict(metadata or {})
        self.vocabulary = list(vocabulary) if vocabulary is not None else None
        self.top_k = top_k
        self._writer = None
        self._part = None  # with several processes: (this process's index, their count)
        self._part_writer = None
        self._barrier = None
        self._capture = None
        self._reset()

    def _reset(self) -> None:
        self.epochs: list[int] = []
        self.logs: list[dict[str, float]] = []
        self.seconds: list[float | None] = []
        self.record_seconds: list[float | None] = []
        self.events: list[Event] = []
        self._stored: dict[str, list[np.ndarray]] = {"val": [], "train": []}
        self._samples: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
        self._encoding: str | None = None

    # -- one recording: open -> set_samples -> write_epoch ... -> finish -----
    def open(self, meta: Mapping[str, Any], *, process: int = 0, processes: int = 1,
             barrier: Callable[[str], None] | None = None) -> None:
        """Start a new recording (forgetting the last one); ``meta`` joins the user's metadata.

        With a directory, it is created (or refused if it holds a run and
        ``overwrite`` is off) and the progress capture starts.

        With several processes (``processes > 1``, each one holding a
        storage), process 0 writes the run directory and every process its
        part of the validation predictions (:meth:`set_part`); ``barrier(name)``
        returns once every process has called it (the first process clears
        and creates the directory before the others write into it, and
        writes an epoch's row only after their parts of it).
        """
        self.close()
        self._reset()
        self._part = (int(process), int(processes)) if processes > 1 else None
        self._barrier = barrier
        if self._part is not None and (barrier is None or not 0 <= process < processes):
            raise ArgumentError(f"several processes need a barrier and a process index in [0, {processes}). "
                                f"Received: process={process}, barrier={barrier!r}")
        if self.directory is None:
            if self._part is not None:
                raise ArgumentError("with several processes, each writes its part of a run directory: pass a "
                                    "directory. Received: directory=None")
            return
        from dynamics.sources.rundir.layout import PROGRESS
        from dynamics.sources.rundir.writer import PartWriter, RunDirWriter

        if self._part is not None and self._part[0] > 0:
            barrier("dynamics-open")  # the first process has cleared and created the directory
            self._part_writer = PartWriter(self.directory, *self._part, dtype=self.dtype)
            return
        writer = RunDirWriter(self.directory, dtype=self.dtype, overwrite=self.overwrite, top_k=self.top_k)
        writer.start({**dict(meta), **self.metadata}, vocabulary=self.vocabulary)
        self._writer = writer
        if self._part is not None:
            barrier("dynamics-open")
        if self.capture_progress:
            from dynamics.keras.capture import ProgressCapture

            self._capture = ProgressCapture(self.directory / PROGRESS)
            self._capture.start()

    def set_samples(self, split: str, labels: np.ndarray, ids: np.ndarray | None = None,
                    inputs: Any = None) -> None:
        """The class label (and id) of each sample of ``split`` (``"val"`` or ``"train"``).

        ``inputs`` are kept only with a vocabulary and when they are token
        ids (a 2-d integer array).
        """
        labels = np.asarray(labels, dtype=np.int64)
        ids = None if ids is None else np.asarray(ids, dtype=np.int64)
        self._samples[split] = (labels, ids)
        tokens = inputs if (self.vocabulary is not None and isinstance(inputs, np.ndarray)
                            and inputs.ndim == 2 and inputs.dtype.kind in "iu") else None
        if self._writer is not None:
            self._writer.write_samples(split, labels, ids=ids, inputs=tokens)
            if split == "val" and self._writer.meta.get("n_val") != len(labels):
                self._writer.update_meta(n_val=len(labels))

    def set_part(self, ids: np.ndarray) -> None:
        """With several processes: the ids of the validation samples this process predicts.

        Its epochs' ``val_proba`` are then those samples' predictions, in
        this order (a share padded to an equal size may repeat a sample).
        """
        if self._part is None:
            raise ArgumentError("set_part is for a recording of several processes (open(processes=...))")
        from dynamics.sources.rundir.writer import PartWriter

        self._part_writer = self._part_writer or PartWriter(self.directory, *self._part, dtype=self.dtype)
        self._part_writer.write_ids(ids)

    def write_epoch(self, epoch: int, row: Mapping[str, float], *, val_proba: np.ndarray,
                    train_proba: np.ndarray | None = None, seconds: float | None = None,
                    record_seconds: float | None = None) -> None:
        """Keep one finished epoch: on disk before this returns, with a directory.

        ``val_proba`` / ``train_proba`` are probabilities at full precision
        (float64 or the model's float32); they are encoded here. With several
        processes, ``val_proba`` is this process's part (see :meth:`set_part`).
        """
        row = dict(row)
        self.epochs.append(int(epoch))
        self.logs.append(row)
        self.seconds.append(seconds)
        self.record_seconds.append(record_seconds)
        if self._part is not None:
            from dynamics.sources.rundir.writer import part_folder

            if self._writer is None:  # another process: its part, then the first process writes the row
                self._part_writer.write_epoch(epoch, val_proba)
                self._barrier(f"dynamics-epoch-{epoch}")
                return
            self._barrier(f"dynamics-epoch-{epoch}")  # every other part of this epoch is on disk
            if self._writer.meta.get("classes") is None:
                self._writer.meta["classes"] = _classes(val_proba)
            self._writer.write_epoch(epoch, row, val_proba=val_proba, train_proba=train_proba, seconds=seconds,
                                     record_seconds=record_seconds, val_folder=part_folder("val", *self._part))
            return
        if self._writer is not None:
            if self._writer.meta.get("classes") is None:  # known from the first epoch's outputs
                self._writer.meta["classes"] = _classes(val_proba)
            self._writer.write_epoch(epoch, row, val_proba=val_proba, train_proba=train_proba,
                                     seconds=seconds, record_seconds=record_seconds)
            return
        self._encoding = encoding_for(self.dtype, np.ndim(val_proba))
        self._stored["val"].append(encode(val_proba, self._encoding))
        if train_proba is not None:
            self._stored["train"].append(encode(train_proba, self._encoding))

    def update_row(self, epoch: int, row: Mapping[str, float]) -> None:
        """Add keys to a kept epoch's row (what callbacks after the recorder logged)."""
        for kept_epoch, kept in zip(self.epochs, self.logs):
            if kept_epoch == epoch:
                kept.update(row)
                if self._writer is not None:
                    self._writer.update_row(epoch, kept)

    def update_meta(self, **fields: Any) -> None:
        """Facts learnt during the recording (written to ``meta.json`` at once)."""
        if self._writer is not None:
            self._writer.update_meta(**fields)

    def finish(self, events: Sequence[Event] = (), **fields: Any) -> None:
        """Mark the recording finished, with the training's events, and stop the capture."""
        self.events = list(events)
        if self._writer is not None:
            for event in self.events:
                self._writer.add_event(event)
            self._writer.finish("finished", **fields)
        self.close()

    def close(self) -> None:
        """Stop copying the progress output (safe to call at any time, and twice).

        A recording closed before :meth:`finish` stays ``"running"`` on disk,
        which is how a reader tells an interrupted run.
        """
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.stop()

    # -- what was kept --------------------------------------------------------
    def proba(self, split: str = "val") -> EncodedEpochs:
        """The probabilities kept in memory (without a directory), one float32 array per epoch."""
        return EncodedEpochs(self._stored[split], self._encoding or PROBA32)

    @property
    def val_proba(self) -> EncodedEpochs:
        return self.proba("val")

    @property
    def train_proba(self) -> EncodedEpochs:
        return self.proba("train")

    def to_run(self):
        """The recording so far as a :class:`~dynamics.run.Run`.

        Read back from the directory when there is one (memory-mapped), else
        built from memory.
        """
        from dynamics.run import Predictions, Run, RunMeta, make_epoch_table

        if self._writer is not None or self._part_writer is not None:
            from dynamics.sources.rundir.reader import read_run_dir

            return read_run_dir(self.directory)
        table = make_epoch_table(dict(zip(self.epochs, self.logs)))
        timing = make_epoch_table({e: {"seconds": s, "record_seconds": r}
                                   for e, s, r in zip(self.epochs, self.seconds, self.record_seconds)})
        val = self._samples.get("val")
        classes = self.metadata.get("classes")
        if classes is None and self._stored["val"]:
            classes = _classes(self._stored["val"][0])
        meta = RunMeta(source="<PredictionRecorder>", format="recorded", era="keras3",
                       n_val=None if val is None else len(val[0]), classes=classes, extra=dict(self.metadata))
        splits = {}
        for split in ("val", "train"):
            if split in self._samples:
                labels, ids = self._samples[split]
                splits[split] = Predictions(np.asarray(self.epochs), labels, self.proba(split), ids)
        return Run(epochs=table, meta=meta, events=list(self.events), timing=timing,
                   predictions=splits.get("val"), train_predictions=splits.get("train"))


def _classes(proba: Any) -> int:
    """Classes of a model whose outputs for a split have this shape: (n,) or (n, 1) is two."""
    shape = np.shape(proba)
    return 2 if len(shape) == 1 or shape[1] == 1 else int(shape[1])
