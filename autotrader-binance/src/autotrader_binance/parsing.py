"""Binance Spot JSON → core models and events (protocols.md §1.3–§1.9).

Numbers arrive as decimal strings and become ``Decimal`` directly (never via
float). Fields are read with the core's :class:`~autotrader_core.wire.WireReader`: a
missing field, a wrong type or an enum value we do not know raises a
:class:`~autotrader_core.wire.WireFieldError` (a ``BrokerProtocolError``) naming the
payload kind and the field, with the payload attached.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from autotrader_core.enums import AssetClass, Liquidity, OrderSide, OrderStatus, OrderType, TimeInForce
from autotrader_core.errors import BrokerProtocolError
from autotrader_core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModified,
    OrderRejected,
)
from autotrader_core.models import Balance, Fill, Instrument, OrderReport
from autotrader_core.skipping import BadItemLog
from autotrader_core.wire import WireReader

from autotrader_binance.errors import BROKER

__all__ = [
    "RateLimitRule",
    "RefusedFill",
    "SymbolRules",
    "ms_to_datetime",
    "parse_account_balances",
    "parse_account_position",
    "parse_amend_response",
    "parse_balance_row",
    "parse_execution_report",
    "parse_my_trade",
    "parse_order_report",
    "parse_place_response",
    "parse_rate_limits",
    "parse_symbol",
]

ZERO = Decimal(0)

_STATUS = {
    "NEW": OrderStatus.ACCEPTED,
    "PENDING_NEW": OrderStatus.ACCEPTED,  # order-list leg waiting for its trigger: accepted, not working yet
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "PENDING_CANCEL": OrderStatus.PENDING_CANCEL,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,  # expired by self-trade prevention
}
_TYPE = {
    "MARKET": OrderType.MARKET,
    "LIMIT": OrderType.LIMIT,
    "LIMIT_MAKER": OrderType.LIMIT,
    "STOP_LOSS": OrderType.STOP,
    "TAKE_PROFIT": OrderType.STOP,
    "STOP_LOSS_LIMIT": OrderType.STOP_LIMIT,
    "TAKE_PROFIT_LIMIT": OrderType.STOP_LIMIT,
}
_SIDE = {"BUY": OrderSide.BUY, "SELL": OrderSide.SELL}
_TIF = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK}
_INTERVAL_SECONDS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}

# One reader per payload kind: every error names the broker, the kind and the field.
_WIRE = WireReader(BROKER)
_ORDER = _WIRE.of("order")
_PLACED = _WIRE.of("order placement reply")
_FILL = _WIRE.of("fill")
_AMEND = _WIRE.of("amend reply")
_AMENDED = _WIRE.of("amendedOrder")
_REPORT = _WIRE.of("executionReport")
_POSITION = _WIRE.of("outboundAccountPosition")
_ACCOUNT = _WIRE.of("account")
_BALANCE = _WIRE.of("balance")
_TRADE = _WIRE.of("trade")
_SYMBOL = _WIRE.of("symbol")
_FILTER = _WIRE.of("filter")
_EXCHANGE_INFO = _WIRE.of("exchangeInfo")
_RATE_LIMIT = _WIRE.of("rate limit")


def _nonzero(value: Decimal | None) -> Decimal | None:
    """Binance writes ``"0.00000000"`` for "not set" (market price, no stop price)."""
    return value if value else None


def ms_to_datetime(ms: int) -> datetime:
    """Binance epoch milliseconds → aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


# -- orders -------------------------------------------------------------------


def parse_order_report(payload: Any) -> OrderReport:
    """An order object (query, openOrders, cancel or placement reply) → :class:`OrderReport`.

    A cancel reply carries the cancel request's own id in ``clientOrderId`` and the
    order's in ``origClientOrderId`` (protocols.md §1.5): the order's id is reported.
    """
    p = _ORDER.mapping(payload)
    original = p.get("origClientOrderId")
    client_order_id = original if isinstance(original, str) and original else _ORDER.text(p, "clientOrderId")
    executed = _ORDER.decimal(p, "executedQty")
    cumulative_quote = _ORDER.optional_decimal(p, "cummulativeQuoteQty")
    average = cumulative_quote / executed if executed and cumulative_quote is not None else None
    updated = p.get("updateTime", p.get("transactTime", p.get("workingTime")))
    return OrderReport(
        client_order_id=client_order_id,
        broker_order_id=str(_ORDER.integer(p, "orderId")),
        symbol=_ORDER.text(p, "symbol"),
        side=_ORDER.enum(p, "side", _SIDE),
        order_type=_ORDER.enum(p, "type", _TYPE),
        quantity=_ORDER.decimal(p, "origQty"),
        status=_ORDER.enum(p, "status", _STATUS),
        filled_quantity=executed,
        average_fill_price=average,
        limit_price=_nonzero(_ORDER.optional_decimal(p, "price")),
        stop_price=_nonzero(_ORDER.optional_decimal(p, "stopPrice")),
        time_in_force=_ORDER.enum(p, "timeInForce", _TIF) if "timeInForce" in p else TimeInForce.GTC,
        updated_at=ms_to_datetime(int(updated)) if isinstance(updated, (int, Decimal)) else None,
        broker=BROKER,
    )


def parse_place_response(payload: Any, *, client_order_id: str, side: OrderSide) -> list[OrderEvent]:
    """``POST /api/v3/order`` reply (ACK, RESULT or FULL) → the events it proves.

    Fills listed in a FULL reply matched at placement, so they took liquidity (taker).
    """
    p = _PLACED.mapping(payload)
    broker_order_id = str(_PLACED.integer(p, "orderId"))
    symbol = _PLACED.text(p, "symbol")
    when = _PLACED.epoch_ms(p, "transactTime")
    status_raw = p.get("status")
    if status_raw == "REJECTED":
        return [OrderRejected(client_order_id, reason="REJECTED", timestamp=when)]
    events: list[OrderEvent] = [OrderAccepted(client_order_id, broker_order_id, timestamp=when)]
    for raw_fill in p.get("fills") or ():
        f = _FILL.mapping(raw_fill)
        fee_currency = f.get("commissionAsset")
        events.append(
            OrderFilled(
                Fill(
                    trade_id=str(_FILL.integer(f, "tradeId")),
                    client_order_id=client_order_id,
                    symbol=symbol,
                    side=side,
                    quantity=_FILL.decimal(f, "qty"),
                    price=_FILL.decimal(f, "price"),
                    fee=_FILL.decimal(f, "commission"),
                    fee_currency=fee_currency if isinstance(fee_currency, str) else "",
                    liquidity=Liquidity.TAKER,
                    timestamp=when,
                    broker_order_id=broker_order_id,
                    broker=BROKER,
                )
            )
        )
    if status_raw is not None:
        status = _PLACED.enum(p, "status", _STATUS)
        if status is OrderStatus.CANCELED:
            events.append(OrderCanceled(client_order_id, reason="canceled at placement", timestamp=when))
        elif status is OrderStatus.EXPIRED:
            events.append(OrderExpired(client_order_id, timestamp=when))
    return events


def parse_amend_response(payload: Any, *, client_order_id: str) -> list[OrderEvent]:
    """``PUT /api/v3/order/amend/keepPriority`` reply → ``OrderModified`` (quantity down)."""
    p = _AMEND.mapping(payload)
    amended = _AMENDED.mapping(_AMEND.field(p, "amendedOrder"))
    when = _AMEND.epoch_ms(p, "transactTime")
    events: list[OrderEvent] = [
        OrderModified(
            client_order_id,
            quantity=_AMENDED.decimal(amended, "qty"),
            broker_order_id=str(_AMENDED.integer(amended, "orderId")),
            timestamp=when,
        )
    ]
    status = _AMENDED.enum(amended, "status", _STATUS)
    if status is OrderStatus.EXPIRED:  # amended down to (or below) the filled quantity
        events.append(OrderExpired(client_order_id, timestamp=when))
    return events


# -- user data stream ---------------------------------------------------------


class RefusedFill(BrokerProtocolError):
    """A TRADE report that cannot be booked as a fill (price or quantity 0, trade id -1).

    ``kept`` holds the order update the report still proves (the order is at the
    broker); the adapter yields it and raises the alert for the fill.
    """

    def __init__(self, message: str, *, payload: Any, broker: str, kept: list[OrderEvent]) -> None:
        super().__init__(message, payload=payload, broker=broker)
        self.kept = kept


def parse_execution_report(event: Any) -> list[OrderEvent]:
    """One ``executionReport`` (the inner ``event`` object) → core events.

    ``x`` (execution type) decides: NEW → accepted, TRADE → one fill (``l``/``L``
    this fill, ``n``/``N`` its commission, ``t`` the trade id), CANCELED,
    EXPIRED, REJECTED, REPLACED (amended quantity), TRADE_PREVENTION (STP).
    """
    e = _REPORT.mapping(event)
    execution_type = _REPORT.text(e, "x")
    client_order_id = _REPORT.text(e, "c")
    original = e.get("C")
    if execution_type in ("CANCELED", "REPLACED") and isinstance(original, str) and original:
        client_order_id = original  # "c" names the cancel request; "C" is the order's own id
    broker_order_id = str(_REPORT.integer(e, "i"))
    when = _REPORT.epoch_ms(e, "T")
    if execution_type == "NEW":
        return [OrderAccepted(client_order_id, broker_order_id, timestamp=when)]
    if execution_type == "TRADE":
        fee_currency = e.get("N")
        maker = e.get("m")
        trade_id, quantity, price = _REPORT.integer(e, "t"), _REPORT.decimal(e, "l"), _REPORT.decimal(e, "L")
        if trade_id < 0 or quantity <= 0 or price <= 0:
            # Live Binance has sent TRADE reports with L "0.00000000", or l 0 and t -1
            # (nautilus_trader #3578): not a fill we can book. The order update stands.
            raise RefusedFill(
                f"TRADE execution report is not a bookable fill (t={trade_id}, l={quantity}, L={price})",
                payload=e,
                broker=BROKER,
                kept=[OrderAccepted(client_order_id, broker_order_id, timestamp=when)],
            )
        return [
            OrderFilled(
                Fill(
                    trade_id=str(trade_id),
                    client_order_id=client_order_id,
                    symbol=_REPORT.text(e, "s"),
                    side=_REPORT.enum(e, "S", _SIDE),
                    quantity=quantity,
                    price=price,
                    fee=_REPORT.decimal(e, "n"),
                    fee_currency=fee_currency if isinstance(fee_currency, str) else "",
                    liquidity=Liquidity.MAKER if maker is True else Liquidity.TAKER,
                    timestamp=when,
                    broker_order_id=broker_order_id,
                    broker=BROKER,
                )
            )
        ]
    if execution_type == "CANCELED":
        return [OrderCanceled(client_order_id, timestamp=when)]
    if execution_type == "EXPIRED":
        return [OrderExpired(client_order_id, timestamp=when)]
    if execution_type == "REJECTED":
        reason = e.get("r")
        return [
            OrderRejected(client_order_id, reason=str(reason or "REJECTED"), code=str(reason), timestamp=when)
        ]
    if execution_type == "REPLACED":
        return [
            OrderModified(
                client_order_id,
                quantity=_REPORT.decimal(e, "q"),
                broker_order_id=broker_order_id,
                timestamp=when,
            )
        ]
    if execution_type == "TRADE_PREVENTION":
        if e.get("X") == "EXPIRED_IN_MATCH":
            return [OrderExpired(client_order_id, timestamp=when)]
        return []
    raise BrokerProtocolError(f"unknown execution type {execution_type!r}", payload=e, broker=BROKER)


def parse_account_position(event: Any) -> list[Balance]:
    """``outboundAccountPosition`` → balances of the assets that changed (``f`` free, ``l`` locked)."""
    e = _POSITION.mapping(event)
    rows = _POSITION.field(e, "B")
    if not isinstance(rows, Sequence):
        raise BrokerProtocolError("field 'B' must be a list", payload=e, broker=BROKER)
    balances = []
    for raw in rows:
        row = _BALANCE.mapping(raw)
        free, locked = _BALANCE.decimal(row, "f"), _BALANCE.decimal(row, "l")
        balances.append(Balance(asset=_BALANCE.text(row, "a"), total=free + locked, available=free))
    return balances


# -- account, fills ------------------------------------------------------------


def parse_account_balances(payload: Any, *, bad_items: BadItemLog | None = None) -> list[Balance]:
    """``GET /api/v3/account`` → one :class:`Balance` per asset (total = free + locked).

    With ``bad_items``, a row that cannot be parsed is reported there and skipped;
    without, it raises.
    """
    p = _ACCOUNT.mapping(payload)
    rows = _ACCOUNT.field(p, "balances")
    if not isinstance(rows, Sequence):
        raise BrokerProtocolError("field 'balances' must be a list", payload=p, broker=BROKER)
    if bad_items is not None:
        return bad_items.parse_each(rows, parse_balance_row, what="balance")
    return [parse_balance_row(raw) for raw in rows]


def parse_balance_row(payload: Any) -> Balance:
    """One ``balances[]`` row of ``GET /api/v3/account`` → :class:`Balance`."""
    row = _BALANCE.mapping(payload)
    free, locked = _BALANCE.decimal(row, "free"), _BALANCE.decimal(row, "locked")
    return Balance(asset=_BALANCE.text(row, "asset"), total=free + locked, available=free)


def parse_my_trade(payload: Any, *, client_order_id_for: Callable[[str, str], str]) -> Fill:
    """One ``GET /api/v3/myTrades`` row → :class:`Fill`.

    ``myTrades`` names the order only by ``orderId``; ``client_order_id_for(symbol,
    order_id)`` supplies our client order id for it.
    """
    p = _TRADE.mapping(payload)
    symbol = _TRADE.text(p, "symbol")
    order_id = str(_TRADE.integer(p, "orderId"))
    buyer = _TRADE.field(p, "isBuyer")
    maker = _TRADE.field(p, "isMaker")
    fee_currency = p.get("commissionAsset")
    return Fill(
        trade_id=str(_TRADE.integer(p, "id")),
        client_order_id=client_order_id_for(symbol, order_id),
        symbol=symbol,
        side=OrderSide.BUY if buyer is True else OrderSide.SELL,
        quantity=_TRADE.decimal(p, "qty"),
        price=_TRADE.decimal(p, "price"),
        fee=_TRADE.decimal(p, "commission"),
        fee_currency=fee_currency if isinstance(fee_currency, str) else "",
        liquidity=Liquidity.MAKER if maker is True else Liquidity.TAKER,
        timestamp=_TRADE.epoch_ms(p, "time"),
        broker_order_id=order_id,
        broker=BROKER,
    )


# -- exchangeInfo ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SymbolRules:
    """What ``exchangeInfo`` says about one symbol beyond the core :class:`Instrument`."""

    instrument: Instrument
    status: str
    order_types: frozenset[str]
    min_price: Decimal | None
    max_price: Decimal | None
    max_notional: Decimal | None
    min_notional_applies_to_market: bool
    amend_allowed: bool
    cancel_replace_allowed: bool

    @property
    def is_trading(self) -> bool:
        """True while the symbol accepts new orders."""
        return self.status == "TRADING"


def _step_from_precision(precision: object) -> Decimal | None:
    if isinstance(precision, int) and not isinstance(precision, bool) and precision >= 0:
        return Decimal(1).scaleb(-precision)
    return None


def parse_symbol(payload: Any) -> SymbolRules:
    """One ``exchangeInfo.symbols[]`` entry → :class:`SymbolRules` (with its :class:`Instrument`).

    PRICE_FILTER gives the tick, LOT_SIZE the lot and min/max quantity,
    MARKET_LOT_SIZE the market-order step (``0`` = disabled), NOTIONAL (or the
    older MIN_NOTIONAL) the minimum notional. A filter value of 0 disables that
    check (filters.md); the tick/lot then fall back to the asset precision.
    """
    p = _SYMBOL.mapping(payload)
    filters: dict[str, Mapping[str, Any]] = {}
    for raw in _SYMBOL.field(p, "filters"):
        f = _FILTER.mapping(raw)
        filters[_FILTER.text(f, "filterType")] = f

    price_filter = filters.get("PRICE_FILTER", {})
    lot = filters.get("LOT_SIZE", {})
    market_lot = filters.get("MARKET_LOT_SIZE", {})
    notional = filters.get("NOTIONAL")
    legacy_notional = filters.get("MIN_NOTIONAL")

    tick = _nonzero(_FILTER.optional_decimal(price_filter, "tickSize")) or _step_from_precision(
        p.get("quoteAssetPrecision", p.get("quotePrecision"))
    )
    step = _nonzero(_FILTER.optional_decimal(lot, "stepSize")) or _step_from_precision(
        p.get("baseAssetPrecision")
    )
    if tick is None or step is None:
        raise BrokerProtocolError(
            "symbol has neither a tick/lot filter nor asset precisions", payload=p, broker=BROKER
        )
    market_step = _nonzero(_FILTER.optional_decimal(market_lot, "stepSize"))

    min_notional = ZERO
    max_notional = None
    applies_to_market = False
    if notional is not None:
        min_notional = _FILTER.optional_decimal(notional, "minNotional") or ZERO
        max_notional = _nonzero(_FILTER.optional_decimal(notional, "maxNotional"))
        applies_to_market = notional.get("applyMinToMarket") is True
    elif legacy_notional is not None:
        min_notional = _FILTER.optional_decimal(legacy_notional, "minNotional") or ZERO
        applies_to_market = legacy_notional.get("applyToMarket") is True

    order_types = _SYMBOL.field(p, "orderTypes")
    instrument = Instrument(
        symbol=_SYMBOL.text(p, "symbol"),
        asset_class=AssetClass.CRYPTO_SPOT,
        base=_SYMBOL.text(p, "baseAsset"),
        quote=_SYMBOL.text(p, "quoteAsset"),
        tick_size=tick,
        lot_size=step,
        min_quantity=_FILTER.optional_decimal(lot, "minQty") or ZERO,
        min_notional=min_notional,
        max_quantity=_nonzero(_FILTER.optional_decimal(lot, "maxQty")),
        market_lot_size=market_step if market_step is not None and market_step != step else None,
    )
    return SymbolRules(
        instrument=instrument,
        status=_SYMBOL.text(p, "status"),
        order_types=frozenset(str(t) for t in order_types),
        min_price=_nonzero(_FILTER.optional_decimal(price_filter, "minPrice")),
        max_price=_nonzero(_FILTER.optional_decimal(price_filter, "maxPrice")),
        max_notional=max_notional,
        min_notional_applies_to_market=applies_to_market,
        amend_allowed=p.get("amendAllowed") is True,
        cancel_replace_allowed=p.get("cancelReplaceAllowed") is True,
    )


@dataclass(frozen=True, slots=True)
class RateLimitRule:
    """One ``exchangeInfo.rateLimits[]`` entry, e.g. REQUEST_WEIGHT 6000 per 60 s."""

    kind: str
    """``REQUEST_WEIGHT``, ``ORDERS`` or ``RAW_REQUESTS``."""
    seconds: int
    limit: int

    @property
    def header_suffix(self) -> str:
        """The ``(n)(S|M|H|D)`` suffix Binance uses in usage headers, e.g. ``1M`` or ``10S``."""
        for unit, letter in ((86400, "D"), (3600, "H"), (60, "M"), (1, "S")):
            if self.seconds % unit == 0:
                return f"{self.seconds // unit}{letter}"
        return f"{self.seconds}S"  # pragma: no cover - seconds is always a whole number


def parse_rate_limits(exchange_info: Any) -> list[RateLimitRule]:
    """``exchangeInfo.rateLimits`` → :class:`RateLimitRule` list."""
    p = _EXCHANGE_INFO.mapping(exchange_info)
    rules = []
    for raw in p.get("rateLimits") or ():
        r = _RATE_LIMIT.mapping(raw)
        interval = _RATE_LIMIT.enum(r, "interval", _INTERVAL_SECONDS)
        rules.append(
            RateLimitRule(
                kind=_RATE_LIMIT.text(r, "rateLimitType"),
                seconds=interval * _RATE_LIMIT.integer(r, "intervalNum"),
                limit=_RATE_LIMIT.integer(r, "limit"),
            )
        )
    return rules
