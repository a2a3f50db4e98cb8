"""Binance Spot :class:`~autotrader_core.adapter.BrokerAdapter`.

Orders go over REST (``/api/v3``); fills and order updates come from the user
data stream on the WebSocket API. Spot has no positions: :meth:`get_positions`
returns ``[]`` and positions come from the OMS (fills) and the balances.

Id map: ``myTrades`` and the stream name orders by Binance's ``orderId`` only in
places, so the adapter remembers ``(symbol, orderId) → client order id`` for
orders it has seen (the only state it keeps besides instrument rules).

Re-send guarantee: an expiry. Binance re-checks a signed request's ``timestamp``
against ``recvWindow`` just before the matching engine (protocols.md §1.2), so a
request whose stamp plus ``recvWindow`` has passed by Binance's clock
(``GET /api/v3/time``) can no longer execute.

A cancel-replace whose outcome is unknown (no reply, HTTP 5xx, an unreadable reply,
a cancelled wait) raises as before, with ``replaced_broker_order_id`` set on the
exception: the ``orderId`` the replace may have canceled. Until Binance says which
order lives, that id's CANCELED is never read as a cancel of the client order, and
a NEW for the same client order id under another ``orderId`` is read as the
replacement (``OrderModified`` with its terms and id).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from autotrader_core.adapter import BrokerAdapter, OrderChange
from autotrader_core.capabilities import Capabilities
from autotrader_core.clock import ClockOffset
from autotrader_core.decimals import require_decimal
from autotrader_core.enums import OrderStatus, OrderType
from autotrader_core.errors import (
    BrokerError,
    BrokerProtocolError,
    ConfigurationError,
    InvalidOrder,
    OrderNotFound,
    UnsupportedFeature,
)
from autotrader_core.events import (
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModified,
    OrderModifyRejected,
    OrderRejected,
)
from autotrader_core.market_data import Quote
from autotrader_core.models import Balance, Fill, Instrument, Order, OrderReport, Position
from autotrader_core.resend import ResendGuarantee
from autotrader_core.skipping import PARSE_ERRORS, BadItemLog
from autotrader_core.streaming import Gap
from autotrader_core.transport_choice import make_transport
from autotrader_core.transports import HttpTransport

from autotrader_binance.auth import Signer, signer_from_credentials
from autotrader_binance.capabilities import CAPABILITIES
from autotrader_binance.errors import BROKER, CancelRejected, CancelReplaceFailed
from autotrader_binance.http import BinanceHttp
from autotrader_binance.market_data import MARKET_DATA_HOSTS, BinanceMarketData, parse_rest_book_ticker
from autotrader_binance.orders import build_order_params, check_against_rules
from autotrader_binance.parsing import (
    RefusedFill,
    SymbolRules,
    parse_account_balances,
    parse_account_position,
    parse_amend_response,
    parse_execution_report,
    parse_my_trade,
    parse_order_report,
    parse_place_response,
    parse_rate_limits,
    parse_symbol,
)
from autotrader_binance.settings import BinanceSettings
from autotrader_binance.stream import StreamConfig, UserDataStream

if TYPE_CHECKING:  # httpx is loaded only when the httpx transport is chosen
    import httpx

__all__ = ["CAPABILITIES", "REPLACED_BROKER_ORDER_ID", "BinanceAdapter"]

logger = logging.getLogger(__name__)

_TERMINAL = (OrderCanceled, OrderExpired, OrderRejected)
_CATCH_UP_MARGIN_MS = 5_000

REPLACED_BROKER_ORDER_ID = "replaced_broker_order_id"
"""Attribute set on the exception of a cancel-replace whose outcome is unknown: the
``orderId`` the replace may have canceled (the replacement carries the same client order
id under a new ``orderId``; look it up by client order id)."""

_RECV_WINDOW_SOURCE = (
    "Binance Spot REST: a signed request is refused when serverTime - timestamp > recvWindow, "
    "re-checked just before the matching engine (-1021; protocols.md §1.2)"
)


@dataclass(frozen=True, slots=True)
class _PendingReplace:
    """A cancel-replace sent whose outcome is not known yet: the old id and the new terms."""

    old_order_id: str
    quantity: Decimal
    limit_price: Decimal | None
    stop_price: Decimal | None


class BinanceAdapter(BrokerAdapter):
    """Binance Spot adapter.

    Args:
        settings: Credentials and environment (defaults read from the environment / ``.env``).
        transport: Transport override (tests, benchmarks): an httpx transport or an
            :class:`~autotrader_core.transports.HttpTransport`; default: the one
            ``settings.http_transport`` names.
        stream_config: Timing knobs of the user data stream.
    """

    name: ClassVar[str] = "binance"
    capabilities: ClassVar[Capabilities] = CAPABILITIES

    def __init__(
        self,
        settings: BinanceSettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | HttpTransport | None = None,
        stream_config: StreamConfig | None = None,
    ) -> None:
        self.settings = settings if settings is not None else BinanceSettings()
        # A lost request can still reach Binance until its recvWindow runs out; the safe
        # submit waits that long before trusting a "not found" (no late duplicate).
        self.unknown_outcome_settle_delay = self.settings.recv_window_ms / 1000
        self.resend_guarantee = ResendGuarantee.expiry(
            self.settings.recv_window_ms / 1000, _RECV_WINDOW_SOURCE
        )
        self._transport = transport
        self._stream_config = stream_config
        self._clock = ClockOffset()
        self._signer: Signer | None = None
        self._http: BinanceHttp | None = None
        self._connected = False
        self._rules: dict[str, SymbolRules] = {}
        self._client_ids: dict[tuple[str, str], str] = {}
        """(symbol, orderId) → client order id, for every order seen."""
        self._open: dict[tuple[str, str], str] = {}
        """Orders not yet known to be finished (caught up after a stream gap)."""
        self._replaced: set[str] = set()
        """orderIds canceled by a cancelReplace modify: their CANCELED report is not a cancel."""
        self._replacing: dict[tuple[str, str], _PendingReplace] = {}
        """(symbol, client order id) → a cancel-replace not yet settled by its reply or the stream."""
        self._stream: UserDataStream | None = None
        self.bad_items = BadItemLog(BROKER, telemetry=lambda: self.telemetry)
        """Payload items skipped because they could not be parsed (each also logged and alerted)."""
        self.balances: dict[str, Balance] = {}
        """Latest balances pushed by the stream (``outboundAccountPosition``)."""

    # -- wiring ---------------------------------------------------------------------

    def _client(self) -> BinanceHttp:
        if self._http is None:
            s = self.settings
            if s.key_type is not None and self._signer is None:
                self._signer = self._make_signer()
            self._http = BinanceHttp(
                base_url=s.rest_url,
                api_key=s.api_key.get_secret_value() if s.api_key is not None else None,
                signer=self._signer,
                recv_window_ms=s.recv_window_ms,
                timeout=s.request_timeout,
                transport=self._transport if self._transport is not None else self._make_transport(),
                clock=self._clock,
                clock_sync_interval=s.clock_sync_interval,
                on_wait=self._rate_limit_waited,
                max_reply_bytes=s.max_reply_bytes,
            )
        return self._http

    def _rate_limit_waited(self, name: str, seconds: float) -> None:
        # Looked up on every call: the engine installs its telemetry after construction.
        self.telemetry.rate_limit_wait(name, seconds)

    def _make_transport(self) -> HttpTransport | None:
        """The transport ``http_transport`` names (``None``: httpx's stock transport)."""
        return make_transport(
            self.settings.http_transport,
            url=self.settings.rest_url,
            broker=BROKER,
            extra="autotrader-binance[aiohttp]",
        )

    def _make_signer(self) -> Signer:
        s = self.settings
        pem: str | bytes | None = None
        if s.private_key is not None:
            pem = s.private_key.get_secret_value()
        elif s.private_key_file is not None:
            try:
                pem = s.private_key_file.read_bytes()
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot read Binance private key file {s.private_key_file}: {exc.strerror}",
                    broker=BROKER,
                ) from None
        return signer_from_credentials(
            api_secret=s.api_secret.get_secret_value() if s.api_secret is not None else None,
            private_key_pem=pem,
            passphrase=(
                s.private_key_passphrase.get_secret_value() if s.private_key_passphrase is not None else None
            ),
        )

    @property
    def http(self) -> BinanceHttp:
        """The request path (exposed for diagnostics: rate-limit usage, clock offset)."""
        return self._client()

    # -- re-send guarantee (recvWindow expiry) -----------------------------------------

    def request_stamp(self) -> datetime:
        """The ``timestamp`` a signed request sent now carries (local clock + measured offset).

        Never below the newest ``timestamp`` already signed: a resync that lowered the
        offset after a send must not make the stamp of that send look older than it was.
        """
        http = self._client()
        stamp_ms = max(http.clock.now_ms(), http.last_signed_timestamp_ms)
        return datetime.fromtimestamp(stamp_ms / 1000, tz=UTC)

    async def venue_time(self) -> datetime:
        """Binance's clock now: ``GET /api/v3/time`` through the rate-limited request path."""
        server_ms = await self._client().server_time_ms()
        return datetime.fromtimestamp(server_ms / 1000, tz=UTC)

    # -- connection -------------------------------------------------------------------

    async def connect(self) -> None:
        """Check credentials, sync the clock from ``/api/v3/time`` and load ``exchangeInfo``."""
        self.settings.require_credentials()
        client = self._client()
        await client.sync_clock()
        await self._load_exchange_info()
        self._connected = True

    async def disconnect(self) -> None:
        """Close the stream and the HTTP client; safe to call twice."""
        self._connected = False
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.aclose()
        http, self._http = self._http, None  # a later connect builds a fresh client and transport
        if http is not None:
            await http.aclose()

    @property
    def is_connected(self) -> bool:
        """Whether ``connect`` succeeded and ``disconnect`` has not been called."""
        return self._connected

    # -- instruments --------------------------------------------------------------------

    async def _load_exchange_info(self) -> list[SymbolRules]:
        info = await self._client().request("GET", "/api/v3/exchangeInfo", weight=20)
        if not isinstance(info, dict):
            raise BrokerProtocolError("exchangeInfo must be a JSON object", payload=info, broker=BROKER)
        rate_limits = parse_rate_limits(info)
        if rate_limits:
            self._client().apply_rate_limits(rate_limits)
        rules = self.bad_items.parse_each(info.get("symbols") or (), parse_symbol, what="instrument")
        self._rules = {r.instrument.symbol: r for r in rules}
        return rules

    async def get_instruments(self) -> list[Instrument]:
        """Trading rules of every symbol currently ``TRADING`` (from ``exchangeInfo`` filters)."""
        rules = await self._load_exchange_info()
        return [r.instrument for r in rules if r.is_trading]

    def symbol_rules(self, symbol: str) -> SymbolRules | None:
        """The loaded ``exchangeInfo`` rules of ``symbol`` (``None`` before they are loaded)."""
        return self._rules.get(symbol)

    # -- public market data -----------------------------------------------------------
    async def get_quote(self, symbol: str) -> Quote:
        """``GET /api/v3/ticker/bookTicker?symbol=`` (no key needed): the best bid/ask now.

        Raises:
            InvalidOrder: Binance lists no such symbol (``-1121``).
        """
        reply = await self._client().request(
            "GET", "/api/v3/ticker/bookTicker", params={"symbol": symbol}, weight=2
        )
        return parse_rest_book_ticker(reply)

    def open_market_data(self, *, trades: bool = False) -> BinanceMarketData:
        """Book ticker (and, with ``trades``, public trades) on Binance's public stream.

        No key is needed: symbols are checked against ``exchangeInfo`` (loaded on the first
        subscribe when :meth:`connect` has not loaded it).
        """
        settings = self.settings

        async def listed() -> list[str]:
            rules = self._rules or {r.instrument.symbol: r for r in await self._load_exchange_info()}
            return list(rules)

        return BinanceMarketData(
            settings.market_data_url or MARKET_DATA_HOSTS[settings.environment],
            symbols=listed,
            trades=trades,
            telemetry=lambda: self.telemetry,
            max_age=settings.stream_max_age,
            silence=settings.market_data_silence,
        )

    # -- orders -------------------------------------------------------------------------

    def _remember(
        self, symbol: str, broker_order_id: str | None, client_order_id: str, *, open_: bool
    ) -> None:
        if broker_order_id is None:
            return
        key = (symbol, broker_order_id)
        self._client_ids[key] = client_order_id
        if open_:
            self._open[key] = client_order_id
        else:
            self._open.pop(key, None)

    async def submit_order(self, order: Order) -> list[OrderEvent]:
        """``POST /api/v3/order`` with ``newClientOrderId = order.client_order_id`` (FULL reply)."""
        params = build_order_params(order)
        rules = self._rules.get(order.symbol)
        if rules is not None:
            check_against_rules(order, rules)
        reply = await self._client().request("POST", "/api/v3/order", params=params, signed=True, order=True)
        events = parse_place_response(reply, client_order_id=order.client_order_id, side=order.side)
        broker_order_id = str(reply.get("orderId")) if isinstance(reply, dict) else None
        finished = any(isinstance(e, _TERMINAL) for e in events) or reply.get("status") == "FILLED"
        self._remember(order.symbol, broker_order_id, order.client_order_id, open_=not finished)
        return events

    def _order_ref(self, order: Order, *, prefix: str = "") -> list[tuple[str, object]]:
        if order.broker_order_id:
            return [(f"{prefix}OrderId" if prefix else "orderId", order.broker_order_id)]
        name = f"{prefix}OrigClientOrderId" if prefix else "origClientOrderId"
        return [(name, order.client_order_id)]

    async def cancel_order(self, order: Order) -> list[OrderEvent]:
        """``DELETE /api/v3/order`` by ``orderId`` when known, else ``origClientOrderId``."""
        params: list[tuple[str, object]] = [("symbol", order.symbol), *self._order_ref(order)]
        try:
            reply = await self._client().request("DELETE", "/api/v3/order", params=params, signed=True)
        except CancelRejected as exc:
            return [OrderCancelRejected(order.client_order_id, reason=exc.broker_message or exc.message)]
        report = parse_order_report(reply)
        self._remember(order.symbol, report.broker_order_id, order.client_order_id, open_=False)
        if report.status is OrderStatus.CANCELED:
            return [OrderCanceled(order.client_order_id, timestamp=report.updated_at or _now())]
        if report.status is OrderStatus.EXPIRED:
            return [OrderExpired(order.client_order_id, timestamp=report.updated_at or _now())]
        raise BrokerProtocolError(f"cancel reply has status {report.status}", payload=reply, broker=BROKER)

    async def modify_order(self, order: Order, change: OrderChange) -> list[OrderEvent]:
        """Change a working order.

        * quantity decrease only → ``PUT /api/v3/order/amend/keepPriority`` (native,
          keeps queue priority, the client order id is kept);
        * anything else → ``POST /api/v3/order/cancelReplace`` with
          ``STOP_ON_FAILURE`` and ``cancelRestrictions=ONLY_NEW``: the new order is
          placed only if the old one was canceled before any fill, so a modify can
          never add exposure; a partially filled order can only be reduced.
        """
        quantity = (
            require_decimal(change.quantity, field="quantity")
            if change.quantity is not None
            else order.quantity
        )
        limit_price = (
            require_decimal(change.limit_price, field="limit price")
            if change.limit_price is not None
            else order.limit_price
        )
        stop_price = (
            require_decimal(change.stop_price, field="stop price")
            if change.stop_price is not None
            else order.stop_price
        )
        if change.limit_price is not None and order.order_type not in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            raise InvalidOrder(
                f"a {order.order_type.value} order has no limit price to change", broker=BROKER
            )
        if change.stop_price is not None and order.order_type not in (OrderType.STOP, OrderType.STOP_LIMIT):
            raise InvalidOrder(f"a {order.order_type.value} order has no stop price to change", broker=BROKER)
        prices_same = limit_price == order.limit_price and stop_price == order.stop_price
        if prices_same and quantity == order.quantity:
            raise InvalidOrder("the change would leave the order as it is", broker=BROKER)
        if prices_same and quantity < order.quantity:
            return await self._amend_quantity(order, quantity)
        if order.filled_quantity > 0:
            raise UnsupportedFeature(
                "Binance cannot re-price or grow a partially filled order without risking extra "
                "exposure; cancel it and submit a new order",
                broker=BROKER,
            )
        return await self._cancel_replace(order, quantity, limit_price, stop_price)

    async def _amend_quantity(self, order: Order, quantity: Decimal) -> list[OrderEvent]:
        params: list[tuple[str, object]] = [
            ("symbol", order.symbol),
            *self._order_ref(order),
            ("newClientOrderId", order.client_order_id),  # documented: the current id may be reused
            ("newQty", quantity),
        ]
        try:
            reply = await self._client().request(
                "PUT", "/api/v3/order/amend/keepPriority", params=params, signed=True, weight=4
            )
        except (InvalidOrder, CancelRejected) as exc:
            return [OrderModifyRejected(order.client_order_id, reason=exc.broker_message or exc.message)]
        return parse_amend_response(reply, client_order_id=order.client_order_id)

    async def _cancel_replace(
        self, order: Order, quantity: Decimal, limit_price: Decimal | None, stop_price: Decimal | None
    ) -> list[OrderEvent]:
        replacement = Order(
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            order_type=order.order_type,
            quantity=quantity,
            time_in_force=order.time_in_force,
            limit_price=limit_price,
            stop_price=stop_price,
            post_only=order.post_only,
        )
        params = [
            *build_order_params(replacement),
            ("cancelReplaceMode", "STOP_ON_FAILURE"),
            ("cancelRestrictions", "ONLY_NEW"),
            *self._order_ref(order, prefix="cancel"),
        ]
        rules = self._rules.get(order.symbol)
        if rules is not None:
            check_against_rules(replacement, rules)
        # Marked before sending: the stream may report the old order's CANCELED before this reply.
        key = (order.symbol, order.client_order_id)
        if order.broker_order_id:
            self._replaced.add(order.broker_order_id)
            self._replacing[key] = _PendingReplace(order.broker_order_id, quantity, limit_price, stop_price)
        try:
            reply = await self._client().request(
                "POST", "/api/v3/order/cancelReplace", params=params, signed=True, order=True
            )
            events = self._cancel_replace_success(order, reply, quantity, limit_price, stop_price)
        except CancelReplaceFailed as exc:
            self._replace_refused(order)
            if exc.cancel_succeeded:  # HTTP 409: the old order is gone, the replacement was refused
                self._remember(order.symbol, order.broker_order_id, order.client_order_id, open_=False)
                return [
                    OrderCanceled(
                        order.client_order_id, reason=f"modify: replacement refused ({exc.reason})"
                    ),
                    OrderModifyRejected(order.client_order_id, reason=exc.reason),
                ]
            return [OrderModifyRejected(order.client_order_id, reason=exc.reason)]
        except (BrokerError, InvalidOrder):
            # Binance answered and refused the whole request: nothing was canceled or placed.
            self._replace_refused(order)
            raise
        except BaseException as exc:
            # Outcome unknown (no reply, 5xx, an unreadable or malformed reply, our wait
            # cancelled): the old order may be canceled and the replacement working. Keep both
            # under watch: the old id's CANCELED is the replace's own, and the stream's NEW for
            # this client order id under another orderId is the replacement (see _translate).
            if order.broker_order_id and isinstance(exc, Exception):
                setattr(exc, REPLACED_BROKER_ORDER_ID, order.broker_order_id)
            raise
        self._replacing.pop(key, None)
        return events

    def _replace_refused(self, order: Order) -> None:
        """Binance refused the cancel-replace: the old order's cancel, if any, is a real one again."""
        self._replacing.pop((order.symbol, order.client_order_id), None)
        if order.broker_order_id:
            self._replaced.discard(order.broker_order_id)

    def _cancel_replace_success(
        self,
        order: Order,
        reply: Any,
        quantity: Decimal,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
    ) -> list[OrderEvent]:
        if not isinstance(reply, dict) or not isinstance(reply.get("newOrderResponse"), dict):
            raise BrokerProtocolError(
                "cancelReplace reply without newOrderResponse", payload=reply, broker=BROKER
            )
        new_order = reply["newOrderResponse"]
        placed = parse_place_response(new_order, client_order_id=order.client_order_id, side=order.side)
        new_id = str(new_order.get("orderId"))
        if order.broker_order_id:
            self._remember(order.symbol, order.broker_order_id, order.client_order_id, open_=False)
        self._remember(order.symbol, new_id, order.client_order_id, open_=True)
        modified = OrderModified(
            order.client_order_id,
            quantity=quantity,
            limit_price=limit_price,
            stop_price=stop_price,
            broker_order_id=new_id,
            timestamp=placed[0].timestamp,
        )
        return [modified, *placed[1:]]

    async def get_order(
        self,
        *,
        symbol: str,
        client_order_id: str | None = None,
        broker_order_id: str | None = None,
    ) -> OrderReport:
        """``GET /api/v3/order`` by ``orderId`` or ``origClientOrderId`` (OrderNotFound on -2013)."""
        if client_order_id is None and broker_order_id is None:
            raise InvalidOrder("get_order needs client_order_id or broker_order_id", broker=BROKER)
        params: list[tuple[str, object]] = [("symbol", symbol)]
        if broker_order_id is not None:
            params.append(("orderId", broker_order_id))
        else:
            params.append(("origClientOrderId", client_order_id))
        reply = await self._client().request("GET", "/api/v3/order", params=params, signed=True, weight=4)
        report = parse_order_report(reply)
        if report.client_order_id is not None:
            self._remember(
                symbol, report.broker_order_id, report.client_order_id, open_=report.status.is_open
            )
        return report

    async def get_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        """``GET /api/v3/openOrders`` (weight 6 for one symbol, 80 for all)."""
        params = [("symbol", symbol)] if symbol is not None else None
        reply = await self._client().request(
            "GET", "/api/v3/openOrders", params=params, signed=True, weight=6 if symbol else 80
        )
        if not isinstance(reply, list):
            raise BrokerProtocolError("openOrders must be a JSON array", payload=reply, broker=BROKER)
        reports = self.bad_items.parse_each(reply, parse_order_report, what="open order")
        for r in reports:
            if r.client_order_id is not None:
                self._remember(r.symbol, r.broker_order_id, r.client_order_id, open_=True)
        return reports

    async def get_fills(self, *, symbol: str | None = None, since: datetime | None = None) -> list[Fill]:
        """``GET /api/v3/myTrades`` per symbol, paged by trade id.

        Binance lists trades per symbol only (``myTrades`` needs one). Without ``symbol``
        (recovery after a restart, when this adapter has seen no order yet) these are queried:

        1. every symbol named in ``settings.fill_symbols``, every symbol of an order this
           adapter has seen, and every symbol with an open order (``openOrders``);
        2. then, up to ``settings.max_fill_symbols`` in all, symbols guessed from the
           account's non-zero balances (``/api/v3/account``): first those whose base *and*
           quote asset are held, then those whose base asset is held (a buy leaves the base
           asset; a sell that emptied it is found only through step 1).

        A lookup that fails raises (the caller learns fills may be missing, never a silent
        partial list); symbols left out by the bound are logged as a warning.
        """
        symbols = [symbol] if symbol is not None else await self._fill_symbols()
        fills: list[Fill] = []
        for sym in symbols:
            fills.extend(await self._fills_for(sym, since))
        return fills

    async def _fill_symbols(self) -> list[str]:
        """The symbols :meth:`get_fills` queries without a symbol (see there), known ones first."""
        known = dict.fromkeys(self.settings.fill_symbol_list)
        known.update(dict.fromkeys(sorted({s for s, _ in self._client_ids})))
        known.update(dict.fromkeys(sorted({report.symbol for report in await self.get_open_orders()})))
        held = {b.asset for b in await self.get_balances() if b.total > 0}
        if not self._rules:
            await self._load_exchange_info()
        rules = sorted(self._rules.values(), key=lambda r: r.instrument.symbol)
        guessed = [r.instrument.symbol for r in rules if {r.instrument.base, r.instrument.quote} <= held]
        guessed += [r.instrument.symbol for r in rules if r.instrument.base in held]
        guessed = [name for name in dict.fromkeys(guessed) if name not in known]
        room = max(0, self.settings.max_fill_symbols - len(known))
        if len(guessed) > room:
            logger.warning(
                "binance fills without a symbol: %d symbols with held assets not queried "
                "(max_fill_symbols=%d); name the symbols you trade in fill_symbols",
                len(guessed) - room,
                self.settings.max_fill_symbols,
            )
        return [*known, *guessed[:room]]

    async def _fills_for(self, symbol: str, since: datetime | None) -> list[Fill]:
        rows: list[Any] = []
        params: list[tuple[str, object]] = [("symbol", symbol), ("limit", 1000)]
        if since is not None:
            params.append(("startTime", int(since.timestamp() * 1000)))
        while True:
            page = await self._client().request(
                "GET", "/api/v3/myTrades", params=params, signed=True, weight=20
            )
            if not isinstance(page, list):
                raise BrokerProtocolError("myTrades must be a JSON array", payload=page, broker=BROKER)
            rows.extend(page)
            if len(page) < 1000:
                break
            last_id = page[-1].get("id") if isinstance(page[-1], dict) else None
            if not isinstance(last_id, int):
                break
            params = [("symbol", symbol), ("limit", 1000), ("fromId", last_id + 1)]
        missing = {
            (symbol, str(r.get("orderId")))
            for r in rows
            if isinstance(r, dict)
            and isinstance(r.get("orderId"), int)
            and (symbol, str(r.get("orderId"))) not in self._client_ids
        }
        for _, order_id in sorted(missing):
            try:
                await self.get_order(symbol=symbol, broker_order_id=order_id)  # learns its client order id
            except (OrderNotFound, BrokerProtocolError) as exc:
                # Its fills are reported as unattributable below; the others still count.
                logger.warning("binance: cannot resolve order %s %s for its fills: %s", symbol, order_id, exc)
        return self.bad_items.parse_each(
            rows,
            lambda r: parse_my_trade(r, client_order_id_for=self._client_id_for),
            what="fill",
            may_hold_fill=True,
        )

    def _client_id_for(self, symbol: str, order_id: str) -> str:
        try:
            return self._client_ids[(symbol, order_id)]
        except KeyError:
            raise BrokerProtocolError(
                f"no client order id known for {symbol} order {order_id}", broker=BROKER
            ) from None

    # -- account ------------------------------------------------------------------------

    async def get_positions(self) -> list[Position]:
        """Always ``[]``: Binance spot has no positions (the OMS derives them from fills)."""
        return []

    async def get_balances(self) -> list[Balance]:
        """``GET /api/v3/account?omitZeroBalances=true`` → balances (total = free + locked)."""
        reply = await self._client().request(
            "GET", "/api/v3/account", params=[("omitZeroBalances", True)], signed=True, weight=20
        )
        return parse_account_balances(reply, bad_items=self.bad_items)

    # -- stream --------------------------------------------------------------------------

    async def stream_events(self) -> AsyncIterator[OrderEvent]:
        """Order updates and fills from the user data stream, until :meth:`disconnect`.

        After every reconnect, fills since the gap started (``myTrades``) and the
        status of every order still open are fetched, so nothing in the gap is lost
        (duplicates are harmless: the OMS is idempotent on trade id).
        """
        self.settings.require_credentials()
        client = self._client()
        assert self._signer is not None  # require_credentials guarantees a key type
        config = self._stream_config or StreamConfig(
            max_age=self.settings.stream_max_age, recv_window_ms=self.settings.recv_window_ms
        )
        api_key = self.settings.api_key
        assert api_key is not None
        stream = UserDataStream(
            url=self.settings.stream_url,
            api_key=api_key.get_secret_value(),
            signer=self._signer,
            clock=self._clock,
            on_event=self._translate,
            catch_up=self._catch_up_gap,
            resync_clock=client.remeasure_clock,  # -1021: the retry needs the fresh offset
            config=config,
            on_bad_frame=lambda raw, error: self.bad_items.report(
                "stream frame", raw, error, may_hold_fill=True
            ),
            telemetry=lambda: self.telemetry,  # looked up per report: the engine installs its own
        )
        self._stream = stream
        try:
            async with aclosing(stream.events()) as events:
                async for event in events:
                    yield event
        finally:
            await stream.aclose()

    def _translate(self, event: dict[str, Any]) -> list[OrderEvent]:
        kind = event.get("e")
        if kind == "executionReport":
            symbol = str(event.get("s"))
            order_id = str(event.get("i"))
            if event.get("x") == "CANCELED" and order_id in self._replaced:
                self._open.pop((symbol, order_id), None)
                return []  # the old half of our own cancelReplace modify, not a cancel
            replacement = self._replacement(symbol, order_id, event)
            if replacement is not None:
                self._remember(symbol, order_id, replacement.client_order_id, open_=True)
                return [replacement]
            try:
                events = parse_execution_report(event)
            except RefusedFill as refused:
                self.bad_items.report("fill", event, refused, may_hold_fill=True)
                events = refused.kept
            except PARSE_ERRORS as exc:  # one report off the documented shape never ends the stream
                self.bad_items.report("execution report", event, exc, may_hold_fill=event.get("x") == "TRADE")
                return []
            for e in events:
                finished = isinstance(e, _TERMINAL) or (
                    isinstance(e, OrderFilled) and event.get("X") == "FILLED"
                )
                self._remember(symbol, order_id, e.client_order_id, open_=not finished)
            return events
        if kind == "outboundAccountPosition":
            try:
                balances = parse_account_position(event)
            except PARSE_ERRORS as exc:
                self.bad_items.report("account update", event, exc)
                return []
            for balance in balances:
                self.balances[balance.asset] = balance
        return []  # balanceUpdate, listStatus, externalLockUpdate: nothing for the OMS

    def _replacement(self, symbol: str, order_id: str, event: dict[str, Any]) -> OrderModified | None:
        """A NEW under a new orderId for a client order id being replaced: the replacement placed.

        Read as the modify itself (its terms and id), whether it comes before the
        cancelReplace reply or after a reply that was lost.
        """
        if event.get("x") != "NEW":
            return None
        client_order_id = event.get("c")
        if not isinstance(client_order_id, str):
            return None
        pending = self._replacing.get((symbol, client_order_id))
        if pending is None or pending.old_order_id == order_id:
            return None
        try:
            accepted = parse_execution_report(event)[0]
        except PARSE_ERRORS:
            return None  # the ordinary path reports the bad item
        del self._replacing[(symbol, client_order_id)]
        return OrderModified(
            client_order_id,
            quantity=pending.quantity,
            limit_price=pending.limit_price,
            stop_price=pending.stop_price,
            broker_order_id=order_id,
            timestamp=accepted.timestamp,
        )

    async def _catch_up_gap(self, gap: Gap) -> list[OrderEvent]:
        # Binance filters trades by its own clock: the last moment the old connection handed
        # everything over, plus the measured offset, minus an overlap (the OMS de-duplicates).
        since_ms = int((gap.since or 0.0) * 1000) + self._clock.offset_ms - _CATCH_UP_MARGIN_MS
        return await self._catch_up(since_ms)

    async def _catch_up(self, since_ms: int) -> list[OrderEvent]:
        events: list[OrderEvent] = []
        symbols = sorted({s for s, _ in self._open})
        since = datetime.fromtimestamp(max(since_ms, 0) / 1000, tz=UTC)
        for symbol in symbols:
            for fill in await self._fills_for(symbol, since):
                events.append(OrderFilled(fill))
        for (symbol, order_id), client_order_id in sorted(self._open.items()):
            try:
                report = await self.get_order(symbol=symbol, broker_order_id=order_id)
            except OrderNotFound:
                continue
            when = report.updated_at or _now()
            if report.status is OrderStatus.CANCELED and order_id not in self._replaced:
                events.append(OrderCanceled(client_order_id, timestamp=when))
            elif report.status is OrderStatus.EXPIRED:
                events.append(OrderExpired(client_order_id, timestamp=when))
            elif report.status is OrderStatus.REJECTED:
                events.append(OrderRejected(client_order_id, reason="REJECTED", timestamp=when))
        logger.info("binance catch-up after reconnect: %d events", len(events))
        return events


def _now() -> datetime:
    return datetime.now(UTC)
