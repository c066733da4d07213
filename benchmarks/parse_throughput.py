"""How fast ``dynamics parse`` reads a big ``verbose=1`` capture, next to ``grep -c loss``, and in how much memory.

Generates captures as ``model.fit(verbose=1)`` writes them to a file --
every progress update redrawn in place with ``\\b`` * width + ``\\r`` (and,
for Keras 3, ANSI colour codes around a ``━`` bar), or, for Keras 2.0.9+
writing to a non-TTY, one line per update -- 100 epochs, about 200 MB.
Then, on the same file, with the file in the page cache, it runs these as
fresh processes, interleaved, ``--repeat`` times each, and reports medians
and minima of the wall clock (and the CPU time):

* ``grep -c loss FILE`` -- the floor: one pass over the bytes;
* ``python -m dynamics parse FILE`` -- the whole command a user runs
  (start-up, imports, sniffing, parsing, building the table, printing it);
* a child that imports ``dynamics.sources.io`` and then times ``load_runs`` on the
  open file with ``perf_counter`` -- parsing alone -- and checks that the
  whole file was read (``tell()`` is its size) and that the table holds the
  100 epochs with the values written into the last row;
* ``python -c "import pandas"`` -- what every ``Run`` (a DataFrame) costs
  before the first byte is read.

Both ratios are printed: parsing alone / grep, and the whole command / grep.
Memory: the peak RSS of the parsing child and ``tracemalloc``'s peak of the
allocations made while parsing, for a 50 MB and a 200 MB capture, to show
that memory does not grow with the file.

Run: ``python benchmarks/parse_throughput.py`` (``--style keras2`` for the
Keras 2 bar, ``--style keras2-notty`` for one line per update -- the worst
case -- ``--mb 200`` for the size, ``--repeat 7``). Prints Markdown for
docs/performance.md#parser-throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, os, resource, sys, time, tracemalloc
trace = sys.argv[2] == "trace"
start = time.perf_counter()
from dynamics.sources.io import load_runs
imported = time.perf_counter()
if trace:
    tracemalloc.start()  # the parser's own allocations, not the imports'
with open(sys.argv[1], "rb") as stream:
    began = time.perf_counter()
    runs = load_runs(stream, name=sys.argv[1])
    done = time.perf_counter()
    read = stream.tell()
size = os.path.getsize(sys.argv[1])
assert read == size, f"read {read} of {size} bytes"
(run,) = runs
assert list(run.epochs.index) == list(range(1, 101)), run.epochs.index
last = run.epochs.loc[100]
assert (last["val_accuracy"], last["val_loss"], last["accuracy"], last["loss"]) == (0.8120, 0.4301, 0.8333, 0.3667), last
out = {"seconds": done - began, "import_seconds": imported - start, "rows": len(run.epochs), "bytes": read,
       "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
if trace:
    out["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
print(json.dumps(out))
"""


def _keras3_update(current: int, target: int, final: bool) -> str:
    digits = len(str(target))
    done = int(20 * current / target)
    bar = f"\x1b[1m{current:>{digits}}/{target}\x1b[0m "
    if done:
        bar += "\x1b[32m" + "━" * done + "\x1b[0m"
    bar += "\x1b[37m" + "━" * (20 - done) + "\x1b[0m"
    time_part = f" \x1b[1m{41 if final else 3}s\x1b[0m 52ms/step"
    metrics = f" - accuracy: {0.5 + current / target / 3:.4f} - loss: {0.7 - current / target / 3:.4f}"
    if final:
        metrics += " - val_accuracy: 0.8120 - val_loss: 0.4301"
    return bar + time_part + metrics


def _keras2_update(current: int, target: int, final: bool) -> str:
    digits = len(str(target))
    width = int(30 * current / target)
    bar = "[" + ("=" * (width - 1) + (">" if not final else "=") if width else "") + "." * (30 - width) + "]"
    head = f"{current:>{digits}}/{target} {bar}"
    time_part = " - 41s 52ms/step" if final else " - ETA: 3s"
    metrics = f" - loss: {0.7 - current / target / 3:.4f} - acc: {0.5 + current / target / 3:.4f}"
    if final:
        metrics += " - val_loss: 0.4301 - val_acc: 0.8120"
    return head + time_part + metrics


def write_capture(path: Path, megabytes: float, style: str, epochs: int = 100) -> int:
    """Write a capture of about ``megabytes`` MB; return its size in bytes."""
    update = _keras3_update if style == "keras3" else _keras2_update
    redraw = style != "keras2-notty"  # Keras 2.0.9+ without a TTY: "\n" instead of "\b...\r"
    per_update = len(update(1, 10_000, False).encode()) + (80 if redraw else 1)
    target = max(10, int(megabytes * 1e6 / epochs / per_update))
    with path.open("w", encoding="utf-8") as out:
        for epoch in range(1, epochs + 1):
            out.write(f"Epoch {epoch}/{epochs}\n")
            prev = 0
            parts = []
            for current in range(1, target + 1):
                line = update(current, target, False)
                parts.append("\b" * prev + "\r" + line if redraw else "\n" + line)
                prev = len(line)
                if len(parts) >= 4096:
                    out.write("".join(parts))
                    parts.clear()
            parts.append(("\b" * prev + "\r" if redraw else "\n") + update(target, target, True) + "\n")
            out.write("".join(parts))
    return path.stat().st_size


def _run(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system) and stdout of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--style", choices=["keras3", "keras2", "keras2-notty"], default="keras3")
    parser.add_argument("--mb", type=float, default=200.0)
    parser.add_argument("--small-mb", type=float, default=50.0)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    grep = shutil.which("grep")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp) / "big.txt", Path(tmp) / "small.txt"
        size = write_capture(big, args.mb, args.style)
        small_size = write_capture(small, args.small_mb, args.style)
        commands = {
            "grep": [grep or "grep", "-c", "loss", str(big)],
            "dynamics parse": [sys.executable, "-m", "dynamics", "parse", str(big)],
            "child": [sys.executable, "-c", CHILD, str(big), "plain"],
            "import pandas": [sys.executable, "-c", "import pandas"],
            "python": [sys.executable, "-c", "pass"],
        }
        for command in commands.values():  # the file and the modules into the page cache
            _run(command, env)
        wall: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        inner: list[dict] = []
        grep_out = ""
        for _ in range(args.repeat):
            for name, command in commands.items():
                w, c, out = _run(command, env)
                wall[name].append(w)
                cpu[name].append(c)
                if name == "child":
                    inner.append(json.loads(out))
                elif name == "grep":
                    grep_out = out
        memory = {name: json.loads(_run([sys.executable, "-c", CHILD, str(p), "trace"], env)[2]) for name, p in (("small", small), ("big", big))}
        plain_rss = {name: json.loads(_run([sys.executable, "-c", CHILD, str(p), "plain"], env)[2])["maxrss_mb"] for name, p in (("small", small), ("big", big))}
    mb = size / 1e6
    med, low = statistics.median, min
    parse_s = [t["seconds"] for t in inner]
    import_s = [t["import_seconds"] for t in inner]
    print(
        f"capture: {args.style} style, {mb:.0f} MB, 100 epochs, {int(grep_out or 0)} line(s) containing 'loss'; "
        f"{args.repeat} runs of each, interleaved; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print()
    print("| measure | wall median (s) | wall min (s) | CPU median (s) |")
    print("|---|---:|---:|---:|")
    print(f"| `grep -c loss FILE` (whole process) | {med(wall['grep']):.3f} | {low(wall['grep']):.3f} | {med(cpu['grep']):.3f} |")
    print(f"| parsing alone (`load_runs` on the open file, in-process timer) | {med(parse_s):.3f} | {low(parse_s):.3f} | |")
    print(f"| `python -m dynamics parse FILE` (whole process) | {med(wall['dynamics parse']):.3f} | {low(wall['dynamics parse']):.3f} | {med(cpu['dynamics parse']):.3f} |")
    print(f"| of which importing `dynamics.sources.io` (in the child) | {med(import_s):.3f} | {low(import_s):.3f} | |")
    print(f"| `python -c \"import pandas\"` | {med(wall['import pandas']):.3f} | {low(wall['import pandas']):.3f} | {med(cpu['import pandas']):.3f} |")
    print(f"| `python -c pass` | {med(wall['python']):.3f} | {low(wall['python']):.3f} | {med(cpu['python']):.3f} |")
    print()
    print(f"parse throughput: {mb / med(parse_s):.0f} MB/s (median), grep: {mb / med(wall['grep']):.0f} MB/s")
    print(f"ratio parsing alone / grep, medians: {med(parse_s) / med(wall['grep']):.1f}x (minima: {low(parse_s) / low(wall['grep']):.1f}x)")
    print(
        f"ratio whole command / grep, medians: {med(wall['dynamics parse']) / med(wall['grep']):.1f}x "
        f"(minima: {low(wall['dynamics parse']) / low(wall['grep']):.1f}x; CPU: {med(cpu['dynamics parse']) / med(cpu['grep']):.1f}x)"
    )
    print(
        f"peak RSS of the parsing child, {small_size / 1e6:.0f} MB vs {mb:.0f} MB capture: "
        f"{plain_rss['small']:.0f} MB vs {plain_rss['big']:.0f} MB"
    )
    print(
        f"peak Python allocations while parsing (tracemalloc), {small_size / 1e6:.0f} MB vs {mb:.0f} MB: "
        f"{memory['small']['traced_peak_mb']:.1f} MB vs {memory['big']['traced_peak_mb']:.1f} MB"
    )


if __name__ == "__main__":
    main()
