"""Core orders → OANDA OrderRequest bodies, validated before anything is sent.

* ``units`` is signed: positive buys, negative sells (there is no side field).
* Our client order id goes to ``clientExtensions.id``; the order is then
  addressable as ``@<id>`` in every ``orderSpecifier``.
* MARKET accepts only FOK/IOC (FOK is OANDA's default and what GTC/DAY mean
  for an order that executes at once); LIMIT takes GTC/GFD/IOC/FOK; STOP
  takes GTC/GFD.
* No post-only flag and no resting stop-limit exist in v20 (a STOP with
  ``priceBound`` cancels when the market gaps through the bound instead of
  resting as a limit), so both are refused as unsupported.
"""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal
from typing import Any

from autotrader_core.adapter import OrderChange
from autotrader_core.decimals import require_decimal
from autotrader_core.enums import OrderSide, OrderType, TimeInForce
from autotrader_core.errors import InvalidOrder, UnsupportedFeature
from autotrader_core.models import Instrument, Order

from autotrader_oanda.errors import BROKER

__all__ = ["build_order_request", "build_replace_request", "format_decimal", "order_specifier"]

_SYMBOL = re.compile(r"^[A-Z0-9]+_[A-Z0-9]+$")
# URL-path safe so that "@<id>" can be used as an orderSpecifier without escaping.
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_COMMENT_MAX = 128

_MARKET_TIF = {TimeInForce.FOK: "FOK", TimeInForce.IOC: "IOC", TimeInForce.GTC: "FOK", TimeInForce.DAY: "FOK"}
_LIMIT_TIF = {TimeInForce.GTC: "GTC", TimeInForce.DAY: "GFD", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}
_STOP_TIF = {TimeInForce.GTC: "GTC", TimeInForce.DAY: "GFD"}


def _invalid(message: str) -> InvalidOrder:
    return InvalidOrder(message, broker=BROKER)


def format_decimal(value: Decimal) -> str:
    """Plain decimal text (never exponent notation): ``Decimal("1E+2")`` → ``"100"``."""
    return format(value, "f")


def _scale(step: Decimal) -> int:
    exponent = step.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _price_text(value: object, *, field: str, instrument: Instrument | None) -> str:
    price = require_decimal(value, field=field)
    if instrument is None:
        return format_decimal(price)
    places = _scale(instrument.tick_size)
    if _decimals(price) > places:
        raise _invalid(
            f"{field} {price} has more decimals than {instrument.symbol} allows ({places}); "
            "OANDA would reject it with PRICE_PRECISION_EXCEEDED"
        )
    return format_decimal(price.quantize(Decimal(1).scaleb(-places)))


def _units_text(quantity: Decimal, side: OrderSide, instrument: Instrument | None) -> str:
    if instrument is not None:
        places = _scale(instrument.lot_size)
        if _decimals(quantity) > places:
            raise _invalid(
                f"quantity {quantity} has more decimals than {instrument.symbol} allows ({places}); "
                "OANDA would reject it with UNITS_PRECISION_EXCEEDED"
            )
        if quantity < instrument.min_quantity:
            raise _invalid(
                f"quantity {quantity} is below {instrument.symbol}'s minimum {instrument.min_quantity}"
            )
        if (
            instrument.max_quantity is not None
            and instrument.max_quantity > 0
            and quantity > instrument.max_quantity
        ):
            raise _invalid(
                f"quantity {quantity} is above {instrument.symbol}'s maximum {instrument.max_quantity}"
            )
        quantity = quantity.quantize(Decimal(1).scaleb(-places))
    signed = quantity if side is OrderSide.BUY else -quantity
    return format_decimal(signed)


def order_specifier(*, client_order_id: str | None = None, broker_order_id: str | None = None) -> str:
    """The ``orderSpecifier`` path segment: OANDA's id, else ``@`` + our client order id."""
    if broker_order_id:
        if not broker_order_id.isdigit():
            raise _invalid(f"OANDA order ids are digits, got {broker_order_id!r}")
        return broker_order_id
    if client_order_id:
        if not _CLIENT_ID.match(client_order_id):
            raise _invalid(f"client order id {client_order_id!r} must be 1-64 of [A-Za-z0-9._-]")
        return f"@{client_order_id}"
    raise _invalid("give a client order id or a broker order id")


def _check_supported(order: Order) -> None:
    if order.post_only:
        raise UnsupportedFeature("OANDA has no post-only orders", broker=BROKER)
    if order.order_type is OrderType.STOP_LIMIT:
        raise UnsupportedFeature(
            "OANDA has no resting stop-limit order (a STOP with priceBound cancels on a gap instead)",
            broker=BROKER,
        )
    if not _SYMBOL.match(order.symbol):
        raise _invalid(f"symbol {order.symbol!r} is not an OANDA instrument name like EUR_USD")
    if not _CLIENT_ID.match(order.client_order_id):
        raise _invalid(f"client order id {order.client_order_id!r} must be 1-64 of [A-Za-z0-9._-]")


def _order_body(order: Order, quantity: Decimal, instrument: Instrument | None) -> dict[str, Any]:
    _check_supported(order)
    body: dict[str, Any] = {
        "type": "",
        "instrument": order.symbol,
        "units": _units_text(quantity, order.side, instrument),
    }
    if order.order_type is OrderType.MARKET:
        if order.limit_price is not None or order.stop_price is not None:
            raise _invalid("a market order takes no limit or stop price")
        body["type"] = "MARKET"
        body["timeInForce"] = _MARKET_TIF[order.time_in_force]
    elif order.order_type is OrderType.LIMIT:
        if order.limit_price is None:
            raise _invalid("a limit order needs limit_price")
        if order.stop_price is not None:
            raise _invalid("a limit order takes no stop_price")
        body["type"] = "LIMIT"
        body["price"] = _price_text(order.limit_price, field="limit_price", instrument=instrument)
        body["timeInForce"] = _LIMIT_TIF[order.time_in_force]
    else:  # STOP
        if order.stop_price is None:
            raise _invalid("a stop order needs stop_price")
        if order.limit_price is not None:
            raise UnsupportedFeature("OANDA has no resting stop-limit order", broker=BROKER)
        tif = _STOP_TIF.get(order.time_in_force)
        if tif is None:
            raise UnsupportedFeature(
                f"OANDA stop orders take GTC or DAY, not {order.time_in_force.value}", broker=BROKER
            )
        body["type"] = "STOP"
        body["price"] = _price_text(order.stop_price, field="stop_price", instrument=instrument)
        body["timeInForce"] = tif
    body["positionFill"] = "REDUCE_ONLY" if order.reduce_only else "DEFAULT"
    return body


def build_order_request(order: Order, instrument: Instrument | None = None) -> dict[str, Any]:
    """``{"order": OrderRequest}`` for ``POST /v3/accounts/{id}/orders``.

    Args:
        instrument: The instrument's rules when known: quantity and prices are then
            checked against them (and padded to the allowed decimals) before send.

    Raises:
        UnsupportedFeature: post-only, stop-limit, or a time in force the type cannot take.
        InvalidOrder: anything malformed (missing price, bad symbol, too many decimals).
    """
    quantity = require_decimal(order.quantity, field="quantity")
    body = _order_body(order, quantity, instrument)
    extensions: dict[str, str] = {"id": order.client_order_id}
    if order.tag:
        extensions["comment"] = order.tag[:_COMMENT_MAX]
    body["clientExtensions"] = extensions
    return {"order": body}


def build_replace_request(
    order: Order, change: OrderChange, instrument: Instrument | None = None
) -> dict[str, Any]:
    """``{"order": OrderRequest}`` for ``PUT /v3/accounts/{id}/orders/{specifier}`` (replace).

    OANDA cancels the order and creates a new one with a **new order id**; the
    client extensions carry over by themselves (so ``@<id>`` keeps working), and
    sending them again is not needed. The new order is for the *remaining*
    quantity: ``change.quantity`` is the new total, minus what already filled.

    Raises:
        InvalidOrder: nothing to change, a market order, or a new total not above the filled quantity.
    """
    if change.quantity is None and change.limit_price is None and change.stop_price is None:
        raise _invalid("the change names no new quantity or price")
    if order.order_type is OrderType.MARKET:
        raise _invalid("a market order cannot be modified")
    if order.order_type is OrderType.LIMIT and change.stop_price is not None:
        raise _invalid("a limit order has no stop price to change")
    if order.order_type is OrderType.STOP and change.limit_price is not None:
        raise UnsupportedFeature("OANDA has no resting stop-limit order", broker=BROKER)
    total = (
        require_decimal(change.quantity, field="quantity") if change.quantity is not None else order.quantity
    )
    remaining = total - order.filled_quantity
    if remaining <= 0:
        raise _invalid(f"new quantity {total} is not above the filled quantity {order.filled_quantity}")
    terms = replace(
        order,
        quantity=total,
        limit_price=change.limit_price if change.limit_price is not None else order.limit_price,
        stop_price=change.stop_price if change.stop_price is not None else order.stop_price,
    )
    return {"order": _order_body(terms, remaining, instrument)}
