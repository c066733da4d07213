"""Scale: the full per-sample analysis of 1,000,000 samples x 100 epochs.

Creates a binary float16 prediction set on disk -- one ``.npy`` file per
epoch, memory-mapped when read, like a recorded run directory -- then, each in
a fresh Python process so that peak memory is its own:

1. **plain pass**: one numpy pass over the same data, summing every epoch's
   array in float64 (the floor: reading and converting the bytes once);
2. **analysis**: ``dynamics.diagnosis.samples.stories.analyze`` (every per-epoch and per-sample
   statistic, streaming), ``explain`` (the findings) and the per-sample
   DataFrame.

It prints wall time and peak resident memory (``ru_maxrss``) of each, and
their ratio. Aim: analysis <= 60 s and <= 2 GB. The files are read from the
page cache (just written), as after any recent run.

Usage::

    python benchmarks/analyze_scale.py [--samples 1000000] [--epochs 100] [--dir PATH] [--keep]
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
import numpy as np
from dynamics.simulate import load_npy
t0 = time.perf_counter()
preds = load_npy(sys.argv[1])
total = 0.0
for epoch, proba in preds:
    total += float(np.asarray(proba).sum(dtype=np.float64))
wall = time.perf_counter() - t0
print(json.dumps({"wall_s": wall, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "check": total}))
"""

_ANALYSIS = """
import json, resource, sys, time
import numpy as np
from dynamics.diagnosis.samples.stories import analyze, explain
from dynamics.run import Run, RunMeta, make_epoch_table
from dynamics.simulate import load_npy
rss_imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
preds = load_npy(sys.argv[1])
run = Run(make_epoch_table({int(e): {} for e in preds.epochs}), RunMeta(source="scale", format="recorded"),
          predictions=preds)
analysis = analyze(run)
t_analysis = time.perf_counter() - t0
findings = explain(run, analysis=analysis)
samples = analysis.val.samples
wall = time.perf_counter() - t0
print(json.dumps({"wall_s": wall, "analysis_s": t_analysis, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rss_after_imports_mb": rss_imports, "findings": len(findings), "samples_rows": len(samples),
                  "summary": findings[0].claim}))
"""


def _child(code: str, directory: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code, str(directory)], capture_output=True, text=True, check=True, cwd=ROOT, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--dir", type=Path, default=None, help="where to write the epochs (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the files")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    import numpy as np

    from dynamics.simulate import epoch_arrays, save_npy

    tmp = None
    directory = args.dir
    if directory is None:
        tmp = tempfile.TemporaryDirectory(prefix="dynamics-scale-")
        directory = Path(tmp.name)
    try:
        t0 = time.perf_counter()
        y, arrays = epoch_arrays("overconfident", n=args.samples, epochs=args.epochs, seed=0, dtype=np.float16)
        save_npy(y, arrays, directory)
        size = sum(f.stat().st_size for f in directory.glob("proba_*.npy"))
        print(f"wrote {args.samples:,} samples x {args.epochs} epochs (float16, {size / 2**20:.0f} MiB) "
              f"in {time.perf_counter() - t0:.1f} s to {directory}")
        plain = _child(_PLAIN, directory)
        analysis = _child(_ANALYSIS, directory)
        print(f"plain numpy pass (sum every epoch):  {plain['wall_s']:7.2f} s   peak RSS {plain['peak_rss_mb']:7.0f} MB")
        print(f"full per-sample analysis + explain:  {analysis['wall_s']:7.2f} s   peak RSS {analysis['peak_rss_mb']:7.0f} MB"
              f"   (streaming statistics {analysis['analysis_s']:.2f} s; RSS after imports {analysis['rss_after_imports_mb']:.0f} MB)")
        print(f"ratio analysis / plain pass: {analysis['wall_s'] / plain['wall_s']:.0f}x")
        ok = analysis["wall_s"] <= 60 and analysis["peak_rss_mb"] <= 2048
        print(f"target <= 60 s and <= 2 GB: {'met' if ok else 'NOT met'}")
        print("summary finding:", analysis["summary"])
        print(json.dumps({"samples": args.samples, "epochs": args.epochs, "plain": plain, "analysis": analysis}))
    finally:
        if tmp is not None and not args.keep:
            tmp.cleanup()


if __name__ == "__main__":
    main()
