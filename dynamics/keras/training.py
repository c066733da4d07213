"""Train Keras's classic IMDB LSTM and record every run with ``PredictionRecorder``.

The model is the one of Keras's ``examples/imdb_lstm.py``::

    Embedding(20000, 128) -> LSTM(128, dropout=0.2, recurrent_dropout=0.2)
    -> Dense(1, sigmoid); binary cross-entropy, adam, batch 32, 80 tokens

with the LSTM's output taken at the last step (``pooling="last"``, the
original), or averaged / maxed over every step (``"mean"``, ``"max"``:
``return_sequences=True``, padding masked out).

Keras is imported on the first call (JAX unless ``KERAS_BACKEND`` says
otherwise; see :mod:`dynamics.keras.env`).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dynamics.errors import ArgumentError

POOLINGS = ("last", "mean", "max")
VALIDATIONS = ("split", "test")
#: Epochs when ``--epochs`` is not given: the classic example's 15 for IMDB; 10
#: for the synthetic set, enough for its val_loss to climb (docs/training.md#the-synthetic-reviews).
DEFAULT_EPOCHS = {"imdb": 15, "synthetic": 10}


@dataclass
class TrainConfig:
    """Everything one ``dynamics train`` invocation needs (CLI options 1:1)."""

    dataset: str = "synthetic"
    data: str | None = None
    poolings: tuple[str, ...] = ("last",)
    epochs: int | None = None
    seed: int = 0
    seeds: int = 1
    validation: str = "test"
    label_noise: float = 0.0
    max_samples: int | None = None
    batch_size: int = 32
    verbose: int = 2
    float32: bool = False
    train_subset: int = 1000
    data_parallel: bool = False
    out: str = "runs"
    overwrite: bool = False
    # the model of imdb_lstm.py
    max_features: int = 20000
    maxlen: int = 80
    embedding_dim: int = 128
    units: int = 128
    dropout: float = 0.2
    recurrent_dropout: float = 0.2
    extra: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        """Raise :class:`ArgumentError` for an option outside its range."""
        from dynamics.keras.datasets import DATASETS

        if self.dataset not in DATASETS:
            raise ArgumentError(f"--dataset must be one of {', '.join(DATASETS)}. Received: dataset={self.dataset!r}")
        bad = [p for p in self.poolings if p not in POOLINGS]
        if bad or not self.poolings:
            raise ArgumentError(f"--pooling must be one of {', '.join(POOLINGS)}. Received: pooling={bad or None}")
        if self.validation not in VALIDATIONS:
            raise ArgumentError(f"--validation must be split or test. Received: validation={self.validation!r}")
        for name, low in (("epochs", 1), ("seeds", 1), ("batch_size", 1), ("max_samples", 2)):
            value = getattr(self, name)
            if value is not None and value < low:
                raise ArgumentError(f"--{name.replace('_', '-')} must be >= {low}. Received: {name}={value}")
        if self.train_subset < 0:
            raise ArgumentError(f"--train-subset must be >= 0. Received: train_subset={self.train_subset}")
        if not 0 <= self.label_noise <= 0.5:
            raise ArgumentError(f"--label-noise must be in [0, 0.5]. Received: label_noise={self.label_noise}")
        if self.verbose not in (0, 1, 2):
            raise ArgumentError(f"--verbose must be 0, 1 or 2. Received: verbose={self.verbose}")


@dataclass
class PreparedData:
    """Padded arrays ready for ``fit``, with where each sample came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    val_ids: np.ndarray
    val_flipped: np.ndarray
    train_flipped: np.ndarray
    vocabulary: list[str] | None
    info: dict[str, Any]


def prepare_data(config: TrainConfig, keras: Any) -> PreparedData:
    """Load, cap, add label noise, split and pad (``pad_sequences``, maxlen 80).

    ``--validation split`` holds out the last 10% of the training set, as
    ``validation_split=0.1`` does; ``test`` validates on the test set, as the
    classic example did. Label noise flips a fraction of the training *and*
    validation labels (a noisier dataset, like IMDB's mislabelled reviews);
    the flipped validation samples are listed in the run's ``meta.json``.
    """
    from dynamics.keras import datasets

    ds = datasets.load(config.dataset, data=config.data, max_samples=config.max_samples)
    x_train, y_train, x_test, y_test = ds.x_train, ds.y_train, ds.x_test, ds.y_test
    x_train = keras.utils.pad_sequences(x_train, maxlen=config.maxlen)
    x_test = keras.utils.pad_sequences(x_test, maxlen=config.maxlen)
    y_train, train_flipped = datasets.flip_labels(y_train, config.label_noise, seed=1)
    y_test, test_flipped = datasets.flip_labels(y_test, config.label_noise, seed=2)
    if config.validation == "split":
        n_val = max(1, len(y_train) // 10)
        cut = len(y_train) - n_val
        x_val, y_val, val_ids, val_flipped = x_train[cut:], y_train[cut:], np.arange(cut, len(y_train)), train_flipped[cut:]
        x_train, y_train, train_flipped = x_train[:cut], y_train[:cut], train_flipped[:cut]
    else:
        x_val, y_val, val_ids, val_flipped = x_test, y_test, np.arange(len(y_test)), test_flipped
    if len(y_train) < 2:
        raise ArgumentError(f"too few training samples ({len(y_train)}); raise --max-samples")
    info = {"dataset": ds.name, "dataset_info": ds.info, "validation": config.validation,
            "max_samples": config.max_samples, "label_noise": config.label_noise,
            "val_flipped_ids": val_ids[val_flipped].tolist()}
    return PreparedData(x_train, y_train.astype("float32"), x_val, y_val.astype("float32"), val_ids,
                        val_flipped, train_flipped, ds.vocabulary, info)


_LAYERS: dict[str, type] = {}


def _masked_max_layer(keras: Any) -> type:
    """``GlobalMaxPooling1D`` that ignores masked (padding) steps; Keras's own ignores the mask."""
    if "max" not in _LAYERS:

        @keras.saving.register_keras_serializable(package="dynamics")
        class MaskedGlobalMaxPooling1D(keras.layers.Layer):
            def __init__(self, **kwargs: Any) -> None:
                super().__init__(**kwargs)
                self.supports_masking = True

            def call(self, inputs: Any, mask: Any = None) -> Any:
                ops = keras.ops
                if mask is None:
                    return ops.max(inputs, axis=1)
                keep = ops.expand_dims(ops.cast(mask, "bool"), -1)
                pooled = ops.max(ops.where(keep, inputs, float("-inf")), axis=1)
                return ops.where(ops.any(keep, axis=1), pooled, ops.zeros_like(pooled))

            def compute_mask(self, inputs: Any, mask: Any = None) -> None:
                return None

            def compute_output_shape(self, input_shape: tuple) -> tuple:
                return (input_shape[0], input_shape[2])

        _LAYERS["max"] = MaskedGlobalMaxPooling1D
    return _LAYERS["max"]


def build_model(config: TrainConfig, pooling: str, keras: Any) -> Any:
    """The imdb_lstm.py model with the chosen pooling, compiled."""
    layers = keras.layers
    inputs = keras.Input(shape=(config.maxlen,), dtype="int32", name="tokens")
    lstm = dict(dropout=config.dropout, recurrent_dropout=config.recurrent_dropout)
    if pooling == "last":
        x = layers.Embedding(config.max_features, config.embedding_dim)(inputs)
        x = layers.LSTM(config.units, **lstm)(x)
    else:
        x = layers.Embedding(config.max_features, config.embedding_dim, mask_zero=True)(inputs)
        x = layers.LSTM(config.units, return_sequences=True, **lstm)(x)
        x = layers.GlobalAveragePooling1D()(x) if pooling == "mean" else _masked_max_layer(keras)()(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs, name=f"imdb_lstm_{pooling}")
    # jit_compile stays "auto": on JAX, False makes epochs 13-18x slower (docs/backends.md#why-jax-is-the-default)
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def _devices(keras: Any, config: TrainConfig) -> int:
    if not config.data_parallel:
        return 1
    if keras.backend.backend() != "jax":
        raise ArgumentError(f"--data-parallel needs the JAX backend. Received: KERAS_BACKEND={keras.backend.backend()}")
    devices = keras.distribution.list_devices()
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    if config.batch_size % len(devices):
        raise ArgumentError(
            f"--batch-size must divide evenly among the {len(devices)} devices. Received: batch_size={config.batch_size}"
        )
    return len(devices)


def run_name(config: TrainConfig, pooling: str, seed: int) -> str:
    return f"{config.dataset}-{pooling}-seed{seed}"


def train_one(config: TrainConfig, pooling: str, seed: int, data: PreparedData, keras: Any, n_devices: int = 1) -> Path:
    """Train one model and record it into ``<out>/<dataset>-<pooling>-seed<seed>``."""
    from dynamics.keras.callback import PredictionRecorder

    directory = Path(config.out) / run_name(config, pooling, seed)
    x_train, y_train = data.x_train, data.y_train
    dropped = (len(y_train) % config.batch_size) % n_devices
    if dropped:  # the last training batch must divide among the devices too
        x_train, y_train = x_train[:-dropped], y_train[:-dropped]
    keras.utils.set_random_seed(seed)
    model = build_model(config, pooling, keras)
    epochs = config.epochs or DEFAULT_EPOCHS[config.dataset]
    options = {k: v for k, v in asdict(config).items() if k not in ("extra", "poolings", "seeds", "out", "overwrite")}
    recorder = PredictionRecorder(
        (data.x_val, data.y_val),
        directory,
        train_data=(x_train, y_train) if config.train_subset else None,
        train_subset=min(config.train_subset, len(y_train)) if config.train_subset else None,
        sample_ids=data.val_ids,
        dtype="float32" if config.float32 else "float16",
        overwrite=config.overwrite,
        vocabulary=data.vocabulary,
        seed=0,  # the same recorded training samples for every seed, so runs compare
        metadata={
            **data.info, "seed": seed, "pooling": pooling, "n_train": int(len(y_train)),
            "classes": 2, "options": options, "training_samples_dropped": int(dropped),
            "command": " ".join(sys.argv) if sys.argv else None,
        },
    )
    try:
        model.fit(x_train, y_train, batch_size=config.batch_size, epochs=epochs,
                  verbose=config.verbose, callbacks=[recorder])
    finally:
        recorder.close()
    return directory


def train(config: TrainConfig, *, echo: Any = print) -> list[Path]:
    """Run every (pooling, seed) of ``config``; return the run directories."""
    config.check()
    for pooling in config.poolings:  # refuse before spending minutes on the first run
        for seed in range(config.seed, config.seed + config.seeds):
            directory = Path(config.out) / run_name(config, pooling, seed)
            if (directory / "meta.json").exists() and not config.overwrite:
                raise ArgumentError(f"{directory} already holds a recorded run; use --overwrite or another --out")
    from dynamics.keras.env import import_keras

    keras = import_keras()
    n_devices = _devices(keras, config)
    started = time.perf_counter()
    data = prepare_data(config, keras)
    echo(f"{data.info['dataset']}: {len(data.y_train)} training and {len(data.y_val)} validation samples "
         f"({config.validation}), backend {keras.backend.backend()}, {n_devices} device(s)")
    paths = []
    for pooling in config.poolings:
        for seed in range(config.seed, config.seed + config.seeds):
            echo(f"--- {run_name(config, pooling, seed)}")
            paths.append(train_one(config, pooling, seed, data, keras, n_devices))
            echo(summary_line(paths[-1]))
    echo(f"{len(paths)} run(s) in {time.perf_counter() - started:.0f} s")
    return paths


def summary_line(directory: Path) -> str:
    """One line: where val_loss bottomed out and where it and val_accuracy ended."""
    from dynamics.sources.rundir import read_run_dir

    run = read_run_dir(directory)
    table = run.epochs
    if not {"val_loss", "val_accuracy"} <= set(table.columns):
        return f"{directory}: {len(table)} epoch(s) recorded"
    vl, va = table["val_loss"], table["val_accuracy"]
    best = int(vl.idxmin())
    return (f"{directory}: {len(table)} epochs; val_loss lowest {vl.min():.4f} at epoch {best}, "
            f"last {vl.iloc[-1]:.4f} ({vl.iloc[-1] / vl.min():.2f}x); val_accuracy best {va.max():.4f} "
            f"at epoch {int(va.idxmax())}, last {va.iloc[-1]:.4f}")


def default_verbose() -> int:
    """1 (progress bar) on a terminal, 2 (one line per epoch) otherwise."""
    try:
        return 1 if os.isatty(sys.stdout.fileno()) else 2
    except (AttributeError, OSError, ValueError):
        return 2
