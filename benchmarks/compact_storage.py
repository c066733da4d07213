"""Compact storage for many classes: 50,000 samples x 1,000 classes x 100 epochs.

Writes a run directory through :class:`dynamics.sources.rundir.RunDirWriter` with
``top_k`` (compact storage, :mod:`dynamics.sources.rundir.compact`) from synthetic
softmax outputs -- numpy only, no training: each sample's true class sits
``h(t) * (r(t) * mu_i + noise)`` above the largest of 999 fixed random
logits (scaled by ``r``); ``r`` ramps up until epoch 20, then ``h`` sharpens
the margins (overconfident mistakes: val_loss rises while accuracy holds). Then it times, each in a fresh Python process:

1. ``dynamics analyze RUN_DIR --json --no-tables`` (read, diagnose, explain, JSON);
2. the same with the terminal report.

Aims: the epoch files <= 100 MB, each analysis <= 60 s (on 2 cores). For
scale, it prints what the default storage (float16 log-probabilities, 2 bytes
a class) would take.

Usage::

    python benchmarks/compact_storage.py [--samples 50000] [--classes 1000] [--epochs 100] [--top-k 3]
        [--dir PATH] [--keep]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.analyze_run_dir_scale import _CLI, _child  # noqa: E402


def epochs_of(n: int, k: int, epochs: int, seed: int = 0):
    """Labels and a generator of float32 softmax outputs ``(n, k)``, one epoch at a time."""
    import numpy as np

    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    mu = rng.normal(4.0, 4.0, n)  # about 84% right; the wrong ones get ever more confidently wrong
    others = rng.normal(0.0, 1.0, (n, k)).astype(np.float32)
    others[np.arange(n), y] = -np.inf  # the true class's own logit is set each epoch
    top_other = others.max(axis=1)
    turn = max(2, epochs // 5)

    def generate():
        for t in range(1, epochs + 1):
            ramp, late = min(1.0, t / turn), max(0.0, (t - turn) / max(1, epochs - turn))
            h = np.float32(1.0 + 3.0 * late)
            z = h * (ramp * mu + 0.15 * rng.standard_normal(n))
            logits = others * np.float32(ramp)
            logits[np.arange(n), y] = (ramp * top_other + z).astype(np.float32)
            logits -= logits.max(axis=1, keepdims=True)
            np.exp(logits, out=logits)
            logits /= logits.sum(axis=1, keepdims=True)
            yield logits

    return y, generate()


def write(directory: Path, n: int, k: int, epochs: int, top_k: int) -> float:
    """Write the run; returns the seconds ``write_epoch`` took (encoding and writing; generation excluded)."""
    import numpy as np

    from dynamics.sources.rundir import RunDirWriter

    y, arrays = epochs_of(n, k, epochs)
    rows = np.arange(n)
    low, high = float(np.float32(1e-7)), float(np.float32(1) - np.float32(1e-7))
    writer = RunDirWriter(directory, top_k=top_k, overwrite=True)
    writer.start({"n_val": n, "classes": k, "epochs": epochs}, val_labels=y)
    spent = 0.0
    for epoch, proba in enumerate(arrays, start=1):
        # the epoch table Keras would log: its cross-entropy and accuracy of these outputs
        val_loss = float(-np.log(np.clip(proba[rows, y].astype(np.float64), low, high)).mean())
        logs = {"loss": 0.5 / epoch, "val_loss": val_loss, "val_accuracy": float((proba.argmax(axis=1) == y).mean())}
        t0 = time.perf_counter()
        writer.write_epoch(epoch, logs, val_proba=proba)
        spent += time.perf_counter() - t0
    writer.finish()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50_000)
    parser.add_argument("--classes", type=int, default=1_000)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="where to write the run (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the files")
    args = parser.parse_args()

    tmp = None
    base = args.dir
    if base is None:
        tmp = tempfile.TemporaryDirectory(prefix="dynamics-compact-")
        base = Path(tmp.name)
    directory = base / "run"
    try:
        t0 = time.perf_counter()
        encode_s = write(directory, args.samples, args.classes, args.epochs, args.top_k)
        files = list((directory / "val").glob("epoch_*.npy"))
        size = sum(f.stat().st_size for f in files)
        total = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
        full = args.samples * args.classes * 2 * args.epochs
        print(f"wrote {args.samples:,} samples x {args.classes:,} classes x {args.epochs} epochs, top {args.top_k}, "
              f"in {time.perf_counter() - t0:.0f} s ({encode_s:.0f} s of it encoding and writing)")
        print(f"epoch files: {size / 1e6:.1f} MB ({size / args.samples / args.epochs:.1f} bytes a sample-epoch); "
              f"run directory {total / 1e6:.1f} MB; default float16 storage would take {full / 1e9:.1f} GB")
        as_json = _child(_CLI, str(directory), "--json", "--no-tables")
        terminal = _child(_CLI, str(directory))
        for name, r in (("dynamics analyze RUN_DIR --json", as_json), ("dynamics analyze RUN_DIR (terminal)", terminal)):
            print(f"{name:<38} {r['wall_s']:7.2f} s   peak RSS {r['peak_rss_mb']:6.0f} MB")
        ok = total <= 100e6 and all(r["wall_s"] <= 60 for r in (as_json, terminal))
        print(f"aim <= 100 MB and <= 60 s: {'met' if ok else 'NOT met'}")
        print("verdict:", as_json["verdict"])
        print(json.dumps({"samples": args.samples, "classes": args.classes, "epochs": args.epochs,
                          "top_k": args.top_k, "epoch_files_bytes": size, "run_dir_bytes": total,
                          "encode_write_s": encode_s, "json": as_json, "terminal": terminal}))
    finally:
        if tmp is not None and not args.keep:
            tmp.cleanup()


if __name__ == "__main__":
    main()
