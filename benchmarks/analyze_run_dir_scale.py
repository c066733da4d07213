"""Scale of ``dynamics analyze RUN_DIR``: 1,000,000 samples x 100 epochs, the whole command.

``benchmarks/analyze_scale.py`` times the per-sample statistics alone. This
one writes a real run directory (``dynamics.sources.rundir.RunDirWriter``: a binary
model's predictions in the recorder's default storage -- float16 logits --
one file per epoch, the epoch table Keras would log) and times, each in a
fresh Python process so that peak memory is its own:

1. **plain pass**: one numpy pass summing every epoch's stored array in float64;
2. **dynamics analyze RUN_DIR --json --no-tables**: reading the run
   directory, the log-level diagnosis, the per-sample producer (``analyze``,
   ``explain``, McNemar on the flips, the float16 storage check, the exact
   mistake losses) and the JSON;
3. the same with the terminal report instead of JSON.

Aim: <= 60 s and <= 2 GB. Files are read from the page cache (just written).
``--storage`` picks what is written: ``log16`` (the default encoding,
float16 logits), ``proba32`` (``dtype="float32"``) or ``proba16`` (raw
float16 probabilities, as run format 1 stored them).

Usage::

    python benchmarks/analyze_run_dir_scale.py [--samples 1000000] [--epochs 100] [--storage log16]
        [--dir PATH] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_PLAIN = """
import json, resource, sys, time
from pathlib import Path
import numpy as np
t0 = time.perf_counter()
total = 0.0
for f in sorted(Path(sys.argv[1], "val").glob("epoch_*.npy")):
    total += float(np.load(f, mmap_mode="r").sum(dtype=np.float64))
print(json.dumps({"wall_s": time.perf_counter() - t0,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "check": total}))
"""

_CLI = """
import io, json, resource, sys, time
from contextlib import redirect_stdout
t0 = time.perf_counter()
from cli.main import app
buffer = io.StringIO()
with redirect_stdout(buffer):
    try:
        app(["analyze", sys.argv[1], *sys.argv[2:]])
    except SystemExit as exc:
        assert not exc.code, exc.code
wall = time.perf_counter() - t0
out = buffer.getvalue()
verdict = json.loads(out)["runs"][0]["verdict"]["text"] if "--json" in sys.argv else out.splitlines()[3]
print(json.dumps({"wall_s": wall, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "output_chars": len(out), "verdict": verdict}))
"""


def _child(code: str, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120"}
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, cwd=ROOT,
                         env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def write_run_dir(directory: Path, n: int, epochs: int, storage: str = "log16") -> None:
    """A recorded run directory of the ``overconfident`` simulation, Keras's numbers in epochs.csv."""
    import numpy as np

    from dynamics.simulate import epoch_arrays
    from dynamics.sources.rundir import META, RunDirWriter
    from dynamics.stats.probabilities import EpochView

    y, arrays = epoch_arrays("overconfident", n=n, epochs=epochs, seed=0, dtype=np.float32)
    writer = RunDirWriter(directory, dtype="float16" if storage == "log16" else "float32", overwrite=True)
    writer.start({"n_val": n, "classes": 2, "epochs": epochs}, val_labels=y)
    for epoch, p32 in enumerate(arrays, start=1):
        view = EpochView(p32, y, epoch=epoch)  # what Keras logs: the float32 outputs
        logs = {"loss": 0.5 / epoch, "val_loss": float(view.loss.mean()), "val_accuracy": float(view.correct.mean())}
        writer.write_epoch(epoch, logs, val_proba=p32)
        if storage == "proba16":  # run format 1: the probabilities themselves, as float16
            np.save(directory / "val" / f"epoch_{epoch:04d}.npy", p32.astype(np.float16))
    writer.finish()
    if storage == "proba16":
        meta = json.loads((directory / META).read_text())
        del meta["prediction_encoding"]
        meta.update(format_version=1, prediction_dtype="float16")
        (directory / META).write_text(json.dumps(meta))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--storage", choices=("log16", "proba32", "proba16"), default="log16",
                        help="float16 logits (the default), float32 or raw float16 probabilities (format 1)")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the run (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the files")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))

    tmp = None
    base = args.dir
    if base is None:
        tmp = tempfile.TemporaryDirectory(prefix="dynamics-rundir-scale-")
        base = Path(tmp.name)
    directory = base / "run"
    try:
        t0 = time.perf_counter()
        write_run_dir(directory, args.samples, args.epochs, args.storage)
        size = sum(f.stat().st_size for f in (directory / "val").glob("epoch_*.npy"))
        print(f"wrote {args.samples:,} samples x {args.epochs} epochs ({args.storage}, {size / 2**20:.0f} MiB) "
              f"in {time.perf_counter() - t0:.1f} s to {directory}")
        plain = _child(_PLAIN, str(directory))
        as_json = _child(_CLI, str(directory), "--json", "--no-tables")
        terminal = _child(_CLI, str(directory))
        print(f"plain numpy pass (sum every epoch):        {plain['wall_s']:7.2f} s   peak RSS {plain['peak_rss_mb']:6.0f} MB")
        for name, r in (("dynamics analyze RUN_DIR --json", as_json), ("dynamics analyze RUN_DIR (terminal)", terminal)):
            print(f"{name:<42} {r['wall_s']:7.2f} s   peak RSS {r['peak_rss_mb']:6.0f} MB   "
                  f"({r['wall_s'] / plain['wall_s']:.0f}x the plain pass)")
        ok = all(r["wall_s"] <= 60 and r["peak_rss_mb"] <= 2048 for r in (as_json, terminal))
        print(f"target <= 60 s and <= 2 GB: {'met' if ok else 'NOT met'}")
        print("verdict:", as_json["verdict"]["text"])
        print(json.dumps({"samples": args.samples, "epochs": args.epochs, "storage": args.storage, "plain": plain,
                          "json": as_json,
                          "terminal": terminal}))
    finally:
        if tmp is not None and not args.keep:
            tmp.cleanup()


if __name__ == "__main__":
    main()
