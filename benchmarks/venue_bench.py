"""What every venue submit-path benchmark shares: drive orders, take medians, print ratios.

Each venue's ``bench.py`` supplies contenders — ``name -> factory(base_url, concurrency)``
returning an async ``one()`` that places one order (and a ``close()``) — and this module
runs them interleaved against the same loopback stand-in, ``--repeats`` rounds with a
warm-up each time, and prints orders/s and client CPU µs per order with each contender's
ratio to the peer (CCXT, or the venue's own SDK).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["Contender", "Result", "drive", "import_time", "median_result", "run_and_report"]

One = Callable[[], Awaitable[object]]
Close = Callable[[], Awaitable[object]]
Contender = Callable[[str, str], Awaitable[tuple[One, Close]]]
"""``(base_url, kind) -> (one, close)``: a ready client whose ``one()`` places one order of ``kind``."""


@dataclass(frozen=True, slots=True)
class Result:
    """One measurement."""

    name: str
    kind: str
    concurrency: int
    orders: int
    orders_per_s: float
    cpu_us_per_order: float


async def drive(one: One, orders: int, concurrency: int) -> tuple[float, float]:
    """Place ``orders`` orders with ``concurrency`` in flight; wall and CPU seconds."""

    async def worker(count: int) -> None:
        for _ in range(count):
            await one()

    per_worker, extra = divmod(orders, concurrency)
    counts = [per_worker + (1 if i < extra else 0) for i in range(concurrency)]
    wall0, cpu0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(c) for c in counts))
    return time.perf_counter() - wall0, time.process_time() - cpu0


async def _measure(
    name: str, contender: Contender, base_url: str, kind: str, orders: int, concurrency: int
) -> Result:
    one, close = await contender(base_url, kind)
    try:
        await drive(one, min(300, orders), concurrency)  # warm-up: connections, caches
        wall, cpu = await drive(one, orders, concurrency)
    finally:
        await close()
    return Result(name, kind, concurrency, orders, orders / wall, cpu / orders * 1e6)


def median_result(results: list[Result]) -> Result:
    """The run with the median throughput (its CPU figure comes with it)."""
    ordered = sorted(results, key=lambda r: r.orders_per_s)
    return ordered[len(ordered) // 2]


def run_and_report(
    contenders: dict[str, Contender],
    peer: str,
    base_url: str,
    *,
    kinds: list[str],
    orders: int,
    repeats: int,
    title: str,
) -> dict[tuple[str, str, int], Result]:
    """Run every contender interleaved, print the table and the ratios to ``peer``."""
    runs: dict[tuple[str, str, int], list[Result]] = {}
    for _ in range(repeats):  # interleaved, so drift hits every contender alike
        for kind in kinds:
            for concurrency in (1, 16):
                for name, contender in contenders.items():
                    r = asyncio.run(_measure(name, contender, base_url, kind, orders, concurrency))
                    runs.setdefault((kind, name, concurrency), []).append(r)
    print(
        f"{title}; python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
        f"{orders} orders x {repeats} runs (median)"
    )
    print(f"{'order':7} {'client':34} {'in flight':>9} {'orders/s':>10} {'CPU µs/order':>13}")
    medians = {key: median_result(results) for key, results in runs.items()}
    for (kind, name, concurrency), r in sorted(
        medians.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1])
    ):
        print(f"{kind:7} {name:34} {concurrency:>9} {r.orders_per_s:>10.0f} {r.cpu_us_per_order:>13.0f}")
    for kind in kinds:
        for concurrency in (1, 16):
            theirs = medians[(kind, peer, concurrency)]
            for name in contenders:
                if name == peer:
                    continue
                ours = medians[(kind, name, concurrency)]
                print(
                    f"  {kind:6} {name:28} x{concurrency:<2}: "
                    f"{ours.orders_per_s / theirs.orders_per_s:.2f}x {peer} orders/s, "
                    f"{ours.cpu_us_per_order / theirs.cpu_us_per_order:.2f}x its CPU/order"
                )
    return medians


def import_time(statement: str, repeats: int = 7) -> float:
    """Median seconds to run an import ``statement`` (or import a module) in a fresh interpreter."""
    if not statement.startswith(("import ", "from ")):
        statement = f"import {statement}"
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    # One untimed run first: a fresh venv compiles bytecode on the first import.
    subprocess.run([sys.executable, "-c", statement], capture_output=True, check=True)
    samples = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        samples.append(float(out.stdout.strip()))
    return statistics.median(samples)
