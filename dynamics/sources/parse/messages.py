"""Callback messages and the ``Train on ...`` line.

Formats: docs/keras-formats.md#5-lines-printed-before-the-first-epoch and
docs/keras-formats.md#7-callback-messages-and-where-they-land.

Every era's wording is matched: ``Epoch 00020: val_acc did not improve``
(Keras <= 2.1.5, no value), ``... did not improve from 0.05168``, ``improved
from -inf`` / ``from inf`` / ``from None`` (Keras 3.11+), ``reducing learning
rate to`` with or without the ``ReduceLROnPlateau`` prefix,
``LearningRateScheduler reducing|setting learning rate to``, ``early
stopping``, ``Restoring model weights ... best epoch: 6.``, TerminateOnNaN's
``Batch 3: Invalid loss, terminating training``.

The epoch number is kept *as printed* here (``raw_epoch``), with whether it
was zero-padded: only the assembler, which sees the headers around it, can
tell a 0-based Keras <= 2.0.8 number from a 1-based one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUM = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|inf|nan)"

_EPOCH_MSG = re.compile(r"Epoch\s+(?P<n>\d{1,9}):\s+")
_BODIES: list[tuple[str | None, re.Pattern[str]]] = [
    (
        "checkpoint_saved",
        re.compile(
            r"(?P<mon>\S+) improved from (?P<frm>\S+?) to (?P<val>" + _NUM + r")(?:,? saving model to (?P<path>\S+))?"
        ),
    ),
    ("checkpoint_not_improved", re.compile(r"(?P<mon>\S+) did not improve(?: from (?P<val>" + _NUM + r"))?")),
    (None, re.compile(r"finished saving model to \S+")),  # Keras 3.15: the save above has completed
    ("checkpoint_saved", re.compile(r"saving model to (?P<path>\S+)")),
    ("early_stopping", re.compile(r"early stopping")),
    ("lr_set", re.compile(r"LearningRateScheduler (?:reducing|setting) learning rate to (?P<val>" + _NUM + r")\.?")),
    ("lr_reduced", re.compile(r"(?:ReduceLROnPlateau )?reducing learning rate to (?P<val>" + _NUM + r")\.?")),
]
_BATCH = re.compile(r"Batch\s+(?P<n>\d{1,9}):\s*Invalid loss,? terminating training")
_RESTORE = re.compile(r"Restoring model weights from the end of the best epoch(?::\s*(?P<n>\d{1,9}))?\.?")
_TRAIN = re.compile(
    r"Train (?:on|for) (?P<n>\d+) (?P<unit>samples|steps)"
    r"(?:, validate (?:on|for) (?P<v>\d+) (?P<vunit>samples|steps))?"
)


@dataclass(frozen=True)
class Message:
    """A callback message, its epoch number as printed."""

    kind: str
    text: str
    raw_epoch: int | None = None  # the number after "Epoch", as printed
    padded: bool = False  # "Epoch 00020:" (Keras 1/2, TF <= 2.7) rather than "Epoch 20:"
    monitor: str | None = None
    value: float | None = None
    batch: int | None = None


@dataclass(frozen=True)
class TrainOn:
    """``Train on N samples, validate on M samples`` (or steps)."""

    n_train: int | None = None
    n_val: int | None = None
    steps_train: int | None = None
    steps_val: int | None = None


def _float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def parse_message(text: str) -> tuple[Message, int] | None:
    """Read a callback message at the start of ``text``; return it and where it ends.

    >>> msg, end = parse_message("Epoch 00020: val_acc did not improve")
    >>> (msg.kind, msg.raw_epoch, msg.padded, msg.monitor, msg.value)
    ('checkpoint_not_improved', 20, True, 'val_acc', None)
    >>> parse_message("Epoch 7: ReduceLROnPlateau reducing learning rate to 0.00010000000474974513.")[0].value
    0.00010000000474974513
    """
    m = _EPOCH_MSG.match(text)
    if m is not None:
        digits = m.group("n")
        for kind, body in _BODIES:
            b = body.match(text, m.end())
            if b is None:
                continue
            if kind is None:
                return None
            groups = b.groupdict()
            message = Message(
                kind=kind,
                text=text[: b.end()].strip(),
                raw_epoch=int(digits),
                padded=len(digits) > 1 and digits.startswith("0"),
                monitor=groups.get("mon"),
                value=_float(groups.get("val")),
            )
            return message, b.end()
        return None
    m = _BATCH.match(text)
    if m is not None:
        return Message("terminated_on_nan", m.group(0).strip(), batch=int(m.group("n"))), m.end()
    m = _RESTORE.match(text)
    if m is not None:
        best = m.group("n")
        return (
            Message("restored_best_weights", m.group(0).strip(), raw_epoch=int(best) if best else None, value=_float(best)),
            m.end(),
        )
    return None


def parse_train_on(text: str) -> tuple[TrainOn, int] | None:
    """Read ``Train on N samples, validate on M samples`` / ``Train for N steps``.

    >>> parse_train_on("Train on 22500 samples, validate on 2500 samples")[0]
    TrainOn(n_train=22500, n_val=2500, steps_train=None, steps_val=None)
    >>> parse_train_on("Train for 4414 steps, validate for 63 steps")[0]
    TrainOn(n_train=None, n_val=None, steps_train=4414, steps_val=63)
    """
    m = _TRAIN.match(text)
    if m is None:
        return None
    n, v = int(m.group("n")), m.group("v")
    if m.group("unit") == "samples":
        train = {"n_train": n}
    else:
        train = {"steps_train": n}
    if v is not None:
        if m.group("vunit") == "samples":
            train["n_val"] = int(v)
        else:
            train["steps_val"] = int(v)
    return TrainOn(**train), m.end()
