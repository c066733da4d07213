"""Runs of one configuration side by side: is the seed a bigger source of variation than the validation set?

``dynamics analyze`` given several sources -- or a folder of run directories,
as ``dynamics train --seeds N`` writes them (``runs/<dataset>-<pooling>-seed<N>``)
-- diagnoses every run, then groups the runs by configuration and, for each
group of two or more, sets the run-to-run spread of val_accuracy per epoch
beside the within-run fluctuation and the binomial noise of the validation
set (:func:`dynamics.sample_findings.seeds_finding`).

What counts as "the same configuration":

* runs written by ``dynamics train``: the same ``dataset``, ``pooling`` and
  training ``options`` apart from ``seed`` (and ``verbose``);
* other recorded runs (``PredictionRecorder`` in your own training): the same
  metadata apart from what differs between seeds of one configuration by
  nature (seed, start time, versions, the model summary's layer names...),
  and the same number of parameters;
* logs: the runs the user named together are taken as one configuration
  (a log does not say how it was trained), split only by their number of
  validation samples.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from dynamics.errors import DynamicsError
from dynamics.findings import Finding
from dynamics.run import Run, _json_ready

#: Metadata that differs between seeds of one configuration by nature.
_VOLATILE = frozenset({
    "seed", "command", "started", "finished", "status", "last_epoch", "notes", "events", "python",
    "keras_version", "backend_version", "devices", "model", "verbose", "prediction_dtype", "prediction_encoding",
    "format_version", "val_flipped_ids", "dataset_info", "training_samples_dropped", "options",
    "execution", "damage", "wandb_run", "wandb_id", "resumed_at", "backup_epochs",  # other sources (dynamics.io_dirs)
})  # fmt: skip


def expand_sources(sources: Sequence[str]) -> list[str]:
    """Replace each folder by the runs' sources in it (:func:`dynamics.io_dirs.folder_sources`).

    A folder of run directories gives its run directories (sorted by name),
    a keras-tuner tree its executions' TensorBoard folders, a
    ``lightning_logs`` folder its versions' ``metrics.csv``. A run directory
    (it has ``meta.json``), a file and ``"-"`` stay as they are. A folder
    holding nothing dynamics reads is an :class:`~dynamics.errors.InputError`.

    Examples
    --------
    >>> expand_sources(["log.txt", "-"])
    ['log.txt', '-']
    """
    out: list[str] = []
    for source in sources:
        path = Path(source)
        if source != "-" and path.is_dir() and not (path / "meta.json").is_file():
            from dynamics.io_dirs import expand_folder

            out.extend(expand_folder(path))  # a tuner tree, Lightning versions, run directories...
        else:
            out.append(source)
    return out


def configuration(run: Run) -> dict[str, Any]:
    """What must agree for two runs to be seeds of one configuration (see the module docstring).

    Examples
    --------
    >>> from dynamics.simulate import simulate_run
    >>> a, b = simulate_run("healthy", n=50, epochs=3, seed=1), simulate_run("healthy", n=50, epochs=3, seed=2)
    >>> configuration(a) == configuration(b), configuration(a)["story"]
    (True, 'healthy')
    """
    extra = run.meta.extra or {}
    n_val = run.meta.n_val or (run.predictions.n_samples if run.predictions is not None else None)
    if isinstance(extra.get("options"), dict):
        config = {k: v for k, v in extra["options"].items() if k not in ("seed", "verbose")}
        config.update(dataset=extra.get("dataset"), pooling=extra.get("pooling"))
    else:
        config = {k: v for k, v in extra.items() if k not in _VOLATILE}
        model = extra.get("model")
        if isinstance(model, dict) and model.get("params") is not None:
            config["params"] = model["params"]
    config["n_val"] = n_val
    if run.meta.format == "recorded" and run.meta.classes:
        config["classes"] = run.meta.classes
    return config


@dataclass
class SeedGroup:
    """Runs of one configuration and what their spread says.

    Attributes
    ----------
    title : str
        Which runs, and the settings that set this group apart from the others.
    configuration : dict
        :func:`configuration` of the runs.
    runs : list of Run
    finding : Finding
        Code ``seeds`` (or ``seeds_single`` for a group of one run).
    table : DataFrame or None
        Per epoch: ``n_runs``, ``mean``, ``run_sd``, ``min``, ``max``,
        ``binomial_se`` (:func:`dynamics.stats.seeds.seed_spread`).
    """

    title: str
    configuration: dict[str, Any]
    runs: list[Run]
    finding: Finding
    table: pd.DataFrame | None = None

    def to_dict(self) -> dict[str, Any]:
        from dynamics.diagnose import _table_dict

        return _json_ready({
            "title": self.title,
            "configuration": self.configuration,
            "runs": [r.label for r in self.runs],
            "finding": self.finding.to_dict(),
            "table": _table_dict(self.table) if self.table is not None else None,
        })


def seed_groups(runs: Sequence[Run], *, n_val: int | None = None, from_epoch: int | None = None) -> list[SeedGroup]:
    """Group runs by :func:`configuration` and compare each group's seeds.

    Parameters
    ----------
    runs : sequence of Run
    n_val : int, optional
        Validation samples of the runs whose source does not say (``--n-val``).
    from_epoch : int, optional
        First epoch of the plateau the summary averages over (default: the
        second half of the common epochs).

    Examples
    --------
    >>> from dynamics.simulate import simulate_run
    >>> runs = [simulate_run("healthy", n=500, epochs=6, seed=s, n_train=20) for s in range(3)]
    >>> [(g.finding.code, len(g.runs)) for g in seed_groups(runs)]
    [('seeds', 3)]
    """
    from dynamics.sample_findings import seeds_finding
    from dynamics.stats.seeds import seed_spread_of_runs

    keys: dict[str, list[Run]] = {}
    configs: dict[str, dict[str, Any]] = {}
    if n_val is not None:
        runs = [r if r.meta.n_val else dataclasses.replace(r, meta=dataclasses.replace(r.meta, n_val=n_val)) for r in runs]
    for run in runs:
        config = configuration(run)
        key = json.dumps(_json_ready(config), sort_keys=True, default=str)
        keys.setdefault(key, []).append(run)
        configs[key] = config
    differing = _differing(list(configs.values()))
    groups = []
    for key, members in keys.items():
        config = configs[key]
        names = ", ".join(Path(r.meta.source).name or r.label for r in members)
        setting = ", ".join(f"{k}={config.get(k)}" for k in differing)
        title = f"{len(members)} run{'s' if len(members) != 1 else ''}" + (f" with {setting}" if setting else "") + f": {names}"
        if len(members) < 2:
            finding = Finding("seeds_single", "undetermined",
                              f"Only one run with this configuration ({names}): the run-to-run spread needs two or more "
                              "runs that differ only in the seed.", {"runs": 1}, None, "noise")
            groups.append(SeedGroup(title, config, members, finding))
            continue
        try:
            finding = seeds_finding(members, from_epoch=from_epoch)
            table = seed_spread_of_runs(members, from_epoch=from_epoch).table
        except DynamicsError as exc:
            finding = Finding("seeds", "undetermined", f"Cannot compare these runs across seeds, because {exc}.",
                              {"runs": len(members)}, None, "noise")
            table = None
        groups.append(SeedGroup(title, config, members, finding, table))
    return groups


def _differing(configs: list[dict[str, Any]]) -> list[str]:
    """Keys whose values are not the same in every configuration (what tells the groups apart)."""
    if len(configs) < 2:
        return []
    keys = sorted({k for c in configs for k in c})
    out = []
    for k in keys:
        values = {json.dumps(_json_ready(c.get(k)), sort_keys=True, default=str) for c in configs}
        if len(values) > 1:
            out.append(k)
    return out
