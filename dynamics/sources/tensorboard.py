"""Read what ``keras.callbacks.TensorBoard`` writes, and keras-tuner's trees of it, into runs.

``TensorBoard(log_dir)`` writes two folders of event files::

    log_dir/train/events.out.tfevents.<time>.<host>.<pid>.<n>.v2       epoch_loss, epoch_accuracy, epoch_learning_rate
    log_dir/validation/events.out.tfevents.<time>.<host>.<pid>.<n>.v2  epoch_loss, epoch_accuracy (the val_ values)

one scalar per metric and epoch, tagged ``epoch_<metric>`` with ``step`` =
the 0-based epoch (shown 1-based here, as everywhere). In ``validation`` the
``val_`` prefix is dropped by Keras and put back here. Also found and left
out of the epoch table: ``batch_<metric>`` (``update_freq="batch"``),
``evaluation_<metric>_vs_iterations`` (the validation values again, against
the optimizer's step) and ``epoch_steps_per_second``.

keras-tuner gives every execution of every trial its own ``log_dir``:
``<log_dir>/<trial_id>/execution<k>/{train,validation}``
(``Tuner._get_tensorboard_dir``). A trial is one configuration of the
hyperparameters, its executions are runs of it with other seeds; the run's
``meta.extra`` carries ``tuner_trial`` (part of the configuration, see
:func:`dynamics.diagnosis.configuration.configuration`) and ``execution`` (not).

Event files are read by :mod:`dynamics.sources.tfevents` (no TensorFlow).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from dynamics.errors import NoEpochsError
from dynamics.run import Run, RunMeta, canonical_metric_name, make_epoch_table

_EVENTS = "tfevents"
_EXECUTION = re.compile(r"execution(\d+)")
#: Sub-folders of a TensorBoard log_dir and the prefix their epoch_ tags get.
_SPLITS = {"train": "", "validation": "val_"}
#: How deep below a given folder event files are looked for (tuner: log_dir/trial/execution/train).
_MAX_DEPTH = 5


def is_event_file(path: Path) -> bool:
    """True for ``events.out.tfevents.*`` (not TensorBoard's profile or plugin files)."""
    return path.is_file() and _EVENTS in path.name and not path.name.endswith((".profile-empty", ".tmp"))


def _event_files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if is_event_file(p))
    except OSError:
        return []


def run_dirs(root: Path) -> list[Path]:
    """The TensorBoard run folders under ``root`` (itself included), in natural order.

    A run folder holds ``train/`` or ``validation/`` with event files (what
    Keras writes) or event files itself (a writer of another kind).
    """
    found: set[Path] = set()
    root_depth = len(root.parts)
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        if len(here.parts) - root_depth >= _MAX_DEPTH:
            dirs[:] = []
        dirs.sort()
        if any(_EVENTS in f for f in files) and _event_files(here):
            found.add(here.parent if here.name in _SPLITS and here != root else here)
    return sorted(found, key=natural_order)


def natural_order(path: Path) -> tuple:  # type: ignore[type-arg]
    """Sort key that puts ``seed2`` before ``seed10`` (digit runs compare as numbers)."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(path)))


def read_tensorboard_run(run_dir: Path) -> Run:
    """One run from a log_dir holding ``train/`` and ``validation/`` (or event files itself)."""
    from dynamics.sources.tfevents import read_scalars

    files = []
    for split, prefix in _SPLITS.items():
        files += [(read_scalars(f), prefix, split) for f in _event_files(run_dir / split)]
    files += [(read_scalars(f), "", None) for f in _event_files(run_dir)]
    return run_from_scalars(files, source=os.fspath(run_dir), run_dir=run_dir)


def read_event_file(path: Path) -> Run:
    """The run an event file belongs to: its whole log_dir when it lies in ``train/`` or ``validation/``."""
    if path.parent.name in _SPLITS:
        run = read_tensorboard_run(path.parent.parent)
        run.meta.notes.append(f"read with the rest of its log_dir {path.parent.parent}")
        return run
    from dynamics.sources.tfevents import read_scalars

    return run_from_scalars([(read_scalars(path), "", None)], source=os.fspath(path), run_dir=None)


def run_from_scalars(files: list, *, source: str, run_dir: Path | None) -> Run:  # type: ignore[type-arg]
    """One run from ``(Scalars, prefix, split)`` of each event file (split: train, validation or None)."""
    rows: dict[int, dict[str, float]] = {}
    names: dict[str, str] = {}
    notes: list[str] = []
    damage: list[str] = []
    skipped: dict[str, int] = {}
    rewritten: set[int] = set()
    seen: set[tuple[str, int]] = set()
    for scalars, prefix, split in files:
        damage += [str(d) for d in scalars.damage]
        for tag, step, value in zip(scalars.tags, scalars.steps, scalars.values):
            if not tag.startswith("epoch_") or tag == "epoch_steps_per_second":
                kind = tag.split("_", 1)[0] if tag.startswith(("batch_", "evaluation_")) else tag
                skipped[kind] = skipped.get(kind, 0) + 1
                continue
            printed = tag[len("epoch_"):]
            if split is None and printed.startswith("val_"):
                column = canonical_metric_name(printed)
            else:
                column = canonical_metric_name(prefix + printed)
            names.setdefault(column, f"{split}/{tag}" if split else tag)
            epoch = step + 1
            if epoch < 1:
                notes.append(f"{tag} at step {step} was left out: it is before the first epoch")
                continue
            if (column, epoch) in seen:
                rewritten.add(epoch)
            seen.add((column, epoch))
            rows.setdefault(epoch, {})[column] = value
    if not rows:
        what = ", ".join(sorted(skipped)) or "no scalars at all"
        message = f"no complete training epoch in {source}: no epoch_* scalars in its event files ({what})"
        if damage:
            message += f"; {damage[0]}"
        raise NoEpochsError(message)
    if skipped:
        notes.append("scalars left out of the epoch table: " + ", ".join(
            f"{k}* ({n})" if k in ("batch", "evaluation") else f"{k} ({n})" for k, n in sorted(skipped.items())))
    if rewritten:
        notes.append(f"epochs {_ranges(sorted(rewritten))} were written more than once (a second fit into the same "
                     "log_dir?): the values written last are kept")
    notes += [f"damaged event file: {d}" for d in damage]
    extra: dict[str, object] = {}
    match = _EXECUTION.fullmatch(run_dir.name) if run_dir is not None else None
    if match and run_dir is not None:
        extra = {"tuner_trial": run_dir.parent.name, "execution": int(match.group(1))}
    if damage:
        extra["damage"] = damage
    columns = sorted(names, key=lambda c: (c.startswith("val_"), list(names).index(c)))
    table = make_epoch_table(rows, columns=columns)
    epochs = list(table.index)
    meta = RunMeta(source=source, format="tensorboard", metric_names={c: names[c] for c in columns}, notes=notes,
                   extra=extra, elided=[(a + 1, b - 1) for a, b in zip(epochs, epochs[1:]) if b > a + 1])
    return Run(table, meta)


def _ranges(values: list[int]) -> str:
    out, start = [], None
    for i, v in enumerate(values):
        start = v if start is None else start
        if i + 1 == len(values) or values[i + 1] != v + 1:
            out.append(str(start) if start == v else f"{start}-{v}")
            start = None
    return ", ".join(out)
