"""The template venue's :class:`~autotrader_core.adapter.BrokerAdapter`: wiring, no protocol.

Requests go through :mod:`~autotrader_template.http`, bodies come from
:mod:`~autotrader_template.orders`, replies are read by
:mod:`~autotrader_template.parsing`, the stream is :mod:`~autotrader_template.stream`.
This module only decides which call answers which method, and which events a
reply proves.

REPLACE: the capabilities with what your venue really offers (declare honestly:
every declared feature is a conformance scenario you must record).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, ClassVar

from autotrader_core.adapter import BrokerAdapter
from autotrader_core.capabilities import Capabilities
from autotrader_core.enums import AssetClass, OrderStatus, OrderType, TimeInForce
from autotrader_core.errors import ConfigurationError, InvalidOrder
from autotrader_core.events import OrderAccepted, OrderCanceled, OrderEvent, OrderFilled
from autotrader_core.models import Balance, Fill, Instrument, Order, OrderReport, Position
from autotrader_core.resend import ResendGuarantee
from autotrader_core.skipping import BadItemLog
from autotrader_core.wire import WireReader

from autotrader_template.errors import BROKER
from autotrader_template.http import TemplateHttp
from autotrader_template.orders import order_body
from autotrader_template.parsing import parse_balance, parse_fill, parse_instrument, parse_order
from autotrader_template.settings import TemplateSettings
from autotrader_template.stream import PrivateStream

__all__ = ["CAPABILITIES", "TemplateAdapter"]

CAPABILITIES = Capabilities(
    order_types=frozenset({OrderType.LIMIT, OrderType.MARKET}),
    time_in_force=frozenset({TimeInForce.GTC}),
    asset_classes=frozenset({AssetClass.CRYPTO_SPOT}),
    streaming_fills=True,
    fill_history=True,
    test_environments=("testnet",),
)
"""What the template venue offers; the OMS, the risk checks and the conformance kit read it."""

_REPLY = WireReader(BROKER, "reply")


class TemplateAdapter(BrokerAdapter):
    """Adapter for the (imaginary) template venue: REST orders, WebSocket fills.

    Args:
        settings: The account's settings; nothing is opened before :meth:`connect`.
    """

    name: ClassVar[str] = BROKER
    capabilities: ClassVar[Capabilities] = CAPABILITIES
    # REPLACE: declare what makes a re-send safe on *your* venue (docs/writing-an-adapter.md,
    # "Declare your re-send guarantee"): ResendGuarantee.expiry(window, source) if it refuses a
    # request older than a window by its own clock (then override request_stamp() and
    # venue_time()), .idempotency_key(source) if a repeated client order id returns the existing
    # order, .same_id(source) if a repeated order id modifies that order. Keep none() unless your
    # venue documents one of these: the core then never re-sends an order whose outcome is unknown.
    # The template's fictional venue returns the existing order for a repeated clientOrderId (its
    # TC-RES-03 recording re-sends after a "not found"), hence an idempotency key here.
    resend_guarantee = ResendGuarantee.idempotency_key(
        "template venue (fictional): a repeated clientOrderId returns the existing order (replace with yours)"
    )

    def __init__(self, settings: TemplateSettings) -> None:
        self.settings = settings
        self.bad_items = BadItemLog(BROKER, telemetry=lambda: self.telemetry)
        """Payload items skipped because they could not be parsed (each one reported)."""
        self._http: TemplateHttp | None = None
        self._stream: PrivateStream | None = None

    # -- connection -------------------------------------------------------
    async def connect(self) -> None:
        """Open the REST client and align the signing clock with the venue's."""
        http = TemplateHttp(self.settings, on_wait=lambda name, s: self.telemetry.rate_limit_wait(name, s))
        try:
            await http.sync_clock()
        except BaseException:
            await http.aclose()  # a failed connect leaves nothing open and the adapter disconnected
            raise
        self._http = http
        self._stream = PrivateStream(
            url=self.settings.stream_url,
            credentials=self.settings.credentials,
            now_ms=http.rest.clock.now_ms,
            fills_since=lambda since: self.get_fills(since=since),
            bad_items=self.bad_items,
            telemetry=lambda: self.telemetry,
            backoff=self.settings.reconnect_backoff,
        )

    async def disconnect(self) -> None:
        """Close the stream and the REST client; safe to call twice."""
        stream, self._stream = self._stream, None
        http, self._http = self._http, None
        if stream is not None:
            await stream.stream.aclose()
        if http is not None:
            await http.aclose()

    @property
    def is_connected(self) -> bool:
        """Whether :meth:`connect` succeeded and :meth:`disconnect` has not been called."""
        return self._http is not None

    @property
    def http(self) -> TemplateHttp:
        """The REST endpoints.

        Raises:
            ConfigurationError: not connected.
        """
        if self._http is None:
            raise ConfigurationError("the template adapter is not connected", broker=BROKER)
        return self._http

    # -- orders -----------------------------------------------------------
    async def submit_order(self, order: Order) -> list[OrderEvent]:
        """Place ``order`` with its client order id; a market order's reply may carry its fills."""
        reply = await self.http.place_order(order_body(order))
        broker_order_id = _REPLY.text(reply, "orderId", non_empty=True)
        events: list[OrderEvent] = [OrderAccepted(order.client_order_id, broker_order_id)]
        fills = self.bad_items.parse_each(
            reply.get("fills") or (),
            lambda item: parse_fill(
                item,
                client_order_id=order.client_order_id,
                symbol=order.symbol,
                side=order.side,
                broker_order_id=broker_order_id,
            ),
            what="fill",
            may_hold_fill=True,
        )
        events.extend(OrderFilled(fill) for fill in fills)
        return events

    async def cancel_order(self, order: Order) -> list[OrderEvent]:
        """Cancel by client order id; the reply proves the cancel when it says ``CANCELED``."""
        report = parse_order(await self.http.cancel_order(order.symbol, order.client_order_id))
        return [OrderCanceled(order.client_order_id)] if report.status is OrderStatus.CANCELED else []

    async def get_order(
        self, *, symbol: str, client_order_id: str | None = None, broker_order_id: str | None = None
    ) -> OrderReport:
        """One order by our client order id or the venue's id."""
        if client_order_id is None and broker_order_id is None:
            raise InvalidOrder("get_order needs a client order id or a broker order id", broker=BROKER)
        return parse_order(await self.http.order(symbol, client_order_id, broker_order_id))

    async def get_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        """Every working order; an order the adapter cannot read is reported and skipped."""
        rows = _rows(await self.http.open_orders(symbol), key=None)
        return self.bad_items.parse_each(rows, parse_order, what="open order")

    async def get_fills(self, *, symbol: str | None = None, since: datetime | None = None) -> list[Fill]:
        """Past fills (the stream's catch-up and reconciliation read them)."""
        since_ms = None if since is None else int(since.timestamp() * 1000)
        rows = _rows(await self.http.fills(symbol, since_ms), key=None)
        return self.bad_items.parse_each(rows, parse_fill, what="fill", may_hold_fill=True)

    # -- account ----------------------------------------------------------
    async def get_positions(self) -> list[Position]:
        """Spot: no positions at the venue (the OMS keeps ours)."""
        return []

    async def get_balances(self) -> list[Balance]:
        """Free and locked per asset."""
        rows = _rows(await self.http.balances(), key="balances")
        return self.bad_items.parse_each(rows, parse_balance, what="balance")

    async def get_instruments(self) -> list[Instrument]:
        """Every symbol's trading rules."""
        rows = _rows(await self.http.instruments(), key="instruments")
        return self.bad_items.parse_each(rows, parse_instrument, what="instrument")

    # -- stream -----------------------------------------------------------
    def stream_events(self) -> AsyncIterator[OrderEvent]:
        """Order updates and fills until :meth:`disconnect`; reconnects and catches up by itself."""
        if self._stream is None:
            raise ConfigurationError("connect the template adapter before streaming", broker=BROKER)
        return self._stream.stream.events()


def _rows(reply: Any, *, key: str | None) -> list[Any]:
    """The list a reply carries: the reply itself, or its ``key`` field."""
    if key is None:
        if not isinstance(reply, list):
            raise _REPLY.error("must be a JSON array", field="(reply)", payload=reply)
        return reply
    return _REPLY.array(reply, key)
