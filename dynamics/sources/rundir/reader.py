"""Read a run directory into a :class:`~dynamics.run.Run` (no Keras, no unpickling)."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from dynamics.encoding import (
    COMPACT16,
    ENCODINGS,
    LOG_ENCODINGS,
    LOGIT16,
    EncodedEpochs,
)
from dynamics.errors import InputError, NoEpochsError
from dynamics.run import (
    Event,
    Predictions,
    Run,
    RunMeta,
    canonical_metric_name,
    make_epoch_table,
)
from dynamics.sources.rundir.compact import CompactEpochs, compact_dtype
from dynamics.sources.rundir.layout import (
    EPOCH_FILE,
    EPOCHS,
    FORMAT,
    FORMAT_VERSION,
    META,
    PART_DIR,
    TIMING,
    VOCABULARY,
)


def _read_csv_table(path: Path, notes: list[str]) -> dict[int, dict[str, float]]:
    """``{epoch: {column: value}}`` from a table the writer made; bad rows noted."""
    rows: dict[int, dict[str, float]] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return rows
    except (OSError, UnicodeDecodeError) as exc:
        notes.append(f"{path.name} could not be read ({exc}); its rows are left out")
        return rows
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or header[0] != "epoch":
        if text.strip():
            notes.append(f"{path.name} has no 'epoch' header; it is left out")
        return rows
    for line_no, fields in enumerate(reader, start=2):
        try:
            epoch = int(fields[0])
            values = {name: float(v) for name, v in zip(header[1:], fields[1:]) if v != ""}
        except (ValueError, IndexError):
            notes.append(f"{path.name} line {line_no} is damaged; it is left out")
            continue
        if epoch < 1:
            notes.append(f"{path.name} line {line_no} has epoch {epoch}; it is left out")
            continue
        rows[epoch] = values
    return rows


def _load_array(path: Path, notes: list[str], *, mmap: bool = False) -> np.ndarray | None:
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except FileNotFoundError:
        return None
    except (ValueError, OSError, EOFError) as exc:  # truncated, corrupt, or object dtype
        notes.append(f"{path.relative_to(path.parent.parent)} is unreadable ({type(exc).__name__}); skipped")
        return None


def _expected(array: np.ndarray, encoding: str | None, compact: np.dtype | None = None) -> str | None:
    """Why ``array`` cannot be an epoch stored as ``encoding``, or None if it can."""
    if compact is not None:
        return None if array.ndim == 1 and array.dtype == compact else f"compact records of dtype {compact}"
    if array.ndim not in (1, 2) or array.dtype.kind != "f":
        return "floats of shape (n,) or (n, k)"
    if encoding in LOG_ENCODINGS:
        ndim = 1 if encoding == LOGIT16 else 2
        if array.dtype != np.float16 or array.ndim != ndim:
            return f"float16 of shape {'(n,)' if ndim == 1 else '(n, k)'} ({encoding})"
    return None


def _read_split(
    root: Path, split: str, table_epochs: set[int], notes: list[str], encoding: str | None,
    compact: tuple[int, int] | None = None,
) -> Predictions | None:
    folder = root / split
    if not folder.is_dir():
        return None
    labels = _load_array(folder / "labels.npy", notes)
    if labels is None:
        if any(folder.glob("epoch_*.npy")):
            notes.append(f"{split}/labels.npy is missing; the {split} predictions are left out")
        return None
    n = labels.shape[0] if labels.ndim else 0
    ids = _load_array(folder / "ids.npy", notes)
    if ids is not None and ids.shape != (n,):
        notes.append(f"{split}/ids.npy has shape {ids.shape}, not ({n},); ids left out")
        ids = None
    parts = sorted(p for p in folder.iterdir() if PART_DIR.match(p.name))
    if parts:  # several processes each wrote the samples they predicted (see dynamics.sources.rundir)
        if ids is None:
            raise InputError(f"{folder} holds part files but no ids.npy: its parts cannot be merged")
        return _merged_split(folder, parts, labels.astype(np.int64), ids, table_epochs, notes, encoding)
    found: dict[int, Path] = {}
    for path in folder.iterdir():
        match = EPOCH_FILE.match(path.name)  # temp files (".epoch_...tmp-PID") never match
        if match:
            found[int(match.group(1))] = path
    epochs, arrays = [], []
    for epoch in sorted(found):
        if epoch not in table_epochs:
            notes.append(f"{split}/{found[epoch].name} has no row in {EPOCHS} (the run stopped "
                         "while writing that epoch); skipped")
            continue
        array = _load_array(found[epoch], notes, mmap=True)
        if array is None:
            continue
        record = compact_dtype(*compact) if compact else None
        why = _expected(array, encoding, record) if array.shape[:1] == (n,) else f"{n} rows"
        if why is not None:
            notes.append(f"{split}/{found[epoch].name} has shape {array.shape} and dtype "
                         f"{array.dtype}, expected {why}; skipped")
            continue
        epochs.append(epoch)
        arrays.append(array)
    missing = sorted(table_epochs - set(epochs) - set(found))
    if missing and (epochs or found):
        notes.append(f"no {split} predictions for epoch(s) {_ranges(missing)}")
    if compact:
        proba = CompactEpochs(arrays, top_k=compact[0], n_classes=compact[1])
    else:
        proba = EncodedEpochs(arrays, encoding) if encoding in LOG_ENCODINGS else arrays
    return Predictions(np.asarray(epochs, dtype=int), labels.astype(np.int64), proba, ids)


def _compact_layout(raw: dict, root: Path) -> tuple[int, int]:
    """``(top_k, n_classes)`` of a compactly stored run, from its meta.json."""
    top_k, classes = raw.get("compact_top_k"), raw.get("compact_classes")
    if not (isinstance(top_k, int) and isinstance(classes, int) and 1 <= top_k < classes):
        raise InputError(f"{root / META} declares compact storage without a valid compact_top_k and "
                         f"compact_classes (found {top_k!r} and {classes!r})")
    return top_k, classes


def _merged_split(folder: Path, parts: list[Path], labels: np.ndarray, ids: np.ndarray,
                  table_epochs: set[int], notes: list[str], encoding: str | None) -> Predictions:
    """One split from the part files of several processes, in the order of ``ids.npy``.

    Each part holds the ids of the samples one process predicted
    (``ids.npy``) and its epoch files. A sample predicted twice (a process's
    share padded to an equal size) is kept once; a sample that no part holds
    is a gap, and a gap is refused: the run would be silently missing
    samples. Epochs without a table row are skipped, as in one process.
    """
    counts = {int(PART_DIR.match(p.name).group(2)) for p in parts}
    indices = sorted(int(PART_DIR.match(p.name).group(1)) for p in parts)
    if len(counts) != 1 or indices != list(range(next(iter(counts)))):
        raise InputError(f"{folder} has the part folders {', '.join(p.name for p in parts)}: "
                         f"some process's part is missing")
    position = {int(i): k for k, i in enumerate(ids.tolist())}
    part_rows = []
    for part in parts:
        part_ids = _load_array(part / "ids.npy", notes)
        if part_ids is None:
            raise InputError(f"{part.relative_to(folder.parent)}/ids.npy is missing or unreadable: "
                             "its samples cannot be placed")
        unknown = [int(i) for i in part_ids.tolist() if int(i) not in position]
        if unknown:
            raise InputError(f"{part.relative_to(folder.parent)} holds sample ids that {folder.name}/ids.npy "
                             f"does not list ({_ranges(sorted(set(unknown)))})")
        rows = np.array([position[int(i)] for i in part_ids.tolist()], dtype=np.int64)
        first = np.zeros(len(rows), dtype=bool)  # duplicates (padding): the first occurrence counts
        first[np.unique(rows, return_index=True)[1]] = True
        part_rows.append((part, rows, first))
    n = len(ids)
    covered = np.zeros(n, dtype=bool)
    for _, rows, _ in part_rows:
        covered[rows] = True
    if not covered.all():
        gap = ids[~covered]
        raise InputError(f"{folder} has a gap: no part file holds samples {_ranges(sorted(gap.tolist())[:20])}"
                         f"{' ...' if len(gap) > 20 else ''} ({len(gap)} of {n}); a process did not write "
                         "its share")
    epochs, arrays = [], []
    for epoch in sorted(table_epochs):
        name = f"epoch_{epoch:04d}.npy"
        pieces = [(rows, first, _load_array(part / name, notes, mmap=True)) for part, rows, first in part_rows]
        if all(piece is None for _, _, piece in pieces):
            continue
        missing = [part.name for (part, _, _), (_, _, piece) in zip(part_rows, pieces) if piece is None]
        if missing:
            raise InputError(f"{folder} has a gap in epoch {epoch}: {', '.join(missing)} did not write {name}")
        shapes = {piece.shape[1:] for _, _, piece in pieces}
        if len(shapes) != 1 or any(len(piece) != len(rows) for rows, _, piece in pieces):
            raise InputError(f"{folder}: the parts of epoch {epoch} do not match their ids (shapes "
                             f"{sorted(str(piece.shape) for _, _, piece in pieces)})")
        merged = np.empty((n, *next(iter(shapes))), dtype=pieces[0][2].dtype)
        for rows, first, piece in pieces:
            merged[rows[first]] = np.asarray(piece)[first]
        why = _expected(merged, encoding)
        if why is not None:
            notes.append(f"{folder.name}/{name} parts have dtype {merged.dtype}, expected {why}; skipped")
            continue
        merged.flags.writeable = False
        epochs.append(epoch)
        arrays.append(merged)
    proba = EncodedEpochs(arrays, encoding) if encoding in LOG_ENCODINGS else arrays
    return Predictions(np.asarray(epochs, dtype=int), labels, proba, ids)


def _ranges(values: Sequence[int]) -> str:
    out, start, prev = [], None, None
    for v in values:
        if start is None:
            start = prev = v
        elif v == prev + 1:
            prev = v
        else:
            out.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = v
    if start is not None:
        out.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ", ".join(out)


def read_run_dir(path: str | os.PathLike) -> Run:
    """Load a recorded run directory into a :class:`~dynamics.run.Run`.

    Needs no Keras and never unpickles. Prediction files are read-only memory
    maps; epochs stored in log space (the default) are decoded to float32
    probabilities when an epoch is read, one at a time. Files being written
    (temporary names) are ignored, so a run can be read while it trains; a
    damaged epoch file is skipped with a note in ``run.meta.notes``.

    Parameters
    ----------
    path : str or PathLike
        The run directory (the one holding ``meta.json``).

    Returns
    -------
    Run
        ``meta.format == "recorded"``, ``meta.era == "keras3"``; ``epochs``
        is the recorded epoch table (1-based), ``timing`` has ``seconds`` and
        ``record_seconds``, ``predictions`` / ``train_predictions`` hold the
        per-epoch probabilities.

    Raises
    ------
    InputError
        ``path`` is not a run directory, or its ``meta.json`` is unreadable.
    NoEpochsError
        No epoch has finished yet.
    """
    root = Path(path)
    if not root.is_dir():
        raise InputError(f"{root} is not a directory")
    try:
        raw = json.loads((root / META).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{root} is not a recorded run: it has no {META}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{root / META} is unreadable: {exc}") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise InputError(f"{root / META} is not a dynamics run ('format' is not {FORMAT!r})")
    if int(raw.get("format_version", 0)) > FORMAT_VERSION:
        raise InputError(
            f"{root} was written by a newer dynamics (run format {raw.get('format_version')}, "
            f"this one reads {FORMAT_VERSION}); upgrade dynamics"
        )
    notes = [str(n) for n in raw.get("notes", [])]
    rows = _read_csv_table(root / EPOCHS, notes)
    if not rows:
        status = raw.get("status", "unknown")
        raise NoEpochsError(f"{root} holds no finished epoch yet (status: {status})")
    table = make_epoch_table({e: {canonical_metric_name(k): v for k, v in r.items()} for e, r in rows.items()})
    timing_rows = {e: r for e, r in _read_csv_table(root / TIMING, notes).items() if e in rows}
    timing = make_epoch_table(timing_rows, ["seconds", "record_seconds"]) if timing_rows else None

    epochs_set = set(rows)
    encoding = raw.get("prediction_encoding")  # absent before format 2: the files hold probabilities
    if encoding is not None and encoding not in ENCODINGS:
        raise InputError(f"{root / META} names an unknown prediction_encoding {encoding!r} "
                         f"(this dynamics reads {', '.join(ENCODINGS)}); upgrade dynamics")
    compact = _compact_layout(raw, root) if encoding == COMPACT16 else None
    predictions = _read_split(root, "val", epochs_set, notes, encoding, compact)
    train_predictions = _read_split(root, "train", epochs_set, notes, encoding, compact)

    declared = raw.get("epochs")
    last = max(rows)
    interrupted = None
    events = []
    for item in raw.get("events", []):
        try:
            events.append(Event(epoch=item.get("epoch"), kind=str(item["kind"]), message=str(item.get("message", "")),
                                monitor=item.get("monitor"), value=item.get("value")))
        except (KeyError, TypeError, AttributeError):
            notes.append("an event in meta.json is damaged; it is left out")
    if raw.get("status") == "running":
        if isinstance(declared, int) and last < declared:
            interrupted = last + 1
            events.append(Event(epoch=interrupted, kind="interrupted",
                                message=f"the run stopped during epoch {interrupted} of {declared}"))
        notes.append(f"the run had not finished when it was read: {len(rows)} epoch(s) recorded"
                     + (f" of {declared}" if isinstance(declared, int) else ""))
    seconds = timing["seconds"].dropna() if timing is not None and "seconds" in timing else pd.Series(dtype=float)
    known = {"format", "format_version", "n_train", "n_val", "classes", "epochs", "events", "notes"}
    classes = raw.get("classes") if compact is None else compact[1]
    meta = RunMeta(
        source=str(root),
        format="recorded",
        era="keras3",
        verbose=raw.get("verbose") if raw.get("verbose") in (1, 2) else None,
        n_train=raw.get("n_train"),
        n_val=raw.get("n_val"),
        epochs_declared=declared if isinstance(declared, int) else None,
        seconds_per_epoch=float(seconds.median()) if len(seconds) else None,
        classes=classes,
        metric_names={canonical_metric_name(k): k for r in rows.values() for k in r},
        interrupted_epoch=interrupted,
        notes=notes,
        extra={k: v for k, v in raw.items() if k not in known},
    )
    return Run(epochs=table, meta=meta, events=events, timing=timing,
               predictions=predictions, train_predictions=train_predictions)


def read_vocabulary(path: str | os.PathLike) -> list[str] | None:
    """Words by token id, if the run directory has them."""
    try:
        words = json.loads(Path(path, VOCABULARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return [str(w) for w in words] if isinstance(words, list) else None


def sample_texts(path: str | os.PathLike, split: str = "val") -> list[str] | None:
    """The recorded samples of ``split`` as text, or None if the run lacks inputs or words.

    Token ids are decoded with the run's vocabulary (0 is padding and dropped).
    """
    words = read_vocabulary(path)
    inputs = _load_array(Path(path, split, "inputs.npy"), [], mmap=True)
    if words is None or inputs is None or inputs.ndim != 2:
        return None
    out = []
    for row in inputs:
        out.append(" ".join(words[i] if 0 <= i < len(words) else "<oov>" for i in row.tolist() if i != 0))
    return out
