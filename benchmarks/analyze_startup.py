"""Startup time of ``dynamics analyze`` next to importing pandas and scipy.stats.

``dynamics analyze LOG`` has to import pandas and scipy.stats anyway (the
epoch table and the tests), so the floor for it is
``python -c "import pandas, scipy.stats"``. This script runs both (and a
bare interpreter, for scale) as fresh processes, interleaved, several times,
and reports the medians and the ratio. The aim is a ratio of at most 1.3.
On a machine shared with other jobs wall-clock medians swing with the load;
the minima and the CPU time (user + system, from ``getrusage``) are steadier,
so all three ratios are printed.

Run it from the repository root::

    python benchmarks/analyze_startup.py [--repeat 9] [--log fixtures/seed/fluctuating-val-acc-lstm.txt]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _time(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock seconds and CPU seconds (user + system) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


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
    wall: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.repeat):
        for name, cmd in commands.items():
            w, c = _time(cmd, env)
            wall[name].append(w)
            cpu[name].append(c)
    names = list(commands)
    base, ana = names[1], names[2]
    print(f"{args.repeat} runs each, interleaved; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print()
    print("| command | wall median (s) | wall min (s) | CPU median (s) |")
    print("|---|---:|---:|---:|")
    for name in names:
        print(f"| `{name}` | {statistics.median(wall[name]):.3f} | {min(wall[name]):.3f} | "
              f"{statistics.median(cpu[name]):.3f} |")
    print()
    for label, data, pick in (("wall, medians", wall, statistics.median), ("wall, minima", wall, min),
                              ("CPU time, medians", cpu, statistics.median)):
        print(f"ratio analyze / (import pandas, scipy.stats), {label}: {pick(data[ana]) / pick(data[base]):.2f}")
    print("(aim: at most 1.3)")


if __name__ == "__main__":
    main()
