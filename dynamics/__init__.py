"""dynamics: why training loss falls while val_accuracy wanders and val_loss climbs.

Parse any Keras training log into a :class:`~dynamics.run.Run`, diagnose it,
record per-sample predictions inside ``model.fit`` with
:class:`~dynamics.keras.callback.PredictionRecorder`, and report.

Importing ``dynamics`` imports neither Keras nor matplotlib: the callback and
the trainer are loaded only when asked for.
"""

from __future__ import annotations

from typing import Any

from dynamics.errors import DynamicsError
from dynamics.run import Event, Predictions, Run, RunMeta

__version__ = "0.1.0"

__all__ = [
    "DynamicsError",
    "Event",
    "LiveDiagnosis",
    "Predictions",
    "PredictionRecorder",
    "RecordingStorage",
    "Run",
    "RunMeta",
    "load_run",
    "load_runs",
]

# Names served lazily so that ``import dynamics`` stays free of keras, a
# backend, and the parsers' regex compilation until they are needed.
_LAZY = {
    "load_run": ("dynamics.sources.io", "load_run"),
    "load_runs": ("dynamics.sources.io", "load_runs"),
    "PredictionRecorder": ("dynamics.keras.callback", "PredictionRecorder"),
    "LiveDiagnosis": ("dynamics.keras.live", "LiveDiagnosis"),
    "RecordingStorage": ("dynamics.keras.storage", "RecordingStorage"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'dynamics' has no attribute {name!r}")
