"""Parsing (payloads and stream frames), order building and the error table."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import pytest
from autotrader_core.adapter import AdapterTelemetry
from autotrader_core.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from autotrader_core.errors import BrokerProtocolError, InvalidOrder, OrderNotFound, RateLimited
from autotrader_core.events import OrderCanceled, OrderFilled
from autotrader_core.models import Fill, Order
from autotrader_core.skipping import BadItemLog
from autotrader_core.streaming import Reconnect
from autotrader_core.transports import HttpReply
from autotrader_template.errors import map_error
from autotrader_template.orders import order_body
from autotrader_template.parsing import parse_fill, parse_order, parse_order_update
from autotrader_template.stream import PrivateStream

FILL = {
    "symbol": "BTCUSD",
    "side": "BUY",
    "clientOrderId": "tv1",
    "tradeId": "9001",
    "quantity": "0.004",
    "price": "30000.10",
    "fee": "0.012",
    "feeAsset": "USD",
    "time": 1764000000100,
}
ORDER = {
    "orderId": "101",
    "clientOrderId": "tv1",
    "symbol": "BTCUSD",
    "side": "SELL",
    "type": "LIMIT",
    "quantity": "0.010",
    "price": "65000.00",
    "status": "PARTIALLY_FILLED",
    "filled": "0.004",
}


def test_fill_keeps_exact_decimals() -> None:
    fill = parse_fill(FILL)
    assert (fill.quantity, fill.price, fill.fee) == (Decimal("0.004"), Decimal("30000.10"), Decimal("0.012"))
    assert fill.side is OrderSide.BUY and fill.client_order_id == "tv1" and fill.broker == "template"
    assert fill.timestamp.timestamp() == 1764000000.1


def test_fill_with_a_float_price_is_a_protocol_error_naming_the_field() -> None:
    with pytest.raises(BrokerProtocolError, match="price"):
        parse_fill(FILL | {"price": 30000.1})


def test_order_report_and_unknown_status() -> None:
    report = parse_order(ORDER)
    assert report.status is OrderStatus.PARTIALLY_FILLED
    assert report.filled_quantity == Decimal("0.004") and report.limit_price == Decimal("65000.00")
    with pytest.raises(BrokerProtocolError, match="status"):
        parse_order(ORDER | {"status": "SOMETHING_NEW"})


def test_stream_order_update_proves_a_cancel_and_ignores_other_tools_orders() -> None:
    [event] = parse_order_update(ORDER | {"status": "CANCELED"})
    assert isinstance(event, OrderCanceled) and event.client_order_id == "tv1"
    assert parse_order_update(ORDER | {"status": "CANCELED", "clientOrderId": None}) == []


def _order(**changes: object) -> Order:
    fields: dict[str, object] = {
        "client_order_id": "tv1",
        "symbol": "BTCUSD",
        "side": OrderSide.BUY,
        "order_type": OrderType.LIMIT,
        "quantity": Decimal("0.01"),
        "limit_price": Decimal("20000.00"),
    }
    return Order(**(fields | changes))  # type: ignore[arg-type]


def test_order_body_sends_decimals_and_our_client_order_id() -> None:
    assert order_body(_order()) == {
        "symbol": "BTCUSD",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": Decimal("0.01"),
        "clientOrderId": "tv1",
        "price": Decimal("20000.00"),
    }


@pytest.mark.parametrize(
    "changes",
    [
        {"limit_price": None},
        {"order_type": OrderType.MARKET},  # a market order with a limit price
        {"time_in_force": TimeInForce.IOC},
        {"client_order_id": "has spaces"},
        {"order_type": OrderType.STOP, "stop_price": Decimal(1)},
    ],
)
def test_order_body_refuses_what_the_venue_would_refuse(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidOrder):
        order_body(_order(**changes))


def _reply(status: int) -> HttpReply:
    return HttpReply(status, [], b"", method="GET", url="https://api.testnet.template.invalid/v1/orders")


def test_error_table_keeps_the_venue_code_and_message() -> None:
    error = map_error(_reply(400), {"code": "ORDER_NOT_FOUND", "message": "Unknown order."})
    assert isinstance(error, OrderNotFound)
    assert (error.code, error.broker_message, error.broker) == (
        "ORDER_NOT_FOUND",
        "Unknown order.",
        "template",
    )
    ban = map_error(_reply(418), {"code": "IP_BANNED", "message": "banned"})
    assert isinstance(ban, RateLimited) and ban.banned
    assert map_error(_reply(400), {"code": "NOT_IN_THE_TABLE"}) is None  # RestClient maps it by status
    assert map_error(_reply(200), {"orderId": "1"}) is None


def _stream() -> tuple[PrivateStream, BadItemLog]:
    bad_items = BadItemLog("template")

    async def no_fills(since: datetime) -> list[Fill]:
        return []

    stream = PrivateStream(
        url="ws://127.0.0.1:9/unused",
        credentials=lambda: ("key", "secret"),
        now_ms=lambda: 0,
        fills_since=no_fills,
        bad_items=bad_items,
        telemetry=AdapterTelemetry,
    )
    return stream, bad_items


def test_stream_frames_fill_bad_frame_and_maintenance() -> None:
    stream, bad_items = _stream()
    [event] = stream._decode(json.dumps({"channel": "fills", "data": FILL}))
    assert isinstance(event, OrderFilled) and event.fill.price == Decimal("30000.10")
    assert stream._decode('{"channel": "fills", "data": {"tradeId": "1"') == []  # cut off: reported
    [reported] = bad_items
    assert reported.may_hold_fill and isinstance(reported.error, BrokerProtocolError)
    with pytest.raises(Reconnect, match="maintenance"):
        stream._decode('{"op": "maintenance"}')
