"""The testing helpers the kit ships (autotrader_conformance.testing) behave as their users rely on."""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest
from autotrader_conformance.faults import SimpleFaultPlan
from autotrader_conformance.testing import BTC, FakeBroker, FaultQueue, RecordingTelemetry
from autotrader_core.adapter import AdapterTelemetry
from autotrader_core.enums import OrderSide, OrderStatus, OrderType
from autotrader_core.errors import DuplicateClientOrderId, OrderNotFound, RequestTimeout
from autotrader_core.events import OrderAccepted, OrderCanceled, OrderFilled
from autotrader_core.models import Order

pytestmark = pytest.mark.anyio


def order(coid: str, order_type: OrderType = OrderType.MARKET) -> Order:
    price = Decimal("99") if order_type is OrderType.LIMIT else None
    return Order(coid, BTC.symbol, OrderSide.BUY, order_type, Decimal("0.01"), limit_price=price)


async def test_fake_broker_fills_market_orders_and_rests_limits() -> None:
    broker = FakeBroker(price=Decimal("101"))
    market = await broker.submit_order(order("m1"))
    assert [type(event) for event in market] == [OrderAccepted, OrderFilled]
    assert isinstance(market[1], OrderFilled) and market[1].fill.price == Decimal("101")
    assert [type(event) for event in await broker.submit_order(order("l1", OrderType.LIMIT))] == [
        OrderAccepted
    ]
    assert [report.client_order_id for report in await broker.get_open_orders()] == ["l1"]
    canceled = await broker.cancel_order(order("l1", OrderType.LIMIT))
    assert [(type(event), event.client_order_id) for event in canceled] == [(OrderCanceled, "l1")]
    with pytest.raises(OrderNotFound):
        await broker.cancel_order(order("l1", OrderType.LIMIT))  # already canceled
    with pytest.raises(DuplicateClientOrderId):
        await broker.submit_order(order("m1"))


async def test_a_lost_reply_books_the_order_then_raises() -> None:
    broker = FakeBroker()
    broker.fail_submit.append(RequestTimeout("reply lost"))
    broker.lose_reply = True
    with pytest.raises(RequestTimeout):
        await broker.submit_order(order("x1"))
    assert broker.received == ["x1"]
    assert (await broker.get_order(symbol=BTC.symbol, client_order_id="x1")).status is OrderStatus.FILLED


async def test_pushed_events_arrive_on_the_stream() -> None:
    broker = FakeBroker()
    pushed = OrderCanceled("a")
    broker.push(pushed)
    with anyio.fail_after(2):
        async for event in broker.stream_events():
            assert event is pushed
            break


def test_recording_telemetry_keeps_every_report() -> None:
    telemetry = RecordingTelemetry()
    assert isinstance(telemetry, AdapterTelemetry)
    telemetry.rate_limit_wait("orders", 0.5)
    telemetry.reconnected("heartbeat timeout")
    assert telemetry.waits == [("orders", 0.5)]
    assert telemetry.reconnects == ["heartbeat timeout"]


def test_the_kits_fault_plan_is_the_cores_fault_queue() -> None:
    assert SimpleFaultPlan is FaultQueue
    plan = SimpleFaultPlan()
    plan.fail_next("submit", times=2, after_apply=True)
    first = plan.take("submit")
    assert first is not None and first.after_apply
    assert plan.pending() == 1 and plan.pending("submit") == 1
