"""Binance Spot JSON → core models and events (protocols.md §1.3–§1.9).

Numbers arrive as decimal strings and become ``Decimal`` directly (never via
float). A missing field or an enum value we do not know raises
:class:`~autotrader_core.errors.BrokerProtocolError` with the payload attached.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from autotrader_core.decimals import decimal_from_wire, optional_decimal_from_wire, wire_field
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


def _field(payload: Mapping[str, Any], key: str) -> Any:
    return wire_field(payload, key, broker=BROKER)


def _dec(payload: Mapping[str, Any], key: str) -> Decimal:
    return decimal_from_wire(_field(payload, key), field=key, payload=payload, broker=BROKER)


def _opt_dec(payload: Mapping[str, Any], key: str) -> Decimal | None:
    return optional_decimal_from_wire(payload.get(key), field=key, payload=payload, broker=BROKER)


def _nonzero(value: Decimal | None) -> Decimal | None:
    """Binance writes ``"0.00000000"`` for "not set" (market price, no stop price)."""
    return value if value else None


def _enum(table: Mapping[str, Any], payload: Mapping[str, Any], key: str) -> Any:
    raw = _field(payload, key)
    try:
        return table[raw]
    except (KeyError, TypeError):
        raise BrokerProtocolError(
            f"unknown value {raw!r} for {key!r}", payload=payload, broker=BROKER
        ) from None


def _int(payload: Mapping[str, Any], key: str) -> int:
    raw = _field(payload, key)
    if isinstance(raw, bool) or not isinstance(raw, (int, Decimal)):
        raise BrokerProtocolError(
            f"field {key!r} must be an integer, got {raw!r}", payload=payload, broker=BROKER
        )
    return int(raw)


def _str(payload: Mapping[str, Any], key: str) -> str:
    raw = _field(payload, key)
    if not isinstance(raw, str):
        raise BrokerProtocolError(
            f"field {key!r} must be a string, got {raw!r}", payload=payload, broker=BROKER
        )
    return raw


def ms_to_datetime(ms: int) -> datetime:
    """Binance epoch milliseconds → aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _require_mapping(payload: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(payload, Mapping):
        raise BrokerProtocolError(f"{what} must be a JSON object", payload=payload, broker=BROKER)
    return payload


# -- orders -------------------------------------------------------------------


def parse_order_report(payload: Any) -> OrderReport:
    """An order object (query, openOrders, cancel or placement reply) → :class:`OrderReport`.

    A cancel reply carries the cancel request's own id in ``clientOrderId`` and the
    order's in ``origClientOrderId`` (protocols.md §1.5): the order's id is reported.
    """
    p = _require_mapping(payload, "order")
    original = p.get("origClientOrderId")
    client_order_id = original if isinstance(original, str) and original else _str(p, "clientOrderId")
    executed = _dec(p, "executedQty")
    cumulative_quote = _opt_dec(p, "cummulativeQuoteQty")
    average = cumulative_quote / executed if executed and cumulative_quote is not None else None
    updated = p.get("updateTime", p.get("transactTime", p.get("workingTime")))
    return OrderReport(
        client_order_id=client_order_id,
        broker_order_id=str(_int(p, "orderId")),
        symbol=_str(p, "symbol"),
        side=_enum(_SIDE, p, "side"),
        order_type=_enum(_TYPE, p, "type"),
        quantity=_dec(p, "origQty"),
        status=_enum(_STATUS, p, "status"),
        filled_quantity=executed,
        average_fill_price=average,
        limit_price=_nonzero(_opt_dec(p, "price")),
        stop_price=_nonzero(_opt_dec(p, "stopPrice")),
        time_in_force=_enum(_TIF, p, "timeInForce") if "timeInForce" in p else TimeInForce.GTC,
        updated_at=ms_to_datetime(int(updated)) if isinstance(updated, (int, Decimal)) else None,
        broker=BROKER,
    )


def parse_place_response(payload: Any, *, client_order_id: str, side: OrderSide) -> list[OrderEvent]:
    """``POST /api/v3/order`` reply (ACK, RESULT or FULL) → the events it proves.

    Fills listed in a FULL reply matched at placement, so they took liquidity (taker).
    """
    p = _require_mapping(payload, "order placement reply")
    broker_order_id = str(_int(p, "orderId"))
    symbol = _str(p, "symbol")
    when = ms_to_datetime(_int(p, "transactTime"))
    status_raw = p.get("status")
    if status_raw == "REJECTED":
        return [OrderRejected(client_order_id, reason="REJECTED", timestamp=when)]
    events: list[OrderEvent] = [OrderAccepted(client_order_id, broker_order_id, timestamp=when)]
    for raw_fill in p.get("fills") or ():
        f = _require_mapping(raw_fill, "fill")
        fee_currency = f.get("commissionAsset")
        events.append(
            OrderFilled(
                Fill(
                    trade_id=str(_int(f, "tradeId")),
                    client_order_id=client_order_id,
                    symbol=symbol,
                    side=side,
                    quantity=_dec(f, "qty"),
                    price=_dec(f, "price"),
                    fee=_dec(f, "commission"),
                    fee_currency=fee_currency if isinstance(fee_currency, str) else "",
                    liquidity=Liquidity.TAKER,
                    timestamp=when,
                    broker_order_id=broker_order_id,
                    broker=BROKER,
                )
            )
        )
    if status_raw is not None:
        status = _enum(_STATUS, p, "status")
        if status is OrderStatus.CANCELED:
            events.append(OrderCanceled(client_order_id, reason="canceled at placement", timestamp=when))
        elif status is OrderStatus.EXPIRED:
            events.append(OrderExpired(client_order_id, timestamp=when))
    return events


def parse_amend_response(payload: Any, *, client_order_id: str) -> list[OrderEvent]:
    """``PUT /api/v3/order/amend/keepPriority`` reply → ``OrderModified`` (quantity down)."""
    p = _require_mapping(payload, "amend reply")
    amended = _require_mapping(_field(p, "amendedOrder"), "amendedOrder")
    when = ms_to_datetime(_int(p, "transactTime"))
    events: list[OrderEvent] = [
        OrderModified(
            client_order_id,
            quantity=_dec(amended, "qty"),
            broker_order_id=str(_int(amended, "orderId")),
            timestamp=when,
        )
    ]
    status = _enum(_STATUS, amended, "status")
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
    e = _require_mapping(event, "executionReport")
    execution_type = _str(e, "x")
    client_order_id = _str(e, "c")
    original = e.get("C")
    if execution_type in ("CANCELED", "REPLACED") and isinstance(original, str) and original:
        client_order_id = original  # "c" names the cancel request; "C" is the order's own id
    broker_order_id = str(_int(e, "i"))
    when = ms_to_datetime(_int(e, "T"))
    if execution_type == "NEW":
        return [OrderAccepted(client_order_id, broker_order_id, timestamp=when)]
    if execution_type == "TRADE":
        fee_currency = e.get("N")
        maker = e.get("m")
        trade_id, quantity, price = _int(e, "t"), _dec(e, "l"), _dec(e, "L")
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
                    symbol=_str(e, "s"),
                    side=_enum(_SIDE, e, "S"),
                    quantity=quantity,
                    price=price,
                    fee=_dec(e, "n"),
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
                client_order_id, quantity=_dec(e, "q"), broker_order_id=broker_order_id, timestamp=when
            )
        ]
    if execution_type == "TRADE_PREVENTION":
        if e.get("X") == "EXPIRED_IN_MATCH":
            return [OrderExpired(client_order_id, timestamp=when)]
        return []
    raise BrokerProtocolError(f"unknown execution type {execution_type!r}", payload=e, broker=BROKER)


def parse_account_position(event: Any) -> list[Balance]:
    """``outboundAccountPosition`` → balances of the assets that changed (``f`` free, ``l`` locked)."""
    e = _require_mapping(event, "outboundAccountPosition")
    rows = _field(e, "B")
    if not isinstance(rows, Sequence):
        raise BrokerProtocolError("field 'B' must be a list", payload=e, broker=BROKER)
    balances = []
    for raw in rows:
        row = _require_mapping(raw, "balance")
        free, locked = _dec(row, "f"), _dec(row, "l")
        balances.append(Balance(asset=_str(row, "a"), total=free + locked, available=free))
    return balances


# -- account, fills ------------------------------------------------------------


def parse_account_balances(payload: Any, *, bad_items: BadItemLog | None = None) -> list[Balance]:
    """``GET /api/v3/account`` → one :class:`Balance` per asset (total = free + locked).

    With ``bad_items``, a row that cannot be parsed is reported there and skipped;
    without, it raises.
    """
    p = _require_mapping(payload, "account")
    rows = _field(p, "balances")
    if not isinstance(rows, Sequence):
        raise BrokerProtocolError("field 'balances' must be a list", payload=p, broker=BROKER)
    if bad_items is not None:
        return bad_items.parse_each(rows, parse_balance_row, what="balance")
    return [parse_balance_row(raw) for raw in rows]


def parse_balance_row(payload: Any) -> Balance:
    """One ``balances[]`` row of ``GET /api/v3/account`` → :class:`Balance`."""
    row = _require_mapping(payload, "balance")
    free, locked = _dec(row, "free"), _dec(row, "locked")
    return Balance(asset=_str(row, "asset"), total=free + locked, available=free)


def parse_my_trade(payload: Any, *, client_order_id_for: Callable[[str, str], str]) -> Fill:
    """One ``GET /api/v3/myTrades`` row → :class:`Fill`.

    ``myTrades`` names the order only by ``orderId``; ``client_order_id_for(symbol,
    order_id)`` supplies our client order id for it.
    """
    p = _require_mapping(payload, "trade")
    symbol = _str(p, "symbol")
    order_id = str(_int(p, "orderId"))
    buyer = _field(p, "isBuyer")
    maker = _field(p, "isMaker")
    fee_currency = p.get("commissionAsset")
    return Fill(
        trade_id=str(_int(p, "id")),
        client_order_id=client_order_id_for(symbol, order_id),
        symbol=symbol,
        side=OrderSide.BUY if buyer is True else OrderSide.SELL,
        quantity=_dec(p, "qty"),
        price=_dec(p, "price"),
        fee=_dec(p, "commission"),
        fee_currency=fee_currency if isinstance(fee_currency, str) else "",
        liquidity=Liquidity.MAKER if maker is True else Liquidity.TAKER,
        timestamp=ms_to_datetime(_int(p, "time")),
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
    p = _require_mapping(payload, "symbol")
    filters: dict[str, Mapping[str, Any]] = {}
    for raw in _field(p, "filters"):
        f = _require_mapping(raw, "filter")
        filters[_str(f, "filterType")] = f

    price_filter = filters.get("PRICE_FILTER", {})
    lot = filters.get("LOT_SIZE", {})
    market_lot = filters.get("MARKET_LOT_SIZE", {})
    notional = filters.get("NOTIONAL")
    legacy_notional = filters.get("MIN_NOTIONAL")

    tick = _nonzero(_opt_dec(price_filter, "tickSize")) or _step_from_precision(
        p.get("quoteAssetPrecision", p.get("quotePrecision"))
    )
    step = _nonzero(_opt_dec(lot, "stepSize")) or _step_from_precision(p.get("baseAssetPrecision"))
    if tick is None or step is None:
        raise BrokerProtocolError(
            "symbol has neither a tick/lot filter nor asset precisions", payload=p, broker=BROKER
        )
    market_step = _nonzero(_opt_dec(market_lot, "stepSize"))

    min_notional = ZERO
    max_notional = None
    applies_to_market = False
    if notional is not None:
        min_notional = _opt_dec(notional, "minNotional") or ZERO
        max_notional = _nonzero(_opt_dec(notional, "maxNotional"))
        applies_to_market = notional.get("applyMinToMarket") is True
    elif legacy_notional is not None:
        min_notional = _opt_dec(legacy_notional, "minNotional") or ZERO
        applies_to_market = legacy_notional.get("applyToMarket") is True

    order_types = _field(p, "orderTypes")
    instrument = Instrument(
        symbol=_str(p, "symbol"),
        asset_class=AssetClass.CRYPTO_SPOT,
        base=_str(p, "baseAsset"),
        quote=_str(p, "quoteAsset"),
        tick_size=tick,
        lot_size=step,
        min_quantity=_opt_dec(lot, "minQty") or ZERO,
        min_notional=min_notional,
        max_quantity=_nonzero(_opt_dec(lot, "maxQty")),
        market_lot_size=market_step if market_step is not None and market_step != step else None,
    )
    return SymbolRules(
        instrument=instrument,
        status=_str(p, "status"),
        order_types=frozenset(str(t) for t in order_types),
        min_price=_nonzero(_opt_dec(price_filter, "minPrice")),
        max_price=_nonzero(_opt_dec(price_filter, "maxPrice")),
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
    p = _require_mapping(exchange_info, "exchangeInfo")
    rules = []
    for raw in p.get("rateLimits") or ():
        r = _require_mapping(raw, "rate limit")
        interval = _enum(_INTERVAL_SECONDS, r, "interval")
        rules.append(
            RateLimitRule(
                kind=_str(r, "rateLimitType"),
                seconds=interval * _int(r, "intervalNum"),
                limit=_int(r, "limit"),
            )
        )
    return rules
