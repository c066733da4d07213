"""Folders: find the training histories in one, as people's tools leave them.

:func:`folder_sources` says what a folder holds, one entry per run, checked
in this order (the first kind found wins):

==========================  ===============================================================
kind                        what marks it
==========================  ===============================================================
``recorded``                ``meta.json``: a dynamics run directory
``tensorboard``             ``events.out.tfevents.*`` in it or below (``train/``,
                            ``validation/``; keras-tuner's ``<trial>/execution<k>/``)
``backup``                  Keras ``BackupAndRestore``'s ``training_metadata.json`` (in it,
                            or in a sub-folder such as ``backup/``) beside a CSVLogger file
``lightning``               ``metrics.csv`` in it or in ``lightning_logs/version_<n>/``
``trainer-state``           ``trainer_state.json`` in it, else in its last ``checkpoint-<step>/``
``wandb``                   ``files/output.log`` (a W&B run folder), or ``wandb/*run-*/``
``runs``                    sub-folders with ``meta.json`` (``dynamics train --seeds``)
==========================  ===============================================================

:func:`read_folder_source` reads one of them. ``dynamics analyze DIR``
expands a folder into its sources, so the runs of a tuner tree or of several
Lightning versions are diagnosed one by one and compared across seeds.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dynamics.errors import InputError
from dynamics.run import Run
from dynamics.sources.tensorboard import natural_order

_CHECKPOINT = re.compile(r"checkpoint-(\d+)")
_WANDB_RUN = re.compile(r"(?:offline-)?run-\d{8}_\d{6}-(?P<id>\w+)")


@dataclass(frozen=True)
class FolderSource:
    """One run's source inside a folder: its kind and the path to read."""

    kind: str
    path: Path


def _subdirs(path: Path) -> list[Path]:
    try:
        return sorted((p for p in path.iterdir() if p.is_dir() and not p.is_symlink()), key=natural_order)
    except OSError:
        return []


def _backup_metadata(path: Path) -> Path | None:
    for folder in (path, *_subdirs(path)):
        meta = folder / "training_metadata.json"
        if meta.is_file():
            return meta
    return None


def _csvlogger_files(path: Path) -> list[Path]:
    from dynamics.sources.csvlogger import looks_like_csvlogger

    out = []
    for p in sorted(path.iterdir(), key=natural_order):
        if p.is_file() and p.suffix.lower() in (".csv", ".log", ".txt", ".tsv"):
            try:
                with p.open("rb") as stream:
                    head = stream.read(4096).decode("utf-8", "replace")
            except OSError:
                continue
            if looks_like_csvlogger(head):
                out.append(p)
    return out


def folder_sources(path: Path) -> list[FolderSource]:
    """Every run's source in ``path`` (see the module docstring); empty when none is recognised."""
    if (path / "meta.json").is_file():
        return [FolderSource("recorded", path)]
    from dynamics.sources.tensorboard import run_dirs

    tensorboard = run_dirs(path)
    if tensorboard:
        return [FolderSource("tensorboard", d) for d in tensorboard]
    if _backup_metadata(path) is not None and _csvlogger_files(path):
        return [FolderSource("backup", path)]
    if (path / "metrics.csv").is_file():
        return [FolderSource("lightning", path / "metrics.csv")]
    versions = [d / "metrics.csv" for base in (path, path / "lightning_logs") for d in _subdirs(base)
                if d.name.startswith("version_") and (d / "metrics.csv").is_file()]
    if versions:
        return [FolderSource("lightning", v) for v in versions]
    if (path / "trainer_state.json").is_file():
        return [FolderSource("trainer-state", path / "trainer_state.json")]
    checkpoints = [d for d in _subdirs(path) if _CHECKPOINT.fullmatch(d.name) and (d / "trainer_state.json").is_file()]
    if checkpoints:  # each checkpoint holds the log up to its step: the last one holds it all
        last = max(checkpoints, key=lambda d: int(_CHECKPOINT.fullmatch(d.name).group(1)))  # type: ignore[union-attr]
        return [FolderSource("trainer-state", last / "trainer_state.json")]
    if (path / "files" / "output.log").is_file():
        return [FolderSource("wandb", path / "files" / "output.log")]
    base = path / "wandb" if (path / "wandb").is_dir() else path
    wandb = [d / "files" / "output.log" for d in _subdirs(base)
             if _WANDB_RUN.fullmatch(d.name) and (d / "files" / "output.log").is_file()]
    if wandb:
        return [FolderSource("wandb", w) for w in wandb]
    recorded = [d for d in _subdirs(path) if (d / "meta.json").is_file()]
    return [FolderSource("recorded", d) for d in recorded]


def read_folder_source(source: FolderSource, load_file: Callable[[Path], list[Run]]) -> list[Run]:
    """The runs of one :class:`FolderSource`; ``load_file`` reads a file in it (:func:`dynamics.sources.io.load_runs`)."""
    if source.kind == "recorded":
        try:
            from dynamics.sources.rundir import read_run_dir
        except ImportError:
            raise InputError(f"{source.path} looks like a run directory, but this install cannot read run "
                             "directories (dynamics.sources.rundir missing)") from None

        return [read_run_dir(source.path)]
    if source.kind == "tensorboard":
        from dynamics.sources.tensorboard import read_tensorboard_run

        return [read_tensorboard_run(source.path)]
    if source.kind == "backup":
        return read_backup_folder(source.path, load_file)
    return load_file(source.path)


def read_backup_folder(path: Path, load_file: Callable[[Path], list[Run]]) -> list[Run]:
    """A CSVLogger file of a run resumed by ``BackupAndRestore``: one run, resumptions noted.

    ``training_metadata.json`` (``{"epoch": E, "batch": B}``) is what the
    backup holds: ``E`` epochs done, so training resumes at epoch ``E + 1``
    (1-based); it is deleted when training ends, so its presence also says
    the run has not finished. A CSVLogger with ``append=True`` gets the rows
    of every attempt; an attempt that died after logging an epoch but before
    backing it up logs that epoch again when resumed: the later values (from
    the weights the run went on with) are kept, the earlier ones noted.
    """
    from dynamics.run import make_epoch_table

    meta_path = _backup_metadata(path)
    files = _csvlogger_files(path)
    if meta_path is None or not files:
        raise InputError(f"{path} has no training_metadata.json beside a CSVLogger file")
    try:
        state = json.loads(meta_path.read_text())
        done = int(state["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"{meta_path} is not BackupAndRestore's training_metadata.json ({{\"epoch\": E, ...}})") from None
    out = []
    for csv_path in files:
        sections = load_file(csv_path)
        rows: dict[int, dict[str, float]] = {}
        notes = []
        for i, run in enumerate(sections):
            first = int(run.epochs.index.min())
            if i:
                again = sorted(e for e in run.epochs.index if e in rows)
                span = "" if not again else (f"epoch {again[0]} was" if len(again) == 1 else
                                              f"epochs {again[0]}-{again[-1]} were")
                notes.append(f"resumed at epoch {first} (BackupAndRestore)"
                             + (f"; {span} logged again and the later values kept" if again else ""))
            for epoch, values in run.epochs.iterrows():
                rows[int(epoch)] = {k: float(v) for k, v in values.items() if v == v}
        base = sections[-1]
        columns = list(dict.fromkeys(c for r in sections for c in r.epochs.columns))
        table = make_epoch_table(rows, columns=columns)
        base.meta.notes = [n for r in sections for n in r.meta.notes if n not in base.meta.notes] + base.meta.notes
        base.meta.notes += notes
        base.meta.notes.append(f"{meta_path.relative_to(path)}: the backup holds {done} epoch(s), a resumed fit goes "
                               f"on from epoch {done + 1} (Keras deletes the file when a fit ends, unless "
                               "delete_checkpoint=False)")
        base.meta.extra.update({"resumed_at": [int(r.epochs.index.min()) for r in sections[1:]], "backup_epochs": done})
        base.meta.run_index = 0
        epochs = list(table.index)
        base.meta.elided = [(a + 1, b - 1) for a, b in zip(epochs, epochs[1:]) if b > a + 1]
        out.append(Run(table, base.meta, base.events, base.timing))
    return out


def no_history_message(path: Path) -> str:
    """The one-line error for a folder that holds nothing dynamics reads."""
    if (path / "oracle.json").is_file() or any((d / "trial.json").is_file() for d in _subdirs(path)
                                               if d.name.startswith("trial_")):
        # keras-tuner's own folder: trial.json keeps each trial's hyperparameters and best values, not its epochs
        return (f"{path} is a keras-tuner project folder: its trial.json files keep each trial's best values, not "
                "its epochs; give the log_dir of a TensorBoard callback passed to tuner.search (one run per "
                "execution, in <log_dir>/<trial>/execution<k>)")
    return (f"{path} is a directory but not a dynamics run directory (no meta.json), and it holds no other training "
            "history dynamics reads: no TensorBoard event files, Lightning metrics.csv, trainer_state.json, W&B "
            "files/output.log, BackupAndRestore backup beside a CSVLogger file, or run directories")


def expand_folder(path: Path) -> list[str]:
    """A folder replaced by its sources' paths (for ``dynamics analyze``); InputError if it holds none."""
    sources = folder_sources(path)
    if not sources:
        raise InputError(no_history_message(path))
    return [os.fspath(s.path) for s in sources]


def annotate_file(path: Path, runs: list[Run]) -> list[Run]:
    """Name the runs of a file by the tool folder it sits in (a W&B run's ``files/output.log``)."""
    run_dir = path.parent.parent
    if path.name == "output.log" and path.parent.name == "files":
        match = _WANDB_RUN.fullmatch(run_dir.name)
        for run in runs:
            run.meta.extra.update({"wandb_run": run_dir.name, "wandb_id": match.group("id") if match else None})
            run.meta.notes.append(f"console output captured by W&B (run {run_dir.name})")
    return runs
