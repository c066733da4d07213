"""Sources for the "Across runs" section: folders of run directories, and the seed groups of :mod:`dynamics.configuration`.

``dynamics analyze`` given several sources -- or a folder of run directories,
as ``dynamics train --seeds N`` writes them (``runs/<dataset>-<pooling>-seed<N>``)
-- diagnoses every run, then groups the runs by configuration
(:func:`dynamics.configuration.group_runs`, the definition ``dynamics compare``
uses too). :func:`seed_groups` and :func:`configuration` are kept here for
callers of the names this module had.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from dynamics.configuration import RunGroup, configuration, group_runs
from dynamics.errors import InputError
from dynamics.run import Run

__all__ = ["SeedGroup", "configuration", "expand_sources", "seed_groups"]

#: The groups' old name.
SeedGroup = RunGroup


def expand_sources(sources: Sequence[str]) -> list[str]:
    """Replace each folder of run directories by the run directories in it (sorted by name).

    A run directory (it has ``meta.json``), a file and ``"-"`` stay as they
    are. A folder holding neither ``meta.json`` nor any run directory one
    level down is an :class:`~dynamics.errors.InputError`.

    Examples
    --------
    >>> expand_sources(["log.txt", "-"])
    ['log.txt', '-']
    """
    out: list[str] = []
    for source in sources:
        path = Path(source)
        if source != "-" and path.is_dir() and not (path / "meta.json").is_file():
            runs = sorted((p for p in path.iterdir() if p.is_dir() and (p / "meta.json").is_file()), key=_natural)
            if not runs:
                raise InputError(f"{source} is a directory but neither a dynamics run directory (no meta.json) nor a "
                                 "folder of run directories")
            out.extend(os.fspath(p) for p in runs)
        else:
            out.append(source)
    return out


def _natural(path: Path) -> tuple:
    """Sort key that puts seed2 before seed10."""
    import re

    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name))


def seed_groups(runs: Sequence[Run], *, n_val: int | None = None, from_epoch: int | None = None,
                keys: Sequence[str] | None = None) -> list[RunGroup]:
    """:func:`~dynamics.configuration.group_runs` (its arguments, under the name ``analyze`` used).

    Examples
    --------
    >>> from dynamics.simulate import simulate_run
    >>> runs = [simulate_run("healthy", n=500, epochs=6, seed=s, n_train=20) for s in range(3)]
    >>> [(g.finding.code, len(g.runs)) for g in seed_groups(runs)]
    [('seeds', 3)]
    """
    return group_runs(runs, keys=keys, n_val=n_val, from_epoch=from_epoch)
