"""Run many seeded crash scenarios and print a summary (the nox ``crash-many`` session).

    python tests-crash/run_crash.py --runs 200 --seed 1 [--sync intent|every] [--orders 12] [--crashes 2]
    python tests-crash/run_crash.py --runs 300 --seed 1 --kills both --guarantee mixed

``--kills classic`` kills at code points and timers; ``held`` kills while the broker holds
a request in flight (``held.before_land``, ``held.reply_lost``: see ``crashkit.harness.parse_kill``);
``both`` alternates them. Held runs use the broker's re-send guarantee given by
``--guarantee`` (``mixed``: a seeded one of expiry, idempotency_key and none per run);
classic runs use the default expiry.

Exit status 1 when any scenario breaks an invariant (its seed is printed: re-run it with
``--seed <seed> --runs 1`` and the same ``--kills``/``--guarantee``).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crashkit.harness import kill_mode, run_scenario

GUARANTEES = ("expiry", "idempotency_key", "none")


def main() -> int:
    parser = argparse.ArgumentParser(description="kill -9 the engine at random points; check the books")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1, help="first seed; run i uses seed + i")
    parser.add_argument("--orders", type=int, default=16)
    parser.add_argument("--crashes", type=int, default=2)
    parser.add_argument("--sync", default="intent", choices=["intent", "every"])
    parser.add_argument("--kills", default="classic", choices=["classic", "held", "both"])
    parser.add_argument(
        "--guarantee",
        default="mixed",
        help="held runs: expiry[:seconds], idempotency_key, same_id, none, mixed",
    )
    args = parser.parse_args()
    failures = []
    points: Counter[str] = Counter()
    modes: Counter[str] = Counter()
    failing_modes: Counter[str] = Counter()
    killed = orders = fills = 0
    started = time.perf_counter()
    for i in range(args.runs):
        seed = args.seed + i
        held = args.kills == "held" or (args.kills == "both" and seed % 2 == 1)
        guarantee = "expiry"
        if held:
            guarantee = (
                random.Random(f"guarantee:{seed}").choice(GUARANTEES)
                if args.guarantee == "mixed"
                else args.guarantee
            )
        result = run_scenario(
            seed, orders=args.orders, crashes=args.crashes, sync=args.sync, held=held, guarantee=guarantee
        )
        points.update(k.split(":")[0] for k in result.kills)
        run_modes = {f"{kill_mode(k)} [{result.guarantee.partition(':')[0]}]" for k in result.kills}
        modes.update(run_modes)
        killed += result.killed
        orders += result.orders_at_broker
        fills += result.fills_at_broker
        status = "ok" if result.ok else "FAIL"
        print(
            f"seed {result.seed:>6} {status:<4} kills={result.kills} guarantee={result.guarantee} "
            f"killed={result.killed} orders={result.orders_at_broker} fills={result.fills_at_broker} "
            f"{result.seconds:.1f}s",
            flush=True,
        )
        for held_request in result.holds:
            print(f"    held: {held_request}", flush=True)
        for violation in result.violations:
            print(f"    {violation}", flush=True)
        if not result.ok:
            failures.append(result.seed)
            failing_modes.update(run_modes)
    print(
        f"\n{args.runs} scenarios, {killed} kill -9s ({dict(points)}), {orders} broker orders, "
        f"{fills} broker fills, {len(failures)} failing seeds {failures}, {time.perf_counter() - started:.0f}s"
    )
    print("mismatches per mode (failing runs / runs that used the mode):")
    for mode in sorted(modes):
        print(f"    {mode:<45} {failing_modes[mode]:>4} / {modes[mode]}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
