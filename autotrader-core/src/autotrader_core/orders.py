"""Building orders from user input: every check that needs no broker, before anything is sent."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple, TypeVar

from autotrader_core.decimals import require_decimal
from autotrader_core.enums import DecisionAction, OrderSide, OrderType, TimeInForce
from autotrader_core.errors import InvalidOrder
from autotrader_core.models import ExecutionDecision, Order, Position

__all__ = ["DecisionTarget", "build_order", "coerce_enum", "decision_target", "strict_bool"]

E = TypeVar("E", bound=StrEnum)


def coerce_enum(enum_cls: type[E], value: object, *, field: str) -> E:
    """Accept an enum member or its string value (any case).

    Raises:
        InvalidOrder: listing the accepted values.
    """
    if isinstance(value, enum_cls):
        return value
    if isinstance(value, str):
        # The value as written (a remote command's "buy"): one lookup in the enum's own map of
        # members by value, where calling the enum costs ~1 µs; any other spelling goes through it.
        member = enum_cls._value2member_map_.get(value)
        if member is not None:
            return member  # type: ignore[return-value]
        try:
            return enum_cls(value.strip().lower())
        except ValueError:
            pass
    allowed = ", ".join(m.value for m in enum_cls)
    raise InvalidOrder(f"{field} must be one of {allowed}; got {value!r}")


def _symbol(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidOrder(f"symbol must be a non-empty string, got {value!r}")
    # Refused, not stripped: " BTCUSDT" is a typo or a parsing bug upstream, and a guess
    # about what was meant has no place on the order path.
    # Printable ASCII has one whitespace character, the space (tabs and newlines are not
    # printable): one ``in`` test instead of a per-character scan on every order.
    if not value.isascii() or not value.isprintable() or " " in value:
        raise InvalidOrder(f"symbol must be printable ASCII without spaces, got {value!r}")
    return value


def strict_bool(value: object, *, field: str) -> bool:
    """A flag from user input: ``True``/``False``, or exactly ``"true"``/``"false"`` (any case).

    ``bool("false")`` is True: a flag given as text ("false", "no", "0") would otherwise
    turn into its opposite, and a post-only order the user did not ask for goes out.

    Raises:
        InvalidOrder: for anything else (other strings, numbers, ``None``).
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidOrder(f"{field} must be True or False (or the text 'true'/'false'), got {value!r}")


def build_order(
    *,
    client_order_id: str,
    symbol: object,
    side: object,
    quantity: object,
    order_type: object = OrderType.MARKET,
    limit_price: object = None,
    stop_price: object = None,
    time_in_force: object = TimeInForce.GTC,
    post_only: object = False,
    reduce_only: object = False,
    broker: str = "",
    tag: str | None = None,
) -> Order:
    """Validate user input and return a new :class:`~autotrader_core.models.Order`.

    Raises:
        InvalidOrder: with a message that says what to fix (wrong type, float instead
            of Decimal, missing limit price, post-only on a market order, …).
    """
    if not isinstance(post_only, bool):  # the common case skips a call per flag on every order
        post_only = strict_bool(post_only, field="post_only")
    if not isinstance(reduce_only, bool):
        reduce_only = strict_bool(reduce_only, field="reduce_only")
    # An enum member (the common case) skips coerce_enum's call, as the flags above do.
    kind = (
        order_type
        if isinstance(order_type, OrderType)
        else coerce_enum(OrderType, order_type, field="order_type")
    )
    tif = (
        time_in_force
        if isinstance(time_in_force, TimeInForce)
        else coerce_enum(TimeInForce, time_in_force, field="time_in_force")
    )
    limit = None if limit_price is None else require_decimal(limit_price, field="limit_price")
    stop = None if stop_price is None else require_decimal(stop_price, field="stop_price")
    needs_limit = kind in (OrderType.LIMIT, OrderType.STOP_LIMIT)
    needs_stop = kind in (OrderType.STOP, OrderType.STOP_LIMIT)
    if needs_limit and limit is None:
        raise InvalidOrder(f"a {kind.value} order needs limit_price")
    if not needs_limit and limit is not None:
        raise InvalidOrder(f"a {kind.value} order takes no limit_price (use order_type='limit')")
    if needs_stop and stop is None:
        raise InvalidOrder(f"a {kind.value} order needs stop_price")
    if not needs_stop and stop is not None:
        raise InvalidOrder(
            f"a {kind.value} order takes no stop_price (use order_type='stop' or 'stop_limit')"
        )
    if post_only and (kind is not OrderType.LIMIT or tif in (TimeInForce.IOC, TimeInForce.FOK)):
        raise InvalidOrder("post_only needs a resting limit order (order_type='limit', GTC or DAY)")
    if not isinstance(client_order_id, str) or not client_order_id:
        raise InvalidOrder("client_order_id must be a non-empty string")
    return Order(
        client_order_id=client_order_id,
        symbol=_symbol(symbol),
        side=side if isinstance(side, OrderSide) else coerce_enum(OrderSide, side, field="side"),
        order_type=kind,
        quantity=require_decimal(quantity, field="quantity"),
        time_in_force=tif,
        limit_price=limit,
        stop_price=stop,
        post_only=post_only,
        reduce_only=reduce_only,
        broker=broker,
        tag=tag,
    )


def optional_price(value: object, *, field: str) -> Decimal | None:
    """``None`` or a validated positive Decimal."""
    return None if value is None else require_decimal(value, field=field)


class DecisionTarget(NamedTuple):
    """The order a strategy decision asks for: its side, its quantity, and whether it closes a position."""

    side: OrderSide
    quantity: Decimal
    closes: bool
    """A CLOSE: sized from the position, a market order, reduce-only where the venue supports it."""


def decision_target(decision: ExecutionDecision, position: Position) -> DecisionTarget | None:
    """What ``decision`` means as an order, given the current ``position`` (``None``: HOLD, or CLOSE when flat).

    The one reading of a decision, shared by the engine and the gateway's remote strategies.

    Raises:
        InvalidOrder: ``decision.action`` is not a :class:`DecisionAction`.
    """
    raw: object = decision.action  # typed a member, but a strategy may hand over its text
    action = raw if isinstance(raw, DecisionAction) else coerce_enum(DecisionAction, raw, field="action")
    if action is DecisionAction.HOLD:
        return None
    if action is DecisionAction.CLOSE:
        if position.is_flat:
            return None
        side = OrderSide.SELL if position.quantity > 0 else OrderSide.BUY
        return DecisionTarget(side, abs(position.quantity), True)  # closes
    side = OrderSide.BUY if action is DecisionAction.BUY else OrderSide.SELL
    return DecisionTarget(side, decision.size, False)  # positional: no keyword matching per order
