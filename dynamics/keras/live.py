"""``LiveDiagnosis``: the verdict so far, after every epoch, while the model trains.

This module imports Keras (through :func:`dynamics.keras.env.import_keras`).
IPython is imported only in a notebook; matplotlib only when the notebook
display draws its figure.
"""

from __future__ import annotations

import sys
from typing import IO, Any

from dynamics.errors import ArgumentError
from dynamics.keras.env import import_keras

keras = import_keras(respect_config=True)

MODES = ("auto", "notebook", "terminal")


def in_notebook() -> bool:
    """True inside a Jupyter kernel (an IPython shell with a kernel attached)."""
    if "IPython" not in sys.modules:  # a kernel has imported it long before any callback runs
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class LiveDiagnosis(keras.callbacks.Callback):
    """Diagnose the run so far at the end of every epoch, and show it.

    Each epoch's logs join a :class:`~dynamics.run.Run` of the epochs so far,
    which :func:`dynamics.diagnose.diagnose` diagnoses as it would a finished
    log -- the same rules, no second set. In a Jupyter notebook the display
    (the verdict, the loss/accuracy figure with the 95% Wilson band of
    val_accuracy, the first findings; :meth:`Diagnosis._repr_html_
    <dynamics.diagnose.Diagnosis._repr_html_>`) is redrawn in place; in a
    terminal one line is printed per epoch (:func:`dynamics.report.epoch_line.
    epoch_line`), e.g. ``epoch 8: val_loss 3 epochs above its best (epoch 5,
    0.4000); val_accuracy change within noise of 2,500 samples (net change 4)``.

    Args:
        n_val: Number of validation samples, for the noise of val_accuracy
            (Keras's epoch logs do not say it). Without it the diagnosis
            infers it from the values when it can.
        recorder: A :class:`~dynamics.keras.callback.PredictionRecorder` in the
            same ``fit``: its run (with per-sample predictions, so flips are
            counted rather than bounded) is diagnosed instead of the logs,
            and its ``n_val`` is used.
        mode: ``"auto"`` (a notebook display inside Jupyter, else lines),
            ``"notebook"`` or ``"terminal"``.
        max_findings: Findings shown in the notebook display.
        stream: Where terminal lines go (default ``sys.stdout``).

    Example:

    ```python
    live = dynamics.LiveDiagnosis(n_val=len(x_val))
    model.fit(x, y, validation_data=(x_val, y_val), epochs=20, callbacks=[live])
    live.diagnosis  # the last one
    ```
    """

    def __init__(
        self,
        n_val: int | None = None,
        *,
        recorder: Any = None,
        mode: str = "auto",
        max_findings: int = 3,
        stream: IO[str] | None = None,
    ) -> None:
        super().__init__()
        if n_val is not None and (not isinstance(n_val, int) or isinstance(n_val, bool) or n_val < 1):
            raise ArgumentError(f"n_val must be a positive integer. Received: n_val={n_val!r}")
        if mode not in MODES:
            raise ArgumentError(f"mode must be one of {', '.join(MODES)}. Received: mode={mode!r}")
        if not isinstance(max_findings, int) or max_findings < 0:
            raise ArgumentError(f"max_findings must be an integer >= 0. Received: max_findings={max_findings!r}")
        self.n_val = n_val
        self.recorder = recorder
        self.mode = mode
        self.max_findings = max_findings
        self.stream = stream
        self._reset()

    def _reset(self) -> None:
        self.rows: dict[int, dict[str, float]] = {}
        self.lines: list[str] = []
        self.diagnosis = None
        self._handle = None

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        import numpy as np

        logs = logs or {}
        self.rows[epoch + 1] = {k: float(v) for k, v in logs.items()
                                if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)}
        d = self._diagnose()
        self.diagnosis = d
        notebook = self.mode == "notebook" or (self.mode == "auto" and in_notebook())
        if notebook:
            self._show(d)
        else:
            from dynamics.report.epoch_line import epoch_line

            line = epoch_line(d)
            self.lines.append(line)
            print(line, file=self.stream or sys.stdout, flush=True)

    def _diagnose(self) -> Any:
        from dynamics.diagnose import diagnose

        if self.recorder is not None and getattr(self.recorder, "epochs", None):
            from dynamics.pipeline import run_report

            return run_report(self.recorder.run, n_val=self.n_val).diagnosis
        from dynamics.run import Run, RunMeta, canonical_metric_name, make_epoch_table

        table = make_epoch_table({e: {canonical_metric_name(k): v for k, v in r.items()} for e, r in self.rows.items()})
        declared = self.params.get("epochs") if self.params else None
        meta = RunMeta(source=getattr(self.model, "name", None) or "training", format="live", era="keras3",
                       n_val=self.n_val, epochs_declared=declared)
        return diagnose(Run(table, meta), n_val=self.n_val)

    def _show(self, d: Any) -> None:
        from IPython.display import HTML, display

        from dynamics.report.notebook import diagnosis_html

        html = HTML(diagnosis_html(d, max_findings=self.max_findings))
        if self._handle is None:
            self._handle = display(html, display_id=True)
        else:
            self._handle.update(html)
