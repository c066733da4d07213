"""The seed groups of ``dynamics analyze``'s "Across runs" section, now :mod:`dynamics.configuration`.

``dynamics analyze`` given several sources -- or a folder of run directories,
as ``dynamics train --seeds N`` writes them (``runs/<dataset>-<pooling>-seed<N>``)
-- diagnoses every run, then groups the runs by configuration
(:func:`dynamics.configuration.group_runs`, the definition ``dynamics compare``
uses too). The names this module had are kept for their callers:
:func:`seed_groups`, :func:`configuration`, ``SeedGroup`` and
:func:`~dynamics.pipeline.expand_sources`.
"""

from __future__ import annotations

from collections.abc import Sequence

from dynamics.configuration import RunGroup, configuration, group_runs
from dynamics.pipeline import expand_sources
from dynamics.run import Run

__all__ = ["SeedGroup", "configuration", "expand_sources", "seed_groups"]

#: The groups' old name.
SeedGroup = RunGroup


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
