"""Which runs are seeds of one configuration: the one definition ``analyze`` and ``compare`` share.

:func:`group_runs` groups runs by :func:`configuration` (or by the metadata
keys the user names) and gives each group of two or more its seed spread --
the run-to-run spread of val_accuracy per epoch beside the within-run
fluctuation and the binomial noise of the validation set
(:func:`dynamics.stats.seeds.seed_spread_of_runs`), computed once -- and the
finding that reads it. ``dynamics analyze A B`` prints these groups as its
"Across runs" section; ``dynamics compare A B`` sets the same groups side by
side.

What counts as "the same configuration":

* runs written by ``dynamics train``: the same ``dataset``, ``pooling`` and
  training ``options`` apart from ``seed`` (and ``verbose``);
* other recorded runs (``PredictionRecorder`` in your own training) and runs
  whose metadata records a ``seed``: the same metadata apart from what
  differs between seeds of one configuration by nature (seed, start time,
  versions, the model summary's layer names...), and the same number of
  parameters;
* in every case, the same number of validation samples (and classes);
* a printed log does not say how it was trained, so it has no configuration
  (:func:`configuration` is None) and stands alone: calling two logs "seeds"
  would read a difference between two models as the seed's doing. Name the
  keys to group by instead (``keys=["n_val"]``, ``--group-by n_val``: logs of
  one validation size are taken as seeds of one configuration).

With ``keys``, runs are grouped by those keys alone, looked up in the
configuration's description (which a log has too: its ``n_val``) and then in
the metadata; a run holding none of them stands alone.

Nothing here prints or draws.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from dynamics.errors import DynamicsError
from dynamics.findings import Finding
from dynamics.run import Run, _json_ready
from dynamics.stats.seeds import SeedSpread

__all__ = ["SEED_FACTOR", "RunGroup", "configuration", "group_runs", "run_labels", "spread_finding",
           "unique_labels"]

#: The seed matters when the run-to-run sd exceeds the binomial noise by this factor.
SEED_FACTOR = 1.5

#: Metadata that differs between seeds of one configuration by nature.
_VOLATILE = frozenset({
    "seed", "command", "started", "finished", "status", "last_epoch", "notes", "events", "python",
    "keras_version", "backend_version", "devices", "model", "verbose", "prediction_dtype", "prediction_encoding",
    "format_version", "val_flipped_ids", "dataset_info", "training_samples_dropped", "options",
    "execution", "damage", "wandb_run", "wandb_id", "resumed_at", "backup_epochs",  # other sources (dynamics.sources.folders)
})  # fmt: skip
#: Metadata the log readers add about the text they read, not about the training.
_READING = frozenset({"counter_target"})
#: Settings that name a group when no setting tells the groups apart.
_NAMING = ("dataset", "pooling", "story", "label_noise")


def _description(run: Run) -> dict[str, Any]:
    """Everything that must agree for two runs to be seeds of one configuration (a log's too)."""
    extra = run.meta.extra or {}
    n_val = run.meta.n_val or (run.predictions.n_samples if run.predictions is not None else None)
    if isinstance(extra.get("options"), dict):
        config = {k: v for k, v in extra["options"].items() if k not in ("seed", "verbose")}
        config.update(dataset=extra.get("dataset"), pooling=extra.get("pooling"))
    else:
        config = {k: v for k, v in extra.items() if k not in _VOLATILE | _READING}
        model = extra.get("model")
        if isinstance(model, dict) and model.get("params") is not None:
            config["params"] = model["params"]
    config["n_val"] = n_val
    if run.meta.format == "recorded" and run.meta.classes:
        config["classes"] = run.meta.classes
    return config


def configuration(run: Run) -> dict[str, Any] | None:
    """What must agree for two runs to be seeds of one configuration; None for a run that does not say.

    A run says how it was trained when it is recorded (a run directory, a
    simulated run) or its metadata holds a ``seed`` or any other setting; a
    printed log does not (see the module docstring).

    Examples
    --------
    >>> from dynamics.simulate import simulate_run
    >>> a, b = simulate_run("healthy", n=50, epochs=3, seed=1), simulate_run("healthy", n=50, epochs=3, seed=2)
    >>> configuration(a) == configuration(b), configuration(a)["story"]
    (True, 'healthy')
    >>> from dynamics.run import RunMeta, make_epoch_table
    >>> configuration(Run(make_epoch_table({1: {"val_accuracy": 0.5}}), RunMeta(n_val=100))) is None
    True
    """
    extra = run.meta.extra or {}
    says = run.meta.format == "recorded" or "seed" in extra or any(k not in _VOLATILE | _READING for k in extra)
    return _description(run) if says else None


def _selected(run: Run, keys: Sequence[str]) -> dict[str, Any] | None:
    """The values of ``keys`` a run holds (description first, then metadata), or None if it holds none."""
    described, extra = _description(run), run.meta.extra or {}
    out = {k: described[k] if k in described else extra[k] for k in keys if k in described or k in extra}
    return out or None


def _key(config: Any) -> str:
    return json.dumps(_json_ready(config), sort_keys=True, default=str)


@dataclass
class RunGroup:
    """Runs of one configuration and what their spread says.

    Attributes
    ----------
    name : str
        The settings that set this group apart from the others (a run's label
        when it stands alone without a configuration).
    configuration : dict or None
        :func:`configuration` of the runs (the selected keys, when grouped by
        keys); None for a run that does not say how it was trained.
    runs : list of Run
    indices : list of int
        Positions of the runs in what :func:`group_runs` was given.
    finding : Finding
        Code ``seeds`` (or ``seeds_single`` for a group of one run).
    spread : SeedSpread or None
        The seed spread of val_accuracy (groups of two or more that have one).
    """

    name: str
    configuration: dict[str, Any] | None
    runs: list[Run]
    indices: list[int]
    finding: Finding
    spread: SeedSpread | None = None

    @property
    def table(self) -> Any:
        """Per epoch ``n_runs``, ``mean``, ``run_sd``, ``min``, ``max``, ``binomial_se`` (None without a spread)."""
        return self.spread.table if self.spread is not None else None

    @property
    def title(self) -> str:
        """Which runs, and the settings that set this group apart."""
        names = ", ".join(PurePath(r.meta.source).name or r.label for r in self.runs)
        n = len(self.runs)
        setting = f" with {self.name}" if self.configuration is not None else ""
        return f"{n} run{'s' if n != 1 else ''}{setting}: {names}"

    def to_dict(self) -> dict[str, Any]:
        from dynamics.diagnose import _table_dict

        return _json_ready({
            "title": self.title,
            "name": self.name,
            "configuration": self.configuration,
            "runs": [r.label for r in self.runs],
            "finding": self.finding.to_dict(),
            "table": _table_dict(self.table) if self.table is not None else None,
        })


def group_runs(
    runs: Sequence[Run],
    *,
    keys: Sequence[str] | None = None,
    n_val: int | None = None,
    from_epoch: int | None = None,
    labels: Sequence[str] | None = None,
) -> list[RunGroup]:
    """Group runs into configurations and compare each group's seeds.

    Parameters
    ----------
    runs : sequence of Run
    keys : sequence of str, optional
        Group by these settings alone (default: :func:`configuration`).
    n_val : int, optional
        Validation samples of the runs whose source does not say (``--n-val``).
    from_epoch : int, optional
        First epoch of the plateau the seed summary averages over (default:
        the second half of the common epochs).
    labels : sequence of str, optional
        Display label of each run (default :func:`run_labels`), the name of a
        run that stands alone.

    Returns
    -------
    list of RunGroup
        In the order each configuration first appears.

    Examples
    --------
    >>> from dynamics.simulate import simulate_run
    >>> runs = [simulate_run(s, n=500, epochs=6, seed=k, n_train=20) for s in ("healthy", "flipping") for k in (0, 1)]
    >>> [(g.name, len(g.runs), g.finding.code) for g in group_runs(runs)]
    [('story=healthy', 2, 'seeds'), ('story=flipping', 2, 'seeds')]
    """
    from dynamics.stats.seeds import seed_spread_of_runs

    runs = list(runs)
    if n_val is not None:
        runs = [r if r.meta.n_val else dataclasses.replace(r, meta=dataclasses.replace(r.meta, n_val=n_val)) for r in runs]
    labels = list(labels) if labels is not None else run_labels(runs)
    configs = [configuration(r) if keys is None else _selected(r, keys) for r in runs]
    members: dict[str, list[int]] = {}
    for i, config in enumerate(configs):
        members.setdefault(_key(config) if config is not None else f"alone {i}", []).append(i)
    distinct = {_key(c): c for c in configs if c is not None}
    differing = _differing(list(distinct.values()))
    groups = []
    for indices in members.values():
        config = configs[indices[0]]
        group_runs_ = [runs[i] for i in indices]
        if config is None:
            name = labels[indices[0]]
        else:
            shown = differing or [k for k in _NAMING if k in config] or list(keys or [])
            name = ", ".join(f"{k}={config.get(k)}" for k in shown) or "one configuration"
        spread = None
        if len(indices) < 2:
            finding = _single_finding(labels[indices[0]], config is None)
        else:
            try:
                spread = seed_spread_of_runs(group_runs_, from_epoch=from_epoch)
                finding = spread_finding(spread)
            except DynamicsError as exc:
                finding = Finding("seeds", "undetermined", f"Cannot compare these runs across seeds, because {exc}.",
                                  {"runs": len(indices)}, None, "noise")
        groups.append(RunGroup(name, config, group_runs_, indices, finding, spread))
    return groups


def _single_finding(label: str, unknown: bool) -> Finding:
    if unknown:
        return Finding("seeds_single", "undetermined",
                       f"{label} stands alone: a log does not say how it was trained, so it is not taken as a seed "
                       "of another run's configuration.", {"runs": 1, "configuration": None},
                       "Name the settings that make runs one configuration (--group-by n_val takes logs of one "
                       "validation size as seeds of one configuration).", "noise")
    return Finding("seeds_single", "undetermined",
                   f"Only one run with this configuration ({label}): the run-to-run spread needs two or more "
                   "runs that differ only in the seed.", {"runs": 1}, None, "noise")


def _differing(configs: list[dict[str, Any]]) -> list[str]:
    """Keys whose values are not the same in every configuration (what tells the groups apart)."""
    if len(configs) < 2:
        return []
    keys = list(dict.fromkeys(k for c in configs for k in c))
    return [k for k in keys if len({_key(c.get(k)) for c in configs}) > 1]


def spread_finding(spread: SeedSpread) -> Finding:
    """The ``seeds`` finding: run-to-run spread of val_accuracy beside within-run and binomial noise.

    The seed matters when the run-to-run sd is more than :data:`SEED_FACTOR`
    times the binomial noise of the validation set.

    Examples
    --------
    Two runs 0.02 apart at every epoch: run sd 0.02 / sqrt(2) = 0.01414, against a
    binomial noise of sqrt(0.8 * 0.2 / 10,000) = 0.004, 3.54 times more:

    >>> from dynamics.stats.seeds import seed_spread
    >>> f = spread_finding(seed_spread([[0.80, 0.82, 0.81], [0.78, 0.80, 0.79]], 10_000, from_epoch=1))
    >>> f.code, f.severity, round(f.evidence["ratio_to_binomial"], 2)
    ('seeds', 'warning', 3.54)
    """
    s = spread.summary
    evidence = {k: s[k] for k in ("n_runs", "n_val", "from_epoch", "mean", "run_sd", "within_run_sd", "binomial_se")}
    evidence["within_run_by_run"] = spread.within_run.tolist()
    numbers = (
        f"Across {s['n_runs']} runs, from epoch {s['from_epoch']} on, val_accuracy (mean {100 * s['mean']:.2f}%) "
        f"differs from run to run by {100 * s['run_sd']:.2f} points (sd) and moves {100 * s['within_run_sd']:.2f} "
        "points from epoch to epoch within a run"
    )
    if not math.isfinite(s["binomial_se"]):
        claim = numbers + "; the validation size is unknown, so the binomial noise cannot be told."
        return Finding("seeds", "undetermined", claim, evidence, topic="noise")
    ratio = s["run_sd"] / s["binomial_se"] if s["binomial_se"] > 0 else math.inf
    evidence["ratio_to_binomial"] = ratio
    evidence["threshold"] = SEED_FACTOR
    matters = ratio > SEED_FACTOR
    claim = (
        f"{numbers}; the binomial noise of {s['n_val']} validation samples is {100 * s['binomial_se']:.2f} points. "
        + (
            f"The seed matters: runs differ {ratio:.1f}x more than sampling noise explains."
            if matters
            else f"Runs differ no more than sampling noise explains ({ratio:.1f}x the binomial noise)."
        )
    )
    return Finding("seeds", "warning" if matters else "info", claim, evidence, topic="noise")


def unique_labels(labels: Sequence[str]) -> list[str]:
    """Make display labels unique by numbering repeats.

    >>> unique_labels(["a.log", "b.log", "a.log"])
    ['a.log', 'b.log', 'a.log #2']
    """
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return out


def run_labels(runs: Sequence[Run]) -> list[str]:
    """Unique, short display labels: file names when they tell the runs apart, the seed when labels repeat.

    >>> from dynamics.run import RunMeta
    >>> import pandas as pd
    >>> run_labels([Run(pd.DataFrame(), RunMeta(source=f"logs/{k}/train.log")) for k in ("a", "b")])
    ['logs/a/train.log', 'logs/b/train.log']
    >>> run_labels([Run(pd.DataFrame(), RunMeta(source="sim", extra={"seed": s})) for s in (0, 1)])
    ['sim seed=0', 'sim seed=1']
    """

    def short(run: Run) -> str:
        name = PurePath(run.meta.source).name or run.meta.source
        return f"{name} (run {run.meta.run_index + 1})" if run.meta.run_index else name

    names = [short(r) for r in runs]
    base = names if len(set(names)) == len(names) else [r.label for r in runs]
    out = []
    for r, label in zip(runs, base):
        if base.count(label) > 1 and "seed" in r.meta.extra:
            label = f"{label} seed={r.meta.extra['seed']}"
        out.append(label)
    return unique_labels(out)
