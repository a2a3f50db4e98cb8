"""A/B of the engine benchmark: a base commit against this work tree, in one run.

Each round runs both sides once, in alternating order (A B, B A, ...), each in a fresh
subprocess whose ``PYTHONPATH`` puts that side's ``autotrader-core/src`` and
``autotrader-paper/src`` first; the figures are the medians over the rounds of each
run's best of ``--repeat``. Every figure is measured in process CPU time (on a shared
machine wall time swings by tens of percent with the neighbours' load; the kill switch's
CPU time leaves out the loopback waits, which neither side controls). Both sides
run the same measuring code (this tree's ``engine_benchmark.py``, which only uses the
public API both sides have), so only the engine differs.

Run it with the bench venv (``python3 dev.py -- -s bench`` once)::

    .nox/bench/bin/python benchmarks/ab_engine.py --base-commit a6e134f --rounds 3

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
ROOT = HERE.parent

CHILD = """
import anyio, gc, importlib.util, json, sys, time
from decimal import Decimal
import autotrader_core
from autotrader_core import DecisionAction, ExecutionDecision
from autotrader_core.engine import ExecutionEngine
from autotrader_core.settings import EngineSettings

spec = importlib.util.spec_from_file_location("engine_benchmark", sys.argv[1])
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
orders, repeat = int(sys.argv[2]), int(sys.argv[3])

async def end_to_end():
    engine = ExecutionEngine(bench.paper(), settings=EngineSettings(order_timeout=3600))
    decisions = [
        ExecutionDecision(DecisionAction.BUY if i % 2 == 0 else DecisionAction.SELL, "BTCUSDT", Decimal("0.001"))
        for i in range(orders)
    ]
    async with engine:
        for decision in decisions[:500]:
            await engine.execute(decision)
        best = float("inf")
        for _ in range(repeat):
            gc.collect()
            gc.disable()
            started = time.process_time()
            for decision in decisions:
                await engine.execute(decision)
            best = min(best, time.process_time() - started)
            gc.enable()
    return orders / best

out = {"core": autotrader_core.__file__}
out["orders/s"] = anyio.run(end_to_end)
from autotrader_core.events import OrderAccepted, OrderFilled
from autotrader_core.models import Fill, Order
from autotrader_core.oms import OrderManager
from autotrader_core.enums import OrderSide, OrderType

def fills_per_second():
    oms = OrderManager()
    events = []
    for i in range(1000):
        cid = f"c{i}"
        oms.add(Order(cid, "BTCUSDT", OrderSide.BUY, OrderType.LIMIT, Decimal(100), limit_price=bench.PRICE))
        oms.apply(OrderAccepted(cid, f"b{i}"))
        for j in range(100):
            fill = Fill(f"t{i}-{j}", cid, "BTCUSDT", OrderSide.BUY, Decimal(1), bench.PRICE, Decimal("0.05"), "USDT")
            events.append(OrderFilled(fill))
    gc.collect()
    started = time.process_time()
    for event in events:
        oms.apply(event)
    return len(events) / (time.process_time() - started)

async def kill_ms():
    engine = ExecutionEngine(bench.paper(), settings=EngineSettings(order_timeout=3600))
    async with engine:
        for _ in range(1000):
            await engine.submit_order("BTCUSDT", "buy", Decimal("0.001"), order_type="limit", limit_price="40000")
        started = time.process_time()
        report = await engine.kill("benchmark")
        elapsed = time.process_time() - started
    assert report.canceled == 1000 and report.clean, report
    return elapsed * 1000

out["fills/s"] = max(fills_per_second() for _ in range(repeat))
out["kill ms"] = min(anyio.run(kill_ms) for _ in range(repeat))
print(json.dumps(out))
"""

METRICS = (
    ("orders/s", "engine orders/s", True),
    ("fills/s", "OMS fills/s", True),
    ("kill ms", "kill switch, 1,000 orders (ms)", False),
)


def ensure_base(path: Path, commit: str) -> None:
    """Make ``path`` a detached work tree of ``commit`` unless it exists."""
    if (path / "autotrader-core" / "src" / "autotrader_core").is_dir():
        return
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), commit], check=True)


def run_side(tree: Path, orders: int, repeat: int) -> dict[str, float]:
    """One measurement of the engine in ``tree`` (a fresh interpreter)."""
    paths = [str(tree / "autotrader-core" / "src"), str(tree / "autotrader-paper" / "src")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(HERE / "engine_benchmark.py"), str(orders), str(repeat)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    core = Path(figures.pop("core")).resolve()
    if not core.is_relative_to(tree.resolve()):
        raise SystemExit(f"the {tree} side imported autotrader_core from {core}")
    return {k: float(v) for k, v in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--base", type=Path, default=Path("/tmp/ab-base-engine"))
    parser.add_argument("--base-commit", default="a6e134f")
    parser.add_argument("--this", type=Path, default=ROOT, help="the tree to compare (default: this one)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--orders", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N inside each run")
    args = parser.parse_args()
    ensure_base(args.base, args.base_commit)
    sides = {"base": args.base, "this": args.this}
    samples: dict[str, list[dict[str, float]]] = {"base": [], "this": []}
    for round_no in range(args.rounds):
        order = ["base", "this"] if round_no % 2 == 0 else ["this", "base"]
        for side in order:
            figures = run_side(sides[side], args.orders, args.repeat)
            samples[side].append(figures)
            cells = "  ".join(f"{k} {v:,.1f}" for k, v in figures.items())
            print(f"round {round_no + 1} {side:<4} {cells}", flush=True)
    print(f"\nmedians over {args.rounds} rounds ({args.base_commit} vs this tree):")
    for key, label, higher_is_better in METRICS:
        base = statistics.median(s[key] for s in samples["base"])
        this = statistics.median(s[key] for s in samples["this"])
        change = (this - base) / base * 100
        worse = -change if higher_is_better else change
        verdict = "worse" if worse > 0 else "better"
        print(f"  {label:<32} base {base:>12,.1f}   this {this:>12,.1f}   {abs(change):5.1f}% {verdict}")


if __name__ == "__main__":
    main()
