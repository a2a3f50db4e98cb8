"""OKX v5 spot adapter: REST orders with native amend, private WebSocket events.

What is particular to OKX and handled here:

* there is no time-in-force field: ``ordType`` is ``market``, ``limit``,
  ``post_only``, ``ioc`` or ``fok``;
* spot market orders are sent with ``tgtCcy: base_ccy`` so that ``sz`` is the
  base quantity for buys too (OKX's default for a market buy is quote currency);
* modify uses ``amend-order`` (``newSz`` is the new *total* size, ``newPx`` the
  new price): no cancel/replace, the order keeps its ids and queue position rules;
* stop and stop-limit would need the separate algo-order API (``order-algo``,
  its own ids, state on the business WebSocket); they are not implemented and
  are refused before anything is sent;
* place and amend carry the ``expTime`` header (``settings.request_expiry_ms``), so
  the re-send guarantee is an expiry: a request whose outcome is unknown is dead
  once OKX's clock (``GET /api/v5/public/time``) has passed its stamp plus that window.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from autotrader_core.adapter import BrokerAdapter, OrderChange
from autotrader_core.capabilities import Capabilities
from autotrader_core.clock import ClockOffset
from autotrader_core.decimals import require_decimal
from autotrader_core.enums import AssetClass, OrderType, TimeInForce
from autotrader_core.errors import BrokerProtocolError, InvalidOrder, OrderNotFound, UnsupportedFeature
from autotrader_core.events import OrderEvent
from autotrader_core.market_data import MarketDataFeed, Quote
from autotrader_core.models import Balance, Fill, Instrument, Order, OrderReport, Position
from autotrader_core.resend import ResendGuarantee
from autotrader_core.skipping import BadItemLog
from autotrader_core.transports import HttpTransport

from autotrader_okx.errors import BROKER
from autotrader_okx.http import OkxHttp, Paths
from autotrader_okx.market_data import TICKER_PATH, OkxMarketData, parse_ticker
from autotrader_okx.orders import CLIENT_ORDER_ID_PATTERN, build_order_request, check_client_order_id
from autotrader_okx.parsing import (
    envelope_data,
    parse_balances,
    parse_fill,
    parse_instruments,
    parse_order_ack,
    parse_order_report,
    parse_positions,
)
from autotrader_okx.settings import OkxSettings
from autotrader_okx.stream import OkxPrivateStream

if TYPE_CHECKING:  # httpx is loaded only when the httpx transport is chosen
    import httpx

__all__ = ["CLIENT_ORDER_ID_PATTERN", "OkxAdapter"]

_PAGE_LIMIT = 100
_MAX_PAGES = 50  # 5,000 rows: a safety stop, far above what one account has open
_FILLS_WINDOW = timedelta(days=3)  # /trade/fills covers 3 days; older needs /fills-history
_EXPTIME_SOURCE = (
    "OKX v5 expTime request header on place and amend orders: the request is not processed if "
    "the server's time is after expTime (sent as the signed timestamp + request_expiry_ms; "
    "refusals 50036/50037)"
)


class OkxAdapter(BrokerAdapter):
    """OKX v5 adapter (spot, demo by default).

    Args:
        settings: Adapter settings; ``OkxSettings()`` reads ``AUTOTRADER_OKX_*``.
        transport: Transport override (tests, benchmarks): an httpx transport or an
            :class:`~autotrader_core.transports.HttpTransport`; default: the one
            ``settings.http_transport`` names.
    """

    name: ClassVar[str] = "okx"
    capabilities: ClassVar[Capabilities] = Capabilities(
        order_types=frozenset({OrderType.MARKET, OrderType.LIMIT}),
        time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK}),
        asset_classes=frozenset({AssetClass.CRYPTO_SPOT}),
        post_only=True,
        native_modify=True,
        streaming_fills=True,
        broker_positions=True,
        fill_history=True,
        quotes=True,
        trades=True,
        test_environments=("demo",),
        notes=(
            "stop/stop-limit (OKX algo orders) not implemented",
            "spot only (tdMode cash by default; set td_mode=cross for multi-currency margin accounts)",
            "market orders are sized in base currency (tgtCcy=base_ccy)",
        ),
    )

    def __init__(
        self,
        settings: OkxSettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | HttpTransport | None = None,
    ) -> None:
        self.settings = settings if settings is not None else OkxSettings()
        self.resend_guarantee = ResendGuarantee.expiry(
            self.settings.request_expiry_ms / 1000, _EXPTIME_SOURCE
        )
        # A lost place can still reach OKX until its expTime: the safe submit waits that long
        # before trusting a "not found" (no late duplicate).
        self.unknown_outcome_settle_delay = self.settings.request_expiry_ms / 1000
        self._clock = ClockOffset()
        self._transport = transport
        self._http: OkxHttp | None = None
        self._stream: OkxPrivateStream | None = None
        self._connected = False
        self.bad_items = BadItemLog(BROKER, telemetry=lambda: self.telemetry)
        """Payload items skipped because they could not be parsed (each also logged and alerted)."""

    # -- connection -------------------------------------------------------------
    @property
    def http(self) -> OkxHttp:
        """The REST client (created lazily; no I/O in ``__init__``)."""
        if self._http is None:
            self._http = OkxHttp(
                self.settings, clock=self._clock, transport=self._transport, on_wait=self._rate_limit_waited
            )
        return self._http

    def request_stamp(self) -> datetime:
        """The timestamp (and so the ``expTime`` base) a request signed now carries, by OKX's clock.

        Never below the newest timestamp already signed: a resync that lowered the offset
        after a send must not make that send look older than it was.
        """
        stamp_ms = max(self._clock.now_ms(), self.http.last_signed_timestamp_ms)
        return datetime.fromtimestamp(stamp_ms / 1000, tz=UTC)

    async def venue_time(self) -> datetime:
        """OKX's clock now: ``GET /api/v5/public/time`` (rate-limited like every request)."""
        return datetime.fromtimestamp(await self.http.server_time_ms() / 1000, tz=UTC)

    async def connect(self) -> None:
        """Check credentials are configured and sync the clock with ``/api/v5/public/time``."""
        self.settings.require_credentials()
        await self.http.sync_time()
        self._connected = True

    async def disconnect(self) -> None:
        """Close the stream and the HTTP client; safe to call twice."""
        self._connected = False
        if self._stream is not None:
            await self._stream.close()
            self._stream = None
        if self._http is not None:
            await self._http.aclose()

    @property
    def is_connected(self) -> bool:
        """Whether ``connect`` succeeded and ``disconnect`` has not been called."""
        return self._connected

    # -- orders -----------------------------------------------------------------
    def order_request(self, order: Order) -> dict[str, Any]:
        """The ``/api/v5/trade/order`` body for ``order``, validated (nothing is sent).

        Raises:
            UnsupportedFeature: stop/stop-limit, DAY, or anything not in ``capabilities``.
            InvalidOrder: missing/extra prices, bad quantity, bad symbol or client order id.

        The body is built by :func:`autotrader_okx.orders.build_order_request`.
        """
        return build_order_request(
            order, td_mode=self.settings.td_mode, time_in_force=self.capabilities.time_in_force
        )

    async def submit_order(self, order: Order) -> list[OrderEvent]:
        """Place ``order`` (its ``client_order_id`` goes to ``clOrdId``).

        Returns ``[OrderAccepted]``; fills arrive on the stream or by query.

        Raises:
            DuplicateClientOrderId: ``51016``: the order is already at OKX.
            InvalidOrder, InsufficientFunds, RateLimited, AuthenticationError: OKX refused.
            RequestTimeout, BrokerUnavailable: outcome unknown; look it up by client order id.
        """
        body = self.order_request(order)
        reply = await self.http.post(Paths.ORDER, body)
        return [parse_order_ack(_single_item(reply), client_order_id=order.client_order_id)]

    async def cancel_order(self, order: Order) -> list[OrderEvent]:
        """Ask OKX to cancel ``order``.

        OKX's ``sCode 0`` only means the cancel was *accepted*: the final state
        (canceled, or filled first) arrives on the ``orders`` stream or by query,
        so this returns no event.

        Raises:
            OrderNotFound: ``51400``-``51402``: unknown, already canceled or already filled.
        """
        body = {"instId": order.symbol, **self._order_ref(order)}
        _single_item(await self.http.post(Paths.CANCEL, body))
        return []

    async def modify_order(self, order: Order, change: OrderChange) -> list[OrderEvent]:
        """Amend price and/or size natively (``/api/v5/trade/amend-order``).

        ``change.quantity`` is the new total size (filled part included), as OKX's
        ``newSz``. The amend result arrives on the ``orders`` stream
        (``amendResult``) as ``OrderModified``/``OrderModifyRejected``; the
        immediate reply only proves the request was accepted, so no event here.

        Raises:
            UnsupportedFeature: a stop price change.
            InvalidOrder: nothing to change, or a new quantity not above the filled part.
            OrderNotFound: ``51503``/``51509``/``51510``: the order is gone or finished.
        """
        if change.stop_price is not None:
            raise UnsupportedFeature("okx adapter has no stop orders to re-price", broker=BROKER)
        if change.quantity is None and change.limit_price is None:
            raise InvalidOrder("modify needs a new quantity and/or limit price")
        if order.order_type is not OrderType.LIMIT:
            raise InvalidOrder("only limit orders can be amended")
        body: dict[str, Any] = {"instId": order.symbol, **self._order_ref(order)}
        if change.quantity is not None:
            quantity = require_decimal(change.quantity, field="quantity")
            if quantity <= order.filled_quantity:
                raise InvalidOrder(
                    f"new quantity {quantity} must exceed the filled quantity {order.filled_quantity}"
                )
            body["newSz"] = quantity
        if change.limit_price is not None:
            body["newPx"] = require_decimal(change.limit_price, field="limit_price")
        _single_item(await self.http.post(Paths.AMEND, body))
        return []

    @staticmethod
    def _order_ref(order: Order) -> dict[str, str]:
        """``ordId`` when known (OKX prefers it), else our ``clOrdId``."""
        if order.broker_order_id:
            return {"ordId": order.broker_order_id}
        check_client_order_id(order.client_order_id)
        return {"clOrdId": order.client_order_id}

    async def get_order(
        self,
        *,
        symbol: str,
        client_order_id: str | None = None,
        broker_order_id: str | None = None,
    ) -> OrderReport:
        """``GET /api/v5/trade/order`` by ``ordId`` (preferred) or ``clOrdId``.

        Raises:
            OrderNotFound: ``51603``, or an empty reply.
        """
        params: list[tuple[str, object]] = [("instId", symbol)]
        if broker_order_id:
            params.append(("ordId", broker_order_id))
        elif client_order_id:
            check_client_order_id(client_order_id)
            params.append(("clOrdId", client_order_id))
        else:
            raise InvalidOrder("get_order needs client_order_id or broker_order_id")
        data = envelope_data(await self.http.get(Paths.ORDER, params))
        if not data:
            raise OrderNotFound(
                f"okx has no order {broker_order_id or client_order_id} on {symbol}", broker=BROKER
            )
        return parse_order_report(data[0])

    async def get_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        """Every working order (``orders-pending``, paged by ``after`` = last ``ordId``)."""
        base: list[tuple[str, object]] = [("instType", self.settings.inst_type)]
        if symbol:
            base.append(("instId", symbol))
        items = await self._paged(Paths.PENDING, base, cursor="ordId")
        return self.bad_items.parse_each(items, parse_order_report, what="open order")

    async def get_fills(self, *, symbol: str | None = None, since: datetime | None = None) -> list[Fill]:
        """Past fills, oldest first (``/trade/fills``: 3 days; ``/fills-history`` when ``since`` is older)."""
        path = Paths.FILLS
        broker_now = datetime.fromtimestamp(self._clock.now_ms() / 1000, tz=UTC)  # OKX's clock, not ours
        if since is not None and since < broker_now - _FILLS_WINDOW:
            path = Paths.FILLS_HISTORY
        base: list[tuple[str, object]] = [("instType", self.settings.inst_type)]
        if symbol:
            base.append(("instId", symbol))
        if since is not None:
            base.append(("begin", int(since.timestamp() * 1000)))
        items = await self._paged(path, base, cursor="billId")
        fills = self.bad_items.parse_each(items, parse_fill, what="fill", may_hold_fill=True)
        fills.sort(key=lambda fill: fill.timestamp)
        return fills

    async def _paged(
        self, path: str, base: list[tuple[str, object]], *, cursor: str
    ) -> list[Mapping[str, Any]]:
        """Follow OKX's ``after`` pagination (newest first) until a short page."""
        items: list[Mapping[str, Any]] = []
        after: str | None = None
        for _ in range(_MAX_PAGES):
            params = [*base, ("limit", _PAGE_LIMIT)]
            if after is not None:
                params.append(("after", after))
            page = envelope_data(await self.http.get(path, params))
            items.extend(page)
            if len(page) < _PAGE_LIMIT:
                return items
            last = page[-1].get(cursor)
            if not isinstance(last, str) or not last or last == after:
                raise BrokerProtocolError(
                    f"cannot page {path}: bad {cursor!r}", payload=page[-1], broker=BROKER
                )
            after = last
        return items

    # -- account ------------------------------------------------------------------
    async def get_positions(self) -> list[Position]:
        """Margin/derivative positions (spot holdings in cash mode are balances, so often empty)."""
        return parse_positions(await self.http.get(Paths.POSITIONS), bad_items=self.bad_items)

    async def get_balances(self) -> list[Balance]:
        """Trading-account balances (OKX lists only non-zero currencies)."""
        return parse_balances(await self.http.get(Paths.BALANCE), bad_items=self.bad_items)

    async def get_instruments(self) -> list[Instrument]:
        """Tradable (``state: live``) instruments of ``settings.inst_type`` with tick/lot/min size."""
        reply = await self.http.get(Paths.INSTRUMENTS, [("instType", self.settings.inst_type)], signed=False)
        return parse_instruments(reply, bad_items=self.bad_items)

    # -- public market data ------------------------------------------------------
    async def get_quote(self, symbol: str) -> Quote:
        """``GET /api/v5/market/ticker`` (public): best bid/ask with sizes; unknown → InvalidOrder (51001).

        Any instrument id OKX lists (spot, swap...): a quote is not an order.
        """
        if not symbol or not symbol.strip():
            raise InvalidOrder("get_quote needs an OKX instrument id such as 'BTC-USDT'", broker=BROKER)
        reply = await self.http.get(TICKER_PATH, [("instId", symbol)], signed=False)
        return parse_ticker(_single_item(reply))

    def open_market_data(self, *, trades: bool = False) -> MarketDataFeed:
        """The public ``tickers`` (+ ``trades``) feed; no keys needed (see :class:`OkxMarketData`)."""
        return OkxMarketData(
            self.settings, instruments=self._listed_symbols, trades=trades, telemetry=lambda: self.telemetry
        )

    async def _listed_symbols(self) -> list[str]:
        return [instrument.symbol for instrument in await self.get_instruments()]

    # -- stream -------------------------------------------------------------------
    def stream_events(self) -> AsyncIterator[OrderEvent]:
        """Order updates and fills from the private WebSocket (reconnects by itself)."""
        if self._stream is None:
            self.settings.require_credentials()
            self._stream = OkxPrivateStream(
                self.settings,
                clock=self._clock,
                catch_up=self._catch_up,
                resync_clock=self.http.sync_time,
                on_reconnect=self._reconnected,
                bad_items=self.bad_items,
            )
        return self._stream.events()

    async def _catch_up(self, since: datetime | None) -> list[Fill]:
        return await self.get_fills(since=since)

    # -- telemetry: looked up on every call, the engine sets it after construction
    def _rate_limit_waited(self, name: str, seconds: float) -> None:
        self.telemetry.rate_limit_wait(name, seconds)

    def _reconnected(self, reason: str) -> None:
        self.telemetry.reconnected(reason)


def _single_item(body: Any) -> Mapping[str, Any]:
    """The one item of a single-order operation's reply (its ``sCode`` was checked by the error mapper)."""
    data = envelope_data(body)
    if len(data) != 1:
        raise BrokerProtocolError("expected exactly one item in the order reply", payload=body, broker=BROKER)
    return data[0]
