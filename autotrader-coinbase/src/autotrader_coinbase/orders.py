"""Core orders → Coinbase create/edit request bodies (protocols.md §3.3), validated before send.

Mapping (``order_configuration`` key per order type and time in force):

=============  =====  ==============================  ==========================================
type           TIF    configuration                   notes
=============  =====  ==============================  ==========================================
market         gtc    ``market_market_ioc``           a market order is IOC by nature
market         ioc    ``market_market_ioc``
limit          gtc    ``limit_limit_gtc``             ``post_only`` supported
limit          ioc    ``sor_limit_ioc``
limit          fok    ``limit_limit_fok``
stop_limit     gtc    ``stop_limit_stop_limit_gtc``   direction: buy → STOP_UP, sell → STOP_DOWN
=============  =====  ==============================  ==========================================

Everything else (stop-market on spot, market FOK which is perpetuals-only, DAY,
reduce-only) raises :class:`UnsupportedFeature` before anything is sent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from autotrader_core.adapter import OrderChange
from autotrader_core.enums import OrderSide, OrderType, TimeInForce
from autotrader_core.errors import InvalidOrder, UnsupportedFeature
from autotrader_core.models import Order

__all__ = ["build_create_order_body", "build_edit_order_body", "build_order_configuration", "wire_decimal"]

BROKER = "coinbase"


def wire_decimal(value: Decimal) -> str:
    """Plain decimal string for the wire (never exponent notation, never via float)."""
    return format(value, "f")


def _positive(value: Decimal | None, field: str, order: Order) -> Decimal:
    if value is None:
        raise InvalidOrder(f"{order.order_type} order {order.client_order_id} needs {field}", broker=BROKER)
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise InvalidOrder(
            f"{field} of order {order.client_order_id} must be a positive finite Decimal, got {value!r}",
            broker=BROKER,
        )
    return value


def _unsupported(order: Order, what: str) -> UnsupportedFeature:
    return UnsupportedFeature(f"Coinbase Advanced Trade spot does not support {what}", broker=BROKER)


def build_order_configuration(order: Order) -> dict[str, dict[str, Any]]:
    """The ``order_configuration`` object for ``order`` (exactly one key).

    Raises:
        UnsupportedFeature: a type/TIF combination Coinbase spot does not offer.
        InvalidOrder: missing or non-positive quantity/prices, post-only where it cannot apply.
    """
    size = wire_decimal(_positive(order.quantity, "quantity", order))
    tif = order.time_in_force
    if order.reduce_only:
        raise _unsupported(order, "reduce-only orders (spot has no positions)")
    if tif is TimeInForce.DAY:
        raise _unsupported(order, "DAY time in force (use GTC or IOC/FOK)")

    if order.order_type is OrderType.MARKET:
        if order.post_only:
            raise InvalidOrder("a market order cannot be post-only", broker=BROKER)
        if tif is TimeInForce.FOK:
            raise _unsupported(order, "FOK market orders (market_market_fok is perpetuals-only)")
        return {"market_market_ioc": {"base_size": size}}

    if order.order_type is OrderType.LIMIT:
        price = wire_decimal(_positive(order.limit_price, "limit_price", order))
        if tif is TimeInForce.GTC:
            return {
                "limit_limit_gtc": {"base_size": size, "limit_price": price, "post_only": order.post_only}
            }
        if order.post_only:
            raise InvalidOrder(f"post-only needs GTC time in force, not {tif.value}", broker=BROKER)
        if tif is TimeInForce.IOC:
            return {"sor_limit_ioc": {"base_size": size, "limit_price": price}}
        return {"limit_limit_fok": {"base_size": size, "limit_price": price}}

    if order.order_type is OrderType.STOP_LIMIT:
        price = wire_decimal(_positive(order.limit_price, "limit_price", order))
        stop = wire_decimal(_positive(order.stop_price, "stop_price", order))
        if tif is not TimeInForce.GTC:
            raise _unsupported(order, f"stop-limit orders with {tif.value} time in force (GTC only)")
        if order.post_only:
            raise InvalidOrder("a stop-limit order cannot be post-only", broker=BROKER)
        direction = "STOP_DIRECTION_STOP_UP" if order.side is OrderSide.BUY else "STOP_DIRECTION_STOP_DOWN"
        return {
            "stop_limit_stop_limit_gtc": {
                "base_size": size,
                "limit_price": price,
                "stop_price": stop,
                "stop_direction": direction,
            }
        }

    raise _unsupported(order, "stop-market orders (use stop_limit)")


def build_create_order_body(order: Order) -> dict[str, Any]:
    """The ``POST /orders`` body; ``client_order_id`` is Coinbase's idempotency key."""
    if not order.client_order_id:
        # The broker would invent one, and a re-send could then create a second order.
        raise InvalidOrder("order has no client_order_id; the core assigns one before submit", broker=BROKER)
    if not order.symbol or "-" not in order.symbol:
        raise InvalidOrder(f"Coinbase product ids look like BTC-USD, got {order.symbol!r}", broker=BROKER)
    configuration = build_order_configuration(order)
    return {
        "client_order_id": order.client_order_id,
        "product_id": order.symbol,
        "side": "BUY" if order.side is OrderSide.BUY else "SELL",
        "order_configuration": configuration,
    }


def build_edit_order_body(order: Order, change: OrderChange, broker_order_id: str) -> dict[str, Any]:
    """The ``POST /orders/edit`` body: new total size and price (both sent, explicit).

    Coinbase edits only limit GTC orders (SDK/docs: "Only limit order types, with
    time in force type of good-till-cancelled can be edited").

    Raises:
        UnsupportedFeature: the order is not a limit GTC order, or a stop price change.
        InvalidOrder: the change is empty, non-positive, or below the filled quantity.
    """
    if order.order_type is not OrderType.LIMIT or order.time_in_force is not TimeInForce.GTC:
        raise UnsupportedFeature(
            f"Coinbase edits only limit GTC orders; {order.client_order_id} is "
            f"{order.order_type.value}/{order.time_in_force.value} (cancel and place a new one)",
            broker=BROKER,
        )
    if change.stop_price is not None:
        raise UnsupportedFeature("a limit order has no stop price to change", broker=BROKER)
    if change.quantity is None and change.limit_price is None:
        raise InvalidOrder(
            "the modify changes nothing: pass a new quantity and/or limit price", broker=BROKER
        )
    quantity = _positive(
        change.quantity if change.quantity is not None else order.quantity, "quantity", order
    )
    price = _positive(
        change.limit_price if change.limit_price is not None else order.limit_price, "limit_price", order
    )
    if quantity <= order.filled_quantity:
        raise InvalidOrder(
            f"new quantity {quantity} is not above the filled quantity {order.filled_quantity}", broker=BROKER
        )
    return {"order_id": broker_order_id, "price": wire_decimal(price), "size": wire_decimal(quantity)}
