"""Journal rows ⇄ domain objects: orders, events, reports, dead letters.

Bodies are JSON objects. Every Decimal is written as its exact string
(``Decimal("1.50")`` stays ``"1.50"``, exponent included), datetimes as ISO 8601
with their offset, enums as their values: decoding gives back an object equal to
the one encoded, never a float in between.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from autotrader_core.adapter import OrderChange
from autotrader_core.decimals import loads_exact
from autotrader_core.enums import AssetClass, Liquidity, OrderSide, OrderStatus, OrderType, TimeInForce
from autotrader_core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModified,
    OrderModifyRejected,
    OrderRejected,
    OutcomeResolved,
    OutcomeUnknown,
)
from autotrader_core.models import Fill, Instrument, Order, OrderReport, Position
from autotrader_core.resiliency.dead_letter import DeadLetter

__all__ = [
    "CorruptJournal",
    "decode_change",
    "decode_dead_letter",
    "decode_event",
    "decode_fill",
    "decode_instrument",
    "decode_order",
    "decode_outcome",
    "decode_position",
    "decode_report",
    "dumps",
    "encode_change",
    "encode_dead_letter",
    "encode_event",
    "encode_fill",
    "encode_instrument",
    "encode_order",
    "encode_outcome",
    "encode_position",
    "encode_report",
    "loads",
    "timestamp",
]


class CorruptJournal(ValueError):
    """A journal row that cannot be decoded (unknown type, missing field, bad number)."""


def dumps(body: Mapping[str, Any]) -> str:
    """Compact JSON text of a body built by the ``encode_*`` functions.

    orjson writes the same text as ``json.dumps(body, separators=(",", ":"),
    ensure_ascii=False)`` for these bodies (strings, ints, bools and nulls only), about seven
    times faster; the journal's writer thread encodes every row, holding the GIL meanwhile.
    """
    return orjson.dumps(body).decode()


def loads(text: str) -> dict[str, Any]:
    """Parse a body; numbers never become floats (they are strings in the body anyway).

    orjson first (:func:`~autotrader_core.decimals.loads_exact`): replay and compaction parse
    every row of the journal's tail.
    """
    try:
        body = loads_exact(text)
    except ValueError as exc:
        raise CorruptJournal(f"journal body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise CorruptJournal("journal body is not a JSON object")
    return body


# -- scalar helpers ---------------------------------------------------------------------
class _Doubt(Exception):
    """A fast decoder's "let the checked one decide"."""


_SIDES = {m.value: m for m in OrderSide}
_ORDER_TYPES = {m.value: m for m in OrderType}
_TIFS = {m.value: m for m in TimeInForce}
_STATUSES = {m.value: m for m in OrderStatus}
_LIQUIDITY = {m.value: m for m in Liquidity}
_fromiso = datetime.fromisoformat
_STR = {str}
_STR_OR_NONE = {str, type(None)}


def _strings(required: tuple[Any, ...], optional: tuple[Any, ...]) -> bool:
    # Exactly str (a subclass goes to the checked path), or None where optional: in C, not per field.
    return set(map(type, required)) == _STR and set(map(type, optional)) <= _STR_OR_NONE


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _to_dec(value: object, name: str) -> Decimal:
    if not isinstance(value, str):
        raise CorruptJournal(f"field {name!r} must be a decimal string, got {value!r}")
    try:
        return Decimal(value)
    except ArithmeticError:
        raise CorruptJournal(f"field {name!r} is not a decimal: {value!r}") from None


def _to_opt_dec(value: object, name: str) -> Decimal | None:
    return None if value is None else _to_dec(value, name)


def timestamp(value: datetime) -> str:
    """``value.isoformat()``, the way every time in a journal row, reply and event is written.

    A UTC ``datetime`` (nearly all of them) is written by orjson, whose RFC 3339 text is the
    same, character for character, in half the time: an order carries four times and is
    encoded several times on its way (journal, reply, events).
    """
    if type(value) is datetime and value.tzinfo is UTC:
        return _orjson_dumps(value)[1:-1].decode()
    return value.isoformat()


_orjson_dumps = orjson.dumps


def _ts(value: datetime | None) -> str | None:
    return None if value is None else timestamp(value)


def _ts_for_orjson(value: datetime | None) -> datetime | str | None:
    # A UTC datetime as it is: orjson, dumping the body, writes what timestamp() would (in C,
    # with no Python call per time); anything else as timestamp() writes it.
    if value is None or (type(value) is datetime and value.tzinfo is UTC):
        return value
    return timestamp(value)


def _to_ts(value: object, name: str) -> datetime:
    if not isinstance(value, str):
        raise CorruptJournal(f"field {name!r} must be an ISO timestamp, got {value!r}")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise CorruptJournal(f"field {name!r} is not an ISO timestamp: {value!r}") from None


def _to_opt_ts(value: object, name: str) -> datetime | None:
    return None if value is None else _to_ts(value, name)


def _field(body: Mapping[str, Any], name: str) -> Any:
    try:
        return body[name]
    except KeyError:
        raise CorruptJournal(f"journal body lacks field {name!r}") from None


def _opt_str(value: object, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise CorruptJournal(f"field {name!r} must be a string, got {value!r}")


def _str(value: object, name: str) -> str:
    if isinstance(value, str):
        return value
    raise CorruptJournal(f"field {name!r} must be a string, got {value!r}")


# -- orders -------------------------------------------------------------------------------
def encode_order(order: Order, *, for_orjson: bool = False) -> dict[str, Any]:
    """Every field of an order (its terms and its state at this moment).

    Args:
        order: The order.
        for_orjson: The body is about to be dumped by orjson (:func:`dumps`, the gateway's
            replies and events): its UTC times are left as ``datetime`` objects, which orjson
            writes character for character as :func:`timestamp` does, and its enums as they
            are (orjson writes their values), in C. The dumped bytes are the same either way;
            the dict itself then holds ``datetime`` and enum values, so only pass it to orjson.
    """
    # Built for orjson; then, unless it is about to dump it, enums and times made JSON values.
    # (An enum's ``.value`` is a Python-level property, ~0.2 µs each: four per order, and an
    # order is encoded four times on its way through the gateway.)
    body: dict[str, Any] = {
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side,
        "order_type": order.order_type,
        "quantity": str(order.quantity),
        "time_in_force": order.time_in_force,
        "limit_price": _dec(order.limit_price),
        "stop_price": _dec(order.stop_price),
        "post_only": order.post_only,
        "reduce_only": order.reduce_only,
        "broker": order.broker,
        "tag": order.tag,
        "status": order.status,
        "broker_order_id": order.broker_order_id,
        "filled_quantity": str(order.filled_quantity),
        "average_fill_price": _dec(order.average_fill_price),
        "fees": str(order.fees),
        "reject_reason": order.reject_reason,
        "created_at": _ts_for_orjson(order.created_at),
        "updated_at": _ts_for_orjson(order.updated_at),
        "accepted_at": _ts_for_orjson(order.accepted_at),
        "first_fill_at": _ts_for_orjson(order.first_fill_at),
    }
    if not for_orjson:
        body["side"] = order.side.value
        body["order_type"] = order.order_type.value
        body["time_in_force"] = order.time_in_force.value
        body["status"] = order.status.value
        for key in _ORDER_TIMES:
            value = body[key]
            if isinstance(value, datetime):  # (any other is already timestamp()'s text)
                body[key] = timestamp(value)
    return body


_ORDER_TIMES = ("created_at", "updated_at", "accepted_at", "first_fill_at")


def decode_order(body: Mapping[str, Any]) -> Order:
    """The :class:`Order` :func:`encode_order` wrote.

    Raises:
        CorruptJournal: a field is missing or malformed.
    """
    # Fast path for a well-formed body (replay and the gateway's streams decode many): the
    # same checks as _decode_order_checked, fused; anything it doubts goes to the checked
    # path, which names the bad field.
    try:
        g = body.get
        v = (
            body["client_order_id"],
            body["symbol"],
            body["quantity"],
            body["filled_quantity"],
            body["fees"],
            body["created_at"],
            body["updated_at"],
            g("broker", ""),
        )
        limit, stop, average = g("limit_price"), g("stop_price"), g("average_fill_price")
        accepted, first_fill = g("accepted_at"), g("first_fill_at")
        tag, broker_order_id, reject = g("tag"), g("broker_order_id"), g("reject_reason")
        if not _strings(v, (limit, stop, average, accepted, first_fill, tag, broker_order_id, reject)):
            raise _Doubt
        return Order(
            client_order_id=v[0],
            symbol=v[1],
            side=_SIDES[body["side"]],
            order_type=_ORDER_TYPES[body["order_type"]],
            quantity=Decimal(v[2]),
            time_in_force=_TIFS[body["time_in_force"]],
            limit_price=None if limit is None else Decimal(limit),
            stop_price=None if stop is None else Decimal(stop),
            post_only=bool(g("post_only", False)),
            reduce_only=bool(g("reduce_only", False)),
            broker=v[7],
            tag=tag,
            status=_STATUSES[body["status"]],
            broker_order_id=broker_order_id,
            filled_quantity=Decimal(v[3]),
            average_fill_price=None if average is None else Decimal(average),
            fees=Decimal(v[4]),
            reject_reason=reject,
            created_at=_fromiso(v[5]),
            updated_at=_fromiso(v[6]),
            accepted_at=None if accepted is None else _fromiso(accepted),
            first_fill_at=None if first_fill is None else _fromiso(first_fill),
        )
    except Exception:
        return _decode_order_checked(body)


def _decode_order_checked(body: Mapping[str, Any]) -> Order:
    try:
        return Order(
            client_order_id=_str(_field(body, "client_order_id"), "client_order_id"),
            symbol=_str(_field(body, "symbol"), "symbol"),
            side=OrderSide(_field(body, "side")),
            order_type=OrderType(_field(body, "order_type")),
            quantity=_to_dec(_field(body, "quantity"), "quantity"),
            time_in_force=TimeInForce(_field(body, "time_in_force")),
            limit_price=_to_opt_dec(body.get("limit_price"), "limit_price"),
            stop_price=_to_opt_dec(body.get("stop_price"), "stop_price"),
            post_only=bool(body.get("post_only", False)),
            reduce_only=bool(body.get("reduce_only", False)),
            broker=_str(body.get("broker", ""), "broker"),
            tag=_opt_str(body.get("tag"), "tag"),
            status=OrderStatus(_field(body, "status")),
            broker_order_id=_opt_str(body.get("broker_order_id"), "broker_order_id"),
            filled_quantity=_to_dec(_field(body, "filled_quantity"), "filled_quantity"),
            average_fill_price=_to_opt_dec(body.get("average_fill_price"), "average_fill_price"),
            fees=_to_dec(_field(body, "fees"), "fees"),
            reject_reason=_opt_str(body.get("reject_reason"), "reject_reason"),
            created_at=_to_ts(_field(body, "created_at"), "created_at"),
            updated_at=_to_ts(_field(body, "updated_at"), "updated_at"),
            accepted_at=_to_opt_ts(body.get("accepted_at"), "accepted_at"),
            first_fill_at=_to_opt_ts(body.get("first_fill_at"), "first_fill_at"),
        )
    except ValueError as exc:  # an enum value we do not know
        if isinstance(exc, CorruptJournal):
            raise
        raise CorruptJournal(f"bad order row: {exc}") from None


def encode_change(change: OrderChange) -> dict[str, Any]:
    """A modify request's new terms."""
    return {
        "quantity": _dec(change.quantity),
        "limit_price": _dec(change.limit_price),
        "stop_price": _dec(change.stop_price),
    }


def decode_change(body: Mapping[str, Any]) -> OrderChange:
    """The :class:`OrderChange` :func:`encode_change` wrote."""
    return OrderChange(
        quantity=_to_opt_dec(body.get("quantity"), "quantity"),
        limit_price=_to_opt_dec(body.get("limit_price"), "limit_price"),
        stop_price=_to_opt_dec(body.get("stop_price"), "stop_price"),
    )


# -- fills and events ---------------------------------------------------------------------
def encode_fill(fill: Fill) -> dict[str, Any]:
    """Every field of a fill."""
    return {
        "trade_id": fill.trade_id,
        "client_order_id": fill.client_order_id,
        "symbol": fill.symbol,
        "side": fill.side.value,
        "quantity": str(fill.quantity),
        "price": str(fill.price),
        "fee": str(fill.fee),
        "fee_currency": fill.fee_currency,
        "liquidity": fill.liquidity.value,
        "timestamp": _ts(fill.timestamp),
        "broker_order_id": fill.broker_order_id,
        "broker": fill.broker,
    }


def decode_fill(body: Mapping[str, Any]) -> Fill:
    """The :class:`Fill` :func:`encode_fill` wrote."""
    try:  # fast path, as in decode_order
        g = body.get
        v = (
            body["trade_id"],
            body["client_order_id"],
            body["symbol"],
            body["quantity"],
            body["price"],
            body["fee"],
            body["timestamp"],
            g("fee_currency", ""),
            g("broker", ""),
        )
        broker_order_id = g("broker_order_id")
        if not _strings(v, (broker_order_id,)):
            raise _Doubt
        return Fill(
            trade_id=v[0],
            client_order_id=v[1],
            symbol=v[2],
            side=_SIDES[body["side"]],
            quantity=Decimal(v[3]),
            price=Decimal(v[4]),
            fee=Decimal(v[5]),
            fee_currency=v[7],
            liquidity=_LIQUIDITY[g("liquidity", "unknown")],
            timestamp=_fromiso(v[6]),
            broker_order_id=broker_order_id,
            broker=v[8],
        )
    except Exception:
        return _decode_fill_checked(body)


def _decode_fill_checked(body: Mapping[str, Any]) -> Fill:
    try:
        return Fill(
            trade_id=_str(_field(body, "trade_id"), "trade_id"),
            client_order_id=_str(_field(body, "client_order_id"), "client_order_id"),
            symbol=_str(_field(body, "symbol"), "symbol"),
            side=OrderSide(_field(body, "side")),
            quantity=_to_dec(_field(body, "quantity"), "quantity"),
            price=_to_dec(_field(body, "price"), "price"),
            fee=_to_dec(_field(body, "fee"), "fee"),
            fee_currency=_str(body.get("fee_currency", ""), "fee_currency"),
            liquidity=Liquidity(body.get("liquidity", Liquidity.UNKNOWN.value)),
            timestamp=_to_ts(_field(body, "timestamp"), "timestamp"),
            broker_order_id=_opt_str(body.get("broker_order_id"), "broker_order_id"),
            broker=_str(body.get("broker", ""), "broker"),
        )
    except ValueError as exc:
        if isinstance(exc, CorruptJournal):
            raise
        raise CorruptJournal(f"bad fill row: {exc}") from None


def encode_event(event: OrderEvent) -> dict[str, Any]:
    """An order event, tagged with its type name."""
    if isinstance(event, OrderFilled):
        return {"type": "OrderFilled", "fill": encode_fill(event.fill)}
    body: dict[str, Any] = {"type": type(event).__name__, "client_order_id": event.client_order_id}
    if isinstance(event, OrderAccepted):
        body["broker_order_id"] = event.broker_order_id
    elif isinstance(event, OrderRejected):
        body["reason"] = event.reason
        body["code"] = event.code
    elif isinstance(event, OrderCanceled):
        body["reason"] = event.reason
    elif isinstance(event, OrderModified):
        body["quantity"] = _dec(event.quantity)
        body["limit_price"] = _dec(event.limit_price)
        body["stop_price"] = _dec(event.stop_price)
        body["broker_order_id"] = event.broker_order_id
    elif isinstance(event, OrderCancelRejected | OrderModifyRejected):
        body["reason"] = event.reason
    body["timestamp"] = _ts(event.timestamp)
    return body


def _accepted(b: Mapping[str, Any]) -> OrderEvent:
    return OrderAccepted(
        _str(_field(b, "client_order_id"), "client_order_id"),
        _opt_str(b.get("broker_order_id"), "broker_order_id"),
        _to_ts(_field(b, "timestamp"), "timestamp"),
    )


def _rejected(b: Mapping[str, Any]) -> OrderEvent:
    code = b.get("code")
    return OrderRejected(
        _str(_field(b, "client_order_id"), "client_order_id"),
        _str(_field(b, "reason"), "reason"),
        None if code is None else str(code),
        _to_ts(_field(b, "timestamp"), "timestamp"),
    )


def _canceled(b: Mapping[str, Any]) -> OrderEvent:
    return OrderCanceled(
        _str(_field(b, "client_order_id"), "client_order_id"),
        _opt_str(b.get("reason"), "reason"),
        _to_ts(_field(b, "timestamp"), "timestamp"),
    )


def _expired(b: Mapping[str, Any]) -> OrderEvent:
    return OrderExpired(
        _str(_field(b, "client_order_id"), "client_order_id"), _to_ts(_field(b, "timestamp"), "timestamp")
    )


def _modified(b: Mapping[str, Any]) -> OrderEvent:
    return OrderModified(
        _str(_field(b, "client_order_id"), "client_order_id"),
        quantity=_to_opt_dec(b.get("quantity"), "quantity"),
        limit_price=_to_opt_dec(b.get("limit_price"), "limit_price"),
        stop_price=_to_opt_dec(b.get("stop_price"), "stop_price"),
        broker_order_id=_opt_str(b.get("broker_order_id"), "broker_order_id"),
        timestamp=_to_ts(_field(b, "timestamp"), "timestamp"),
    )


def _cancel_rejected(b: Mapping[str, Any]) -> OrderEvent:
    return OrderCancelRejected(
        _str(_field(b, "client_order_id"), "client_order_id"),
        _str(_field(b, "reason"), "reason"),
        _to_ts(_field(b, "timestamp"), "timestamp"),
    )


def _modify_rejected(b: Mapping[str, Any]) -> OrderEvent:
    return OrderModifyRejected(
        _str(_field(b, "client_order_id"), "client_order_id"),
        _str(_field(b, "reason"), "reason"),
        _to_ts(_field(b, "timestamp"), "timestamp"),
    )


def _filled(b: Mapping[str, Any]) -> OrderEvent:
    fill = _field(b, "fill")
    if not isinstance(fill, dict):
        raise CorruptJournal("OrderFilled row without a fill object")
    return OrderFilled(decode_fill(fill))


_EVENT_DECODERS: dict[str, Callable[[Mapping[str, Any]], OrderEvent]] = {
    "OrderAccepted": _accepted,
    "OrderRejected": _rejected,
    "OrderFilled": _filled,
    "OrderCanceled": _canceled,
    "OrderExpired": _expired,
    "OrderModified": _modified,
    "OrderCancelRejected": _cancel_rejected,
    "OrderModifyRejected": _modify_rejected,
}


def decode_event(body: Mapping[str, Any]) -> OrderEvent:
    """The event :func:`encode_event` wrote.

    Raises:
        CorruptJournal: unknown event type or a malformed field.
    """
    decoder = _EVENT_DECODERS.get(str(body.get("type")))
    if decoder is None:
        raise CorruptJournal(f"unknown event type {body.get('type')!r}")
    return decoder(body)


# -- positions ---------------------------------------------------------------------------------
def encode_instrument(instrument: Instrument) -> dict[str, Any]:
    """An instrument's trading rules as decimal strings (the gateway's snapshot for remote
    strategies, a compaction's request to its child process)."""
    i = instrument
    return {
        "symbol": i.symbol,
        "asset_class": i.asset_class.value,
        "base": i.base,
        "quote": i.quote,
        "tick_size": str(i.tick_size),
        "lot_size": str(i.lot_size),
        "min_quantity": str(i.min_quantity),
        "min_notional": str(i.min_notional),
        "multiplier": str(i.multiplier),
        "max_quantity": None if i.max_quantity is None else str(i.max_quantity),
        "market_lot_size": None if i.market_lot_size is None else str(i.market_lot_size),
    }


def decode_instrument(body: dict[str, Any]) -> Instrument:
    """Inverse of :func:`encode_instrument`."""

    def opt(name: str) -> Decimal | None:
        value = body.get(name)
        return None if value is None else Decimal(value)

    return Instrument(
        symbol=str(body["symbol"]),
        asset_class=AssetClass(body["asset_class"]),
        base=str(body["base"]),
        quote=str(body["quote"]),
        tick_size=Decimal(body["tick_size"]),
        lot_size=Decimal(body["lot_size"]),
        min_quantity=Decimal(body["min_quantity"]),
        min_notional=Decimal(body["min_notional"]),
        multiplier=Decimal(body["multiplier"]),
        max_quantity=opt("max_quantity"),
        market_lot_size=opt("market_lot_size"),
    )


def encode_position(position: Position) -> dict[str, Any]:
    """Every field of a position (journal snapshots and the NATS gateway's events)."""
    return {
        "symbol": position.symbol,
        "quantity": str(position.quantity),
        "average_price": str(position.average_price),
        "realized_pnl": str(position.realized_pnl),
        "fees_paid": str(position.fees_paid),
        "other_fees": {currency: str(fee) for currency, fee in position.other_fees.items()},
        "broker": position.broker,
        "unrealized_pnl": _dec(position.unrealized_pnl),
    }


def decode_position(body: Mapping[str, Any]) -> Position:
    """The :class:`Position` :func:`encode_position` wrote (``other_fees`` and
    ``unrealized_pnl`` may be absent).

    Raises:
        CorruptJournal: a field is missing or malformed.
    """
    other = body.get("other_fees") or {}
    if not isinstance(other, dict):
        raise CorruptJournal(f"position other_fees must be an object, got {other!r}")
    return Position(
        symbol=_str(_field(body, "symbol"), "symbol"),
        quantity=_to_dec(_field(body, "quantity"), "quantity"),
        average_price=_to_dec(_field(body, "average_price"), "average_price"),
        realized_pnl=_to_dec(_field(body, "realized_pnl"), "realized_pnl"),
        fees_paid=_to_dec(_field(body, "fees_paid"), "fees_paid"),
        other_fees={str(c): _to_dec(v, "other_fees") for c, v in other.items()},
        broker=_str(body.get("broker", ""), "broker"),
        unrealized_pnl=_to_opt_dec(body.get("unrealized_pnl"), "unrealized_pnl"),
    )


# -- reports and dead letters ---------------------------------------------------------------
def encode_report(report: OrderReport) -> dict[str, Any]:
    """Every field of a broker order report."""
    return {
        "client_order_id": report.client_order_id,
        "broker_order_id": report.broker_order_id,
        "symbol": report.symbol,
        "side": report.side.value,
        "order_type": report.order_type.value,
        "quantity": str(report.quantity),
        "status": report.status.value,
        "filled_quantity": str(report.filled_quantity),
        "average_fill_price": _dec(report.average_fill_price),
        "limit_price": _dec(report.limit_price),
        "stop_price": _dec(report.stop_price),
        "time_in_force": report.time_in_force.value,
        "updated_at": _ts(report.updated_at),
        "broker": report.broker,
    }


def decode_report(body: Mapping[str, Any]) -> OrderReport:
    """The :class:`OrderReport` :func:`encode_report` wrote."""
    try:
        return OrderReport(
            client_order_id=_opt_str(body.get("client_order_id"), "client_order_id"),
            broker_order_id=_opt_str(body.get("broker_order_id"), "broker_order_id"),
            symbol=_str(_field(body, "symbol"), "symbol"),
            side=OrderSide(_field(body, "side")),
            order_type=OrderType(_field(body, "order_type")),
            quantity=_to_dec(_field(body, "quantity"), "quantity"),
            status=OrderStatus(_field(body, "status")),
            filled_quantity=_to_dec(_field(body, "filled_quantity"), "filled_quantity"),
            average_fill_price=_to_opt_dec(body.get("average_fill_price"), "average_fill_price"),
            limit_price=_to_opt_dec(body.get("limit_price"), "limit_price"),
            stop_price=_to_opt_dec(body.get("stop_price"), "stop_price"),
            time_in_force=TimeInForce(body.get("time_in_force", TimeInForce.GTC.value)),
            updated_at=_to_opt_ts(body.get("updated_at"), "updated_at"),
            broker=_str(body.get("broker", ""), "broker"),
        )
    except ValueError as exc:
        if isinstance(exc, CorruptJournal):
            raise
        raise CorruptJournal(f"bad report row: {exc}") from None


def encode_dead_letter(letter: DeadLetter) -> dict[str, Any]:
    """A dead letter (already made of safe, string-only fields)."""
    return letter.as_dict()


def decode_dead_letter(body: Mapping[str, Any]) -> DeadLetter:
    """The :class:`DeadLetter` :func:`encode_dead_letter` wrote."""
    payload = body.get("payload") or {}
    if not isinstance(payload, dict):
        raise CorruptJournal("dead letter payload is not an object")
    attempts = body.get("attempts", 1)
    if not isinstance(attempts, int):
        raise CorruptJournal(f"dead letter attempts must be an integer, got {attempts!r}")
    return DeadLetter(
        operation=_str(_field(body, "operation"), "operation"),
        client_order_id=_str(_field(body, "client_order_id"), "client_order_id"),
        symbol=_str(_field(body, "symbol"), "symbol"),
        error_type=_str(_field(body, "error_type"), "error_type"),
        error_message=_str(_field(body, "error_message"), "error_message"),
        attempts=attempts,
        timestamp=_to_ts(_field(body, "timestamp"), "timestamp"),
        payload={str(k): str(v) for k, v in payload.items()},
    )


# -- unknown outcomes (the resolver's notes) ---------------------------------------------------
def encode_outcome(note: OutcomeUnknown | OutcomeResolved) -> dict[str, Any]:
    """An unknown outcome or its settlement, tagged with its type name."""
    body: dict[str, Any] = {
        "type": type(note).__name__,
        "client_order_id": note.client_order_id,
        "operation": note.operation,
        "timestamp": _ts(note.timestamp),
    }
    if isinstance(note, OutcomeUnknown):
        body.update(reason=note.reason, stamp=_ts(note.stamp), candidates=list(note.candidates))
    else:
        body["how"] = note.how
    return body


def decode_outcome(body: Mapping[str, Any]) -> OutcomeUnknown | OutcomeResolved:
    """The note :func:`encode_outcome` wrote.

    Raises:
        CorruptJournal: unknown type or a malformed field.
    """
    kind = body.get("type")
    cid = _str(_field(body, "client_order_id"), "client_order_id")
    operation = _str(_field(body, "operation"), "operation")
    timestamp = _to_ts(_field(body, "timestamp"), "timestamp")
    if kind == "OutcomeUnknown":
        candidates = body.get("candidates") or []
        if not isinstance(candidates, list):
            raise CorruptJournal("field 'candidates' must be a list")
        return OutcomeUnknown(
            cid,
            operation,
            _str(_field(body, "reason"), "reason"),
            _to_ts(_field(body, "stamp"), "stamp"),
            tuple(_str(c, "candidates") for c in candidates),
            timestamp,
        )
    if kind == "OutcomeResolved":
        return OutcomeResolved(cid, operation, _str(_field(body, "how"), "how"), timestamp)
    raise CorruptJournal(f"unknown outcome note type {kind!r}")
