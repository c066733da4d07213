"""How fast the log parser reads a big ``verbose=1`` capture, and in how much memory.

Generates captures as ``model.fit(verbose=1)`` writes them to a file --
every progress update redrawn in place with ``\\b`` * width + ``\\r`` (and,
for Keras 3, ANSI colour codes around a ``━`` bar), 100 epochs, about 200 MB
-- then, in the same run and on the same file:

* times ``grep -c loss FILE`` (the floor: one pass over the bytes) and the
  parser (a fresh ``python`` process that imports dynamics and parses the
  file), best of ``--repeat`` runs each, and reports the ratio;
* measures the parser's peak memory (``ru_maxrss`` of its process and
  ``tracemalloc``'s peak of Python allocations) on a 50 MB and a 200 MB
  capture, to show that memory does not grow with the file.

Run: ``python benchmarks/parse_throughput.py`` (``--style keras2`` for the
Keras 2 bar, ``--style keras2-notty`` for Keras 2.0.9+ writing to a non-TTY,
one line per update -- the worst case, ``--mb 200`` for the size). Prints a Markdown table for the
README.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time, tracemalloc
trace = sys.argv[2] == "trace"
start = time.perf_counter()
from dynamics.parse import parse_file
imported = time.perf_counter()
if trace:
    tracemalloc.start()  # the parser's own allocations, not the imports'
runs = parse_file(sys.argv[1])
done = time.perf_counter()
out = {"seconds": done - imported, "import_seconds": imported - start, "rows": sum(len(r.epochs) for r in runs),
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
    per_update = len(update(1, 10_000, False).encode()) + 80
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


def _best(command: list[str], repeat: int) -> tuple[float, str]:
    best, output = float("inf"), ""
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": str(ROOT)})
        best = min(best, time.perf_counter() - start)
        output = done.stdout
    return best, output


def _child(path: Path, mode: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), mode],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--style", choices=["keras3", "keras2", "keras2-notty"], default="keras3")
    parser.add_argument("--mb", type=float, default=200.0)
    parser.add_argument("--small-mb", type=float, default=50.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    grep = shutil.which("grep")
    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp) / "big.txt", Path(tmp) / "small.txt"
        size = write_capture(big, args.mb, args.style)
        small_size = write_capture(small, args.small_mb, args.style)
        grep_s, grep_out = _best([grep, "-c", "loss", str(big)], args.repeat) if grep else (float("nan"), "")
        parse_s, _ = _best([sys.executable, "-c", CHILD, str(big), "plain"], args.repeat)
        timed = [_child(big, "plain") for _ in range(args.repeat)]
        assert all(t["rows"] == 100 for t in timed), timed
        inner_s = min(t["seconds"] for t in timed)
        import_s = min(t["import_seconds"] for t in timed)
        memory = {name: _child(p, "trace") for name, p in (("small", small), ("big", big))}
        plain_rss = {name: _child(p, "plain")["maxrss_mb"] for name, p in (("small", small), ("big", big))}
    mb = size / 1e6
    print(f"capture: {args.style} style, {mb:.0f} MB, 100 epochs, {int(grep_out or 0)} line(s) containing 'loss'")
    print()
    print("| measure | value |")
    print("|---|---|")
    print(f"| `grep -c loss` (best of {args.repeat}) | {grep_s:.2f} s ({mb / grep_s:.0f} MB/s) |")
    print(f"| parsing the file, in-process timer (best of {args.repeat}) | {inner_s:.2f} s ({mb / inner_s:.0f} MB/s) |")
    print(f"| **ratio parsing / grep** | **{inner_s / grep_s:.1f}x** |")
    print(f"| whole `python` process: start, imports ({import_s:.2f} s, mostly pandas), parse | {parse_s:.2f} s |")
    print(f"| ratio whole process / grep | {parse_s / grep_s:.1f}x |")
    print(
        f"| peak RSS, {small_size / 1e6:.0f} MB vs {mb:.0f} MB capture | "
        f"{plain_rss['small']:.0f} MB vs {plain_rss['big']:.0f} MB |"
    )
    print(
        f"| peak Python allocations while parsing (tracemalloc), {small_size / 1e6:.0f} MB vs {mb:.0f} MB | "
        f"{memory['small']['traced_peak_mb']:.1f} MB vs {memory['big']['traced_peak_mb']:.1f} MB |"
    )


if __name__ == "__main__":
    main()
