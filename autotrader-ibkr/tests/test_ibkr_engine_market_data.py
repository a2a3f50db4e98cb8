"""The engine trades on IBKR's market data: a strategy sees TWS's quotes and rests an order on them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import anyio
import pytest
from autotrader_core import DecisionAction, ExecutionDecision, ExecutionEngine, Strategy, StrategyContext
from autotrader_core.enums import OrderStatus, OrderType
from autotrader_core.models import Order
from autotrader_core.settings import EngineSettings
from autotrader_ibkr import IbkrAdapter
from ibkr_fake_tws import fake_tws
from ibkr_support import settings_for

pytestmark = pytest.mark.anyio


class BuyAtTheBid(Strategy):
    """Rests one limit buy of 10 AAPL at the bid, once the engine has a fresh quote."""

    name = "buy-at-the-bid"
    symbols = ("AAPL",)

    def __init__(self) -> None:
        self.order: Order | None = None
        self.placed = False

    async def decide(self, ctx: StrategyContext) -> list[ExecutionDecision]:
        quote = ctx.quote("AAPL")
        if quote is None or ctx.last_price("AAPL") is None or self.placed:
            return []
        self.placed = True
        return [
            ExecutionDecision(
                DecisionAction.BUY, "AAPL", Decimal("10"), order_type=OrderType.LIMIT, limit_price=quote.bid
            )
        ]


async def test_a_strategy_trades_on_tws_quotes(tmp_path: Path) -> None:
    async with fake_tws("engine_trades_on_quotes") as tws:
        adapter = IbkrAdapter(settings_for(tws, symbols=["AAPL"]))
        strategy = BuyAtTheBid()
        async with ExecutionEngine(
            adapter, strategy=strategy, settings=EngineSettings(data_dir=tmp_path)
        ) as engine:
            with anyio.fail_after(8):
                while not [o for o in engine.oms.open_orders() if o.status is OrderStatus.ACCEPTED]:
                    await anyio.sleep(0.02)
            (order,) = engine.oms.open_orders()
            assert (order.symbol, order.limit_price, order.quantity) == (
                "AAPL",
                Decimal("185.25"),
                Decimal("10"),
            )
        assert tws.script_finished and tws.unexpected == []
