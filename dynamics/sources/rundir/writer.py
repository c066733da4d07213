"""Write a run directory epoch by epoch, each file atomically (see :mod:`dynamics.sources.rundir`)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dynamics.encoding import encode, encoding_for
from dynamics.errors import ArgumentError
from dynamics.run import Event
from dynamics.sources.rundir.compact import COMPACT16, check_top_k, encode_compact
from dynamics.sources.rundir.layout import (
    COMPACT_FORMAT_VERSION,
    EPOCHS,
    FORMAT,
    FULL_FORMAT_VERSION,
    META,
    OWNED,
    TIMING,
    VOCABULARY,
    is_run_dir,
)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some filesystems refuse to open a directory: best effort
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write(path: Path, write: Any) -> None:
    """Write through ``write(fileobj)`` to a temp name, fsync, rename over ``path``."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


def _save_npy(path: Path, array: np.ndarray) -> None:
    _atomic_write(path, lambda f: np.save(f, np.ascontiguousarray(array), allow_pickle=False))


def _save_text(path: Path, text: str) -> None:
    _atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def _number(value: Any) -> float | None:
    """A log value as a float, or None if it is not a number."""
    if isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out


def _table_csv(rows: Sequence[Mapping[str, float]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["epoch", *columns])
    for row in rows:
        # repr of a float is its shortest exact form: the CSV round-trips bit for bit
        writer.writerow([int(row["epoch"])] + [repr(float(row[c])) if c in row else "" for c in columns])
    return buf.getvalue()


class RunDirWriter:
    """Write a run directory epoch by epoch (see the module docstring).

    Parameters
    ----------
    path : str or PathLike
        The run directory; created if missing.
    dtype : {"float16", "float32"}
        Storage size of the predictions. ``"float16"`` (2 bytes a value)
        stores them in log space -- the logit of a sigmoid output, the
        log-probabilities of a softmax -- so that confident predictions keep
        their precision; ``"float32"`` stores the probabilities themselves
        (exact). See :mod:`dynamics.encoding`; the encoding is
        recorded in ``meta.json`` as ``prediction_encoding``.
    overwrite : bool
        Replace a run already recorded in ``path`` (only the files a run
        directory holds are removed). Without it, an existing run is an error.
    top_k : int, optional
        Store each sample compactly (``compact-float16``, run format 3): the
        ``top_k`` most probable classes with their probabilities, the true
        class's probability, the entropy and the Brier score -- 18 bytes a
        sample for ``top_k=3`` instead of 2 bytes a class. For models with
        many classes (K >> 10); ``dtype`` is then unused. See
        :mod:`dynamics.sources.rundir.compact` for what analysis can and cannot
        compute from it.
    """

    def __init__(
        self, path: str | os.PathLike, *, dtype: str = "float16", overwrite: bool = False, top_k: int | None = None
    ) -> None:
        if dtype not in ("float16", "float32"):
            raise ArgumentError(f'dtype must be "float16" or "float32". Received: dtype={dtype!r}')
        if top_k is not None:
            try:
                top_k = check_top_k(top_k)
            except ValueError as exc:
                raise ArgumentError(str(exc)) from None
        self.top_k = top_k
        self._labels: dict[str, np.ndarray] = {}
        self.path = Path(path)
        self.dtype = np.dtype(dtype)
        self.encoding: str | None = None  # known once the first epoch shows the outputs' shape
        self.overwrite = overwrite
        self.meta: dict[str, Any] = {}
        self._rows: list[dict[str, float]] = []
        self._timing: list[dict[str, float]] = []
        self._columns: list[str] = []

    # The sequence of calls: start -> [write_samples] -> write_epoch (each epoch) -> finish.
    def start(
        self,
        meta: Mapping[str, Any],
        *,
        val_labels: np.ndarray | None = None,
        val_ids: np.ndarray | None = None,
        val_inputs: np.ndarray | None = None,
        train_labels: np.ndarray | None = None,
        train_ids: np.ndarray | None = None,
        vocabulary: Sequence[str] | None = None,
    ) -> None:
        """Create the directory and write what is known before the first epoch.

        The labels of a split may come later (:meth:`write_samples`): a
        dataset's labels are known only after its first pass.
        """
        if self.path.exists() and not self.path.is_dir():
            raise ArgumentError(f"the run directory is a file. Received: directory={str(self.path)!r}")
        if is_run_dir(self.path):
            if not self.overwrite:
                raise ArgumentError(
                    f"{self.path} already holds a recorded run; pass overwrite=True or choose "
                    f"another directory. Received: directory={str(self.path)!r}"
                )
            self._clear()
        try:
            (self.path / "val").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ArgumentError(f"cannot create the run directory {self.path}: {exc.strerror}") from None
        self._rows, self._timing, self._columns = [], [], []
        self.encoding = None
        self.meta = {
            "format": FORMAT,
            "format_version": FULL_FORMAT_VERSION,  # 3 once the first epoch shows compact storage
            "status": "running",
            "prediction_dtype": self.dtype.name,
            "events": [],
            "notes": [],
            **dict(meta),
        }
        if val_labels is not None:
            self.write_samples("val", val_labels, ids=val_ids, inputs=val_inputs)
        if train_labels is not None:
            self.write_samples("train", train_labels, ids=train_ids)
        if vocabulary is not None:
            _save_text(self.path / VOCABULARY, json.dumps(list(vocabulary)))
        self._write_meta()

    def write_samples(
        self, split: str, labels: np.ndarray, *, ids: np.ndarray | None = None, inputs: np.ndarray | None = None
    ) -> None:
        """Write the class labels (and the ids, the token ids) of a split's samples."""
        self._labels[split] = np.asarray(labels)  # compact storage encodes against them
        folder = self.path / split
        folder.mkdir(exist_ok=True)
        _save_npy(folder / "labels.npy", np.asarray(labels))
        if ids is not None:
            _save_npy(folder / "ids.npy", np.asarray(ids, dtype=np.int64))
        if inputs is not None:
            inputs = np.asarray(inputs)
            if inputs.dtype.kind in "iu" and inputs.size and 0 <= inputs.min() and inputs.max() < 2**16:
                inputs = inputs.astype(np.uint16)  # token ids: half the bytes of int32
            _save_npy(folder / "inputs.npy", inputs)

    def update_meta(self, **fields: Any) -> None:
        """Add or replace facts in ``meta.json`` (written at once)."""
        self.meta.update(fields)
        self._write_meta()

    def _clear(self) -> None:
        for name in OWNED:
            target = self.path / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()

    def _write_meta(self) -> None:
        _save_text(self.path / META, json.dumps(_json_safe(self.meta), indent=1, allow_nan=False))

    def write_epoch(
        self,
        epoch: int,
        logs: Mapping[str, Any],
        *,
        val_proba: np.ndarray,
        train_proba: np.ndarray | None = None,
        seconds: float | None = None,
        record_seconds: float | None = None,
        val_folder: str = "val",
    ) -> None:
        """Put one finished epoch on disk (predictions first, the table last).

        ``val_proba`` / ``train_proba`` are probabilities at full precision
        (the model's float32 outputs); they are encoded here. ``val_folder``
        is ``val/part-...`` when this process wrote only its part (the other
        parts are on disk already: the caller waited for them).
        """
        name = f"epoch_{int(epoch):04d}.npy"
        val_proba = _one_output(val_proba)
        if self.top_k is not None:
            self._check_compact(epoch, val_proba)
            encoding = COMPACT16
        else:
            encoding = encoding_for(self.dtype.name, val_proba.ndim)
        if self.encoding is None:
            # meta.json says how to read the files before the first of them exists
            self.encoding = self.meta["prediction_encoding"] = encoding
            if encoding == COMPACT16:
                self.meta.update(format_version=COMPACT_FORMAT_VERSION, compact_top_k=self.top_k,
                                 compact_classes=int(val_proba.shape[1]))
            self._write_meta()
        elif encoding != self.encoding:
            raise ArgumentError(f"epoch {epoch}'s predictions have shape {val_proba.shape}, unlike the earlier "
                                f"epochs' (stored as {self.encoding})")
        _save_npy(self.path / val_folder / name, self._encode(val_proba, encoding, "val"))
        if train_proba is not None:
            _save_npy(self.path / "train" / name, self._encode(_one_output(train_proba), encoding, "train"))
        row: dict[str, float] = {"epoch": int(epoch)}
        for key, value in logs.items():
            number = _number(value)
            if number is None:
                continue
            if key not in self._columns:
                self._columns.append(key)
            row[key] = number
        self._rows = [r for r in self._rows if r["epoch"] != epoch] + [row]
        timing = {"epoch": int(epoch)}
        for key, value in (("seconds", seconds), ("record_seconds", record_seconds)):
            if value is not None:
                timing[key] = float(value)
        self._timing = [t for t in self._timing if t["epoch"] != epoch] + [timing]
        _save_text(self.path / TIMING, _table_csv(self._timing, ["seconds", "record_seconds"]))
        _save_text(self.path / EPOCHS, _table_csv(self._rows, self._columns))
        self.meta["last_epoch"] = int(epoch)
        self._write_meta()

    def _check_compact(self, epoch: int, proba: np.ndarray) -> None:
        if proba.ndim != 2:
            raise ArgumentError(f"compact storage (top_k={self.top_k}) is for class probabilities of shape (n, k); "
                                f"epoch {epoch}'s predictions have shape {proba.shape}")
        known = self.meta.get("compact_classes")
        if known is not None and proba.shape[1] != known:
            raise ArgumentError(f"epoch {epoch}'s predictions have {proba.shape[1]} classes, unlike the earlier "
                                f"epochs' {known}")
        if self.top_k >= proba.shape[1]:
            raise ArgumentError(f"top_k must be below the {proba.shape[1]} classes (compact storage keeps some of "
                                f"them; the default storage keeps all). Received: top_k={self.top_k}")

    def _encode(self, proba: np.ndarray, encoding: str, split: str) -> np.ndarray:
        if encoding != COMPACT16:
            return encode(proba, encoding)
        return encode_compact(proba, self._labels[split], self.top_k)

    def update_row(self, epoch: int, logs: Mapping[str, Any]) -> None:
        """Rewrite a written epoch's row (keys that later callbacks added)."""
        for row in self._rows:
            if row["epoch"] == epoch:
                for key, value in logs.items():
                    number = _number(value)
                    if number is not None:
                        if key not in self._columns:
                            self._columns.append(key)
                        row[key] = number
        _save_text(self.path / EPOCHS, _table_csv(self._rows, self._columns))

    def add_event(self, event: Event) -> None:
        self.meta["events"].append(
            {"epoch": event.epoch, "kind": event.kind, "message": event.message,
             "monitor": event.monitor, "value": event.value}
        )

    def add_note(self, note: str) -> None:
        self.meta["notes"].append(note)

    def finish(self, status: str = "finished", **fields: Any) -> None:
        """Mark the run finished (or ``"stopped"``) and write the final meta."""
        self.meta.update(fields)
        self.meta["status"] = status
        self._write_meta()


def part_folder(split: str, index: int, count: int) -> str:
    """The folder, relative to the run directory, of process ``index`` of ``count``'s part of ``split``.

    >>> part_folder("val", 1, 2)
    'val/part-00001-of-00002'
    """
    return f"{split}/part-{int(index):05d}-of-{int(count):05d}"


class PartWriter:
    """What a process other than the first writes: its part of the validation split.

    The first process writes the run directory (:class:`RunDirWriter`) and
    its own part; the others write only ``val/part-<i>-of-<n>/``: the ids of
    the samples they predicted and, each epoch, those samples' predictions,
    before the first process writes the epoch's row.
    """

    def __init__(self, path: str | os.PathLike, index: int, count: int, *, dtype: str = "float16") -> None:
        self.path = Path(path)
        self.folder = self.path / part_folder("val", index, count)
        self.dtype = dtype

    def write_ids(self, ids: np.ndarray) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        _save_npy(self.folder / "ids.npy", np.asarray(ids, dtype=np.int64))

    def write_epoch(self, epoch: int, val_proba: np.ndarray) -> None:
        proba = _one_output(val_proba)
        _save_npy(self.folder / f"epoch_{int(epoch):04d}.npy", encode(proba, encoding_for(self.dtype, proba.ndim)))


def _one_output(proba: Any) -> np.ndarray:
    """P(class 1) of shape (n,) for a sigmoid output given as (n, 1)."""
    p = np.asarray(proba)
    return p[:, 0] if p.ndim == 2 and p.shape[1] == 1 else p


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _json_safe(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)
