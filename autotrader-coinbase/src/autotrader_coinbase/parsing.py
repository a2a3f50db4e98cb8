"""Coinbase JSON → core models (protocols.md §3.3–3.5, §3.7, §3.9).

Numbers arrive as decimal strings and become ``Decimal`` directly; unknown enum
values and missing fields raise :class:`BrokerProtocolError` with the payload.
Coinbase is loose about casing on the user channel (``"Limit"`` vs ``"LIMIT"``)
and sends booleans as strings there (``"post_only": "false"``): both are accepted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from autotrader_core.decimals import decimal_from_wire, round_to_step
from autotrader_core.enums import AssetClass, Liquidity, OrderSide, OrderStatus, OrderType, TimeInForce
from autotrader_core.errors import BrokerProtocolError
from autotrader_core.models import Balance, Fill, Instrument, OrderReport
from autotrader_core.skipping import BadItemLog
from autotrader_core.wire import WireReader

from autotrader_coinbase.errors import BROKER, order_failure_error

__all__ = [
    "OrderConfig",
    "ProductInfo",
    "UserOrderUpdate",
    "parse_account",
    "parse_accounts_page",
    "parse_cancel_results",
    "parse_create_order",
    "parse_fill",
    "parse_fills_page",
    "parse_order",
    "parse_order_configuration",
    "parse_order_status",
    "parse_orders_page",
    "parse_product",
    "parse_product_info",
    "parse_server_time_ms",
    "parse_side",
    "parse_time",
    "parse_user_message",
    "parse_user_order",
    "spot_product_guess",
]

ZERO = Decimal(0)


def _mapping(value: Any, what: str, payload: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BrokerProtocolError(f"{what} is not an object", payload=payload, broker=BROKER)
    return value


def _list(value: Any, what: str, payload: Any) -> Sequence[Any]:
    if not isinstance(value, list):
        raise BrokerProtocolError(f"{what} is not a list", payload=payload, broker=BROKER)
    return value


# Fields are read through the core's wire reader: a missing or malformed field is a
# BrokerProtocolError naming it. Bound methods, so a read costs no extra call.
_WIRE = WireReader(BROKER)
_str = _WIRE.text
_dec = _WIRE.decimal


def _opt_dec(payload: Mapping[str, Any], key: str) -> Decimal | None:
    # WireReader.optional_decimal, minus its generic (Mapping ABC) lookup: orders carry
    # seven of these, on the stream's hot path.
    value = payload.get(key)
    if value is None or value == "":
        return None
    return _WIRE.decimal(payload, key)


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def parse_time(value: Any, *, payload: Any = None) -> datetime | None:
    """RFC 3339 (any fraction length, ``Z``) → aware UTC datetime; empty or year-1 placeholders → ``None``."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BrokerProtocolError(f"timestamp is not a string: {value!r}", payload=payload, broker=BROKER)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BrokerProtocolError(
            f"bad RFC 3339 timestamp {value!r}", payload=payload, broker=BROKER
        ) from None
    if parsed.year <= 1:  # "0001-01-01T00:00:00Z" means "not set"
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_side(value: Any, *, payload: Any = None) -> OrderSide:
    """``BUY``/``SELL`` (any case) → :class:`OrderSide`."""
    text = value.upper() if isinstance(value, str) else value
    if text == "BUY":
        return OrderSide.BUY
    if text == "SELL":
        return OrderSide.SELL
    raise BrokerProtocolError(f"unknown order side {value!r}", payload=payload, broker=BROKER)


# -- order configuration ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderConfig:
    """One ``order_configuration`` object, decoded."""

    kind: str
    """The configuration key, e.g. ``limit_limit_gtc``."""
    order_type: OrderType
    time_in_force: TimeInForce
    base_size: Decimal | None = None
    quote_size: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    post_only: bool = False
    end_time: datetime | None = None


# kind → (order type, time in force). GTD has no core equivalent: it is reported as GTC
# (it works until its end time; the broker expires it and the stream says so).
_CONFIG_KINDS: Mapping[str, tuple[OrderType, TimeInForce]] = {
    "market_market_ioc": (OrderType.MARKET, TimeInForce.IOC),
    "market_market_fok": (OrderType.MARKET, TimeInForce.FOK),
    "sor_limit_ioc": (OrderType.LIMIT, TimeInForce.IOC),
    "limit_limit_gtc": (OrderType.LIMIT, TimeInForce.GTC),
    "limit_limit_gtd": (OrderType.LIMIT, TimeInForce.GTC),
    "limit_limit_fok": (OrderType.LIMIT, TimeInForce.FOK),
    "stop_limit_stop_limit_gtc": (OrderType.STOP_LIMIT, TimeInForce.GTC),
    "stop_limit_stop_limit_gtd": (OrderType.STOP_LIMIT, TimeInForce.GTC),
    # Orders autotrader never places (made in the Coinbase UI) are reported approximately.
    "trigger_bracket_gtc": (OrderType.STOP_LIMIT, TimeInForce.GTC),
    "trigger_bracket_gtd": (OrderType.STOP_LIMIT, TimeInForce.GTC),
    "twap_limit_gtd": (OrderType.LIMIT, TimeInForce.GTC),
    "scaled_limit_gtc": (OrderType.LIMIT, TimeInForce.GTC),
}


def parse_order_configuration(configuration: Any, *, payload: Any = None) -> OrderConfig:
    """Decode an ``order_configuration`` object holding exactly one known key."""
    config = _mapping(configuration, "order_configuration", payload)
    present = [kind for kind, value in config.items() if value is not None]
    if len(present) != 1:
        raise BrokerProtocolError(
            f"order_configuration must hold exactly one configuration, got {present}",
            payload=payload,
            broker=BROKER,
        )
    kind = present[0]
    if kind not in _CONFIG_KINDS:
        raise BrokerProtocolError(f"unknown order configuration {kind!r}", payload=payload, broker=BROKER)
    body = _mapping(config[kind], kind, payload)
    order_type, tif = _CONFIG_KINDS[kind]
    stop = _opt_dec(body, "stop_price")
    if stop is None:
        stop = _opt_dec(body, "stop_trigger_price")
    return OrderConfig(
        kind=kind,
        order_type=order_type,
        time_in_force=tif,
        base_size=_opt_dec(body, "base_size"),
        quote_size=_opt_dec(body, "quote_size"),
        limit_price=_opt_dec(body, "limit_price"),
        stop_price=stop,
        post_only=_bool(body.get("post_only", False)),
        end_time=parse_time(body.get("end_time"), payload=payload),
    )


# -- order status --------------------------------------------------------------------------

_STATUS: Mapping[str, OrderStatus] = {
    "PENDING": OrderStatus.PENDING_SUBMIT,  # received, not yet on the book: it may still FAIL
    "QUEUED": OrderStatus.ACCEPTED,
    "OPEN": OrderStatus.ACCEPTED,
    "FILLED": OrderStatus.FILLED,
    "CANCELLED": OrderStatus.CANCELED,
    "CANCEL_QUEUED": OrderStatus.PENDING_CANCEL,
    "EDIT_QUEUED": OrderStatus.PENDING_MODIFY,
    "EXPIRED": OrderStatus.EXPIRED,
    "FAILED": OrderStatus.REJECTED,
}


def parse_order_status(value: Any, filled: Decimal, *, payload: Any = None) -> OrderStatus:
    """Coinbase status → core status; an open order with fills is ``PARTIALLY_FILLED``.

    ``UNKNOWN_ORDER_STATUS`` and anything undocumented raise: reconciliation must
    not guess an order's state.
    """
    status = _STATUS.get(value.upper() if isinstance(value, str) else "")
    if status is None:
        raise BrokerProtocolError(f"unknown order status {value!r}", payload=payload, broker=BROKER)
    if status is OrderStatus.ACCEPTED and filled > 0:
        return OrderStatus.PARTIALLY_FILLED
    return status


# -- orders --------------------------------------------------------------------------------


def parse_order(order: Any) -> OrderReport:
    """One order object (from ``GET /orders/historical/{id}`` → ``order``, or a list page)."""
    payload = _mapping(order, "order", order)
    config = parse_order_configuration(_WIRE.field(payload, "order_configuration"), payload=payload)
    filled = _opt_dec(payload, "filled_size") or ZERO
    average = _opt_dec(payload, "average_filled_price")
    # Orders sized in quote currency have no base size: the filled size is all we know.
    quantity = config.base_size if config.base_size is not None else filled
    client_order_id = payload.get("client_order_id") or None
    status = parse_order_status(_WIRE.field(payload, "status"), filled, payload=payload)
    if status.is_open and _bool(payload.get("pending_cancel", False)):
        status = OrderStatus.PENDING_CANCEL  # cancel requested, not yet done
    updated = parse_time(payload.get("last_fill_time"), payload=payload) or parse_time(
        payload.get("created_time"), payload=payload
    )
    return OrderReport(
        client_order_id=client_order_id,
        broker_order_id=_str(payload, "order_id"),
        symbol=_str(payload, "product_id"),
        side=parse_side(_WIRE.field(payload, "side"), payload=payload),
        order_type=config.order_type,
        quantity=quantity,
        status=status,
        filled_quantity=filled,
        average_fill_price=average if average else None,
        limit_price=config.limit_price,
        stop_price=config.stop_price,
        time_in_force=config.time_in_force,
        updated_at=updated,
        broker=BROKER,
    )


def _cursor(body: Mapping[str, Any], has_next_key: str | None = "has_next") -> str | None:
    cursor = body.get("cursor")
    if has_next_key is not None and not body.get(has_next_key):
        return None
    return cursor if isinstance(cursor, str) and cursor else None


def parse_orders_page(
    body: Any, *, bad_items: BadItemLog | None = None
) -> tuple[list[OrderReport], str | None]:
    """``GET /orders/historical/batch`` → (orders, next cursor or ``None``).

    With ``bad_items``, an order that cannot be parsed is reported there and skipped.
    """
    page = _mapping(body, "orders page", body)
    orders = _list(_WIRE.field(page, "orders"), "orders", body)
    if bad_items is not None:
        return bad_items.parse_each(orders, parse_order, what="order"), _cursor(page)
    return [parse_order(item) for item in orders], _cursor(page)


def parse_create_order(body: Any) -> str:
    """``POST /orders`` reply → the broker order id; ``success: false`` raises the mapped error.

    Raises:
        InsufficientFunds, InvalidOrder, BrokerError, …: the broker refused (HTTP 200).
        BrokerProtocolError: the reply has neither a success flag nor an order id.
    """
    payload = _mapping(body, "create-order reply", body)
    success = _WIRE.field(payload, "success")
    if success is not True:
        raise order_failure_error(payload)
    success_response = payload.get("success_response")
    order_id = payload.get("order_id") or (
        success_response.get("order_id") if isinstance(success_response, Mapping) else None
    )
    if not isinstance(order_id, str) or not order_id:
        raise BrokerProtocolError(
            "successful create-order reply without order_id", payload=body, broker=BROKER
        )
    return order_id


def parse_cancel_results(body: Any) -> dict[str, tuple[bool, str]]:
    """``POST /orders/batch_cancel`` → ``{order_id: (success, failure_reason)}``."""
    payload = _mapping(body, "batch-cancel reply", body)
    results: dict[str, tuple[bool, str]] = {}
    for item in _list(_WIRE.field(payload, "results"), "results", body):
        entry = _mapping(item, "cancel result", body)
        results[_str(entry, "order_id")] = (
            _WIRE.field(entry, "success") is True,
            str(entry.get("failure_reason") or ""),
        )
    return results


# -- fills ---------------------------------------------------------------------------------

_LIQUIDITY = {"MAKER": Liquidity.MAKER, "TAKER": Liquidity.TAKER}


@dataclass(frozen=True, slots=True)
class ProductInfo:
    """What a fill needs from its product (any product type, perpetuals included)."""

    product_id: str
    base: str
    quote: str
    """The quote currency: what the price and the commission are in."""
    base_increment: Decimal | None
    """The base size step; quote-sized fills are rounded to it."""


def spot_product_guess(product_id: str) -> ProductInfo | None:
    """A spot id ``BASE-QUOTE`` names its own currencies; anything else (``ADA-PERP-INTX``,
    ``BIT-28JUL23-CDE``) needs the product's data. No base increment either way."""
    parts = product_id.split("-")
    if len(parts) != 2 or not all(parts):
        return None
    return ProductInfo(product_id, parts[0], parts[1], None)


def parse_product_info(item: Any) -> ProductInfo:
    """One product (``GET /products``, ``/products/{id}``, any type) → :class:`ProductInfo`.

    Currencies come from ``quote_currency_id``/``base_currency_id`` (``quote_display_symbol``
    as the fallback), never from splitting the id: a perpetual's id is ``ADA-PERP-INTX``.
    """
    payload = _mapping(item, "product", item)
    product_id = _str(payload, "product_id")
    quote = payload.get("quote_currency_id") or payload.get("quote_display_symbol")
    base = payload.get("base_currency_id") or payload.get("base_display_symbol")
    if not isinstance(quote, str) or not quote:
        raise BrokerProtocolError("product without quote_currency_id", payload=payload, broker=BROKER)
    increment = _opt_dec(payload, "base_increment")
    return ProductInfo(
        product_id, base if isinstance(base, str) else "", quote, increment if increment else None
    )


def parse_fill(
    item: Any,
    *,
    client_order_id: str,
    side: OrderSide | None = None,
    product: ProductInfo | None = None,
) -> Fill:
    """One ``/orders/historical/fills`` entry → :class:`Fill`.

    The fills endpoint carries no client order id (the caller supplies it from its
    id map) and the doc sample even leaves ``side`` empty, so ``side`` is the
    fallback. ``commission`` is charged in the product's quote currency, taken from
    ``product`` (a plain ``BASE-QUOTE`` spot id stands in when it is not given).
    A quote-sized fill (``size_in_quote``) becomes a base quantity rounded to the
    product's ``base_increment``.
    """
    payload = _mapping(item, "fill", item)
    product_id = _str(payload, "product_id")
    info = product if product is not None else spot_product_guess(product_id)
    raw_side = payload.get("side")
    if raw_side:
        fill_side = parse_side(raw_side, payload=payload)
    elif side is not None:
        fill_side = side
    else:
        raise BrokerProtocolError(
            "fill without side and no order to take it from", payload=payload, broker=BROKER
        )
    price = _dec(payload, "price")
    size = _dec(payload, "size")
    if _bool(payload.get("size_in_quote", False)):
        if price <= 0:
            raise BrokerProtocolError(
                "quote-sized fill with a non-positive price", payload=payload, broker=BROKER
            )
        size = size / price  # size is in quote currency: convert to base quantity
        if info is not None and info.base_increment is not None:
            size = round_to_step(size, info.base_increment)  # not 28 digits of division
    timestamp = parse_time(_WIRE.field(payload, "trade_time"), payload=payload)
    return Fill(
        trade_id=_str(payload, "trade_id"),
        client_order_id=client_order_id,
        symbol=product_id,
        side=fill_side,
        quantity=size,
        price=price,
        fee=_opt_dec(payload, "commission") or ZERO,
        fee_currency=info.quote if info is not None else "",
        liquidity=_LIQUIDITY.get(str(payload.get("liquidity_indicator", "")).upper(), Liquidity.UNKNOWN),
        timestamp=timestamp or datetime.now(UTC),
        broker_order_id=_str(payload, "order_id"),
        broker=BROKER,
    )


def parse_fills_page(
    body: Any, *, bad_items: BadItemLog | None = None
) -> tuple[list[Mapping[str, Any]], str | None]:
    """``GET /orders/historical/fills`` → (raw fill objects, next cursor or ``None``).

    With ``bad_items``, an entry that is not even an object is reported there (as a
    possibly lost fill) and skipped.
    """
    page = _mapping(body, "fills page", body)
    fills = _list(_WIRE.field(page, "fills"), "fills", body)
    if bad_items is not None:
        objects = bad_items.parse_each(
            fills, lambda item: _mapping(item, "fill", item), what="fill", may_hold_fill=True
        )
        return objects, _cursor(page, has_next_key=None)
    return [_mapping(item, "fill", body) for item in fills], _cursor(page, has_next_key=None)


# -- products, accounts, time -----------------------------------------------------------------


def parse_product(item: Any) -> Instrument | None:
    """One product → :class:`Instrument`; ``None`` for products that cannot be traded now.

    ``price_increment`` is the tick (``quote_increment`` when absent),
    ``base_increment`` the lot, ``base_min_size``/``base_max_size`` the size limits
    and ``quote_min_size`` the minimum notional.
    """
    payload = _mapping(item, "product", item)
    if _bool(payload.get("trading_disabled")) or _bool(payload.get("is_disabled")):
        return None
    if str(payload.get("status", "online")).lower() not in ("online", ""):
        return None
    product_type = str(payload.get("product_type", "SPOT")).upper()
    if product_type != "SPOT":
        return None
    product_id = _str(payload, "product_id")
    base, _, quote = product_id.partition("-")
    tick = _opt_dec(payload, "price_increment") or _dec(payload, "quote_increment")
    return Instrument(
        symbol=product_id,
        asset_class=AssetClass.CRYPTO_SPOT,
        base=str(payload.get("base_currency_id") or base),
        quote=str(payload.get("quote_currency_id") or quote),
        tick_size=tick,
        lot_size=_dec(payload, "base_increment"),
        min_quantity=_opt_dec(payload, "base_min_size") or ZERO,
        min_notional=_opt_dec(payload, "quote_min_size") or ZERO,
        max_quantity=_opt_dec(payload, "base_max_size"),
    )


def parse_account(item: Any) -> Balance:
    """One wallet: available = ``available_balance.value``, total = available + ``hold.value``."""
    payload = _mapping(item, "account", item)
    available = _mapping(_WIRE.field(payload, "available_balance"), "available_balance", payload)
    hold_field = payload.get("hold")
    hold = _dec(hold_field, "value") if isinstance(hold_field, Mapping) else ZERO
    free = _dec(available, "value")
    return Balance(asset=_str(payload, "currency"), total=free + hold, available=free)


def parse_accounts_page(
    body: Any, *, bad_items: BadItemLog | None = None
) -> tuple[list[Balance], str | None]:
    """``GET /accounts`` → (balances, next cursor or ``None``).

    With ``bad_items``, a wallet that cannot be parsed is reported there and skipped.
    """
    page = _mapping(body, "accounts page", body)
    accounts = _list(_WIRE.field(page, "accounts"), "accounts", body)
    if bad_items is not None:
        return bad_items.parse_each(accounts, parse_account, what="balance"), _cursor(page)
    return [parse_account(item) for item in accounts], _cursor(page)


def parse_server_time_ms(body: Any) -> int:
    """``GET /time`` → epoch milliseconds (``epochMillis``, else ``epochSeconds``, else ``iso``)."""
    payload = _mapping(body, "time reply", body)
    for key, scale in (("epochMillis", 1), ("epochSeconds", 1000)):
        value = payload.get(key)
        if value not in (None, ""):
            return int(decimal_from_wire(value, field=key, payload=payload, broker=BROKER) * scale)
    parsed = parse_time(payload.get("iso"), payload=payload)
    if parsed is None:
        raise BrokerProtocolError(
            "time reply without epochMillis, epochSeconds or iso", payload=body, broker=BROKER
        )
    return int(parsed.timestamp() * 1000)


# -- user channel ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserOrderUpdate:
    """One order from a ``user`` channel event: cumulative state only, no trade ids."""

    order_id: str
    client_order_id: str
    product_id: str
    side: OrderSide
    status: OrderStatus
    raw_status: str
    cumulative_quantity: Decimal
    leaves_quantity: Decimal | None
    avg_price: Decimal | None
    total_fees: Decimal
    number_of_fills: int
    reason: str
    """``reject_reason`` or ``cancel_reason`` (empty when none)."""
    event_type: str
    """``snapshot`` or ``update``."""


def parse_user_order(item: Any, *, event_type: str) -> UserOrderUpdate:
    """One entry of ``events[].orders`` on the user channel."""
    payload = _mapping(item, "user order", item)
    cumulative = _opt_dec(payload, "cumulative_quantity") or ZERO
    raw_status = str(_WIRE.field(payload, "status"))
    fills_text = payload.get("number_of_fills")
    try:
        number_of_fills = int(fills_text) if fills_text not in (None, "") else 0
    except (TypeError, ValueError):
        raise BrokerProtocolError(
            "number_of_fills is not an integer", payload=payload, broker=BROKER
        ) from None
    reason = str(payload.get("reject_reason") or payload.get("cancel_reason") or "")
    return UserOrderUpdate(
        order_id=_str(payload, "order_id"),
        client_order_id=str(payload.get("client_order_id") or ""),
        product_id=_str(payload, "product_id"),
        side=parse_side(_WIRE.field(payload, "order_side"), payload=payload),
        status=parse_order_status(raw_status, cumulative, payload=payload),
        raw_status=raw_status.upper(),
        cumulative_quantity=cumulative,
        leaves_quantity=_opt_dec(payload, "leaves_quantity"),
        avg_price=_opt_dec(payload, "avg_price"),
        total_fees=_opt_dec(payload, "total_fees") or ZERO,
        number_of_fills=number_of_fills,
        reason=reason,
        event_type=event_type,
    )


def parse_user_message(message: Any, *, bad_items: BadItemLog | None = None) -> list[UserOrderUpdate]:
    """A ``channel: "user"`` message → its order updates, in order (snapshot or update events).

    With ``bad_items``, an order entry that cannot be parsed is reported there and
    skipped (the others of the message still count); without, it raises.
    """
    payload = _mapping(message, "user message", message)
    updates: list[UserOrderUpdate] = []
    for event in _list(_WIRE.field(payload, "events"), "events", message):
        body = _mapping(event, "user event", message)
        event_type = str(body.get("type", "update")).lower()
        orders = _list(body.get("orders") or [], "orders", message)

        def parse(order: Any, event_type: str = event_type) -> UserOrderUpdate:
            return parse_user_order(order, event_type=event_type)

        if bad_items is not None:
            # A user-channel order carries cumulative fills: a skipped one may hide a fill.
            updates += bad_items.parse_each(orders, parse, what="order update", may_hold_fill=True)
        else:
            updates += [parse(order) for order in orders]
    return updates
