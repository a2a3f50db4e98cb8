"""Run many seeded crash scenarios and print a summary (the nox ``crash`` session).

    python tests-crash/run_crash.py --runs 200 --seed 1 [--sync intent|every] [--orders 12] [--crashes 2]

Exit status 1 when any scenario breaks an invariant (its seed is printed: re-run it with
``--seed <seed> --runs 1``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crashkit.harness import run_scenario


def main() -> int:
    parser = argparse.ArgumentParser(description="kill -9 the engine at random points; check the books")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1, help="first seed; run i uses seed + i")
    parser.add_argument("--orders", type=int, default=16)
    parser.add_argument("--crashes", type=int, default=2)
    parser.add_argument("--sync", default="intent", choices=["intent", "every"])
    args = parser.parse_args()
    failures = []
    points: Counter[str] = Counter()
    killed = orders = fills = 0
    started = time.perf_counter()
    for i in range(args.runs):
        result = run_scenario(args.seed + i, orders=args.orders, crashes=args.crashes, sync=args.sync)
        points.update(k.split(":")[0] for k in result.kills)
        killed += result.killed
        orders += result.orders_at_broker
        fills += result.fills_at_broker
        status = "ok" if result.ok else "FAIL"
        print(
            f"seed {result.seed:>6} {status:<4} kills={result.kills} killed={result.killed} "
            f"orders={result.orders_at_broker} fills={result.fills_at_broker} {result.seconds:.1f}s",
            flush=True,
        )
        for violation in result.violations:
            print(f"    {violation}", flush=True)
        if not result.ok:
            failures.append(result.seed)
    print(
        f"\n{args.runs} scenarios, {killed} kill -9s ({dict(points)}), {orders} broker orders, "
        f"{fills} broker fills, {len(failures)} failing seeds {failures}, {time.perf_counter() - started:.0f}s"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
