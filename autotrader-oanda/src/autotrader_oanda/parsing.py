"""OANDA v20 JSON → core models and events.

Numbers are decimal strings on the wire (protocols.md §4); they become
``Decimal`` directly. Fields are read through the core's
:class:`~autotrader_core.wire.WireReader`: unknown enum values and missing or
malformed fields raise a :class:`~autotrader_core.wire.WireFieldError` (a
:class:`~autotrader_core.errors.BrokerProtocolError`) naming the payload kind and
the field, with the payload.

Transactions are the one source of order events, whether they arrive in a
REST reply (``orderCreateTransaction``, ``orderFillTransaction``, ...), a
``/transactions/sinceid`` catch-up page or the transaction stream: the same
:class:`TransactionTranslator` turns each into core events, so a fill always
carries the ORDER_FILL transaction id as its trade id, whichever path saw it
first (the OMS de-duplicates on it).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from autotrader_core.enums import AssetClass, OrderSide, OrderStatus, OrderType, TimeInForce
from autotrader_core.errors import BrokerProtocolError
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
)
from autotrader_core.models import Balance, Fill, Instrument, OrderReport, Position
from autotrader_core.wire import WireReader

from autotrader_oanda.errors import BROKER

__all__ = [
    "ORDER_CREATE_TYPES",
    "WIRE",
    "TransactionTranslator",
    "fill_from_transaction",
    "parse_balances",
    "parse_instrument",
    "parse_order_report",
    "parse_position",
    "parse_time",
    "report_from_transactions",
    "transaction_id",
]

ZERO = Decimal(0)

ORDER_CREATE_TYPES = frozenset({"MARKET_ORDER", "LIMIT_ORDER", "STOP_ORDER", "MARKET_IF_TOUCHED_ORDER"})
"""Transactions that create an order autotrader can place (or that OANDA reports for it)."""
_ORDER_REJECT_TYPES = frozenset(f"{t}_REJECT" for t in ORDER_CREATE_TYPES)

_ASSET_CLASSES = {"CURRENCY": AssetClass.FX, "CFD": AssetClass.CFD, "METAL": AssetClass.CFD}
_ORDER_TYPES = {
    "MARKET": OrderType.MARKET,
    "LIMIT": OrderType.LIMIT,
    "STOP": OrderType.STOP,
    # The core has no market-if-touched type: it is a trigger that becomes a market order.
    "MARKET_IF_TOUCHED": OrderType.STOP,
}
_DEPENDENT_ORDER_TYPES = frozenset(
    {"TAKE_PROFIT", "STOP_LOSS", "GUARANTEED_STOP_LOSS", "TRAILING_STOP_LOSS", "FIXED_PRICE"}
)
_ORDER_STATES = {
    "PENDING": OrderStatus.ACCEPTED,
    "TRIGGERED": OrderStatus.ACCEPTED,
    "FILLED": OrderStatus.FILLED,
    "CANCELLED": OrderStatus.CANCELED,
}
_TIME_IN_FORCE = {
    "GTC": TimeInForce.GTC,
    "GTD": TimeInForce.GTC,  # good-till-date: closest core value; autotrader never sends GTD
    "GFD": TimeInForce.DAY,
    "FOK": TimeInForce.FOK,
    "IOC": TimeInForce.IOC,
}


WIRE = WireReader(BROKER)
"""OANDA's field reader (errors name the broker); the ``of(kind)`` readers below also name the payload."""
_INSTRUMENT = WIRE.of("instrument")
_ACCOUNT = WIRE.of("account")
_POSITION = WIRE.of("position")
_ORDER = WIRE.of("order")
_TRANSACTION = WIRE.of("transaction")

# Shared by every payload kind (trade legs, transactions, orders): the generic reader.
_decimal = WIRE.decimal
_optional_decimal = WIRE.optional_decimal


def _protocol_error(message: str, payload: Any) -> BrokerProtocolError:
    return BrokerProtocolError(message, payload=payload, broker=BROKER)


def _str_field(payload: Mapping[str, Any], key: str, reader: WireReader = WIRE) -> str:
    # Hot path (every transaction reads several): a non-empty string is returned without a call;
    # anything else goes to the reader, which raises the error naming the payload and field.
    value = payload.get(key) if type(payload) is dict else None
    if type(value) is str and value:
        return value
    return reader.text(payload, key, non_empty=True)


def parse_time(value: object, *, payload: Any = None) -> datetime:
    """RFC 3339 with up to nine fractional digits (``2016-10-24T21:48:18.593753865Z``) → UTC datetime.

    Python keeps microseconds; the nanosecond digits are truncated, never rounded
    up (rounding could move a time across a second boundary).
    """
    if not isinstance(value, str):
        raise _protocol_error(f"time must be an RFC 3339 string, got {type(value).__name__}", payload)
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if "." in text:
        head, _, rest = text.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        fraction, zone = rest[:digits], rest[digits:]
        text = f"{head}.{(fraction + '000000')[:6]}{zone}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _protocol_error(f"time is not RFC 3339: {value!r}", payload) from None
    if parsed.tzinfo is None:
        raise _protocol_error(f"time has no UTC offset: {value!r}", payload)
    return parsed.astimezone(UTC)


def transaction_id(value: object, *, payload: Any = None) -> int:
    """A transaction id (a decimal string on the wire) as an ``int``, for ordering and gaps."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise _protocol_error(f"transaction id must be a string of digits, got {value!r}", payload)


def _side_and_quantity(payload: Mapping[str, Any]) -> tuple[OrderSide, Decimal]:
    units = _decimal(payload, "units")
    if units == 0:
        raise WIRE.error("must not be zero", field="units", payload=payload)
    return (OrderSide.BUY if units > 0 else OrderSide.SELL), abs(units)


# -- account data ----------------------------------------------------------


def parse_instrument(payload: Mapping[str, Any]) -> Instrument:
    """One entry of ``GET /v3/accounts/{id}/instruments`` → :class:`Instrument`.

    ``tick_size`` = 10^-displayPrecision (prices may carry no more decimals),
    ``lot_size`` = 10^-tradeUnitsPrecision, ``min_quantity`` = minimumTradeSize,
    ``max_quantity`` = maximumOrderUnits.
    """
    name = _str_field(payload, "name", _INSTRUMENT)
    asset_class = _INSTRUMENT.enum(payload, "type", _ASSET_CLASSES)
    base, sep, quote = name.partition("_")
    if not sep or not base or not quote:
        raise _INSTRUMENT.error(f"{name!r} is not BASE_QUOTE", field="name", payload=payload)
    precision = _INSTRUMENT.field(payload, "displayPrecision")
    units_precision = _INSTRUMENT.field(payload, "tradeUnitsPrecision")
    for key, value in (("displayPrecision", precision), ("tradeUnitsPrecision", units_precision)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _INSTRUMENT.error(
                f"must be a non-negative integer, got {value!r}", field=key, payload=payload
            )
    return Instrument(
        symbol=name,
        asset_class=asset_class,
        base=base,
        quote=quote,
        tick_size=Decimal(1).scaleb(-precision),
        lot_size=Decimal(1).scaleb(-units_precision),
        min_quantity=_INSTRUMENT.decimal(payload, "minimumTradeSize"),
        max_quantity=_INSTRUMENT.optional_decimal(payload, "maximumOrderUnits"),
    )


def parse_balances(account: Mapping[str, Any]) -> list[Balance]:
    """``account`` of ``GET /v3/accounts/{id}/summary`` → one :class:`Balance` in the home currency.

    ``total`` is the NAV (balance + unrealized P/L) and ``available`` the margin
    available for new positions, so ``locked`` is the margin in use.
    """
    return [
        Balance(
            asset=_str_field(account, "currency", _ACCOUNT),
            total=_ACCOUNT.decimal(account, "NAV"),
            available=_ACCOUNT.decimal(account, "marginAvailable"),
        )
    ]


def parse_position(payload: Mapping[str, Any]) -> Position:
    """One entry of ``GET /v3/accounts/{id}/openPositions`` → net :class:`Position`.

    ``quantity`` = long units + short units (short units are negative). The average
    price is the one of the side that holds units; on a hedging account holding
    both, it is the side the net quantity points to. ``unrealized_pnl`` is in the
    account's home currency (as OANDA reports it).
    """
    long_side = _POSITION.field(payload, "long")
    short_side = _POSITION.field(payload, "short")
    long_units = _decimal(long_side, "units")
    short_units = _decimal(short_side, "units")
    quantity = long_units + short_units
    leg = long_side if (quantity > 0 or (quantity == 0 and long_units != 0)) else short_side
    average = _optional_decimal(leg, "averagePrice") if (long_units or short_units) else None
    return Position(
        symbol=_str_field(payload, "instrument", _POSITION),
        quantity=quantity,
        average_price=average if average is not None else ZERO,
        broker=BROKER,
        unrealized_pnl=_POSITION.optional_decimal(payload, "unrealizedPL"),
    )


def parse_order_report(order: Mapping[str, Any], fill: Mapping[str, Any] | None = None) -> OrderReport | None:
    """An OANDA Order (``GET .../orders/{specifier}``, ``pendingOrders``) → :class:`OrderReport`.

    Returns ``None`` for trade-dependent orders (take-profit, stop-loss, ...) which
    autotrader never places and which have no units of their own.

    Args:
        fill: The ORDER_FILL transaction named by ``fillingTransactionID``, when
            fetched: it supplies the filled units and price (an Order object has neither).
    """
    kind = _str_field(order, "type", _ORDER)
    if kind in _DEPENDENT_ORDER_TYPES:
        return None
    order_type = _ORDER.enum(order, "type", _ORDER_TYPES)
    status = _ORDER.enum(order, "state", _ORDER_STATES)
    side, quantity = _side_and_quantity(order)
    tif_text = order.get("timeInForce", "FOK" if kind == "MARKET" else "GTC")
    tif = _TIME_IN_FORCE.get(tif_text) if isinstance(tif_text, str) else None
    if tif is None:
        raise _ORDER.error(f"has an unknown value {tif_text!r}", field="timeInForce", payload=order)
    price = _ORDER.optional_decimal(order, "price")
    filled = ZERO
    average: Decimal | None = None
    if fill is not None:
        filled = abs(_decimal(fill, "units"))
        average = fill_price(fill)
    elif status is OrderStatus.FILLED:
        filled = quantity
    extensions = order.get("clientExtensions")
    client_id = extensions.get("id") if isinstance(extensions, dict) else None
    updated = order.get("filledTime") or order.get("cancelledTime") or order.get("createTime")
    return OrderReport(
        client_order_id=client_id if isinstance(client_id, str) else None,
        broker_order_id=_str_field(order, "id", _ORDER),
        symbol=_str_field(order, "instrument", _ORDER),
        side=side,
        order_type=order_type,
        quantity=quantity,
        status=status,
        filled_quantity=filled,
        average_fill_price=average,
        limit_price=price if order_type is OrderType.LIMIT else None,
        stop_price=price if order_type is OrderType.STOP else None,
        time_in_force=tif,
        updated_at=parse_time(updated, payload=order) if updated is not None else None,
        broker=BROKER,
    )


# -- fills -------------------------------------------------------------------


def fill_price(tx: Mapping[str, Any]) -> Decimal:
    """The price of an ORDER_FILL.

    OANDA deprecated the fill's ``price``: the official prices are on the trade
    legs (``tradeOpened``, ``tradeReduced``, ``tradesClosed``). Their
    unit-weighted average is used when every leg has a price; otherwise
    ``fullVWAP``, then ``price`` (2016-era fills carry only that).
    """
    legs: list[Mapping[str, Any]] = []
    for key in ("tradeOpened", "tradeReduced"):
        leg = tx.get(key)
        if isinstance(leg, dict):
            legs.append(leg)
    closed = tx.get("tradesClosed")
    if isinstance(closed, list):
        legs.extend(leg for leg in closed if isinstance(leg, dict))
    if legs and all(leg.get("price") not in (None, "") for leg in legs):
        prices = [(_decimal(leg, "price"), abs(_decimal(leg, "units"))) for leg in legs]
        first = prices[0][0]
        if all(price == first for price, _ in prices):
            return first
        total_units = sum((units for _, units in prices), ZERO)
        if total_units == 0:
            raise _protocol_error("ORDER_FILL trade legs have zero units", tx)
        return sum((price * units for price, units in prices), ZERO) / total_units
    for key in ("fullVWAP", "price"):
        value = _optional_decimal(tx, key)
        if value is not None:
            return value
    raise _protocol_error("ORDER_FILL has no price (no trade leg price, fullVWAP or price)", tx)


def fill_from_transaction(tx: Mapping[str, Any], *, client_order_id: str, fee_currency: str) -> Fill:
    """An ORDER_FILL transaction → :class:`Fill` whose ``trade_id`` is the transaction id.

    The fee is ``commission`` + ``guaranteedExecutionFee`` (both positive amounts
    in the account's home currency; the spread is in the price, not a fee).
    """
    side, quantity = _side_and_quantity(tx)
    fee = (_optional_decimal(tx, "commission") or ZERO) + (
        _optional_decimal(tx, "guaranteedExecutionFee") or ZERO
    )
    return Fill(
        trade_id=_str_field(tx, "id"),
        client_order_id=client_order_id,
        symbol=_str_field(tx, "instrument"),
        side=side,
        quantity=quantity,
        price=fill_price(tx),
        fee=fee,
        fee_currency=fee_currency,
        timestamp=parse_time(WIRE.field(tx, "time"), payload=tx),
        broker_order_id=_str_field(tx, "orderID"),
        broker=BROKER,
    )


# -- transactions → events -----------------------------------------------------


class TransactionTranslator:
    """Turns OANDA transactions into core order events.

    It keeps the one piece of state the protocol needs: which OANDA order id
    belongs to which client order id (a replace gives the order a new id, and a
    replace reject does not always echo the client extensions). The map is
    bounded; ids are learnt from every create, fill and cancel it sees and
    from :meth:`remember`.

    Args:
        fee_currency: The account's home currency (fees are charged in it).
        max_ids: How many order ids to remember.
    """

    def __init__(self, *, fee_currency: str = "", max_ids: int = 10_000) -> None:
        self.fee_currency = fee_currency
        self._max_ids = max_ids
        self._client_ids: OrderedDict[str, str] = OrderedDict()
        self._reported: OrderedDict[str, None] = OrderedDict()

    def remember(self, broker_order_id: str, client_order_id: str) -> None:
        """Record that ``broker_order_id`` is the order ``client_order_id``."""
        self._client_ids[broker_order_id] = client_order_id
        self._client_ids.move_to_end(broker_order_id)
        while len(self._client_ids) > self._max_ids:
            self._client_ids.popitem(last=False)

    def client_id_for(self, broker_order_id: str) -> str | None:
        """The client order id of a known OANDA order id."""
        return self._client_ids.get(broker_order_id)

    def _client_id(self, tx: Mapping[str, Any], *order_keys: str) -> str | None:
        extensions = tx.get("clientExtensions")
        if isinstance(extensions, dict) and isinstance(extensions.get("id"), str) and extensions["id"]:
            return str(extensions["id"])
        echoed = tx.get("clientOrderID")
        if isinstance(echoed, str) and echoed:
            return echoed
        for key in order_keys:
            order_id = tx.get(key)
            if isinstance(order_id, str) and order_id in self._client_ids:
                return self._client_ids[order_id]
        return None

    def events(self, tx: Mapping[str, Any], *, once: bool = False) -> list[OrderEvent]:
        """Core events proven by one transaction; ``[]`` for transactions about
        orders autotrader did not place and for types without an order event.

        Args:
            once: Return ``[]`` for a transaction already translated in this
                session (the stream and catch-up pass ``True`` so that what a REST
                reply already reported is not reported again; REST replies pass
                ``False``: they always report everything they prove).
        """
        if not isinstance(tx, dict):
            raise _protocol_error("transaction must be a JSON object", tx)
        kind = _str_field(tx, "type", _TRANSACTION)
        tx_id = _str_field(tx, "id", _TRANSACTION)
        if once and tx_id in self._reported:
            return []
        events = self._translate(kind, tx)
        # Marked only once translated: a transaction that failed to parse is not "reported".
        self._reported[tx_id] = None
        while len(self._reported) > self._max_ids:
            self._reported.popitem(last=False)
        return events

    def _translate(self, kind: str, tx: Mapping[str, Any]) -> list[OrderEvent]:
        if kind in ORDER_CREATE_TYPES:
            return self._created(tx)
        if kind == "ORDER_FILL":
            return self._filled(tx)
        if kind == "ORDER_CANCEL":
            return self._canceled(tx)
        if kind == "ORDER_CANCEL_REJECT":
            client_id = self._client_id(tx, "orderID")
            if client_id is None:
                return []
            reason = str(tx.get("rejectReason") or "ORDER_CANCEL_REJECT")
            return [OrderCancelRejected(client_id, reason, timestamp=self._time(tx))]
        if kind in _ORDER_REJECT_TYPES:
            return self._rejected(tx)
        return []

    @staticmethod
    def _time(tx: Mapping[str, Any]) -> datetime:
        return parse_time(_TRANSACTION.field(tx, "time"), payload=tx)

    def _created(self, tx: Mapping[str, Any]) -> list[OrderEvent]:
        order_id = _str_field(tx, "id")
        client_id = self._client_id(tx, "id", "replacesOrderID")
        if client_id is None:
            return []
        self.remember(order_id, client_id)
        if tx.get("reason") != "REPLACEMENT":
            return [OrderAccepted(client_id, order_id, timestamp=self._time(tx))]
        # The replacement's units: the new total unless the order had partly filled (then the
        # remainder). The REST modify path knows the total and reports that instead.
        _, quantity = _side_and_quantity(tx)
        price = _optional_decimal(tx, "price")
        is_limit = tx["type"] == "LIMIT_ORDER"
        return [
            OrderModified(
                client_id,
                quantity=quantity,
                limit_price=price if is_limit else None,
                stop_price=None if is_limit else price,
                broker_order_id=order_id,
                timestamp=self._time(tx),
            )
        ]

    def _filled(self, tx: Mapping[str, Any]) -> list[OrderEvent]:
        client_id = self._client_id(tx, "orderID")
        if client_id is None:
            return []
        self.remember(_str_field(tx, "orderID"), client_id)
        fill = fill_from_transaction(tx, client_order_id=client_id, fee_currency=self.fee_currency)
        return [OrderFilled(fill)]

    def _canceled(self, tx: Mapping[str, Any]) -> list[OrderEvent]:
        client_id = self._client_id(tx, "orderID")
        if client_id is None:
            return []
        reason = tx.get("reason")
        if reason == "CLIENT_REQUEST_REPLACED":
            return []  # the order lives on under a new id: the REPLACEMENT create reports it
        if reason == "TIME_IN_FORCE_EXPIRED":
            return [OrderExpired(client_id, timestamp=self._time(tx))]
        return [OrderCanceled(client_id, str(reason) if reason else None, timestamp=self._time(tx))]

    def _rejected(self, tx: Mapping[str, Any]) -> list[OrderEvent]:
        replaces = tx.get("intendedReplacesOrderID")
        client_id = self._client_id(tx, "intendedReplacesOrderID")
        if client_id is None:
            return []
        reason = str(tx.get("rejectReason") or tx["type"])
        if replaces or tx.get("reason") == "REPLACEMENT":
            return [OrderModifyRejected(client_id, reason, timestamp=self._time(tx))]
        return [OrderRejected(client_id, reason, code=reason, timestamp=self._time(tx))]


def _extension_id(tx: Mapping[str, Any]) -> str | None:
    extensions = tx.get("clientExtensions")
    value = extensions.get("id") if isinstance(extensions, dict) else None
    return value if isinstance(value, str) and value else None


def report_from_transactions(client_order_id: str, transactions: list[Any]) -> OrderReport | None:
    """Rebuild the report of order ``client_order_id`` from its transactions, or ``None``.

    The fallback of an order lookup when ``GET /orders/@<id>`` answers 404: OANDA
    documents client ids as unique only among *pending* orders, so an order that
    was already filled, cancelled or rejected is also searched in the account's
    transactions (the create or reject transaction carries ``clientExtensions``;
    fills and cancels carry ``clientOrderID`` or the order id). A safe re-send
    then never duplicates an order that already traded.
    """
    ordered = sorted(
        (tx for tx in transactions if isinstance(tx, dict)),
        key=lambda tx: transaction_id(tx.get("id"), payload=tx),
    )
    create: Mapping[str, Any] | None = None
    order_ids: set[str] = set()
    rejected: Mapping[str, Any] | None = None
    fills: list[Mapping[str, Any]] = []
    ended: Mapping[str, Any] | None = None
    for tx in ordered:
        kind = tx.get("type")
        mine = _extension_id(tx) == client_order_id or tx.get("clientOrderID") == client_order_id
        if kind in ORDER_CREATE_TYPES and (mine or tx.get("replacesOrderID") in order_ids):
            create = tx
            order_ids.add(_str_field(tx, "id"))
        elif kind in _ORDER_REJECT_TYPES and mine and create is None:
            rejected = tx
        elif kind == "ORDER_FILL" and (mine or tx.get("orderID") in order_ids):
            fills.append(tx)
        elif (
            kind == "ORDER_CANCEL"
            and (mine or tx.get("orderID") in order_ids)
            and tx.get("reason") != "CLIENT_REQUEST_REPLACED"  # a replace lives on under the new id
        ):
            ended = tx
    source = create or rejected
    if source is None:
        return None
    kind = str(source["type"])
    name = kind.removesuffix("_REJECT").removesuffix("_ORDER")
    as_order = {
        "id": source.get("id"),
        "type": name,
        "instrument": source.get("instrument"),
        "units": source.get("units"),
        "price": source.get("price"),
        "timeInForce": source.get("timeInForce", "FOK" if name == "MARKET" else "GTC"),
        "state": "CANCELLED",
        "clientExtensions": {"id": client_order_id},
        "createTime": source.get("time"),
    }
    report = parse_order_report(as_order)
    if report is None:
        return None
    filled = sum((abs(_decimal(tx, "units")) for tx in fills), ZERO)
    average = (
        sum((fill_price(tx) * abs(_decimal(tx, "units")) for tx in fills), ZERO) / filled if filled else None
    )
    if rejected is not None and create is None:
        status = OrderStatus.REJECTED
    elif filled >= report.quantity:
        status = OrderStatus.FILLED
    elif ended is not None:
        status = (
            OrderStatus.EXPIRED if ended.get("reason") == "TIME_IN_FORCE_EXPIRED" else OrderStatus.CANCELED
        )
    elif filled:
        status = OrderStatus.PARTIALLY_FILLED
    else:
        status = OrderStatus.ACCEPTED
    last = (fills[-1] if fills else None) or ended or source
    return replace(
        report,
        broker_order_id=None if create is None else _str_field(create, "id"),
        status=status,
        filled_quantity=filled,
        average_fill_price=average,
        updated_at=parse_time(last.get("time"), payload=last),
    )
