"""Hand the calibration fix to Keras: the kept epoch's temperature as a layer.

:func:`dynamics.stats.temperature.kept_temperature` fits one temperature
``T`` on the validation predictions of the epoch to keep. Dividing the
logits by ``T`` changes no predicted class (so accuracy stays) and removes
the miscalibration part of the validation loss. For a model that outputs
logits it is the one-liner ``keras.ops.softmax(logits / T)`` (a sigmoid:
``keras.ops.sigmoid(logits / T)``); :class:`TemperatureScaling` is the same
as a layer, and also takes the probabilities a softmax or sigmoid output
gives (their logarithm differs from the logits by a per-sample constant the
softmax ignores, clipped as Keras clips them). :func:`calibrated_model`
appends it to a trained model.

This module imports Keras (through :func:`dynamics.keras.env.import_keras`).
"""

from __future__ import annotations

from typing import Any

from dynamics.errors import ArgumentError
from dynamics.keras.env import import_keras
from dynamics.stats.probabilities import CLIP_HIGH, CLIP_LOW

keras = import_keras(respect_config=True)

INPUTS = ("logits", "probabilities")


@keras.saving.register_keras_serializable(package="dynamics")
class TemperatureScaling(keras.layers.Layer):
    """Divide logits by a fixed temperature (Guo et al. 2017); no trainable weights.

    Args:
        temperature: ``T > 0``; ``T > 1`` softens overconfident predictions.
        inputs: ``"logits"`` (returns the scaled logits) or
            ``"probabilities"`` (a sigmoid output of shape ``(n, 1)`` or a
            softmax output ``(n, k)``; returns the scaled probabilities).

    Example:

    ```python
    layer = TemperatureScaling(1.8, inputs="probabilities")
    calibrated = keras.Sequential([model, layer])
    ```
    """

    def __init__(self, temperature: float, *, inputs: str = "logits", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        try:
            t = float(temperature)
        except (TypeError, ValueError):
            t = float("nan")
        if not t > 0 or t == float("inf"):
            raise ArgumentError(f"temperature must be a positive number. Received: temperature={temperature!r}")
        if inputs not in INPUTS:
            raise ArgumentError(f"inputs must be one of {', '.join(INPUTS)}. Received: inputs={inputs!r}")
        self.temperature = t
        self.inputs = inputs

    def call(self, x):
        ops = keras.ops
        if self.inputs == "logits":
            return x / self.temperature
        p = ops.clip(x, CLIP_LOW, CLIP_HIGH)
        if x.shape[-1] == 1:  # sigmoid: P(class 1) -> its logit
            return ops.sigmoid((ops.log(p) - ops.log1p(-p)) / self.temperature)
        return ops.softmax(ops.log(p) / self.temperature, axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "temperature": self.temperature, "inputs": self.inputs}


def temperature_layer(run: Any, *, epoch: int | None = None, inputs: str = "logits") -> TemperatureScaling:
    """A :class:`TemperatureScaling` layer with the temperature fitted on ``run``'s kept epoch.

    ``epoch`` picks another recorded epoch (1-based); the default is the one
    with the lowest validation loss (what ``EarlyStopping(restore_best_weights=True)``
    keeps).
    """
    from dynamics.stats.temperature import kept_temperature

    kept = kept_temperature(run, epoch=epoch)
    return TemperatureScaling(kept.temperature, inputs=inputs, name=f"temperature_epoch_{kept.epoch}")


def calibrated_model(model: Any, run: Any, *, epoch: int | None = None, from_logits: bool = False) -> Any:
    """``model`` followed by the kept epoch's temperature: a new model whose outputs are calibrated.

    ``from_logits`` says whether ``model`` outputs logits (the result then
    outputs scaled logits too) or probabilities. ``model``'s weights should
    be those of the kept epoch (restored by EarlyStopping, or a checkpoint).
    """
    layer = temperature_layer(run, epoch=epoch, inputs="logits" if from_logits else "probabilities")
    return keras.Sequential([model, layer], name=f"{model.name}_calibrated")
