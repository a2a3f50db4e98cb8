"""The OANDA v20 :class:`~autotrader_core.adapter.BrokerAdapter`.

It translates and keeps no order book: every reply and stream line is a list
of transactions, turned into core events by one shared
:class:`~autotrader_oanda.parsing.TransactionTranslator`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import httpx
from autotrader_core.adapter import BrokerAdapter, OrderChange
from autotrader_core.capabilities import Capabilities
from autotrader_core.enums import AssetClass, OrderType, TimeInForce
from autotrader_core.errors import (
    AuthenticationError,
    BrokerError,
    BrokerProtocolError,
    ConfigurationError,
    InvalidOrder,
    OrderNotFound,
    RateLimited,
)
from autotrader_core.events import (
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderModified,
    OrderModifyRejected,
)
from autotrader_core.market_data import MarketDataFeed, Quote
from autotrader_core.models import Balance, Fill, Instrument, Order, OrderReport, Position
from autotrader_core.resend import ResendGuarantee
from autotrader_core.skipping import BadItemLog
from autotrader_core.transports import HttpTransport

from autotrader_oanda.errors import BROKER, CANCEL_OUTCOMES, error_for_reason
from autotrader_oanda.http import OandaHttp
from autotrader_oanda.market_data import OandaMarketData, quote_from_pricing
from autotrader_oanda.orders import build_order_request, build_replace_request, order_specifier
from autotrader_oanda.parsing import (
    TransactionTranslator,
    fill_from_transaction,
    parse_balances,
    parse_instrument,
    parse_order_report,
    parse_position,
    report_from_transactions,
    transaction_id,
)
from autotrader_oanda.settings import OandaSettings
from autotrader_oanda.stream import TransactionStream

__all__ = ["OandaAdapter"]

logger = logging.getLogger(__name__)

DEFAULT_FILL_LOOKBACK = timedelta(hours=24)
"""How far back :meth:`OandaAdapter.get_fills` looks when no ``since`` is given."""


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise InvalidOrder("since must be timezone-aware (UTC)")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _required(reply: dict[str, Any], key: str) -> dict[str, Any]:
    value = reply.get(key)
    if not isinstance(value, dict):
        raise BrokerProtocolError(f"reply has no {key!r} object", payload=reply, broker=BROKER)
    return value


def _optional(reply: dict[str, Any], key: str) -> dict[str, Any] | None:
    return None if reply.get(key) is None else _required(reply, key)


class OandaAdapter(BrokerAdapter):
    """OANDA v20: FX and CFDs on a practice (default) or live account.

    Args:
        settings: Token, account id, environment.
        transport: Transport override for REST (tests, benchmarks): an httpx transport
            or an :class:`~autotrader_core.transports.HttpTransport`; default: the one
            ``settings.http_transport`` names.
        stream_transport: httpx transport for the transaction stream.
        on_reconnect: Called with the reason each time the stream reconnects.
    """

    name: ClassVar[str] = BROKER
    resend_guarantee = ResendGuarantee.none(
        "OANDA v20: clientExtensions.id is unique among pending orders only (a filled or canceled "
        "order's id can be used again) and a request has no expiry, so nothing makes a re-send safe; "
        "an unknown outcome is looked up and settled, never sent again"
    )
    capabilities: ClassVar[Capabilities] = Capabilities(
        order_types=frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP}),
        time_in_force=frozenset({TimeInForce.GTC, TimeInForce.DAY, TimeInForce.IOC, TimeInForce.FOK}),
        asset_classes=frozenset({AssetClass.FX, AssetClass.CFD}),
        post_only=False,
        native_modify=True,
        emulated_modify=False,
        streaming_fills=True,
        broker_positions=True,
        fill_history=True,
        reduce_only=True,
        quotes=True,
        test_environments=("practice",),
        notes=(
            "modify is OANDA's replace: the order gets a NEW broker order id (OrderModified carries it); "
            "the client order id carries over",
            "market orders are FOK (default) or IOC; stop orders GTC or DAY (GFD)",
            "no post-only and no resting stop-limit order in v20",
            "fees (commission, guaranteed execution fee) are in the account's home currency",
        ),
    )

    def __init__(
        self,
        settings: OandaSettings,
        *,
        transport: httpx.AsyncBaseTransport | HttpTransport | None = None,
        stream_transport: httpx.AsyncBaseTransport | None = None,
        on_reconnect: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self._http = OandaHttp(settings, transport=transport, on_wait=self._rate_limit_waited)
        self._stream_transport = stream_transport
        self._on_reconnect = on_reconnect
        self._translator = TransactionTranslator()
        self._instruments: dict[str, Instrument] = {}
        self._last_transaction_id: int | None = None
        self._session_start_id: int | None = None
        self._stream: TransactionStream | None = None
        self._connected = False
        self.bad_items = BadItemLog(BROKER, telemetry=lambda: self.telemetry)
        """Payload items skipped because they could not be parsed (each also logged and alerted)."""
        self.home_currency: str | None = None
        """The account's currency (balances, P/L and fees are in it); known after :meth:`connect`."""

    # -- connection ------------------------------------------------------------

    async def connect(self) -> None:
        """Check the token and account with ``GET /summary``; learn the home currency
        and the last transaction id (where the stream's catch-up starts)."""
        reply = await self._http.summary()
        account = _required(reply, "account")
        self._learn_account(account, reply)
        self._connected = True

    def _learn_account(self, account: dict[str, Any], reply: dict[str, Any]) -> None:
        currency = account.get("currency")
        if not isinstance(currency, str) or not currency:
            raise BrokerProtocolError("account summary has no currency", payload=reply, broker=BROKER)
        self.home_currency = currency
        self._translator.fee_currency = currency
        if self._last_transaction_id is None:
            self._last_transaction_id = transaction_id(reply.get("lastTransactionID"), payload=reply)
            self._session_start_id = self._last_transaction_id

    async def disconnect(self) -> None:
        """Stop the stream and close the HTTP clients; safe to call twice."""
        self._connected = False
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.aclose()
        await self._http.aclose()

    @property
    def is_connected(self) -> bool:
        """Whether :meth:`connect` succeeded and :meth:`disconnect` has not been called."""
        return self._connected

    # -- orders ----------------------------------------------------------------

    async def submit_order(self, order: Order) -> list[OrderEvent]:
        """``POST /orders`` with ``clientExtensions.id`` = ``order.client_order_id``.

        A MARKET order is settled in the same reply: the events then include the
        fill (trade id = the ORDER_FILL transaction id, exactly as the stream will
        report it) and, for an IOC remainder, the cancel. A market order OANDA
        cancels at once for a refusal reason (``INSUFFICIENT_MARGIN``,
        ``MARKET_HALTED``, ...) without any fill raises that reason's error.
        """
        request = build_order_request(order, self._instruments.get(order.symbol))
        reply = await self._http.create_order(request)
        create = _required(reply, "orderCreateTransaction")
        self._translator.remember(str(create.get("id")), order.client_order_id)
        events = self._translator.events(create)
        fill = _optional(reply, "orderFillTransaction")
        if fill is not None:
            events += self._translator.events(fill)
        cancel = _optional(reply, "orderCancelTransaction")
        if cancel is not None:
            cancel_events = self._translator.events(cancel)
            reason = str(cancel.get("reason") or "")
            if fill is None and reason not in CANCEL_OUTCOMES:
                raise error_for_reason(reason, request_id=self._http.last_request_id)
            events += cancel_events
        return events

    async def cancel_order(self, order: Order) -> list[OrderEvent]:
        """``PUT /orders/@<client id>/cancel`` (the client id survives replaces, OANDA's id does not).

        Raises:
            OrderNotFound: OANDA does not know the order or it is no longer pending
                (``ORDER_DOESNT_EXIST``): it may have filled, query it.
        """
        specifier = order_specifier(client_order_id=order.client_order_id)
        try:
            reply = await self._http.cancel_order(specifier)
        except (AuthenticationError, RateLimited, OrderNotFound):
            raise
        except BrokerError as exc:
            return [OrderCancelRejected(order.client_order_id, exc.code or str(exc))]
        cancel = _required(reply, "orderCancelTransaction")
        order_id = cancel.get("orderID")
        if isinstance(order_id, str):
            self._translator.remember(order_id, order.client_order_id)
        events = self._translator.events(cancel)
        return events or [OrderCanceled(order.client_order_id, str(cancel.get("reason") or "CLIENT_REQUEST"))]

    async def modify_order(self, order: Order, change: OrderChange) -> list[OrderEvent]:
        """Replace the order (``PUT /orders/@<client id>``): OANDA cancels it and creates
        a new one with a **new order id**, carrying our client id over.

        Returns ``[OrderModified(broker_order_id=<new id>, ...)]`` (plus an
        ``OrderFilled`` if the replacement filled at once), or
        ``[OrderModifyRejected]`` when OANDA refused the replacement (the order
        keeps working on its old terms).
        """
        request = build_replace_request(order, change, self._instruments.get(order.symbol))
        specifier = order_specifier(client_order_id=order.client_order_id)
        try:
            reply = await self._http.replace_order(specifier, request)
        except (AuthenticationError, RateLimited, OrderNotFound):
            raise
        except (BrokerError, InvalidOrder) as exc:
            return [OrderModifyRejected(order.client_order_id, exc.code or str(exc))]
        total = change.quantity if change.quantity is not None else order.quantity
        events: list[OrderEvent] = []
        for key in (
            "orderCancelTransaction",
            "orderCreateTransaction",
            "orderFillTransaction",
            "replacingOrderCancelTransaction",
        ):
            required = key in ("orderCreateTransaction", "orderCancelTransaction")
            tx = _required(reply, key) if required else _optional(reply, key)
            if tx is None:
                continue
            if key == "orderCreateTransaction":
                self._translator.remember(str(tx.get("id")), order.client_order_id)
            for event in self._translator.events(tx):
                # The replacement's units are the remaining quantity; the OMS wants the new total.
                events.append(
                    dataclasses.replace(event, quantity=total) if isinstance(event, OrderModified) else event
                )
        return events

    async def get_order(
        self,
        *,
        symbol: str,
        client_order_id: str | None = None,
        broker_order_id: str | None = None,
    ) -> OrderReport:
        """``GET /orders/@<client id>`` (or ``/orders/<id>``); for a filled order the
        filling transaction is fetched too, for the filled units and price.

        When ``@<client id>`` is unknown (OANDA keeps client ids unique among pending
        orders only), the account's transactions since :meth:`connect` are searched
        before giving up, so a safe re-send never duplicates a filled order.

        Raises:
            OrderNotFound: OANDA does not know it and this session never sent it.
        """
        # Our client id first: it survives a replace, OANDA's order id does not.
        if client_order_id:
            specifier = order_specifier(client_order_id=client_order_id)
        else:
            specifier = order_specifier(broker_order_id=broker_order_id)
        try:
            reply = await self._http.get_order(specifier)
        except OrderNotFound:
            found = await self._order_from_history(client_order_id) if client_order_id else None
            if found is None:
                raise
            return found
        raw = _required(reply, "order")
        fill: dict[str, Any] | None = None
        filling_id = raw.get("fillingTransactionID")
        if isinstance(filling_id, str) and filling_id:
            fill = _required(await self._http.transaction(filling_id), "transaction")
        report = parse_order_report(raw, fill)
        if report is None:
            raise OrderNotFound(f"OANDA order {specifier} is a trade-dependent order", broker=BROKER)
        if report.symbol != symbol:
            logger.warning("oanda order %s is on %s, not %s", specifier, report.symbol, symbol)
        return report

    async def _order_from_history(self, client_order_id: str) -> OrderReport | None:
        """The order's transactions since :meth:`connect` (OANDA may forget ``@<id>`` once an
        order is no longer pending): ``None`` when this session never sent it."""
        if self._session_start_id is None:
            return None
        reply = await self._http.transactions_since(self._session_start_id)
        transactions = reply.get("transactions")
        if not isinstance(transactions, list):
            raise BrokerProtocolError("sinceid reply has no transactions list", payload=reply, broker=BROKER)
        return report_from_transactions(client_order_id, transactions)

    async def get_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        """``GET /pendingOrders`` (trade-dependent take-profit/stop-loss orders are left out)."""
        reply = await self._http.pending_orders()
        orders = reply.get("orders")
        if not isinstance(orders, list):
            raise BrokerProtocolError("pendingOrders reply has no orders list", payload=reply, broker=BROKER)
        reports = self.bad_items.parse_each(orders, parse_order_report, what="open order")
        return [r for r in reports if r is not None and (symbol is None or r.symbol == symbol)]

    async def get_fills(self, *, symbol: str | None = None, since: datetime | None = None) -> list[Fill]:
        """ORDER_FILL transactions since ``since`` (default: the last 24 hours).

        ``GET /transactions?from=&type=ORDER_FILL`` gives ``idrange`` pages, each
        fetched with ``GET /transactions/idrange``. Fills of orders without a
        client id (placed outside autotrader, or OANDA's own stop-outs) are left
        out: the OMS could not attribute them.
        """
        start = since if since is not None else datetime.now(UTC) - DEFAULT_FILL_LOOKBACK
        index = await self._http.transaction_pages(since=_rfc3339(start), kind="ORDER_FILL")
        pages = index.get("pages")
        if not isinstance(pages, list):
            raise BrokerProtocolError("transactions reply has no pages list", payload=index, broker=BROKER)
        fills: list[Fill] = []
        for page in pages:
            query = parse_qs(urlsplit(str(page)).query)
            try:
                first, last = int(query["from"][0]), int(query["to"][0])
            except (KeyError, IndexError, ValueError):
                raise BrokerProtocolError(
                    "transactions page URL has no from/to", payload=page, broker=BROKER
                ) from None
            reply = await self._http.transaction_range(first, last, kind="ORDER_FILL")
            transactions = reply.get("transactions")
            if not isinstance(transactions, list):
                raise BrokerProtocolError(
                    "idrange reply has no transactions list", payload=reply, broker=BROKER
                )
            wanted = [
                tx
                for tx in transactions
                if not isinstance(tx, dict)  # not even an object: reported below
                or (
                    tx.get("type") == "ORDER_FILL"
                    and (symbol is None or tx.get("instrument") == symbol)
                    and self._fill_client_id(tx) is not None
                )
            ]
            fills += self.bad_items.parse_each(wanted, self._fill_of, what="fill", may_hold_fill=True)
        return fills

    def _fill_client_id(self, tx: Mapping[str, Any]) -> str | None:
        client_id = tx.get("clientOrderID")
        if isinstance(client_id, str) and client_id:
            return client_id
        return self._translator.client_id_for(str(tx.get("orderID")))

    def _fill_of(self, tx: Any) -> Fill:
        if not isinstance(tx, Mapping):
            raise BrokerProtocolError("ORDER_FILL transaction is not an object", payload=tx, broker=BROKER)
        client_id = self._fill_client_id(tx)
        assert client_id is not None  # filtered by get_fills
        return fill_from_transaction(tx, client_order_id=client_id, fee_currency=self.home_currency or "")

    # -- account ---------------------------------------------------------------

    async def get_positions(self) -> list[Position]:
        """``GET /openPositions``: net units per instrument (long + short legs)."""
        reply = await self._http.open_positions()
        positions = reply.get("positions")
        if not isinstance(positions, list):
            raise BrokerProtocolError(
                "openPositions reply has no positions list", payload=reply, broker=BROKER
            )
        return self.bad_items.parse_each(positions, parse_position, what="position")

    async def get_balances(self) -> list[Balance]:
        """``GET /summary``: one balance in the home currency (total = NAV, available = margin available)."""
        reply = await self._http.summary()
        account = _required(reply, "account")
        self._learn_account(account, reply)
        return parse_balances(account)

    async def get_instruments(self) -> list[Instrument]:
        """``GET /instruments``; the rules are also kept to check orders before send."""
        reply = await self._http.instruments()
        raw = reply.get("instruments")
        if not isinstance(raw, list):
            raise BrokerProtocolError(
                "instruments reply has no instruments list", payload=reply, broker=BROKER
            )
        instruments = self.bad_items.parse_each(raw, parse_instrument, what="instrument")
        self._instruments = {i.symbol: i for i in instruments}
        return instruments

    # -- pricing ---------------------------------------------------------------
    async def get_quote(self, symbol: str) -> Quote:
        """``GET /pricing`` for one instrument: best bid/ask with their liquidity.

        Raises:
            InvalidOrder: an instrument the account cannot trade (checked before the request).
            BrokerError: the price is not tradeable now (market closed, halted).
        """
        if symbol not in await self._listed_symbols():
            raise InvalidOrder(f"OANDA lists no instrument {symbol!r} for this account", broker=BROKER)
        return quote_from_pricing(
            await self._http.call("GET", "/pricing", params={"instruments": symbol}), symbol
        )

    def open_market_data(self, *, trades: bool = False) -> MarketDataFeed:
        """The pricing stream (dealer quotes: OANDA has no public trades, so ``trades`` adds nothing)."""
        return OandaMarketData(
            self.settings, instruments=self._listed_symbols, telemetry=lambda: self.telemetry
        )

    async def _listed_symbols(self) -> list[str]:
        if not self._instruments:
            await self.get_instruments()
        return list(self._instruments)

    # -- stream ----------------------------------------------------------------

    async def stream_events(self) -> AsyncIterator[OrderEvent]:
        """Events from the transaction stream until :meth:`disconnect`; connects first if needed.

        Reconnects by itself (backoff with jitter), catches up with
        ``/transactions/sinceid`` after every (re)connect and on heartbeat gaps, and
        does not repeat what a REST reply of this adapter already reported.
        """
        if self._stream is not None and not self._stream.closed:
            raise ConfigurationError(
                "oanda: stream_events() is already running; OANDA allows 20 streams per IP, share this one",
                broker=BROKER,
            )
        if not self._connected:
            await self.connect()
        start = self._last_transaction_id
        if start is None:  # connect() always sets it; a protocol error would have raised there
            raise BrokerProtocolError("no lastTransactionID known to start the stream from", broker=BROKER)
        stream = TransactionStream(
            self.settings,
            self._http,
            self._translator,
            last_transaction_id=start,
            transport=self._stream_transport,
            on_reconnect=self._on_reconnect,
            on_wait=self._rate_limit_waited,
            telemetry=lambda: self.telemetry,
            bad_items=self.bad_items,
        )
        self._stream = stream
        try:
            async with aclosing(stream.events()) as events:
                async for event in events:
                    yield event
        finally:
            self._last_transaction_id = stream.last_transaction_id
            await stream.aclose()  # marks it closed: a new stream_events() may start

    # -- telemetry: looked up per call, the engine sets it after the adapter was built
    def _rate_limit_waited(self, name: str, seconds: float) -> None:
        self.telemetry.rate_limit_wait(name, seconds)

    @property
    def stream(self) -> TransactionStream | None:
        """The latest transaction stream (its counters: reconnects, last error), if any."""
        return self._stream
