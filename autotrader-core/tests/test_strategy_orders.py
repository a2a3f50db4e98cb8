"""A strategy places, modifies and cancels its own limit order through the context (issue 17 item 1)."""

from __future__ import annotations

from decimal import Decimal as D

import anyio
import pytest
from autotrader_core.enums import DecisionAction, OrderStatus, OrderType
from autotrader_core.models import ExecutionDecision, Order
from autotrader_core.strategy import Strategy, StrategyContext

from .fakes import FakeBroker
from .test_engine import make_engine

pytestmark = pytest.mark.anyio


class PlaceModifyCancel(Strategy):
    """The docstring example of autotrader_core.strategy, with a fixed price."""

    name = "place-modify-cancel"

    def __init__(self) -> None:
        self.order: Order | None = None
        self.moved = False
        self.canceled = False

    async def decide(self, ctx: StrategyContext) -> list[ExecutionDecision]:
        if self.order is None:
            return [
                ExecutionDecision(
                    DecisionAction.BUY, "BTCUSDT", D("1"), order_type=OrderType.LIMIT, limit_price=D("99")
                )
            ]
        if self.order.is_open and not self.moved:
            self.moved = True
            await ctx.modify(self.order, limit_price="98.5")
        elif self.order.is_open and not self.canceled:
            self.canceled = True
            await ctx.cancel(self.order.client_order_id)
        return []

    async def on_order_update(self, order: Order, ctx: StrategyContext) -> None:
        if self.order is None:
            self.order = order


async def test_a_strategy_places_modifies_and_cancels_its_limit_order() -> None:
    broker = FakeBroker()
    strategy = PlaceModifyCancel()
    engine, _ = make_engine(broker, strategy=strategy)
    async with engine:
        with anyio.fail_after(2):
            while strategy.order is None or strategy.order.status is not OrderStatus.CANCELED:
                await anyio.sleep(0.005)
    order = strategy.order
    assert order.limit_price == D("98.5")  # the broker got the modify
    assert len(broker.received) == 1  # one order placed, changed in place, then canceled
    assert engine.oms.open_orders() == []
    assert engine.oms.position("BTCUSDT").is_flat


async def test_a_context_without_an_engine_says_so() -> None:
    broker = FakeBroker()
    engine, _ = make_engine(broker)
    engine.context.order_actions = None
    with pytest.raises(RuntimeError, match="not attached"):
        await engine.context.cancel("nope")
