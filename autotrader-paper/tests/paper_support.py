"""Builders shared by the paper adapter tests (a uniquely named module, not conftest)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from autotrader_core import Order, OrderSide, OrderType, TimeInForce
from autotrader_paper import PaperAdapter, PaperSettings, Simulator

FIXED_TIME = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
_ids = itertools.count(1)


def fixed_clock() -> datetime:
    """A clock that never moves: makes fills comparable field by field."""
    return FIXED_TIME


def settings(**overrides: Any) -> PaperSettings:
    """Settings for exact arithmetic: static BTCUSDT at 65000.00, no slippage, no auto ticks."""
    values: dict[str, Any] = {
        "quote_source": "static",
        "slippage_bps": Decimal(0),
        "tick_interval": 0,
        "initial_balances": "USDT=100000,BTC=1,ETH=10",
    }
    values.update(overrides)
    return PaperSettings(_env_file=None, **values)  # type: ignore[call-arg]


def simulator(clock: Callable[[], datetime] = fixed_clock, **overrides: Any) -> Simulator:
    """A simulator built from :func:`settings` with fixed ids and clock."""
    return Simulator.from_settings(settings(**overrides), clock=clock, session_id="s")


def adapter(**overrides: Any) -> PaperAdapter:
    """An adapter built from :func:`settings` with fixed ids and clock."""
    return PaperAdapter(settings(**overrides), clock=fixed_clock, session_id="s")


def order(
    side: str = "buy",
    quantity: str = "0.01",
    *,
    kind: str = "market",
    limit: str | None = None,
    stop: str | None = None,
    tif: str = "gtc",
    symbol: str = "BTCUSDT",
    cid: str | None = None,
    post_only: bool = False,
    reduce_only: bool = False,
) -> Order:
    """Build an order the way the OMS hands it to an adapter."""
    return Order(
        client_order_id=cid or f"c{next(_ids)}",
        symbol=symbol,
        side=OrderSide(side),
        order_type=OrderType(kind),
        quantity=Decimal(quantity),
        time_in_force=TimeInForce(tif),
        limit_price=None if limit is None else Decimal(limit),
        stop_price=None if stop is None else Decimal(stop),
        post_only=post_only,
        reduce_only=reduce_only,
        broker="paper",
    )
