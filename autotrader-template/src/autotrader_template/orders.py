"""Core ``Order`` → the venue's order request, after checking the venue's rules.

REPLACE: the body fields and the rules with your venue's. Everything the venue
would refuse for its shape is refused here, as ``InvalidOrder``, before anything
is sent (the OMS and risk checks have already checked the capabilities).
"""

from __future__ import annotations

import re
from typing import Any

from autotrader_core.enums import OrderType, TimeInForce
from autotrader_core.errors import InvalidOrder
from autotrader_core.models import Order

from autotrader_template.errors import BROKER

__all__ = ["CLIENT_ORDER_ID", "order_body"]

CLIENT_ORDER_ID = re.compile(r"[A-Za-z0-9_-]{1,36}")
"""What the venue accepts as a client order id (documented: 1-36 of ``[A-Za-z0-9_-]``)."""


def order_body(order: Order) -> dict[str, Any]:
    """The JSON body of ``POST /v1/orders`` for ``order`` (Decimals go on the wire as strings).

    Raises:
        InvalidOrder: the venue would refuse the order's shape.
    """
    if not CLIENT_ORDER_ID.fullmatch(order.client_order_id):
        raise _invalid(order, f"client order id {order.client_order_id!r} is not 1-36 of [A-Za-z0-9_-]")
    if order.time_in_force is not TimeInForce.GTC:
        raise _invalid(order, f"time in force {order.time_in_force.value} is not offered (GTC only)")
    if order.post_only or order.reduce_only:
        raise _invalid(order, "post-only and reduce-only orders are not offered")
    body: dict[str, Any] = {
        "symbol": order.symbol,
        "side": order.side.value.upper(),
        "type": order.order_type.value.upper(),
        "quantity": order.quantity,
        "clientOrderId": order.client_order_id,
    }
    if order.order_type is OrderType.LIMIT:
        if order.limit_price is None:
            raise _invalid(order, "a limit order needs a limit price")
        body["price"] = order.limit_price
    elif order.order_type is OrderType.MARKET:
        if order.limit_price is not None:
            raise _invalid(order, "a market order takes no limit price")
    else:
        raise _invalid(order, f"{order.order_type.value} orders are not offered")
    return body


def _invalid(order: Order, reason: str) -> InvalidOrder:
    return InvalidOrder(f"{order.client_order_id}: {reason}", broker=BROKER)
