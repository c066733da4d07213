"""Startup time of ``dynamics analyze`` next to importing pandas and scipy.stats.

``dynamics analyze LOG`` has to import pandas and scipy.stats anyway (the
epoch table and the tests), so the floor for it is
``python -c "import pandas, scipy.stats"``. This script runs both (and a
bare interpreter, for scale) as fresh processes, interleaved, several times,
and reports the medians and the ratio. The aim is a ratio of at most 1.3.

Run it from the repository root::

    python benchmarks/analyze_startup.py [--repeat 9] [--log fixtures/seed/fluctuating-val-acc-lstm.txt]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _time(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9, help="runs of each command (interleaved)")
    parser.add_argument("--log", default="fixtures/seed/fluctuating-val-acc-lstm.txt")
    args = parser.parse_args()

    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        'python -c "import pandas, scipy.stats"': [sys.executable, "-c", "import pandas, scipy.stats"],
        f"python -m dynamics analyze {args.log}": [sys.executable, "-m", "dynamics", "analyze", args.log],
    }
    for cmd in commands.values():  # warm the file cache once
        _time(cmd, env)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.repeat):
        for name, cmd in commands.items():
            times[name].append(_time(cmd, env))
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    names = list(commands)
    baseline, analyze = medians[names[1]], medians[names[2]]
    print(f"{args.repeat} runs each, interleaved; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print()
    print("| command | median (s) | min (s) | max (s) |")
    print("|---|---:|---:|---:|")
    for name in names:
        ts = times[name]
        print(f"| `{name}` | {medians[name]:.3f} | {min(ts):.3f} | {max(ts):.3f} |")
    print()
    print(f"ratio analyze / (import pandas, scipy.stats) = {analyze / baseline:.2f} (aim <= 1.3)")


if __name__ == "__main__":
    main()
