"""FillCompleter: cumulative state → exact fills, each trade id once, lagging lists retried."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pytest
from autotrader_coinbase.fills import MAX_FETCHES_WITHOUT_PROGRESS, FillCompleter, OrderRef
from autotrader_coinbase.parsing import UserOrderUpdate
from autotrader_core.enums import OrderSide, OrderStatus
from autotrader_core.errors import BrokerUnavailable
from autotrader_core.events import OrderAccepted, OrderExpired, OrderFilled, OrderRejected
from coinbase_payloads import fill_item

pytestmark = pytest.mark.anyio

REF = OrderRef("cid1", "BTC-USD", OrderSide.BUY)


def _update(status: OrderStatus, cum: str, n: int, reason: str = "") -> UserOrderUpdate:
    return UserOrderUpdate(
        order_id="o1",
        client_order_id="cid1",
        product_id="BTC-USD",
        side=OrderSide.BUY,
        status=status,
        raw_status=status.value.upper(),
        cumulative_quantity=Decimal(cum),
        leaves_quantity=None,
        avg_price=None,
        total_fees=Decimal(0),
        number_of_fills=n,
        reason=reason,
        event_type="update",
    )


def _fill(trade: str, size: str, time: str) -> dict[str, Any]:
    return fill_item(
        trade_id=trade, order_id="o1", size=size, price="100.00", commission="0.01", trade_time=time
    )


class FakeFills:
    """Serves a scripted sequence of fills lists (the REST endpoint), counting calls."""

    def __init__(self, *pages: list[dict[str, Any]] | Exception) -> None:
        self.pages = list(pages)
        self.calls = 0

    async def __call__(self, order_id: str) -> list[Mapping[str, Any]]:
        self.calls += 1
        page = self.pages.pop(0) if len(self.pages) > 1 else self.pages[0]
        if isinstance(page, Exception):
            raise page
        return list(page)  # a list of the declared item type (a list is invariant)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_each_trade_once_even_when_lists_repeat() -> None:
    a, b = _fill("t1", "0.4", "2026-01-01T00:00:01Z"), _fill("t2", "0.6", "2026-01-01T00:00:02Z")
    fetch = FakeFills([a], [b, a])
    completer = FillCompleter(fetch)
    first = await completer.on_update(_update(OrderStatus.PARTIALLY_FILLED, "0.4", 1), ref=REF)
    second = await completer.on_update(_update(OrderStatus.FILLED, "1", 2), ref=REF)
    again = await completer.on_update(_update(OrderStatus.FILLED, "1", 2), ref=REF)
    assert [type(e).__name__ for e in first] == ["OrderAccepted", "OrderFilled"]
    assert [e.fill.trade_id for e in second if isinstance(e, OrderFilled)] == ["t2"]
    assert again == []
    assert fetch.calls == 2
    assert completer.open_order_ids() == []


async def test_fills_come_out_oldest_first() -> None:
    newest_first = [_fill("t2", "0.6", "2026-01-01T00:00:02Z"), _fill("t1", "0.4", "2026-01-01T00:00:01Z")]
    completer = FillCompleter(FakeFills(newest_first))
    events = await completer.on_update(_update(OrderStatus.FILLED, "1", 2), ref=REF)
    assert [e.fill.trade_id for e in events if isinstance(e, OrderFilled)] == ["t1", "t2"]


async def test_lagging_list_is_retried_after_the_interval_only() -> None:
    clock = Clock()
    fetch = FakeFills([], [_fill("t1", "1", "2026-01-01T00:00:01Z")])
    completer = FillCompleter(fetch, retry_interval=1.0, clock=clock)
    assert await completer.on_update(_update(OrderStatus.FILLED, "1", 1), ref=REF) == []
    clock.now = 0.5
    assert await completer.retry_lagging() == []  # too soon: no request
    assert fetch.calls == 1
    clock.now = 1.5
    [event] = await completer.retry_lagging()
    assert isinstance(event, OrderFilled) and event.fill.trade_id == "t1"
    assert completer.open_order_ids() == []


async def test_fetch_failure_is_retried_not_raised() -> None:
    clock = Clock()
    fetch = FakeFills(BrokerUnavailable("503"), [_fill("t1", "1", "2026-01-01T00:00:01Z")])
    completer = FillCompleter(fetch, retry_interval=0.1, clock=clock)
    assert await completer.on_update(_update(OrderStatus.FILLED, "1", 1), ref=REF) == []
    clock.now = 1
    assert len(await completer.retry_lagging()) == 1


async def test_gives_up_after_many_fruitless_fetches() -> None:
    clock = Clock()
    fetch = FakeFills([])
    completer = FillCompleter(fetch, retry_interval=0.1, clock=clock)
    await completer.on_update(_update(OrderStatus.FILLED, "1", 1), ref=REF)
    for step in range(MAX_FETCHES_WITHOUT_PROGRESS + 5):
        clock.now = step + 1.0
        await completer.retry_lagging()
    assert fetch.calls == MAX_FETCHES_WITHOUT_PROGRESS
    assert completer.open_order_ids() == []


async def test_expired_and_failed_orders() -> None:
    completer = FillCompleter(FakeFills([]))
    [expired] = await completer.on_update(_update(OrderStatus.EXPIRED, "0", 0), ref=REF)
    assert isinstance(expired, OrderExpired)
    other = OrderRef("cid2", "BTC-USD", OrderSide.SELL)
    update = _update(OrderStatus.REJECTED, "0", 0, reason="INSUFFICIENT_FUND")
    update = UserOrderUpdate(**{**{f: getattr(update, f) for f in update.__slots__}, "order_id": "o2"})
    [rejected] = await completer.on_update(update, ref=other)
    assert isinstance(rejected, OrderRejected)
    assert (rejected.client_order_id, rejected.code) == ("cid2", "INSUFFICIENT_FUND")


async def test_accepted_only_once_and_not_for_already_accepted_orders() -> None:
    completer = FillCompleter(FakeFills([]))
    completer.track("o1", REF, accepted=True)  # submit_order already said OrderAccepted
    assert await completer.on_update(_update(OrderStatus.ACCEPTED, "0", 0), ref=REF) == []
    fresh = FillCompleter(FakeFills([]))
    events = [await fresh.on_update(_update(OrderStatus.ACCEPTED, "0", 0), ref=REF) for _ in range(2)]
    assert [len(e) for e in events] == [1, 0]
    assert isinstance(events[0][0], OrderAccepted)


async def test_unreadable_fill_stops_fetching_instead_of_raising() -> None:
    bad = dict(_fill("t1", "1", "2026-01-01T00:00:01Z"), price=1.5)  # a float: never accepted
    fetch = FakeFills([bad])
    completer = FillCompleter(fetch, retry_interval=0.0)
    assert await completer.on_update(_update(OrderStatus.FILLED, "1", 1), ref=REF) == []
    assert await completer.retry_lagging() == []
    assert fetch.calls == 1


async def test_pending_is_not_yet_accepted() -> None:
    completer = FillCompleter(FakeFills([]))
    assert await completer.on_update(_update(OrderStatus.PENDING_SUBMIT, "0", 0), ref=REF) == []
    [accepted] = await completer.on_update(_update(OrderStatus.ACCEPTED, "0", 0), ref=REF)
    assert isinstance(accepted, OrderAccepted)
