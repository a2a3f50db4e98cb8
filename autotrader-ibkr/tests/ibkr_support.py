"""Helpers shared by the IBKR tests: settings pointing at the fake TWS, orders, stream reading."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from decimal import Decimal

import anyio
from autotrader_core.enums import OrderSide, OrderType, TimeInForce
from autotrader_core.events import OrderEvent, OrderFilled
from autotrader_core.models import Fill, Order
from autotrader_ibkr import IbkrAdapter, IbkrSettings
from ibkr_fake_tws import FakeTws

Session = Callable[..., AbstractAsyncContextManager[tuple[FakeTws, IbkrAdapter]]]
"""Type of the ``session`` fixture: ``async with session("transcript") as (tws, adapter)``."""


def settings_for(tws: FakeTws, **overrides: object) -> IbkrSettings:
    """Settings pointing at the fake TWS, with short timeouts so failing tests fail fast."""
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": tws.port,
        "client_id": 1,
        "connect_timeout": 3.0,
        "order_ack_timeout": 2.0,
        "request_timeout": 2.0,
        "reconnect_delay": 0.05,
        "tws_timezone": "US/Eastern",
    }
    values.update(overrides)
    return IbkrSettings(**values)  # type: ignore[arg-type]


def make_order(coid: str, **kw: object) -> Order:
    values: dict[str, object] = {
        "client_order_id": coid,
        "symbol": "AAPL",
        "side": OrderSide.BUY,
        "order_type": OrderType.LIMIT,
        "quantity": Decimal(10),
        "limit_price": Decimal("150.25"),
        "time_in_force": TimeInForce.DAY,
        "broker": "ibkr",
    }
    values.update(kw)
    return Order(**values)  # type: ignore[arg-type]


async def collect(
    adapter: IbkrAdapter, count: int, kind: type = object, seconds: float = 3.0
) -> list[OrderEvent]:
    """Read stream events until ``count`` of type ``kind`` have arrived (fail after ``seconds``)."""
    events: list[OrderEvent] = []
    stream: AsyncIterator[OrderEvent] = adapter.stream_events()
    with anyio.fail_after(seconds):
        async for event in stream:
            events.append(event)
            if sum(isinstance(e, kind) for e in events) >= count:
                break
    return events


def fills(events: list[OrderEvent]) -> list[Fill]:
    return [e.fill for e in events if isinstance(e, OrderFilled)]
