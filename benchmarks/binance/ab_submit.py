"""A/B of the Binance submit path: a base tree against this work tree, in one run.

Each round runs every case (limit / market order, 1 / 16 in flight) on both sides, in
alternating order (A B, then B A), each in a fresh interpreter whose ``PYTHONPATH`` puts
that side's ``autotrader-core/src`` and ``autotrader-binance/src`` first. Both sides run
the same measuring code (this tree's ``bench.py`` contender and ``venue_bench.drive``)
against the same stand-in process, so only the library differs. The figure compared is
client CPU µs per order (process time: on a shared machine wall time swings with the
neighbours' load, CPU time much less); medians over the rounds, with the load average.

Run it with the benchmark's venv (``python3 dev.py -- -f benchmarks/noxfile.py -s
bench-binance`` once; CCXT is not used here)::

    .nox/bench-binance/bin/python benchmarks/binance/ab_submit.py --base-commit a473d20 --rounds 7

The base side is a ``git worktree`` of ``--base-commit`` (made under ``--base`` if absent).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))
from standin_http import start  # noqa: E402

CHILD = """
import asyncio, json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import autotrader_binance, autotrader_core, bench
from venue_bench import drive

async def main(base_url, transport, kind, concurrency, orders):
    one, close = await bench.ours(transport, base_url, kind)
    try:
        await drive(one, bench.WARM_UP, concurrency)
        wall, cpu = await drive(one, orders, concurrency)
    finally:
        await close()
    return {"orders/s": orders / wall, "cpu us": cpu / orders * 1e6}

out = asyncio.run(main(sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]), int(sys.argv[7])))
out["core"], out["binance"] = autotrader_core.__file__, autotrader_binance.__file__
print(json.dumps(out))
"""

CASES = [(kind, concurrency) for kind in ("limit", "market") for concurrency in (1, 16)]


def ensure_base(path: Path, commit: str) -> None:
    """Make ``path`` a detached work tree of ``commit`` unless it exists."""
    if (path / "autotrader-core" / "src" / "autotrader_core").is_dir():
        return
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), commit], check=True)


def run_side(tree: Path, base_url: str, transport: str, kind: str, concurrency: int, orders: int) -> float:
    """CPU µs per order of ``tree``'s submit path in a fresh interpreter."""
    paths = [str(tree / "autotrader-core" / "src"), str(tree / "autotrader-binance" / "src")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    argv = [str(HERE), str(HERE.parent), base_url, transport, kind, str(concurrency), str(orders)]
    result = subprocess.run(
        [sys.executable, "-c", CHILD, *argv], env=env, capture_output=True, text=True, check=True
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    for package in ("core", "binance"):
        if not Path(figures[package]).resolve().is_relative_to(tree.resolve()):
            raise SystemExit(f"the {tree} side imported autotrader_{package} from {figures[package]}")
    return float(figures["cpu us"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--base", type=Path, default=Path("/tmp/ab-base"))
    parser.add_argument("--base-commit", default="a473d20", help="round 1 with the market-order bench")
    parser.add_argument("--this", type=Path, default=ROOT, help="the tree to compare (default: this one)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--orders", type=int, default=1500)
    parser.add_argument("--transport", default="lean")
    args = parser.parse_args()
    ensure_base(args.base, args.base_commit)
    sides = {"base": args.base, "this": args.this}
    samples: dict[tuple[str, str, int], list[float]] = {}
    loads = [os.getloadavg()[0]]
    proc, base_url = start(HERE / "standin.py")
    try:
        for round_no in range(args.rounds):
            order = ["base", "this"] if round_no % 2 == 0 else ["this", "base"]
            for kind, concurrency in CASES:
                for side in order:
                    cpu = run_side(sides[side], base_url, args.transport, kind, concurrency, args.orders)
                    samples.setdefault((side, kind, concurrency), []).append(cpu)
                    print(
                        f"round {round_no + 1} {side:<4} {kind:6} x{concurrency:<2} {cpu:6.1f} µs", flush=True
                    )
            loads.append(os.getloadavg()[0])
    finally:
        proc.terminate()
        proc.wait()
    print(
        f"\nCPU µs per order, {args.transport}, medians over {args.rounds} rounds ({args.base_commit} vs this "
        f"tree), {os.cpu_count()} CPUs, load average {min(loads):.1f}-{max(loads):.1f}:"
    )
    for kind, concurrency in CASES:
        base = statistics.median(samples[("base", kind, concurrency)])
        this = statistics.median(samples[("this", kind, concurrency)])
        change = (this - base) / base * 100
        print(f"  {kind:6} x{concurrency:<2}  base {base:6.1f}   this {this:6.1f}   {change:+5.1f}%")


if __name__ == "__main__":
    main()
