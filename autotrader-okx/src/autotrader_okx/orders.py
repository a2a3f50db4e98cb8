"""Core ``Order`` → OKX's ``/api/v5/trade/order`` body, with OKX's pre-send checks.

What is particular to OKX (and checked here, before anything is sent):

* there is no time-in-force field: ``ordType`` is ``market``, ``limit``,
  ``post_only``, ``ioc`` or ``fok``;
* spot market orders are sent with ``tgtCcy: base_ccy`` so that ``sz`` is the
  base quantity for buys too (OKX's default for a market buy is quote currency);
* stop and stop-limit would need the separate algo-order API; they are refused;
* ``clOrdId`` is 1-32 ASCII letters or digits; spot symbols look like ``BTC-USDT``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from autotrader_core.decimals import require_decimal
from autotrader_core.enums import OrderType, TimeInForce
from autotrader_core.errors import InvalidOrder, UnsupportedFeature
from autotrader_core.models import Order

from autotrader_okx.errors import BROKER

__all__ = ["CLIENT_ORDER_ID_PATTERN", "build_order_request", "check_client_order_id", "check_symbol"]

CLIENT_ORDER_ID_PATTERN = re.compile(r"^[A-Za-z0-9]{1,32}$")
"""OKX ``clOrdId``: 1-32 case-sensitive alphanumerics."""

_SPOT_SYMBOL = re.compile(r"^[A-Z0-9]+-[A-Z0-9]+$")
_LIMIT_ORD_TYPES = {TimeInForce.GTC: "limit", TimeInForce.IOC: "ioc", TimeInForce.FOK: "fok"}


def build_order_request(
    order: Order, *, td_mode: str, time_in_force: Collection[TimeInForce]
) -> dict[str, Any]:
    """The ``/api/v5/trade/order`` body for ``order``, validated (nothing is sent).

    Args:
        order: The order to place; its ``client_order_id`` becomes ``clOrdId``.
        td_mode: The account's trade mode (``settings.td_mode``).
        time_in_force: The time-in-force values the adapter declares.

    Raises:
        UnsupportedFeature: stop/stop-limit, DAY, or anything not in ``time_in_force``.
        InvalidOrder: missing/extra prices, bad quantity, bad symbol or client order id.
    """
    if order.order_type in (OrderType.STOP, OrderType.STOP_LIMIT):
        raise UnsupportedFeature(
            f"okx adapter does not support {order.order_type.value} orders (OKX algo orders are "
            "not implemented)",
            broker=BROKER,
        )
    if order.time_in_force not in time_in_force:
        raise UnsupportedFeature(
            f"okx does not support time in force {order.time_in_force.value}", broker=BROKER
        )
    check_client_order_id(order.client_order_id)
    check_symbol(order.symbol)
    quantity = require_decimal(order.quantity, field="quantity")
    if order.stop_price is not None:
        raise InvalidOrder("stop_price is only valid for stop orders, which okx does not support")
    if order.reduce_only:
        raise InvalidOrder("reduce_only is not available for spot orders on OKX (codes 51133/51139)")
    body: dict[str, Any] = {
        "instId": order.symbol,
        "tdMode": td_mode,
        "clOrdId": order.client_order_id,
        "side": order.side.value,
    }
    if order.order_type is OrderType.MARKET:
        if order.limit_price is not None:
            raise InvalidOrder("a market order takes no limit_price")
        if order.post_only:
            raise InvalidOrder("post_only needs a limit order")
        if order.time_in_force is not TimeInForce.GTC:
            raise InvalidOrder(
                "okx market orders fill immediately; time in force ioc/fok applies to limit orders only"
            )
        body.update(ordType="market", sz=quantity, tgtCcy="base_ccy")
        return body
    if order.limit_price is None:
        raise InvalidOrder("a limit order needs a limit_price")
    price = require_decimal(order.limit_price, field="limit_price")
    if order.post_only:
        if order.time_in_force is not TimeInForce.GTC:
            raise InvalidOrder("post_only cannot be combined with ioc/fok")
        ord_type = "post_only"
    else:
        ord_type = _LIMIT_ORD_TYPES[order.time_in_force]
    body.update(ordType=ord_type, px=price, sz=quantity)
    return body


def check_client_order_id(value: str) -> None:
    """Raise :class:`InvalidOrder` unless ``value`` is a valid OKX ``clOrdId``."""
    if not CLIENT_ORDER_ID_PATTERN.match(value or ""):
        raise InvalidOrder(f"OKX clOrdId must be 1-32 ASCII letters or digits, got {value!r}")


def check_symbol(symbol: str) -> None:
    """Raise :class:`InvalidOrder` unless ``symbol`` looks like an OKX spot instrument (``BTC-USDT``)."""
    if not _SPOT_SYMBOL.match(symbol or ""):
        raise InvalidOrder(f"OKX spot symbols look like 'BTC-USDT', got {symbol!r}")
