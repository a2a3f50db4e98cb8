"""Exchange filters: what a well-formed order looks like (lot, tick, minimums, price fields).

Pure functions raising :class:`~autotrader_core.errors.InvalidOrder` with a stable
``code`` (``LOT_SIZE``, ``PRICE_FILTER``, ``MIN_NOTIONAL``), before anything is created.
"""

from __future__ import annotations

from decimal import Decimal

from autotrader_core.enums import OrderType, TimeInForce
from autotrader_core.errors import InvalidOrder
from autotrader_core.models import Instrument, Order

__all__ = ["BROKER_NAME", "LIMIT_TYPES", "STOP_TYPES", "check_price", "check_quantity", "validate_new_order"]

BROKER_NAME = "paper"
LIMIT_TYPES = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT})
"""Order types that carry a limit price."""
STOP_TYPES = frozenset({OrderType.STOP, OrderType.STOP_LIMIT})
"""Order types that carry a stop price."""


def check_quantity(quantity: Decimal, inst: Instrument) -> None:
    """A positive Decimal on the lot size, within the instrument's bounds (``InvalidOrder`` otherwise)."""
    if not isinstance(quantity, Decimal) or not quantity.is_finite() or quantity <= 0:
        raise InvalidOrder(f"quantity must be a positive Decimal, got {quantity!r}", broker=BROKER_NAME)
    if quantity % inst.lot_size:
        raise InvalidOrder(
            f"quantity {quantity} is not a multiple of the lot size {inst.lot_size} of {inst.symbol}",
            broker=BROKER_NAME,
            code="LOT_SIZE",
        )
    if quantity < inst.min_quantity:
        raise InvalidOrder(
            f"quantity {quantity} is below the minimum {inst.min_quantity} of {inst.symbol}",
            broker=BROKER_NAME,
            code="LOT_SIZE",
        )
    if inst.max_quantity is not None and quantity > inst.max_quantity:
        raise InvalidOrder(
            f"quantity {quantity} is above the maximum {inst.max_quantity} of {inst.symbol}",
            broker=BROKER_NAME,
            code="LOT_SIZE",
        )


def check_price(price: Decimal, inst: Instrument, name: str) -> None:
    """A positive Decimal on the tick size (``InvalidOrder`` otherwise)."""
    if not isinstance(price, Decimal) or not price.is_finite() or price <= 0:
        raise InvalidOrder(f"{name} must be a positive Decimal, got {price!r}", broker=BROKER_NAME)
    if price % inst.tick_size:
        raise InvalidOrder(
            f"{name} {price} is not a multiple of the tick size {inst.tick_size} of {inst.symbol}",
            broker=BROKER_NAME,
            code="PRICE_FILTER",
        )


def validate_new_order(order: Order, inst: Instrument, quote: Decimal) -> None:
    """Refuse a malformed order the way an exchange's filters would (``quote`` prices a market order)."""
    check_quantity(order.quantity, inst)
    kind = order.order_type
    needs_limit = kind in LIMIT_TYPES
    needs_stop = kind in STOP_TYPES
    if needs_limit:
        if order.limit_price is None:
            raise InvalidOrder(f"a {kind} order needs a limit_price", broker=BROKER_NAME)
        check_price(order.limit_price, inst, "limit_price")
    elif order.limit_price is not None:
        raise InvalidOrder(f"a {kind} order takes no limit_price", broker=BROKER_NAME)
    if needs_stop:
        if order.stop_price is None:
            raise InvalidOrder(f"a {kind} order needs a stop_price", broker=BROKER_NAME)
        check_price(order.stop_price, inst, "stop_price")
    elif order.stop_price is not None:
        raise InvalidOrder(f"a {kind} order takes no stop_price", broker=BROKER_NAME)
    if order.post_only and (
        kind is not OrderType.LIMIT or order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK)
    ):
        raise InvalidOrder("post_only needs a GTC or DAY limit order", broker=BROKER_NAME)
    if inst.min_notional:
        reference = order.limit_price or order.stop_price or quote
        if order.quantity * reference < inst.min_notional:
            raise InvalidOrder(
                f"notional {order.quantity * reference} is below the minimum {inst.min_notional} "
                f"of {inst.symbol}",
                broker=BROKER_NAME,
                code="MIN_NOTIONAL",
            )
