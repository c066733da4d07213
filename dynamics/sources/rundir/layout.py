"""The names in a run directory and its format version (see :mod:`dynamics.sources.rundir` for the layout)."""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["COMPACT_FORMAT_VERSION", "EPOCHS", "EPOCH_FILE", "FORMAT", "FORMAT_VERSION", "FULL_FORMAT_VERSION", "META", "OWNED", "PART_DIR", "PROGRESS", "TIMING", "VOCABULARY",
           "is_run_dir"]

FORMAT = "dynamics-run"
#: The newest run format this dynamics reads. 3: compact storage
#: (``compact-float16``); 2: predictions in the encoding ``meta.json`` names;
#: 1: raw probabilities.
FORMAT_VERSION = 3
#: A run directory declares the oldest format that reads it, so a run stored
#: in full (format 2) stays readable by a dynamics that predates compact storage.
FULL_FORMAT_VERSION = 2
COMPACT_FORMAT_VERSION = 3
META = "meta.json"
EPOCHS = "epochs.csv"
TIMING = "timing.csv"
PROGRESS = "progress.log"
VOCABULARY = "vocabulary.json"
EPOCH_FILE = re.compile(r"^epoch_(\d{4,})\.npy$")
#: The folder of one process's part of a split: ``part-<index>-of-<count>``.
PART_DIR = re.compile(r"^part-(\d{5})-of-(\d{5})$")
#: Files and folders a run directory may hold; ``overwrite`` removes only these.
OWNED = (META, EPOCHS, TIMING, PROGRESS, VOCABULARY, "val", "train")


def is_run_dir(path: str | os.PathLike) -> bool:
    """True if ``path`` is a directory holding a recorded run's ``meta.json``."""
    return Path(path, META).is_file()
