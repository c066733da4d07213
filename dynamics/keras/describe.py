"""What the recorder computes and writes besides the predictions: the metrics, the model, how ``fit`` ended."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from dynamics.keras.env import backend_version, import_keras
from dynamics.keras.inputs import ArraySource
from dynamics.run import Event

keras = import_keras(respect_config=True)


def training_meta(model: Any, source: Any, params: dict | None, *, train_ids: Any, from_logits: bool,
                  placement: Any) -> dict[str, Any]:
    """What ``meta.json`` says about the training: versions, sizes, devices, the validation input, the model."""
    backend = keras.backend.backend()
    arrays = isinstance(source, ArraySource)
    return {
        "keras_version": keras.__version__,
        "backend": backend,
        "backend_version": backend_version(backend),
        "python": sys.version.split()[0],
        "n_val": source.n if arrays else None,
        "n_train": None,
        "epochs": params.get("epochs") if params else None,
        "verbose": params.get("verbose") if params else None,
        "train_subset": None if train_ids is None else len(train_ids),
        "from_logits": from_logits,
        "devices": placement.n_devices,
        "processes": placement.processes,
        "validation_input": source.kind if arrays else source.name,
        "model": model_info(model),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def model_info(model: Any) -> dict[str, Any]:
    """The model's name, parameter count and ``summary()`` text (a courtesy: never a failure)."""
    lines: list[str] = []

    def collect(text: str = "", line_break: bool = True) -> None:
        lines.append(str(text))

    try:
        model.summary(print_fn=collect)
    except Exception:  # noqa: BLE001 - a summary is a courtesy, never a failure
        pass
    try:
        params = int(model.count_params())
    except Exception:  # noqa: BLE001 - unbuilt subclassed models
        params = None
    return {"name": model.name, "params": params, "summary": "\n".join(lines)}


def fit_events(callbacks: Sequence[Any], model: Any, declared: int | None, epochs: Sequence[int]) -> list[Event]:
    """EarlyStopping's stop and restore, or a stop by another callback, as 1-based events."""
    events: list[Event] = []
    for cb in callbacks:
        if isinstance(cb, keras.callbacks.EarlyStopping) and getattr(cb, "stopped_epoch", 0) > 0:
            stopped = int(cb.stopped_epoch) + 1
            events.append(Event(stopped, "early_stopping", f"Epoch {stopped}: early stopping", monitor=cb.monitor))
            best = getattr(cb, "best_epoch", None)
            if getattr(cb, "restore_best_weights", False) and best is not None:
                events.append(Event(stopped, "restored_best_weights",
                                    f"Restoring model weights from the end of the best epoch: {best + 1}.",
                                    monitor=cb.monitor, value=float(best + 1)))
    if epochs and declared and model.stop_training and epochs[-1] < declared \
            and not any(e.kind == "early_stopping" for e in events):
        last = epochs[-1]
        events.append(Event(last, "early_stopping", f"training stopped after epoch {last} of {declared}"))
    return events


def evaluation_metrics(model: Any, raw: np.ndarray, y: Any, sample_weight: Any = None) -> dict[str, float]:
    """val_loss and the compiled metrics of ``raw`` outputs, as ``model.evaluate`` computes them.

    Raises whatever the model raises (a custom model without ``compute_loss``); the recorder then records
    without injecting.
    """
    y = np.asarray(y)
    # convert_to_numpy, not np.asarray: on a GPU (torch) the results are device tensors.
    loss = float(keras.ops.convert_to_numpy(
        model.compute_loss(x=None, y=y, y_pred=raw, sample_weight=sample_weight, training=False)))
    model.reset_metrics()
    values = model.compute_metrics(None, y, raw, sample_weight=sample_weight)
    out = {"loss": loss}
    for name, value in values.items():
        if name != "loss":
            try:
                out[name] = float(keras.ops.convert_to_numpy(value))
            except (TypeError, ValueError):
                continue
    return out
