"""Venue payloads → core models: Decimal from the wire's decimal strings, never via float.

REPLACE: the field names and tables with your venue's. Each reader names the
payload kind and the field in the ``BrokerProtocolError`` it raises, so a reply
off the documented format is a typed error, never a ``KeyError``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from autotrader_core.enums import AssetClass, OrderSide, OrderStatus, OrderType
from autotrader_core.events import OrderAccepted, OrderCanceled, OrderEvent, OrderExpired
from autotrader_core.models import Balance, Fill, Instrument, OrderReport
from autotrader_core.wire import WireReader

from autotrader_template.errors import BROKER

__all__ = [
    "SIDES",
    "STATUSES",
    "TYPES",
    "parse_balance",
    "parse_fill",
    "parse_instrument",
    "parse_order",
    "parse_order_update",
]

SIDES = {"BUY": OrderSide.BUY, "SELL": OrderSide.SELL}
TYPES = {"LIMIT": OrderType.LIMIT, "MARKET": OrderType.MARKET}
STATUSES = {
    "NEW": OrderStatus.ACCEPTED,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "EXPIRED": OrderStatus.EXPIRED,
}
"""The venue's order statuses; an unknown one is a ``BrokerProtocolError`` (the item is reported)."""

WIRE = WireReader(BROKER)
INSTRUMENT = WIRE.of("instrument")
BALANCE = WIRE.of("balance")
ORDER = WIRE.of("order")
FILL = WIRE.of("fill")


def parse_instrument(item: Any) -> Instrument:
    """One row of ``GET /v1/instruments``."""
    return Instrument(
        symbol=INSTRUMENT.text(item, "symbol", non_empty=True),
        asset_class=AssetClass.CRYPTO_SPOT,
        base=INSTRUMENT.text(item, "base"),
        quote=INSTRUMENT.text(item, "quote"),
        tick_size=INSTRUMENT.decimal(item, "tickSize"),
        lot_size=INSTRUMENT.decimal(item, "lotSize"),
        min_quantity=INSTRUMENT.decimal(item, "minQty"),
        min_notional=INSTRUMENT.decimal(item, "minNotional"),
    )


def parse_balance(item: Any) -> Balance:
    """One row of ``GET /v1/balances``: ``free`` is available, ``free + locked`` the total."""
    free = BALANCE.decimal(item, "free")
    return Balance(
        asset=BALANCE.text(item, "asset"), total=free + BALANCE.decimal(item, "locked"), available=free
    )


def parse_order(item: Any) -> OrderReport:
    """An order object (``GET /v1/orders``, the open-orders list, a cancel reply, a stream update)."""
    return OrderReport(
        client_order_id=ORDER.optional_text(item, "clientOrderId"),
        broker_order_id=ORDER.text(item, "orderId", non_empty=True),
        symbol=ORDER.text(item, "symbol"),
        side=ORDER.enum(item, "side", SIDES),
        order_type=ORDER.enum(item, "type", TYPES),
        quantity=ORDER.decimal(item, "quantity"),
        status=ORDER.enum(item, "status", STATUSES),
        filled_quantity=ORDER.optional_decimal(item, "filled") or Decimal(0),
        limit_price=ORDER.optional_decimal(item, "price"),
        broker=BROKER,
    )


def parse_fill(
    item: Any,
    *,
    client_order_id: str | None = None,
    symbol: str | None = None,
    side: OrderSide | None = None,
    broker_order_id: str | None = None,
) -> Fill:
    """One fill: from a submit reply's ``fills`` (the order's fields passed in) or a fill record.

    A fill record (``GET /v1/fills``, the stream's ``fills`` channel) carries its own
    ``clientOrderId``, ``symbol`` and ``side``; a submit reply's fills do not.
    """
    return Fill(
        trade_id=FILL.text(item, "tradeId", non_empty=True),
        client_order_id=client_order_id or FILL.text(item, "clientOrderId", non_empty=True),
        symbol=symbol or FILL.text(item, "symbol"),
        side=side or FILL.enum(item, "side", SIDES),
        quantity=FILL.decimal(item, "quantity"),
        price=FILL.decimal(item, "price"),
        fee=FILL.decimal(item, "fee"),
        fee_currency=FILL.text(item, "feeAsset"),
        timestamp=FILL.epoch_ms(item, "time"),
        broker_order_id=broker_order_id or FILL.optional_text(item, "orderId"),
        broker=BROKER,
    )


def parse_order_update(item: Any) -> list[OrderEvent]:
    """An ``orders`` channel push → the event it proves (fills come on the ``fills`` channel)."""
    report = parse_order(item)
    if report.client_order_id is None:
        return []  # an order placed by another tool: not ours to track
    if report.status is OrderStatus.ACCEPTED:
        return [OrderAccepted(report.client_order_id, report.broker_order_id)]
    if report.status is OrderStatus.CANCELED:
        return [OrderCanceled(report.client_order_id)]
    if report.status is OrderStatus.EXPIRED:
        return [OrderExpired(report.client_order_id)]
    return []
