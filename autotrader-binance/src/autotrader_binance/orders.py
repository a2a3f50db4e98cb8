"""Core :class:`Order` → ``POST /api/v3/order`` parameters, validated before anything is sent.

Mapping (protocols.md §1.3): market → ``MARKET``; limit → ``LIMIT`` (post-only →
``LIMIT_MAKER``); stop → ``STOP_LOSS`` (market when triggered); stop-limit →
``STOP_LOSS_LIMIT``. Binance spot has no ``DAY`` time in force and no
reduce-only; a market order cannot be FOK. When the symbol's ``exchangeInfo``
rules are known, the order is checked against them too (order type allowed,
tick, step, min/max quantity, notional), so a filter failure is caught here with
a clear message instead of a ``-1013`` round trip.
"""

from __future__ import annotations

from decimal import Decimal

from autotrader_core.enums import OrderType, TimeInForce
from autotrader_core.errors import InvalidOrder, UnsupportedFeature
from autotrader_core.models import Order

from autotrader_binance.errors import BROKER
from autotrader_binance.parsing import SymbolRules

__all__ = ["binance_order_type", "build_order_params", "check_against_rules"]

_TIF = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}


def binance_order_type(order: Order) -> str:
    """The Binance ``type`` for ``order`` (raises :class:`UnsupportedFeature` when there is none)."""
    if order.post_only:
        if order.order_type is not OrderType.LIMIT:
            raise UnsupportedFeature("post-only is only available for limit orders on Binance", broker=BROKER)
        if order.time_in_force is not TimeInForce.GTC:
            raise UnsupportedFeature(
                "post-only (LIMIT_MAKER) orders rest on the book: time in force must be GTC", broker=BROKER
            )
        return "LIMIT_MAKER"
    return {
        OrderType.MARKET: "MARKET",
        OrderType.LIMIT: "LIMIT",
        OrderType.STOP: "STOP_LOSS",
        OrderType.STOP_LIMIT: "STOP_LOSS_LIMIT",
    }[order.order_type]


def _positive(value: Decimal | None, what: str) -> Decimal:
    if value is None:
        raise InvalidOrder(f"{what} is required for this order type", broker=BROKER)
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise InvalidOrder(f"{what} must be a positive finite Decimal, got {value!r}", broker=BROKER)
    return value


def build_order_params(order: Order, *, response_type: str = "FULL") -> list[tuple[str, object]]:
    """Parameters of ``POST /api/v3/order`` for ``order`` (unsigned; the request path signs).

    Raises:
        UnsupportedFeature: a time in force / flag Binance spot does not have.
        InvalidOrder: a missing or non-positive quantity/price.
    """
    if order.reduce_only:
        raise UnsupportedFeature(
            "Binance spot has no reduce-only orders (spot has no positions)", broker=BROKER
        )
    if order.time_in_force is TimeInForce.DAY:
        raise UnsupportedFeature("Binance spot has no DAY time in force (use GTC, IOC or FOK)", broker=BROKER)
    if not order.client_order_id:
        raise InvalidOrder("order has no client order id", broker=BROKER)
    order_type = binance_order_type(order)
    params: list[tuple[str, object]] = [
        ("symbol", order.symbol),
        ("side", order.side.value.upper()),
        ("type", order_type),
    ]
    if order.order_type is OrderType.MARKET:
        if order.time_in_force is TimeInForce.FOK:
            raise UnsupportedFeature(
                "Binance market orders cannot be FOK (they behave as IOC)", broker=BROKER
            )
        if order.limit_price is not None or order.stop_price is not None:
            raise InvalidOrder("a market order takes no limit or stop price", broker=BROKER)
    elif order_type != "LIMIT_MAKER" and order.order_type is not OrderType.STOP:
        params.append(("timeInForce", _TIF[order.time_in_force]))
    params.append(("quantity", _positive(order.quantity, "quantity")))
    if order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        params.append(("price", _positive(order.limit_price, "limit price")))
    elif order.limit_price is not None:
        raise InvalidOrder(f"a {order.order_type.value} order takes no limit price", broker=BROKER)
    if order.order_type in (OrderType.STOP, OrderType.STOP_LIMIT):
        params.append(("stopPrice", _positive(order.stop_price, "stop price")))
    elif order.stop_price is not None:
        raise InvalidOrder(f"a {order.order_type.value} order takes no stop price", broker=BROKER)
    params.append(("newClientOrderId", order.client_order_id))
    params.append(("newOrderRespType", response_type))
    return params


def _on_step(value: Decimal, step: Decimal) -> bool:
    return step <= 0 or value % step == 0


def check_against_rules(order: Order, rules: SymbolRules) -> None:
    """Check ``order`` against the symbol's ``exchangeInfo`` rules (filters.md).

    Raises:
        InvalidOrder: the order would fail a filter, or the symbol is not trading.
        UnsupportedFeature: the symbol does not allow this order type.
    """
    inst = rules.instrument
    if not rules.is_trading:
        raise InvalidOrder(f"{order.symbol} is not trading on Binance (status {rules.status})", broker=BROKER)
    order_type = binance_order_type(order)
    if rules.order_types and order_type not in rules.order_types:
        raise UnsupportedFeature(f"{order.symbol} does not allow {order_type} orders", broker=BROKER)
    is_market = order.order_type is OrderType.MARKET
    step = inst.market_lot_size if is_market and inst.market_lot_size is not None else inst.lot_size
    qty = order.quantity
    if qty < inst.min_quantity:
        raise InvalidOrder(
            f"quantity {qty} is below {order.symbol}'s minimum {inst.min_quantity}", broker=BROKER
        )
    if inst.max_quantity is not None and qty > inst.max_quantity:
        raise InvalidOrder(
            f"quantity {qty} is above {order.symbol}'s maximum {inst.max_quantity}", broker=BROKER
        )
    if not _on_step(qty, step):
        raise InvalidOrder(f"quantity {qty} is not a multiple of {order.symbol}'s step {step}", broker=BROKER)
    for label, price in (("limit price", order.limit_price), ("stop price", order.stop_price)):
        if price is None:
            continue
        if not _on_step(price, inst.tick_size):
            raise InvalidOrder(
                f"{label} {price} is not a multiple of {order.symbol}'s tick {inst.tick_size}", broker=BROKER
            )
        if rules.min_price is not None and price < rules.min_price:
            raise InvalidOrder(
                f"{label} {price} is below {order.symbol}'s minimum {rules.min_price}", broker=BROKER
            )
        if rules.max_price is not None and price > rules.max_price:
            raise InvalidOrder(
                f"{label} {price} is above {order.symbol}'s maximum {rules.max_price}", broker=BROKER
            )
    price = order.limit_price if order.limit_price is not None else order.stop_price
    if price is not None:  # market orders' notional uses Binance's average price: it checks them itself
        notional = price * qty
        if notional < inst.min_notional:
            raise InvalidOrder(
                f"notional {notional} is below {order.symbol}'s minimum {inst.min_notional}", broker=BROKER
            )
        if rules.max_notional is not None and notional > rules.max_notional:
            raise InvalidOrder(
                f"notional {notional} is above {order.symbol}'s maximum {rules.max_notional}", broker=BROKER
            )
