"""The run directory: what :class:`~dynamics.keras.callback.PredictionRecorder` writes.

A run directory survives a crash. Every finished epoch is on disk before the
next one starts: each file is written under a temporary name, flushed to disk
(``fsync``) and renamed over the old one (``os.replace``), so a reader -- even
while training goes on, even after ``kill -9`` -- sees either the previous
complete version of a file or the new one, never half of it. The epoch table
is written last, so an epoch listed there has its predictions on disk.

Layout (``format_version`` 2, or 3 for compact storage)::

    meta.json          model summary, versions, seed, dataset, sizes, options,
                       status ("running" / "finished"), events, notes,
                       prediction_encoding (how the epoch files are stored)
    epochs.csv         the epoch table: 1-based ``epoch``, then Keras's epoch
                       logs (loss, accuracy, val_loss, val_accuracy, ...)
    timing.csv         ``epoch``, ``seconds`` (wall time of the epoch, the
                       recorder's pass included), ``record_seconds`` (that pass)
    progress.log       Keras's progress output as the terminal finally showed it
    val/labels.npy     class label of each validation sample
    val/ids.npy        index of each validation sample in its dataset (optional)
    val/inputs.npy     the samples' token ids (optional, to show them as text)
    val/epoch_0001.npy predictions after epoch 1: (n,) for a sigmoid model,
                       (n, k) for k classes, stored as ``prediction_encoding``
                       says: by default float16 in log space (the logit of
                       P(class 1), or log-probabilities), so that confident
                       predictions keep their precision; float32
                       probabilities on request (see :mod:`.encoding`);
                       or, format 3 (``compact-float16``, with
                       ``compact_top_k`` and ``compact_classes`` in
                       meta.json), one record a sample: the top-k classes
                       and log-probabilities, the true class's
                       log-probability, entropy and Brier score (see
                       :mod:`.compact`)
    val/part-00001-of-00002/ids.npy, epoch_0001.npy, ...
                       with several processes (JAX multi-process): the ids of
                       the samples process 1 of 2 predicted, and its epoch
                       files; the reader merges the parts in the order of
                       val/ids.npy, keeps a sample predicted twice (padding)
                       once and refuses a gap
    train/...          the same for the recorded training subset (optional)
    vocabulary.json    words by token id (optional)

:func:`read_run_dir` loads it into a :class:`~dynamics.run.Run` without Keras,
never unpickles (``allow_pickle=False``) and memory-maps the prediction files
(``mmap_mode="r"``), so analysis can stream over epochs of a large run; a
log-space epoch is decoded to float32 probabilities when it is read
(:class:`~dynamics.encoding.EncodedEpochs`), one epoch at a time.

Format 1 (dynamics before log-space storage) had no ``prediction_encoding``:
its epoch files hold the probabilities themselves, float16 by default or
float32. They are read as they are.

The names of the files are in :mod:`.layout`, which the reader and the
writer import (so neither imports this package's ``__init__``). This module
imports numpy, pandas and the standard library only.
"""

from __future__ import annotations

from dynamics.sources.rundir.layout import (
    EPOCH_FILE,
    EPOCHS,
    FORMAT,
    FORMAT_VERSION,
    META,
    OWNED,
    PART_DIR,
    PROGRESS,
    TIMING,
    VOCABULARY,
    is_run_dir,
)
from dynamics.sources.rundir.reader import read_run_dir, read_vocabulary, sample_texts
from dynamics.sources.rundir.writer import RunDirWriter

__all__ = [
    "EPOCHS", "EPOCH_FILE", "FORMAT", "FORMAT_VERSION", "META", "OWNED", "PART_DIR", "PROGRESS", "TIMING", "VOCABULARY",
    "RunDirWriter", "is_run_dir", "read_run_dir", "read_vocabulary", "sample_texts",
]  # fmt: skip
