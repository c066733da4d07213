"""What recording every validation prediction costs, side by side in one run.

Arms, on the IMDB LSTM of ``imdb_lstm.py`` (``dynamics.keras.training.build_model``,
last pooling) trained on the synthetic reviews (IMDB's shape: 80 tokens,
20,000-word embedding):

* ``keras``      ``fit(validation_data=...)``: Keras validates (batch 32, the
  training batch size, as ``fit`` does by default);
* ``keras-256``  the same with ``validation_batch_size=256``;
* ``recorder``   ``fit(callbacks=[PredictionRecorder(...)])`` without
  ``validation_data``: the recorder predicts the validation set once (batch
  256), computes val_loss / val_accuracy from those predictions, puts them in
  the logs and writes the run directory (float16 predictions, fsync'd);
* ``keras-pyds``  ``fit(validation_data=ValBatches)``: the validation set as a
  ``keras.utils.PyDataset`` of batches of ``--pyds-batch`` (256);
* ``recorder-pyds``  the recorder given the same PyDataset (labels taken from
  its batches as they go by).

Repetitions are interleaved (the arms' order rotates every repetition), each
builds a fresh model with the same seed. The figure is the median wall time
of epochs 2.. (epoch 1 includes XLA compilation), measured from
``on_epoch_begin`` to the end of ``on_epoch_end`` of a timer placed after
the recorder. Run::

    python benchmarks/recorder_overhead.py [--reps 3] [--epochs 3] [--n-train 2000] [--n-val 2500] [--pyds-batch 256]
        [--arms keras,keras-256,recorder,keras-pyds,recorder-pyds]

The "validation pass" column is the time between ``on_test_begin`` and
``on_test_end`` (Keras) or the recorder's own pass; under JAX's asynchronous
dispatch Keras's evaluate first waits for the epoch's last training steps, so
compare the epoch times.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dynamics.keras.env import import_keras  # noqa: E402

keras = import_keras()

from dynamics.keras.callback import PredictionRecorder  # noqa: E402
from dynamics.keras.synthetic import SyntheticConfig, generate  # noqa: E402
from dynamics.keras.training import TrainConfig, build_model  # noqa: E402


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds, self.val_seconds = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_test_begin(self, logs=None):
        self._val_start = time.perf_counter()

    def on_test_end(self, logs=None):
        self.val_seconds.append(time.perf_counter() - self._val_start)

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


class ValBatches(keras.utils.PyDataset):
    """The validation arrays in batches, as a user's PyDataset would serve them."""

    def __init__(self, x, y, batch_size):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, i):
        rows = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self.x[rows], self.y[rows]


def run_arm(arm, data, epochs, workdir, pyds_batch=256):
    x, y, xv, yv = data
    keras.utils.set_random_seed(0)
    model = build_model(TrainConfig(), "last", keras)
    timer = EpochTimer()
    kwargs = {}
    recorder = None
    if arm == "keras":
        kwargs["validation_data"] = (xv, yv)
    elif arm == "keras-256":
        kwargs.update(validation_data=(xv, yv), validation_batch_size=256)
    elif arm == "keras-pyds":
        kwargs["validation_data"] = ValBatches(xv, yv, pyds_batch)
    else:
        validation = ValBatches(xv, yv, pyds_batch) if arm == "recorder-pyds" else (xv, yv)
        recorder = PredictionRecorder(validation, Path(tempfile.mkdtemp(dir=workdir)), capture_progress=False)
    history = model.fit(x, y, batch_size=32, epochs=epochs, verbose=0,
                        callbacks=([recorder] if recorder else []) + [timer], **kwargs)
    val_seconds = recorder.record_seconds if recorder else timer.val_seconds
    return timer.seconds, val_seconds, history.history["val_loss"][-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--n-val", type=int, default=2500)
    parser.add_argument("--pyds-batch", type=int, default=256)
    parser.add_argument("--arms", default="keras,keras-256,recorder,keras-pyds,recorder-pyds",
                        help="comma-separated arms to run (the first is the ratios' base)")
    args = parser.parse_args()
    x, y, xv, yv = generate(SyntheticConfig(n_train=args.n_train, n_test=args.n_val))
    data = (keras.utils.pad_sequences(x, maxlen=80), y.astype("float32"),
            keras.utils.pad_sequences(xv, maxlen=80), yv.astype("float32"))
    arms = args.arms.split(",")
    epoch_s = {a: [] for a in arms}
    val_s = {a: [] for a in arms}
    last_val_loss = {a: [] for a in arms}
    print(f"backend {keras.backend.backend()}, keras {keras.__version__}; {args.n_train} training, "
          f"{args.n_val} validation samples; {args.reps} reps x {args.epochs} epochs per arm", flush=True)
    with tempfile.TemporaryDirectory() as workdir:
        for rep in range(args.reps):
            order = arms[rep % len(arms):] + arms[: rep % len(arms)]
            for arm in order:
                seconds, vals, vl = run_arm(arm, data, args.epochs, workdir, args.pyds_batch)
                epoch_s[arm] += seconds[1:]
                val_s[arm] += vals[1:]
                last_val_loss[arm].append(vl)
                print(f"rep {rep + 1} {arm:13s} epochs {' '.join(f'{s:.2f}' for s in seconds)} s; "
                      f"validation {' '.join(f'{s:.2f}' for s in vals)} s", flush=True)
    base = statistics.median(epoch_s[arms[0]])
    print(f"\narm            median epoch (2..)   median validation pass   ratio to {arms[0]:6s} val_loss (last)")
    for arm in arms:
        med = statistics.median(epoch_s[arm])
        print(f"{arm:13s}  {med:8.2f} s            {statistics.median(val_s[arm]):8.3f} s"
              f"               {med / base:6.3f}           {statistics.median(last_val_loss[arm]):.4f}")
    for mine, theirs in (("recorder", "keras-256"), ("recorder-pyds", "keras-pyds")):
        if mine not in arms or theirs not in arms:
            continue
        ratio = statistics.median(epoch_s[mine]) / statistics.median(epoch_s[theirs])
        print(f"\n{mine} / {theirs} = {ratio:.3f}", end="")
    print()


if __name__ == "__main__":
    main()
