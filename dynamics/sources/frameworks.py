"""Histories written by other training loops: Hugging Face ``Trainer`` and PyTorch Lightning.

**Hugging Face** ``trainer_state.json`` (``TrainerState.save_to_json``, in
the output folder and in every ``checkpoint-<step>/``) keeps ``log_history``:
a list of dicts, each with ``epoch`` (a float: the fraction of training
done, in epochs) and ``step``. Training rows carry ``loss`` (the mean over
the last ``logging_steps``), ``learning_rate``, ``grad_norm``; evaluation
rows carry ``eval_loss``, ``eval_<metric>`` and ``eval_runtime`` /
``eval_samples_per_second`` / ``eval_steps_per_second``; the last row sums
training up (``train_loss``, ``train_runtime``...). Here epoch ``e`` (1-based)
gathers the rows with ``e - 1 < epoch <= e``: ``loss`` is the mean of its
training rows (weighted by nothing: HF logs equal windows), ``val_<metric>``
the *last* evaluation in it -- the one at the epoch's end with
``eval_strategy="epoch"``; with ``"steps"`` a note says so.

**PyTorch Lightning** ``CSVLogger`` writes ``<save_dir>/lightning_logs/
version_<n>/metrics.csv``: one row per ``log_metrics`` call, with ``step`` and
the 0-based ``epoch``; training-step values, training-epoch values and
validation values come on separate rows, the other cells empty. Rows are
merged by epoch; ``<name>_epoch`` is the epoch value of ``self.log(name,
on_step=True, on_epoch=True)`` and ``<name>_step`` its per-step twin (left
out when the epoch value exists; otherwise the steps of an epoch are
averaged, noted). Names are mapped to Keras's: ``train_loss`` / ``train/loss``
-> ``loss``, ``val_acc`` / ``valid/acc`` / ``validation_acc`` -> ``val_accuracy``.
"""

from __future__ import annotations

import csv
import io
import math
import re
from typing import Any

from dynamics.errors import InputError, NoEpochsError
from dynamics.run import Run, RunMeta, canonical_metric_name, make_epoch_table

#: Evaluation keys that time the evaluation rather than measure the model.
_HF_TIMING = {"runtime", "samples_per_second", "steps_per_second", "jit_compilation_time"}
_HF_TRAIN_SKIP = {"epoch", "step", "total_flos", "num_input_tokens_seen"}
_VAL = re.compile(r"^(?:val|valid|validation)[_/]", re.IGNORECASE)
_TRAIN = re.compile(r"^train[_/]", re.IGNORECASE)


def looks_like_trainer_state(obj: Any) -> bool:
    """True for the object ``TrainerState.save_to_json`` writes.

    >>> looks_like_trainer_state({"log_history": [{"loss": 0.7, "epoch": 0.5, "step": 10}], "global_step": 10})
    True
    """
    return isinstance(obj, dict) and isinstance(obj.get("log_history"), list) and (
        "global_step" in obj or "best_metric" in obj or any(isinstance(r, dict) and "step" in r for r in obj["log_history"]))


def _epoch_of(fraction: Any) -> int | None:
    if not isinstance(fraction, (int, float)) or isinstance(fraction, bool) or not math.isfinite(fraction):
        return None
    # HF rounds the fraction (round(epoch, 2) in older versions): an evaluation at 0.9999 ends epoch 1.
    return max(1, math.ceil(round(float(fraction), 3)))


def read_trainer_state(obj: Any, *, source: str = "<trainer_state.json>") -> list[Run]:
    """One run from a loaded ``trainer_state.json``.

    >>> state = {"global_step": 4, "log_history": [
    ...     {"epoch": 0.5, "loss": 0.7, "step": 1}, {"epoch": 1.0, "loss": 0.5, "step": 2},
    ...     {"epoch": 1.0, "eval_loss": 0.65, "eval_accuracy": 0.6, "eval_runtime": 1.2, "step": 2},
    ...     {"epoch": 2.0, "loss": 0.4, "step": 4}, {"epoch": 2.0, "eval_loss": 0.6, "step": 4}]}
    >>> read_trainer_state(state)[0].epochs
           loss  val_loss  val_accuracy
    epoch
    1       0.6      0.65           0.6
    2       0.4      0.60           NaN
    """
    if not looks_like_trainer_state(obj):
        raise InputError(f"{source} is JSON but not a Hugging Face trainer_state.json (no log_history)")
    train: dict[int, dict[str, list[float]]] = {}
    evals: dict[int, dict[str, float]] = {}
    eval_fractions: dict[int, float] = {}
    names: dict[str, str] = {}
    for row in obj["log_history"]:
        if not isinstance(row, dict):
            continue
        epoch = _epoch_of(row.get("epoch"))
        if epoch is None:
            continue
        if any(k.startswith("train_") and k.endswith("runtime") for k in row):
            continue  # the summary row at the end of training
        is_eval = any(k.startswith("eval_") for k in row)
        for key, value in row.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or key in _HF_TRAIN_SKIP:
                continue
            if is_eval:
                if not key.startswith("eval_") or key[5:] in _HF_TIMING:
                    continue
                column = "val_" + canonical_metric_name(key[5:])
                evals.setdefault(epoch, {})[column] = float(value)
                eval_fractions[epoch] = float(row["epoch"])
            else:
                if key == "grad_norm":
                    continue
                column = canonical_metric_name(key)
                train.setdefault(epoch, {}).setdefault(column, []).append(float(value))
            names.setdefault(column, key)
    rows: dict[int, dict[str, float]] = {}
    for epoch, values in train.items():
        rows.setdefault(epoch, {}).update({k: sum(v) / len(v) for k, v in values.items()})
    for epoch, values in evals.items():
        rows.setdefault(epoch, {}).update(values)
    if not rows:
        raise NoEpochsError(f"no complete training epoch in {source}: its log_history holds no loss or eval_ value")
    notes = []
    if any(len(v.get("loss", [])) > 1 for v in train.values()):
        notes.append("loss per epoch is the mean of the training losses logged in it (logging_steps windows)")
    off_end = sorted(e for e, f in eval_fractions.items() if abs(f - round(f)) > 1e-3)
    if off_end:
        notes.append("evaluated between epoch ends (eval_strategy=\"steps\"): val_* is the last evaluation within "
                     "each epoch")
    columns = [c for c in names if not c.startswith("val_")] + [c for c in names if c.startswith("val_")]
    extra = {k: obj[k] for k in ("trial_name", "trial_params") if obj.get(k) is not None}
    meta = RunMeta(source=source, format="hf-trainer-state", metric_names={c: names[c] for c in columns},
                   notes=notes, extra=extra)
    if isinstance(obj.get("num_train_epochs"), int):
        meta.epochs_declared = obj["num_train_epochs"]
    return [Run(make_epoch_table(rows, columns=columns), meta)]


def _lightning_name(name: str) -> str:
    """Keras's name for a Lightning metric.

    >>> [_lightning_name(n) for n in ("train_loss", "train/acc", "val_acc", "valid/loss", "f1")]
    ['loss', 'accuracy', 'val_accuracy', 'val_loss', 'f1']
    """
    if _VAL.match(name):
        return "val_" + canonical_metric_name(_VAL.sub("", name))
    return canonical_metric_name(_TRAIN.sub("", name))


def looks_like_lightning(head: str) -> bool:
    """True if a CSV header has Lightning's ``epoch`` and ``step`` columns (in any place).

    >>> looks_like_lightning("epoch,step,train_loss_step,val_loss\\n0,49,0.5,\\n")
    True
    >>> looks_like_lightning("epoch,loss,val_loss\\n")
    False
    """
    first = head.lstrip("\ufeff").split("\n", 1)[0].strip()
    names = [n.strip() for n in first.split(",")]
    return "epoch" in names and "step" in names and len(names) > 2


def read_lightning_csv(text: str, *, source: str = "<metrics.csv>") -> list[Run]:
    """One run from Lightning's ``metrics.csv``.

    >>> text = ("epoch,step,train_loss_epoch,train_loss_step,val_loss\\n"
    ...         "0,9,,0.70,\\n0,9,,,0.66\\n0,9,0.69,,\\n1,19,,0.61,\\n1,19,,,0.62\\n1,19,0.60,,\\n")
    >>> read_lightning_csv(text)[0].epochs
           loss  val_loss
    epoch
    1      0.69      0.66
    2      0.60      0.62
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = reader.fieldnames or []
    if "epoch" not in header or "step" not in header:
        raise InputError(f"{source} is not a Lightning metrics.csv (no epoch and step columns)")
    metrics = [h for h in header if h not in ("epoch", "step")]
    epoch_names = {m[: -len("_epoch")] for m in metrics if m.endswith("_epoch")}
    sums: dict[int, dict[str, list[float]]] = {}
    averaged: set[str] = set()
    names: dict[str, str] = {}
    bad = 0
    for row in reader:
        try:
            epoch = int(float(row["epoch"])) + 1
        except (TypeError, ValueError):
            bad += 1
            continue
        for name in metrics:
            cell = (row.get(name) or "").strip()
            if not cell:
                continue
            try:
                value = float(cell)
            except ValueError:
                continue
            base = name
            if name.endswith("_epoch"):
                base = name[: -len("_epoch")]
            elif name.endswith("_step"):
                if name[: -len("_step")] in epoch_names:
                    continue  # the per-step twin of an epoch value
                base = name[: -len("_step")]
                averaged.add(base)
            column = _lightning_name(base)
            names.setdefault(column, name)
            sums.setdefault(epoch, {}).setdefault(column, []).append(value)
    rows = {e: {k: sum(v) / len(v) for k, v in cols.items()} for e, cols in sums.items()}
    if not rows:
        raise NoEpochsError(f"no complete training epoch in {source}: metrics.csv has no values")
    notes = []
    multi = sorted({_lightning_name(b) for b in averaged})
    for e, cols in sums.items():
        for column, values in cols.items():
            if len(values) > 1 and column not in multi:
                multi.append(column)
    if multi:
        notes.append(f"{', '.join(sorted(multi))}: logged more than once per epoch (on_step); the epoch value is "
                     "the mean of what was logged in it")
    if bad:
        notes.append(f"{bad} row(s) without an epoch number were left out")
    columns = [c for c in names if not c.startswith("val_")] + [c for c in names if c.startswith("val_")]
    meta = RunMeta(source=source, format="lightning-csv", metric_names={c: names[c] for c in columns}, notes=notes)
    epochs = sorted(rows)
    meta.elided = [(a + 1, b - 1) for a, b in zip(epochs, epochs[1:]) if b > a + 1]
    return [Run(make_epoch_table(rows, columns=columns), meta)]
