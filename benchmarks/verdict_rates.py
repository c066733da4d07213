"""How often the verdict recovers a planted pattern: simulated curves with known truth.

Draws ``--seeds`` runs of each story of :mod:`dynamics.simulate.curves`,
diagnoses each one as a printed log, and prints the share of runs given each
loss and accuracy pattern and each claim. The results are in
``docs/verdicts.md#on-simulated-curves``.

    python benchmarks/verdict_rates.py --seeds 200
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from dynamics.diagnose import diagnose
from dynamics.simulate.curves import STORIES, simulate_curve_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    args = parser.parse_args()
    start = time.perf_counter()
    print("| story | loss patterns | accuracy patterns | claims |")
    print("|---|---|---|---|")
    for story in STORIES:
        loss, acc, claims = Counter(), Counter(), Counter()
        for seed in range(args.seeds):
            v = diagnose(simulate_curve_run(story, seed=seed)).verdict
            loss[v.loss_pattern] += 1
            acc[v.accuracy_pattern] += 1
            claims.update(v.claims)

        def share(c: Counter) -> str:
            return ", ".join(f"{k} {100 * n / args.seeds:.1f}%" for k, n in c.most_common())

        print(f"| {story} | {share(loss)} | {share(acc)} | {share(claims) or 'none'} |")
    print(f"\n{args.seeds} seeds per story, {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
