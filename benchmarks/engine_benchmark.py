"""In-process engine benchmark: decision → risk → OMS → paper → fill → position.

Prints figures; it is not a pass/fail test. Run it with ``nox -s bench`` (or
``python benchmarks/engine_benchmark.py`` with autotrader-core and autotrader-paper
installed). Targets on a 2-core machine: ≥ 20,000 orders/s end to end,
≥ 50,000 fills/s into the OMS, kill switch with 1,000 open paper orders < 1 s.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import time
from decimal import Decimal

import anyio
from autotrader_core import DecisionAction, ExecutionDecision, OrderSide, OrderType
from autotrader_core.engine import ExecutionEngine
from autotrader_core.events import OrderAccepted, OrderFilled
from autotrader_core.models import Fill, Order
from autotrader_core.oms import OrderManager
from autotrader_core.settings import EngineSettings
from autotrader_paper import PaperAdapter, PaperSettings

PRICE = Decimal("50000")


def paper() -> PaperAdapter:
    """A paper broker with a static price, deep pockets and no background price moves."""
    return PaperAdapter(
        PaperSettings(
            quote_source="static",
            static_price=PRICE,
            initial_balances={"USDT": Decimal("1e12"), "BTC": Decimal("1e6")},
            slippage_bps=Decimal(0),
            tick_interval=3600.0,
        )
    )


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct))]


async def end_to_end(orders: int) -> dict[str, float]:
    """Strategy decisions executed one after another through the whole engine."""
    engine = ExecutionEngine(paper(), settings=EngineSettings(order_timeout=3600))
    decisions = [
        ExecutionDecision(
            DecisionAction.BUY if i % 2 == 0 else DecisionAction.SELL, "BTCUSDT", Decimal("0.001")
        )
        for i in range(orders)
    ]
    timings: list[float] = []
    async with engine:
        for decision in decisions[:500]:  # warm-up
            await engine.execute(decision)
        gc.collect()
        gc.disable()
        started = time.perf_counter()
        for decision in decisions:
            t0 = time.perf_counter_ns()
            await engine.execute(decision)
            timings.append((time.perf_counter_ns() - t0) / 1000)
        elapsed = time.perf_counter() - started
        gc.enable()
        filled = engine.oms.metrics.orders_filled
    assert filled == orders + 500, f"only {filled} orders filled"
    return {
        "orders/s": orders / elapsed,
        "median µs": statistics.median(timings),
        "p99 µs": percentile(timings, 0.99),
    }


def fill_ingestion(orders: int, fills_per_order: int) -> dict[str, float]:
    """Broker fill events applied to the OMS (state machine, dedupe, position, metrics)."""
    oms = OrderManager()
    events: list[OrderFilled] = []
    for i in range(orders):
        cid = f"c{i}"
        oms.add(
            Order(cid, "BTCUSDT", OrderSide.BUY, OrderType.LIMIT, Decimal(fills_per_order), limit_price=PRICE)
        )
        oms.apply(OrderAccepted(cid, f"b{i}"))
        for j in range(fills_per_order):
            fill = Fill(
                f"t{i}-{j}", cid, "BTCUSDT", OrderSide.BUY, Decimal(1), PRICE, Decimal("0.05"), "USDT"
            )
            events.append(OrderFilled(fill))
    gc.collect()
    started = time.perf_counter()
    for event in events:
        oms.apply(event)
    elapsed = time.perf_counter() - started
    assert oms.metrics.fills_total == len(events)
    return {"fills/s": len(events) / elapsed, "µs per fill": elapsed / len(events) * 1e6}


async def kill_switch(open_orders: int) -> dict[str, float]:
    """Cancel-all + halt + disconnect with ``open_orders`` resting limit orders."""
    engine = ExecutionEngine(paper(), settings=EngineSettings(order_timeout=3600))
    async with engine:
        for _ in range(open_orders):
            await engine.submit_order(
                "BTCUSDT", "buy", Decimal("0.001"), order_type="limit", limit_price="40000"
            )
        assert engine.oms.open_order_count() == open_orders
        started = time.perf_counter()
        report = await engine.kill("benchmark")
        elapsed = time.perf_counter() - started
    assert report.canceled == open_orders and report.clean, report
    return {"open orders": float(open_orders), "milliseconds": elapsed * 1000}


def show(title: str, figures: dict[str, float]) -> None:
    cells = "  ".join(f"{name} {value:,.1f}" for name, value in figures.items())
    print(f"{title:<34} {cells}", flush=True)


async def main(args: argparse.Namespace) -> None:
    print(
        f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}"
    )
    for run in range(args.runs):
        show(f"end to end ({args.orders} orders) #{run + 1}", await end_to_end(args.orders))
    show("fill ingestion (OMS)", fill_ingestion(1000, 100))
    show("kill switch", await kill_switch(1000))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    anyio.run(main, parser.parse_args())
