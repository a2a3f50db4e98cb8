"""Coinbase Advanced Trade adapter: the full :class:`BrokerAdapter` contract.

Wiring: :mod:`orders` validates and builds request bodies (refusals happen
before anything is sent), :class:`CoinbaseHttp` is the one request path,
:mod:`parsing` turns replies into core models, :class:`UserStream` reads the
user channel and :class:`FillCompleter` turns its cumulative state into exact
fills from ``/orders/historical/fills``, each emitted once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

import anyio
from autotrader_core.adapter import BrokerAdapter, OrderChange
from autotrader_core.capabilities import Capabilities
from autotrader_core.decimals import wire_field
from autotrader_core.enums import AssetClass, OrderStatus, OrderType, TimeInForce
from autotrader_core.errors import (
    AutotraderError,
    BrokerProtocolError,
    OrderNotFound,
    RateLimited,
    TransientError,
    UnsupportedFeature,
)
from autotrader_core.events import (
    OrderAccepted,
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

from autotrader_coinbase.errors import BROKER, GENERIC_CODES, error_for_code
from autotrader_coinbase.fills import FillCompleter, OrderDirectory, OrderRef
from autotrader_coinbase.http import CoinbaseHttp
from autotrader_coinbase.market_data import CoinbaseMarketData, parse_product_book, require_listed
from autotrader_coinbase.orders import build_create_order_body, build_edit_order_body
from autotrader_coinbase.parsing import (
    ProductInfo,
    UserOrderUpdate,
    parse_accounts_page,
    parse_cancel_results,
    parse_create_order,
    parse_fill,
    parse_fills_page,
    parse_order,
    parse_orders_page,
    parse_product,
    parse_product_info,
    spot_product_guess,
)
from autotrader_coinbase.settings import CoinbaseSettings
from autotrader_coinbase.stream import StreamCaughtUp, StreamGap, StreamHeartbeat, StreamOrders, UserStream

if TYPE_CHECKING:  # httpx is loaded only when the httpx transport is chosen
    import httpx
    from autotrader_core.streaming import Gap

__all__ = ["COINBASE_CAPABILITIES", "CoinbaseAdapter"]

logger = logging.getLogger(__name__)

COINBASE_CAPABILITIES = Capabilities(
    order_types=frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP_LIMIT}),
    time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK}),
    asset_classes=frozenset({AssetClass.CRYPTO_SPOT}),
    post_only=True,
    native_modify=True,
    emulated_modify=False,
    streaming_fills=True,
    broker_positions=False,
    fill_history=True,
    quotes=True,
    trades=True,
    test_environments=("sandbox",),
    notes=(
        "modify: native edit of limit GTC orders only (Coinbase edits nothing else)",
        "no stop-market on spot: use stop_limit (GTC); market orders are IOC, FOK is limit-only",
        "stop-limit direction: buy triggers upwards, sell downwards",
        "sandbox is a static mock: canned replies, no auth, no stream, no products",
    ),
)

CANCEL_BATCH_SIZE = 100
"""Order ids per ``batch_cancel`` request."""
LOOKUP_PAGES = 4
"""Pages of recent orders searched when a client order id is not in the id map."""
PAGE_LIMIT = 250
MAX_PAGES = 100
"""Safety stop for cursor pagination."""
CATCH_UP_MARGIN = timedelta(minutes=2)
"""Fills are re-read from this long before a disconnect (the trade-id set drops repeats)."""


class CoinbaseAdapter(BrokerAdapter):
    """Coinbase Advanced Trade (spot) adapter.

    Args:
        settings: Adapter settings; the sandbox (default) needs no key, live does.
        transport: Transport override (tests, benchmarks): an httpx transport or an
            :class:`~autotrader_core.transports.HttpTransport`; default: the one
            ``settings.http_transport`` names.
    """

    name: ClassVar[str] = "coinbase"
    capabilities: ClassVar[Capabilities] = COINBASE_CAPABILITIES
    resend_guarantee = ResendGuarantee.idempotency_key(
        "Coinbase Advanced Trade POST /orders: client_order_id is an idempotency key; if it is not "
        "unique no order is created and the existing order with that id is returned (protocols.md "
        "§3.3); an edit (POST /orders/edit) sets the new total size and price, the same edit twice "
        "leaves the same terms"
    )

    def __init__(
        self,
        settings: CoinbaseSettings,
        *,
        transport: httpx.AsyncBaseTransport | HttpTransport | None = None,
    ) -> None:
        # Local work only (settings checks, key loading): the first I/O is in connect().
        self.settings = settings
        self._http = CoinbaseHttp(settings, transport=transport, on_wait=self._rate_limit_waited)
        self._directory = OrderDirectory()
        self.bad_items = BadItemLog(BROKER, telemetry=lambda: self.telemetry)
        """Payload items skipped because they could not be parsed (each also logged and alerted)."""
        self._products: dict[str, ProductInfo] = {}
        """Product data by id (quote currency, base increment), for fills."""
        self._completer = FillCompleter(
            self._fetch_order_fills,
            retry_interval=settings.fill_retry_interval,
            product_for=self._products.get,
            bad_items=self.bad_items,
        )
        self._connected = False
        self._stream: UserStream | None = None
        self._last_alive: datetime | None = None
        """Last moment the stream was known to be delivering (a gap's catch-up reads fills from before it)."""
        self._pending_catch_up: datetime | None = None
        """Start of a catch-up still to run (set after a reconnect or a gap, kept while it fails)."""
        self._listed: frozenset[str] | None = None
        """Listed products, read once for market-data symbol checks."""

    # -- connection ----------------------------------------------------------------------------

    async def connect(self) -> None:
        """Sync the clock JWTs are stamped with (live only; the sandbox takes no JWT)."""
        if self._http.signer is not None:
            await self._http.sync_clock(samples=3)
        self._connected = True

    async def disconnect(self) -> None:
        """Stop the stream and close the HTTP clients; safe to call twice."""
        self._connected = False
        if self._stream is not None:
            with anyio.move_on_after(2):
                await self._stream.aclose()
        await self._http.aclose()

    @property
    def is_connected(self) -> bool:
        """Whether ``connect`` succeeded and ``disconnect`` has not been called."""
        return self._connected

    # -- id resolution ---------------------------------------------------------------------------

    def _remember(self, order_id: str, ref: OrderRef) -> None:
        self._directory.remember(order_id, ref)

    def _remember_report(self, report: OrderReport) -> None:
        if report.broker_order_id and report.client_order_id:
            self._remember(
                report.broker_order_id, OrderRef(report.client_order_id, report.symbol, report.side)
            )

    async def _broker_id(self, order: Order) -> str:
        if order.broker_order_id:
            return order.broker_order_id
        known = self._directory.order_id(order.client_order_id)
        if known is not None:
            return known
        report = await self.get_order(symbol=order.symbol, client_order_id=order.client_order_id)
        assert report.broker_order_id is not None  # parse_order always sets it
        return report.broker_order_id

    async def _ref_for(self, order_id: str) -> OrderRef:
        ref = self._directory.ref(order_id)
        if ref is None:
            report = await self.get_order(symbol="", broker_order_id=order_id)
            ref = OrderRef(report.client_order_id or "", report.symbol, report.side)
            self._remember(order_id, ref)
        return ref

    # -- orders ----------------------------------------------------------------------------------

    async def submit_order(self, order: Order) -> list[OrderEvent]:
        """Place ``order`` with its client order id (Coinbase's idempotency key).

        A re-send with the same client order id returns the existing order, never a
        second one, so a retry after a timeout is safe.
        """
        body = build_create_order_body(order)  # refuses unsupported/invalid orders before sending
        reply = await self._http.private("POST", "/orders", json_body=body)
        order_id = parse_create_order(reply)
        ref = OrderRef(order.client_order_id, order.symbol, order.side)
        known = self._directory.order_id(order.client_order_id)
        if known is not None and known != order_id:
            # Coinbase documents the opposite; make it loud if it ever happens.
            logger.error(
                "coinbase returned order %s for client order id %s already mapped to %s",
                order_id,
                order.client_order_id,
                known,
            )
        self._remember(order_id, ref)
        self._completer.track(order_id, ref, accepted=True)
        return [OrderAccepted(order.client_order_id, order_id)]

    async def cancel_order(self, order: Order) -> list[OrderEvent]:
        """Cancel one order (``batch_cancel`` with one id).

        Raises:
            OrderNotFound: Coinbase does not know the order (``UNKNOWN_CANCEL_ORDER``).
        """
        order_id = await self._broker_id(order)
        results = await self._batch_cancel([order_id])
        success, reason = results.get(order_id, (False, ""))
        if not success and reason in ("UNKNOWN_CANCEL_ORDER", "ORDER_NOT_FOUND"):
            raise error_for_code(reason, f"order {order.client_order_id} ({order_id})", context="cancel")
        return await self._cancel_events({order_id: order}, results)

    async def cancel_orders(self, orders: Sequence[Order]) -> list[OrderEvent]:
        """Cancel many orders with ``batch_cancel`` (100 ids per request).

        Orders Coinbase does not know come back as ``OrderCancelRejected`` rather than
        an exception, so one unknown order cannot hide the others' results.
        """
        by_id: dict[str, Order] = {}
        for order in orders:
            by_id[await self._broker_id(order)] = order
        ids = list(by_id)
        results: dict[str, tuple[bool, str]] = {}
        for start in range(0, len(ids), CANCEL_BATCH_SIZE):
            results.update(await self._batch_cancel(ids[start : start + CANCEL_BATCH_SIZE]))
        return await self._cancel_events(by_id, results)

    async def _batch_cancel(self, order_ids: list[str]) -> dict[str, tuple[bool, str]]:
        reply = await self._http.private("POST", "/orders/batch_cancel", json_body={"order_ids": order_ids})
        return parse_cancel_results(reply)

    async def _cancel_events(
        self, orders: Mapping[str, Order], results: Mapping[str, tuple[bool, str]]
    ) -> list[OrderEvent]:
        """Success only means Coinbase accepted the cancel: confirm with one query for all of them."""
        events: list[OrderEvent] = []
        accepted = [oid for oid in orders if results.get(oid, (False, ""))[0]]
        for order_id, order in orders.items():
            success, reason = results.get(order_id, (False, "NO_RESULT"))
            if not success and reason != "DUPLICATE_CANCEL_REQUEST":
                events.append(OrderCancelRejected(order.client_order_id, reason or "cancel refused"))
        if accepted:
            try:
                reports = await self._orders_by_id(accepted)
            except TransientError as exc:
                # The cancel itself was accepted; the stream or a later query confirms it.
                logger.warning("coinbase: cancel accepted but its confirmation query failed: %s", exc)
                return events
            for report in reports:
                canceled = orders.get(report.broker_order_id or "")
                if canceled is not None and report.status is OrderStatus.CANCELED:
                    events.append(OrderCanceled(canceled.client_order_id))
        return events

    async def modify_order(self, order: Order, change: OrderChange) -> list[OrderEvent]:
        """Native edit of a limit GTC order (new total size and/or price).

        Raises:
            UnsupportedFeature: anything but a limit GTC order (before sending).
            OrderNotFound: Coinbase does not know the order.
        """
        order_id = await self._broker_id(order)
        body = build_edit_order_body(order, change, order_id)
        reply = await self._http.private("POST", "/orders/edit", json_body=body)
        if not isinstance(reply, Mapping) or "success" not in reply:
            raise BrokerProtocolError("edit reply without success flag", payload=reply, broker=BROKER)
        if reply["success"] is True:
            return [
                OrderModified(
                    order.client_order_id,
                    quantity=change.quantity if change.quantity is not None else order.quantity,
                    limit_price=change.limit_price if change.limit_price is not None else order.limit_price,
                    broker_order_id=order_id,
                )
            ]
        reason = _edit_failure_reason(reply)
        if reason in ("ORDER_NOT_FOUND", "UNKNOWN_CANCEL_ORDER"):
            raise error_for_code(reason, f"order {order.client_order_id} ({order_id})", context="edit")
        return [OrderModifyRejected(order.client_order_id, reason or "edit refused")]

    async def get_order(
        self,
        *,
        symbol: str,
        client_order_id: str | None = None,
        broker_order_id: str | None = None,
    ) -> OrderReport:
        """Look an order up by Coinbase's id (one request) or by our client order id.

        A client order id missing from the id map (e.g. after a restart) is searched
        in the most recent orders of ``symbol``.

        Raises:
            OrderNotFound: Coinbase does not know it.
        """
        if broker_order_id is None and client_order_id is not None:
            broker_order_id = self._directory.order_id(client_order_id)
        if broker_order_id is not None:
            reply = await self._http.private("GET", f"/orders/historical/{broker_order_id}")
            if not isinstance(reply, Mapping):
                raise BrokerProtocolError("get-order reply is not an object", payload=reply, broker=BROKER)
            report = parse_order(wire_field(reply, "order", broker=BROKER))
            if client_order_id and report.client_order_id != client_order_id:
                if report.client_order_id:
                    raise OrderNotFound(
                        f"Coinbase order {broker_order_id} belongs to client order id "
                        f"{report.client_order_id}, not {client_order_id}",
                        broker=BROKER,
                    )
                report = dataclasses.replace(report, client_order_id=client_order_id)
            self._remember_report(report)
            return report
        if client_order_id is None:
            raise ValueError("get_order needs client_order_id or broker_order_id")
        return await self._find_by_client_id(symbol, client_order_id)

    async def _find_by_client_id(self, symbol: str, client_order_id: str) -> OrderReport:
        cursor: str | None = None
        for _ in range(LOOKUP_PAGES):
            params: list[tuple[str, object]] = [("limit", PAGE_LIMIT)]
            if symbol:
                params.append(("product_ids", symbol))
            if cursor:
                params.append(("cursor", cursor))
            reports, cursor = parse_orders_page(
                await self._http.private("GET", "/orders/historical/batch", params=params)
            )
            for report in reports:
                self._remember_report(report)
                if report.client_order_id == client_order_id:
                    return report
            if cursor is None:
                break
        raise OrderNotFound(
            f"no Coinbase order with client order id {client_order_id} among recent {symbol or 'all'} orders",
            broker=BROKER,
        )

    async def _orders_by_id(self, order_ids: Sequence[str]) -> list[OrderReport]:
        reports: list[OrderReport] = []
        for start in range(0, len(order_ids), 50):
            params: list[tuple[str, object]] = [("order_ids", oid) for oid in order_ids[start : start + 50]]
            page, _ = parse_orders_page(
                await self._http.private("GET", "/orders/historical/batch", params=params)
            )
            reports.extend(page)
        for report in reports:
            self._remember_report(report)
        return reports

    async def get_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        """Every working order (``order_status=OPEN``), optionally for one product."""
        reports: list[OrderReport] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            params: list[tuple[str, object]] = [("order_status", "OPEN"), ("limit", PAGE_LIMIT)]
            if symbol:
                params.append(("product_ids", symbol))
            if cursor:
                params.append(("cursor", cursor))
            page, cursor = parse_orders_page(
                await self._http.private("GET", "/orders/historical/batch", params=params),
                bad_items=self.bad_items,
            )
            reports.extend(page)
            if cursor is None:
                break
        for report in reports:
            self._remember_report(report)
        return reports

    # -- fills -------------------------------------------------------------------------------------

    async def _fills_pages(self, params: list[tuple[str, object]]) -> list[Mapping[str, Any]]:
        fills: list[Mapping[str, Any]] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            query = list(params)
            if cursor:
                query.append(("cursor", cursor))
            page, cursor = parse_fills_page(
                await self._http.private("GET", "/orders/historical/fills", params=query),
                bad_items=self.bad_items,
            )
            fills.extend(page)
            if cursor is None or not page:
                break
        return fills

    async def _fetch_order_fills(self, order_id: str) -> list[Mapping[str, Any]]:
        raw_fills = await self._fills_pages([("order_ids", order_id), ("limit", PAGE_LIMIT)])
        await self._learn_products(raw_fills)
        return raw_fills

    async def _learn_products(self, raw_fills: Sequence[Mapping[str, Any]]) -> None:
        """Fetch the product data fills need and the adapter lacks.

        A plain ``BASE-QUOTE`` spot id names its quote currency; any other id
        (``ADA-PERP-INTX``), and every quote-sized fill (rounded to the base
        increment), needs ``GET /products/{id}``. A failed fetch is logged: the
        fill then carries no fee currency (never a wrong one).
        """
        wanted = {
            product_id
            for raw in raw_fills
            if isinstance(product_id := raw.get("product_id"), str)
            and product_id not in self._products
            and (spot_product_guess(product_id) is None or str(raw.get("size_in_quote")).lower() == "true")
        }
        for product_id in sorted(wanted):
            endpoint = f"/products/{product_id}"
            try:
                if self._http.signer is not None:
                    reply = await self._http.private("GET", endpoint)
                else:
                    reply = await self._http.public("/market" + endpoint)
                self._products[product_id] = parse_product_info(reply)
            except AutotraderError as exc:
                logger.warning("coinbase: product %s unavailable for its fills (%s)", product_id, exc)

    async def _refs_for(self, raw_fills: Sequence[Mapping[str, Any]]) -> dict[str, OrderRef]:
        refs: dict[str, OrderRef] = {}
        for raw in raw_fills:
            order_id = raw.get("order_id")
            if isinstance(order_id, str) and order_id not in refs:
                refs[order_id] = await self._ref_for(order_id)
        return refs

    async def get_fills(self, *, symbol: str | None = None, since: datetime | None = None) -> list[Fill]:
        """Past fills from ``/orders/historical/fills`` (oldest first), with our client order ids."""
        params: list[tuple[str, object]] = [("limit", PAGE_LIMIT)]
        if symbol:
            params.append(("product_ids", symbol))
        if since is not None:
            params.append(("start_sequence_timestamp", _rfc3339(since)))
        raw_fills = await self._fills_pages(params)
        refs = await self._refs_for(raw_fills)
        await self._learn_products(raw_fills)

        def parse(raw: Mapping[str, Any]) -> Fill:
            ref = refs[str(wire_field(raw, "order_id", broker=BROKER))]
            product = self._products.get(str(raw.get("product_id")))
            return parse_fill(raw, client_order_id=ref.client_order_id, side=ref.side, product=product)

        fills = self.bad_items.parse_each(raw_fills, parse, what="fill", may_hold_fill=True)
        return sorted(fills, key=lambda fill: fill.timestamp)

    # -- account -----------------------------------------------------------------------------------

    async def get_positions(self) -> list[Position]:
        """Spot has no positions: always empty (balances carry the holdings)."""
        return []

    async def get_balances(self) -> list[Balance]:
        """One balance per wallet (``/accounts``, all pages)."""
        balances: list[Balance] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            params: list[tuple[str, object]] = [("limit", PAGE_LIMIT)]
            if cursor:
                params.append(("cursor", cursor))
            page, cursor = parse_accounts_page(
                await self._http.private("GET", "/accounts", params=params), bad_items=self.bad_items
            )
            balances.extend(page)
            if cursor is None:
                break
        return balances

    async def get_instruments(self) -> list[Instrument]:
        """Tradable spot products with their increments and size limits.

        Authenticated ``/products`` with a key; the public ``/market/products``
        otherwise (the sandbox mock serves no products, so that comes from the
        live public endpoint).
        """
        params = [("product_type", "SPOT")]
        if self._http.signer is not None:
            reply = await self._http.private("GET", "/products", params=params)
        else:
            reply = await self._http.public("/market/products", params=params)
        if not isinstance(reply, Mapping) or not isinstance(reply.get("products"), list):
            raise BrokerProtocolError("products reply without a products list", payload=reply, broker=BROKER)
        instruments = self.bad_items.parse_each(reply["products"], parse_product, what="instrument")
        for item in reply["products"]:
            with contextlib.suppress(BrokerProtocolError):  # already reported just above
                info = parse_product_info(item)
                self._products[info.product_id] = info
        return [instrument for instrument in instruments if instrument is not None]

    # -- public market data ----------------------------------------------------------------------

    async def get_quote(self, symbol: str) -> Quote:
        """Best bid/ask with sizes from the public ``/market/product_book?limit=1`` (no key needed).

        Raises:
            InvalidOrder: a product Coinbase doesn't list (checked before the request).
        """
        require_listed(symbol, await self._listed_symbols())
        reply = await self._http.public(
            "/market/product_book", params=[("product_id", symbol), ("limit", "1")]
        )
        return parse_product_book(reply)

    def open_market_data(self, *, trades: bool = False) -> MarketDataFeed:
        """The public ``ticker`` (+ ``market_trades``) feed with heartbeats (see :class:`CoinbaseMarketData`)."""
        return CoinbaseMarketData(
            self.settings, instruments=self._listed_symbols, trades=trades, telemetry=lambda: self.telemetry
        )

    async def _listed_symbols(self) -> frozenset[str]:
        if self._listed is None:
            self._listed = frozenset(instrument.symbol for instrument in await self.get_instruments())
        return self._listed

    async def server_time(self) -> datetime:
        """Coinbase's clock (``GET /time``)."""
        return datetime.fromtimestamp(await self._http.server_time_ms() / 1000, UTC)

    async def venue_time(self) -> datetime:
        """Coinbase's clock (``GET /time``): not needed by an idempotency key, served anyway."""
        return await self.server_time()

    # -- stream ------------------------------------------------------------------------------------

    async def stream_events(self) -> AsyncIterator[OrderEvent]:
        """Order events from the user channel, fills completed over REST, until ``disconnect``.

        After every (re)connection the adapter catches up: orders it follows are
        re-read over REST and, after a reconnect, fills since shortly before the
        drop are re-read; the trade-id set drops everything already emitted.

        Raises:
            UnsupportedFeature: the environment has no stream (the sandbox).
            AuthenticationError: Coinbase refused fresh tokens repeatedly.
        """
        url = self.settings.stream_url
        if url is None:
            raise UnsupportedFeature(
                "the Coinbase sandbox has no WebSocket; use the live environment (or set ws_url)",
                broker=BROKER,
            )
        signer = self._http.signer
        stream = UserStream(
            url,
            token=(lambda: signer.ws_token()) if signer is not None else (lambda: None),
            catch_up=self._after_reconnect,
            product_ids=self.settings.product_ids,
            heartbeat_timeout=self.settings.heartbeat_timeout,
            max_backoff=self.settings.reconnect_max_delay,
            initial_backoff=self.settings.reconnect_initial_delay,
            bad_items=self.bad_items,
            telemetry=lambda: self.telemetry,  # looked up per report: the engine installs its own later
        )
        self._stream = stream
        self._pending_catch_up = None
        try:
            async with contextlib.aclosing(stream.items()) as items:
                async for item in items:
                    now = datetime.now(UTC)
                    if isinstance(item, StreamCaughtUp):
                        events = item.events
                    else:
                        if isinstance(item, StreamGap):
                            # From the last sign of life before the gap (minus the margin).
                            self._schedule_catch_up(self._last_alive or now)
                        events = await self._run_catch_up()  # a new one, or one that failed before
                    self._last_alive = now
                    for event in events:
                        yield event
                    if isinstance(item, StreamOrders):
                        for update in item.updates:
                            for event in await self._on_update(update):
                                yield event
                    elif isinstance(item, StreamHeartbeat):
                        for event in await self._completer.retry_lagging():
                            yield event
        finally:
            if self._stream is stream:
                self._stream = None

    async def _after_reconnect(self, gap: Gap) -> list[OrderEvent]:
        """The stream's catch-up hook: fills since the lost connection last delivered.

        The first connection has no gap behind it: its snapshot lists the open orders.
        """
        since = datetime.fromtimestamp(gap.since, UTC) if gap.since is not None else datetime.now(UTC)
        self._schedule_catch_up(since)
        return await self._run_catch_up()

    def _schedule_catch_up(self, since: datetime) -> None:
        if self._pending_catch_up is not None:
            since = min(since, self._pending_catch_up)  # an unfinished catch-up keeps its start
        self._pending_catch_up = since

    async def _run_catch_up(self) -> list[OrderEvent]:
        """Run the pending catch-up, if any; a failed one is retried on the next stream message."""
        since = self._pending_catch_up
        if since is None:
            return []
        try:
            events = await self._catch_up(since)
        except (TransientError, RateLimited) as exc:
            logger.warning("coinbase: stream catch-up failed (%s); retrying on the next message", exc)
            return []
        except BrokerProtocolError as exc:
            # Retrying would read the same reply again; reconciliation has to settle it.
            logger.error("coinbase: stream catch-up got an unreadable reply, giving up: %s", exc)
            self._pending_catch_up = None
            return []
        self._pending_catch_up = None
        return events

    async def _on_update(self, update: UserOrderUpdate) -> list[OrderEvent]:
        ref = self._directory.ref(update.order_id)
        if ref is None and update.client_order_id:
            ref = OrderRef(update.client_order_id, update.product_id, update.side)
            self._remember(update.order_id, ref)
        return await self._completer.on_update(update, ref=ref)

    async def _catch_up(self, since: datetime) -> list[OrderEvent]:
        """Re-read recent fills and the orders still followed over REST (after a drop or a gap)."""
        raw_fills = await self._fills_pages(
            [("start_sequence_timestamp", _rfc3339(since - CATCH_UP_MARGIN)), ("limit", PAGE_LIMIT)]
            + [("product_ids", pid) for pid in self.settings.product_ids]
        )
        fresh = [raw for raw in raw_fills if not self._completer.has_seen(str(raw.get("trade_id")))]
        await self._learn_products(fresh)
        events = self._completer.emit_new_fills(fresh, await self._refs_for(fresh))
        followed = self._completer.open_order_ids()
        if followed:
            for report in await self._orders_by_id(followed):
                events.extend(await self._on_update(_update_from_report(report)))
        return events

    def _rate_limit_waited(self, name: str, seconds: float) -> None:
        # Looked up per call: the engine sets ``telemetry`` after the HTTP client was built.
        self.telemetry.rate_limit_wait(name, seconds)

    def __repr__(self) -> str:
        return (
            f"<CoinbaseAdapter environment={self.settings.environment!r} "
            f"connected={self._connected} signed={self._http.signer is not None}>"
        )


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _edit_failure_reason(reply: Mapping[str, Any]) -> str:
    errors = reply.get("errors")
    reasons: list[str] = []
    if isinstance(errors, list):
        for entry in errors:
            if isinstance(entry, Mapping):
                for key in ("edit_failure_reason", "preview_failure_reason"):
                    value = entry.get(key)
                    if isinstance(value, str) and value:
                        reasons.append(value)
    specific = [reason for reason in reasons if reason not in GENERIC_CODES]
    return (specific or reasons or [""])[0]


def _update_from_report(report: OrderReport) -> UserOrderUpdate:
    """A REST order report as a cumulative update, so catch-up reuses the stream path."""
    return UserOrderUpdate(
        order_id=report.broker_order_id or "",
        client_order_id=report.client_order_id or "",
        product_id=report.symbol,
        side=report.side,
        status=report.status,
        raw_status=report.status.value.upper(),
        cumulative_quantity=report.filled_quantity,
        leaves_quantity=None,
        avg_price=report.average_fill_price,
        total_fees=Decimal(0),
        number_of_fills=0,
        reason="",
        event_type="catch_up",
    )
