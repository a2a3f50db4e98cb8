"""Core orders -> TWS orders, and TWS order states -> core states.

Prices and quantities go to TWS as the decimal text of our ``Decimal`` values:
ib_async writes any non-float field with ``str()``, so passing text keeps the
exact value (no float on the way out either).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ib_async
from autotrader_core.decimals import require_decimal
from autotrader_core.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from autotrader_core.errors import InvalidOrder, UnsupportedFeature
from autotrader_core.models import Order

from autotrader_ibkr.parsing import BROKER

__all__ = [
    "CANCELED_STATUSES",
    "IB_ORDER_TYPES",
    "IB_TIF",
    "build_ib_order",
    "core_order_type",
    "core_status",
    "core_tif",
    "validate_order",
    "wire_decimal",
]

IB_ORDER_TYPES = {
    OrderType.MARKET: "MKT",
    OrderType.LIMIT: "LMT",
    OrderType.STOP: "STP",
    OrderType.STOP_LIMIT: "STP LMT",
}
IB_TIF = {TimeInForce.GTC: "GTC", TimeInForce.DAY: "DAY", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}
_CORE_TYPES = {v: k for k, v in IB_ORDER_TYPES.items()}
_CORE_TIF = {v: k for k, v in IB_TIF.items()}

CANCELED_STATUSES = frozenset({"Cancelled", "ApiCancelled"})
"""TWS statuses of a canceled order."""

_STATUS = {
    "ApiPending": OrderStatus.PENDING_SUBMIT,
    "PendingSubmit": OrderStatus.PENDING_SUBMIT,
    "PreSubmitted": OrderStatus.ACCEPTED,
    "Submitted": OrderStatus.ACCEPTED,
    "PendingCancel": OrderStatus.PENDING_CANCEL,
    "ApiCancelled": OrderStatus.CANCELED,
    "Cancelled": OrderStatus.CANCELED,
    "Filled": OrderStatus.FILLED,
    "Inactive": OrderStatus.REJECTED,
}


def wire_decimal(value: Decimal) -> str:
    """Plain decimal text (``100``, ``150.25``), never exponent notation."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def validate_order(order: Order) -> None:
    """Refuse what TWS cannot take before anything is sent."""
    if order.post_only:
        raise UnsupportedFeature("IBKR has no post-only flag for API orders", broker=BROKER)
    if order.reduce_only:
        raise UnsupportedFeature("IBKR has no reduce-only flag for API orders", broker=BROKER)
    if order.order_type not in IB_ORDER_TYPES:
        raise UnsupportedFeature(f"order type {order.order_type} is not supported", broker=BROKER)
    if order.time_in_force not in IB_TIF:
        raise UnsupportedFeature(f"time in force {order.time_in_force} is not supported", broker=BROKER)
    require_decimal(order.quantity, field="quantity")
    if not order.client_order_id or len(order.client_order_id) > 40:
        raise InvalidOrder("client_order_id must be 1-40 characters (it travels in orderRef)", broker=BROKER)
    needs_limit = order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
    needs_stop = order.order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
    if needs_limit:
        require_decimal(order.limit_price, field="limit_price")
    elif order.limit_price is not None:
        raise InvalidOrder(f"{order.order_type} orders take no limit_price", broker=BROKER)
    if needs_stop:
        require_decimal(order.stop_price, field="stop_price")
    elif order.stop_price is not None:
        raise InvalidOrder(f"{order.order_type} orders take no stop_price", broker=BROKER)


def build_ib_order(
    order: Order,
    *,
    order_id: int,
    account: str,
    quantity: Decimal | None = None,
    limit_price: Decimal | None = None,
    stop_price: Decimal | None = None,
) -> ib_async.Order:
    """The ib_async order for ``order`` (with optional new terms for a modify)."""
    quantity = order.quantity if quantity is None else quantity
    limit_price = order.limit_price if limit_price is None else limit_price
    stop_price = order.stop_price if stop_price is None else stop_price
    fields: dict[str, Any] = {
        "orderId": order_id,
        "action": "BUY" if order.side is OrderSide.BUY else "SELL",
        "totalQuantity": wire_decimal(quantity),
        "orderType": IB_ORDER_TYPES[order.order_type],
        "tif": IB_TIF[order.time_in_force],
        "orderRef": order.client_order_id,
        "account": account,
        "transmit": True,
    }
    if order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) and limit_price is not None:
        fields["lmtPrice"] = wire_decimal(limit_price)
    if order.order_type in (OrderType.STOP, OrderType.STOP_LIMIT) and stop_price is not None:
        fields["auxPrice"] = wire_decimal(stop_price)
    return ib_async.Order(**fields)


def core_status(ib_status: str, why_held: str = "") -> OrderStatus | None:
    """Core status for a TWS order status string (``None`` when unknown).

    ``Inactive`` is a rejection, except while TWS locates shares to borrow
    (``whyHeld`` = ``locate``): then the order is held and still working.
    """
    if ib_status == "Inactive" and "locate" in why_held.lower():
        return OrderStatus.ACCEPTED
    return _STATUS.get(ib_status)


def core_order_type(ib_type: str) -> OrderType | None:
    """Core order type for a TWS order type (``None`` for types we do not place)."""
    return _CORE_TYPES.get(ib_type)


def core_tif(ib_tif: str) -> TimeInForce:
    """Core time in force for a TWS one (unknown ones, e.g. GTD/OPG, read as DAY)."""
    return _CORE_TIF.get(ib_tif, TimeInForce.DAY)
