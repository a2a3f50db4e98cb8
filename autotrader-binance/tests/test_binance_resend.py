"""Re-send guarantee (recvWindow expiry) and a cancel-replace whose reply is lost (issue 14 items 2, 5).

A lost ``cancelReplace`` reply leaves two possible orders: the old one (canceled by the
replace) and the replacement (same client order id, a new ``orderId``). The stream's
CANCELED for the old id is the replace's own cancel, never the client order's cancel.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest
from autotrader_binance import BinanceAdapter, BinanceSettings
from autotrader_core.adapter import OrderChange
from autotrader_core.enums import OrderSide, OrderStatus, OrderType
from autotrader_core.errors import BrokerProtocolError, InvalidOrder, TransientError
from autotrader_core.events import OrderAccepted, OrderCanceled, OrderEvent, OrderModified
from autotrader_core.models import Order
from autotrader_core.oms import OrderManager
from autotrader_core.resend import ResendRule
from binance_support import DOC_API_KEY, DOC_SECRET, FakeWsApi, raw_payload
from pytest_httpx import HTTPXMock

pytestmark = pytest.mark.anyio
BASE = "https://testnet.binance.vision"
OLD_ID = "4293153"
NEW_ID = "4293160"
CLIENT_ID = "at1abc"


def adapter_for(ws_url: str = "ws://127.0.0.1:9/ws-api/v3", **overrides: Any) -> BinanceAdapter:
    from autotrader_binance.stream import StreamConfig

    values: dict[str, Any] = {"api_key": DOC_API_KEY, "api_secret": DOC_SECRET, "ws_url": ws_url}
    values.update(overrides)
    config = StreamConfig(backoff_initial=0.01, backoff_max=0.05, reply_timeout=2.0)
    return BinanceAdapter(BinanceSettings(_env_file=None, **values), stream_config=config)  # type: ignore[call-arg]


def report(**fields: Any) -> dict[str, Any]:
    """The documented NEW executionReport (WS-API wrapper) with ``fields`` changed."""
    frame = copy.deepcopy(raw_payload("ws_execution_report_new.json"))
    frame["event"].update(s="ETHBTC", **fields)
    return dict(frame)


def canceled_by_replace() -> dict[str, Any]:
    """The old order's CANCELED: ``c`` names the cancel request, ``C`` the order's own id."""
    return report(x="CANCELED", X="CANCELED", i=int(OLD_ID), c="cxlrpl0", C=CLIENT_ID, p="0.10264410")


def replacement_new() -> dict[str, Any]:
    """The replacement's NEW: same client order id, new ``orderId``, new price."""
    return report(x="NEW", X="NEW", i=int(NEW_ID), c=CLIENT_ID, C="", p="0.20000000", q="1.00000000")


def resting_order(**fields: Any) -> Order:
    """The order the documented NEW report describes (ETHBTC limit buy 1 @ 0.1026441)."""
    values: dict[str, Any] = {
        "client_order_id": CLIENT_ID,
        "symbol": "ETHBTC",
        "side": OrderSide.BUY,
        "order_type": OrderType.LIMIT,
        "quantity": Decimal("1"),
        "limit_price": Decimal("0.1026441"),
    }
    values.update(fields)
    return Order(**values)


def working_order(oms: OrderManager) -> Order:
    order = resting_order()
    oms.add(order)
    oms.apply(OrderAccepted(CLIENT_ID, OLD_ID))
    oms.mark_pending_modify(CLIENT_ID)
    return order


LOST_REPLIES = [
    pytest.param({"exception": httpx.ReadTimeout("reply lost")}, id="timeout"),
    pytest.param({"status_code": 503, "text": "Service Unavailable"}, id="unavailable"),
    pytest.param({"status_code": 200, "text": '{"cancelResult": "SUCC'}, id="unreadable"),
    pytest.param({"status_code": 200, "json": {"cancelResult": "SUCCESS"}}, id="malformed"),
]


async def _lose_cancel_replace_reply(
    httpx_mock: HTTPXMock, adapter: BinanceAdapter, order: Order, lost: Any
) -> None:
    if "exception" in lost:
        httpx_mock.add_exception(lost["exception"], method="POST", url=f"{BASE}/api/v3/order/cancelReplace")
    else:
        httpx_mock.add_response(method="POST", url=f"{BASE}/api/v3/order/cancelReplace", **lost)
    with pytest.raises((TransientError, BrokerProtocolError)) as caught:
        await adapter.modify_order(order, OrderChange(limit_price=Decimal("0.2")))
    # The core's resolver reads which broker order the unknown replace may have canceled.
    assert getattr(caught.value, "replaced_broker_order_id", None) == OLD_ID


@pytest.mark.parametrize("lost", LOST_REPLIES)
async def test_lost_cancel_replace_reply_then_stream_cancel_of_old_id_is_not_a_cancel(
    httpx_mock: HTTPXMock, lost: Any
) -> None:
    """Issue 14 item 2: the engine said CANCELED while the replacement worked."""
    oms = OrderManager()
    order = working_order(oms)
    script = [
        {"expect": "userDataStream.subscribe.signature", "reply": raw_payload("ws_subscribe_response.json")},
        {"push": canceled_by_replace()},
        {"push": replacement_new()},
        {"hold": True},
    ]
    async with FakeWsApi([script]) as server:
        adapter = adapter_for(server.url)
        await _lose_cancel_replace_reply(httpx_mock, adapter, order, lost)
        statuses: list[OrderStatus] = []
        seen: list[OrderEvent] = []
        with anyio.fail_after(5):
            async for event in adapter.stream_events():
                seen.append(event)
                oms.apply(event)
                statuses.append(order.status)
                if order.broker_order_id == NEW_ID:
                    break
        await adapter.disconnect()
    assert not any(isinstance(e, OrderCanceled) for e in seen), seen
    assert OrderStatus.CANCELED not in statuses
    assert order.status is OrderStatus.ACCEPTED
    assert order.broker_order_id == NEW_ID
    assert order.limit_price == Decimal("0.20000000")
    assert isinstance(seen[-1], OrderModified)


async def test_refused_cancel_replace_lets_a_later_cancel_of_the_old_id_count(httpx_mock: HTTPXMock) -> None:
    """A proven refusal (-1013 filter failure) replaced nothing: the old order's CANCELED is a cancel."""
    oms = OrderManager()
    order = working_order(oms)
    httpx_mock.add_response(
        method="POST",
        url=f"{BASE}/api/v3/order/cancelReplace",
        status_code=400,
        json={"code": -1013, "msg": "Filter failure: PRICE_FILTER"},
    )
    adapter = adapter_for()
    with pytest.raises(InvalidOrder):
        await adapter.modify_order(order, OrderChange(limit_price=Decimal("0.2")))
    events = adapter._translate(canceled_by_replace()["event"])
    assert [type(e) for e in events] == [OrderCanceled]
    await adapter.disconnect()


async def test_replacement_report_before_the_reply_is_read_as_the_modify(httpx_mock: HTTPXMock) -> None:
    """The stream can report the replacement before the cancelReplace reply: both read as one modify."""
    adapter = adapter_for()
    order = resting_order(broker_order_id=OLD_ID)
    seen: list[OrderEvent] = []

    def stream_first(request: httpx.Request) -> httpx.Response:
        seen.extend(adapter._translate(canceled_by_replace()["event"]))
        seen.extend(adapter._translate(replacement_new()["event"]))
        reply = {
            "cancelResult": "SUCCESS",
            "newOrderResult": "SUCCESS",
            "cancelResponse": raw_payload("cancel.json"),
            "newOrderResponse": dict(
                raw_payload("order_full.json"),
                orderId=int(NEW_ID),
                status="NEW",
                executedQty="0.00000000",
                fills=[],
            ),
        }
        return httpx.Response(200, json=reply)

    httpx_mock.add_callback(stream_first, method="POST", url=f"{BASE}/api/v3/order/cancelReplace")
    events = await adapter.modify_order(order, OrderChange(limit_price=Decimal("0.2")))
    [streamed] = seen
    assert isinstance(streamed, OrderModified) and isinstance(events[0], OrderModified)
    assert streamed.broker_order_id == events[0].broker_order_id == NEW_ID
    # Settled: a later NEW for this client order id is an ordinary acknowledgement again.
    assert [type(e) for e in adapter._translate(replacement_new()["event"])] == [OrderAccepted]
    await adapter.disconnect()


# -- the declared guarantee ------------------------------------------------------------------


def test_declares_recv_window_expiry() -> None:
    adapter = adapter_for(recv_window_ms=3000)
    guarantee = adapter.resend_guarantee
    assert guarantee.rule is ResendRule.EXPIRY
    assert guarantee.window == 3.0
    assert "recvWindow" in guarantee.source
    # The settle delay of the safe submit is the same window.
    assert adapter.unknown_outcome_settle_delay == 3.0


async def test_request_stamp_bounds_the_timestamp_already_sent(httpx_mock: HTTPXMock) -> None:
    """The stamp taken after a send is >= the request's ``timestamp``, even if the offset fell since."""
    adapter = adapter_for()
    httpx_mock.add_response(json=raw_payload("account.json"))
    adapter.http.clock.offset_ms = 60_000  # Binance's clock a minute ahead of ours
    await adapter.get_balances()
    sent = httpx_mock.get_request()
    assert sent is not None
    timestamp = int(dict(httpx.QueryParams(sent.url.query.decode()))["timestamp"])
    adapter.http.clock.offset_ms = 0  # a resync moved the estimate back after the send
    stamp = adapter.request_stamp()
    assert stamp.tzinfo is not None
    assert stamp >= datetime.fromtimestamp(timestamp / 1000, tz=UTC)
    await adapter.disconnect()


async def test_venue_time_asks_binance(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=f"{BASE}/api/v3/time", json=raw_payload("time.json"))
    adapter = adapter_for()
    now = await adapter.venue_time()
    assert now == datetime.fromtimestamp(raw_payload("time.json")["serverTime"] / 1000, tz=UTC)
    assert now.tzinfo is not None
    request = httpx_mock.get_request()
    assert request is not None and request.url.path == "/api/v3/time"
    await adapter.disconnect()


async def test_expiry_is_proved_by_binance_clock_not_ours(httpx_mock: HTTPXMock) -> None:
    adapter = adapter_for(recv_window_ms=5000)
    server_ms = raw_payload("time.json")["serverTime"]
    stamp = datetime.fromtimestamp(server_ms / 1000, tz=UTC) - timedelta(seconds=5.001)
    httpx_mock.add_response(url=f"{BASE}/api/v3/time", json={"serverTime": server_ms})
    assert adapter.resend_guarantee.expired_by(stamp, await adapter.venue_time())
    await adapter.disconnect()
