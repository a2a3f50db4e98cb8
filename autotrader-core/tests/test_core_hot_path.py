"""The submit path's cost inside the core, counted in Python calls per order (issue 13).

Issue 13 holds the engine's orders/s within 5 % of round 1 (``benchmarks/ab_engine.py``,
an A/B in CPU time). Timings swing with a shared machine; the number of Python functions
the core runs per order does not, and it is what the seams added (about 15 calls per order,
5 % of the engine's orders/s, before they were cut back). This test keeps that count from
creeping up unnoticed: a new call on the hot path needs a reason, and a new budget here.
"""

from __future__ import annotations

import sys
from collections import Counter
from decimal import Decimal as D
from pathlib import Path
from types import FrameType

import autotrader_core
import pytest
from autotrader_core.engine import ExecutionEngine
from autotrader_core.enums import DecisionAction, OrderStatus
from autotrader_core.models import ExecutionDecision
from autotrader_core.settings import EngineSettings

from .fakes import FakeBroker

pytestmark = pytest.mark.anyio

CORE = str(Path(autotrader_core.__file__).parent)
ORDERS = 50
BUDGET = 48
"""Core Python calls per filled market order through ``engine.execute`` (48 measured; 64 before the cut)."""


async def test_a_filled_market_order_stays_within_its_budget_of_core_calls() -> None:
    broker = FakeBroker()
    engine = ExecutionEngine(broker, settings=EngineSettings(order_timeout=3600))
    calls: Counter[str] = Counter()

    def count(frame: FrameType, event: str, arg: object) -> None:
        code = frame.f_code
        if event == "call" and code.co_filename.startswith(CORE):
            calls[f"{Path(code.co_filename).name}:{code.co_name}"] += 1

    buy = ExecutionDecision(DecisionAction.BUY, "BTCUSDT", D("0.1"))
    sell = ExecutionDecision(DecisionAction.SELL, "BTCUSDT", D("0.1"))
    async with engine:
        for decision in (buy, sell):  # warm up: first-order paths (price lookups, caches) run here
            await engine.execute(decision)
        sys.setprofile(count)
        try:
            orders = [await engine.execute(buy if i % 2 == 0 else sell) for i in range(ORDERS)]
        finally:
            sys.setprofile(None)
    assert all(order is not None and order.status is OrderStatus.FILLED for order in orders)
    per_order = sum(calls.values()) / ORDERS
    top = ", ".join(f"{name} {n / ORDERS:g}" for name, n in calls.most_common(12))
    assert per_order <= BUDGET, f"{per_order:g} core calls per order (budget {BUDGET}): {top}"
