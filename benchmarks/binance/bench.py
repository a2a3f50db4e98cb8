"""Binance submit-path benchmark: autotrader-binance vs CCXT's async ``binance``, same stand-in.

Measures, side by side in one run, against the loopback stand-in (``standin.py``,
run in its own process so its CPU is not counted):

* our full submit path: build the ``Order``, OMS ``add``, ``submit_order`` (build the
  parameters, sign HMAC, rate-limit, send, parse the FULL reply into events), OMS
  ``apply`` of every event (for a market order: the acceptance and three fills, booked
  to the position);
* CCXT: ``create_order`` (sign, send, parse into its unified order, its fills into trades);

for two kinds of order: a LIMIT order that rests (the reply has no fills) and a MARKET
order whose FULL reply carries three fills (what a real taker order returns);

as orders/s and client CPU µs per order (``time.process_time`` of this process),
sequentially and with 16 orders in flight, for each REST transport of ours (``lean``,
the default; ``aiohttp``; ``httpx``). Also ``import`` times of both libraries.

Run: ``python bench.py [--orders N] [--repeats R]`` (in the benchmark's own venv: see
``noxfile.py``; CCXT is never a dependency of autotrader-binance).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"  # Binance's documented example
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


@dataclass(frozen=True, slots=True)
class Result:
    """One measurement."""

    name: str
    concurrency: int
    orders: int
    orders_per_s: float
    cpu_us_per_order: float


def start_standin() -> tuple[subprocess.Popen[str], str]:
    """Start the stand-in in its own process; return it and its base URL."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "standin.py"), "0"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    if not line or line[0] != "READY":
        proc.kill()
        raise RuntimeError("stand-in did not start")
    return proc, f"http://127.0.0.1:{line[1]}"


async def _drive(one: Callable[[], Awaitable[Any]], orders: int, concurrency: int) -> tuple[float, float]:
    async def worker(count: int) -> None:
        for _ in range(count):
            await one()

    per_worker, extra = divmod(orders, concurrency)
    counts = [per_worker + (1 if i < extra else 0) for i in range(concurrency)]
    wall0, cpu0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(c) for c in counts))
    return time.perf_counter() - wall0, time.process_time() - cpu0


KINDS = ("limit", "market")


async def bench_ours(base_url: str, transport: str, orders: int, concurrency: int, kind: str = "limit") -> Result:
    """Our adapter's full submit path, OMS update included."""
    from autotrader_binance import BinanceAdapter, BinanceSettings
    from autotrader_core.enums import OrderSide, OrderType
    from autotrader_core.ids import ClientOrderIdGenerator
    from autotrader_core.models import Order
    from autotrader_core.oms import OrderManager
    from pydantic import SecretStr

    settings = BinanceSettings(
        _env_file=None,  # type: ignore[call-arg]
        api_key=SecretStr(API_KEY),
        api_secret=SecretStr(SECRET),
        base_url=base_url,
        http_transport=transport,  # type: ignore[arg-type]
    )
    adapter = BinanceAdapter(settings)
    await adapter.connect()
    oms = OrderManager()
    ids = ClientOrderIdGenerator()
    quantity, price = Decimal("0.00300"), Decimal("20000.00")
    market = kind == "market"

    async def one() -> None:
        if market:
            order = Order(ids.next_id(), "BTCUSDT", OrderSide.BUY, OrderType.MARKET, quantity)
        else:
            order = Order(ids.next_id(), "BTCUSDT", OrderSide.BUY, OrderType.LIMIT, quantity, limit_price=price)
        oms.add(order)
        for event in await adapter.submit_order(order):
            oms.apply(event)

    await _drive(one, min(300, orders), concurrency)  # warm-up: connections, caches
    wall, cpu = await _drive(one, orders, concurrency)
    await adapter.disconnect()
    if market:  # every fill was booked: the position is the sum of every order's quantity
        expected = quantity * (orders + min(300, orders))
        assert oms.position("BTCUSDT").quantity == expected, oms.position("BTCUSDT")
    return Result(f"autotrader ({transport})", concurrency, orders, orders / wall, cpu / orders * 1e6)


async def bench_ccxt(base_url: str, orders: int, concurrency: int, kind: str = "limit") -> Result:
    """CCXT async binance ``create_order`` against the same stand-in."""
    import ccxt.async_support as ccxt  # type: ignore[import-untyped]
    from autotrader_core.ids import ClientOrderIdGenerator

    exchange = ccxt.binance(
        {
            "apiKey": API_KEY,
            "secret": SECRET,
            "enableRateLimit": False,  # the stand-in's limits are huge; ours are not throttling either
            "options": {
                "fetchMarkets": ["spot"],
                "fetchMargins": False,
                "fetchCurrencies": False,
                "adjustForTimeDifference": False,
            },
        }
    )
    for key in ("public", "private", "v3"):
        if key in exchange.urls["api"]:
            exchange.urls["api"][key] = f"{base_url}/api/v3"
    await exchange.load_markets()
    ids = ClientOrderIdGenerator()

    market = kind == "market"

    async def one() -> None:
        if market:
            placed = await exchange.create_order(
                "BTC/USDT", "market", "buy", 0.003, None, {"newClientOrderId": ids.next_id()}
            )
            assert len(placed["trades"]) == 3  # CCXT parsed the fills too: the same work as ours
        else:
            await exchange.create_order(
                "BTC/USDT", "limit", "buy", 0.003, 20000, {"newClientOrderId": ids.next_id()}
            )

    await _drive(one, min(300, orders), concurrency)
    wall, cpu = await _drive(one, orders, concurrency)
    await exchange.close()
    return Result("ccxt async binance", concurrency, orders, orders / wall, cpu / orders * 1e6)


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


def median_result(results: list[Result]) -> Result:
    """The run with the median throughput (its CPU figure comes with it)."""
    ordered = sorted(results, key=lambda r: r.orders_per_s)
    return ordered[len(ordered) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--transports", default="lean,aiohttp,httpx")
    parser.add_argument("--kinds", default=",".join(KINDS), help="order kinds: limit (rests), market (FULL reply with fills)")
    parser.add_argument("--imports-only", action="store_true", help="only the import-time figures")
    args = parser.parse_args()
    if args.imports_only:
        report_imports()
        return

    kinds = args.kinds.split(",")
    transports = args.transports.split(",")
    proc, base_url = start_standin()
    try:
        runs: dict[tuple[str, str, int], list[Result]] = {}
        for _ in range(args.repeats):  # interleaved, so drift hits every contender alike
            for kind in kinds:
                for concurrency in (1, 16):
                    for transport in transports:
                        r = asyncio.run(bench_ours(base_url, transport, args.orders, concurrency, kind))
                        runs.setdefault((kind, r.name, concurrency), []).append(r)
                    r = asyncio.run(bench_ccxt(base_url, args.orders, concurrency, kind))
                    runs.setdefault((kind, r.name, concurrency), []).append(r)
    finally:
        proc.terminate()
        proc.wait()

    import ccxt

    print(
        f"python {sys.version.split()[0]}, ccxt {ccxt.__version__}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
        f"{args.orders} orders x {args.repeats} runs (median)"
    )
    print(f"{'order':7} {'client':34} {'in flight':>9} {'orders/s':>10} {'CPU µs/order':>13}")
    medians = {key: median_result(results) for key, results in runs.items()}
    for (kind, name, concurrency), r in sorted(medians.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1])):
        print(f"{kind:7} {name:34} {concurrency:>9} {r.orders_per_s:>10.0f} {r.cpu_us_per_order:>13.0f}")
    for kind in kinds:
        for concurrency in (1, 16):
            ccxt_r = medians[(kind, "ccxt async binance", concurrency)]
            for transport in transports:
                ours = medians[(kind, f"autotrader ({transport})", concurrency)]
                print(
                    f"  {kind:6} {transport:8} x{concurrency:<2}: "
                    f"{ours.orders_per_s / ccxt_r.orders_per_s:.2f}x CCXT orders/s, "
                    f"{ours.cpu_us_per_order / ccxt_r.cpu_us_per_order:.2f}x CCXT CPU/order"
                )
    report_imports()


# What each line costs, timed in a fresh interpreter against CCXT's own line.
IMPORTS = {
    "import autotrader_binance": "import ccxt.async_support",
    "from autotrader_binance import BinanceAdapter, BinanceSettings": "import ccxt.async_support",
    # A client ready to send (keys set, nothing sent): what a script pays before its first order.
    (
        "from autotrader_binance import BinanceAdapter, BinanceSettings; from pydantic import SecretStr; "
        "BinanceAdapter(BinanceSettings(api_key=SecretStr('k' * 64), api_secret=SecretStr('s' * 64)))"
    ): "import ccxt.async_support as ccxt; ccxt.binance({'apiKey': 'k' * 64, 'secret': 's' * 64})",
    # The floor under the two lines above: the chosen settings library on its own.
    "from pydantic_settings import BaseSettings": "import ccxt.async_support",
}


def report_imports() -> None:
    """Print each statement's median time in a fresh interpreter and its ratio to CCXT's."""
    cache: dict[str, float] = {}
    for ours, theirs in IMPORTS.items():
        if theirs not in cache:
            cache[theirs] = import_time(theirs)
        mine = import_time(ours)
        print(
            f"{ours}\n    {mine * 1000:.0f} ms vs {theirs}: {cache[theirs] * 1000:.0f} ms, ratio {mine / cache[theirs]:.2f}"
        )


if __name__ == "__main__":
    main()
