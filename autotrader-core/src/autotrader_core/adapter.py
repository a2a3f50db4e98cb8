"""The contract every broker adapter implements.

An adapter *translates*: requests out, broker replies and stream messages in as
core events (:mod:`autotrader_core.events`). It keeps no order book of its own
beyond what its protocol needs (id maps); the OMS owns order state.

Rules every implementation follows:

* no I/O in ``__init__``; ``connect`` binds clients and sockets;
* every request goes through one place that signs, rate-limits, and maps the
  broker's errors onto :mod:`autotrader_core.errors`;
* ``submit_order`` sends ``order.client_order_id`` to the broker so that a
  re-send can never create a second order;
* a feature not declared in ``capabilities`` raises
  :class:`~autotrader_core.errors.UnsupportedFeature` before anything is sent.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from autotrader_core.capabilities import Capabilities
from autotrader_core.errors import BrokerProtocolError, UnsupportedFeature
from autotrader_core.events import OrderEvent
from autotrader_core.market_data import MarketDataFeed, Quote
from autotrader_core.models import Balance, Fill, Instrument, Order, OrderReport, Position, utc_now
from autotrader_core.resend import ResendGuarantee

__all__ = ["AdapterTelemetry", "BrokerAdapter", "OrderChange"]


class AdapterTelemetry:
    """Where an adapter reports what only it can see (rate-limit waits, stream reconnects).

    This default does nothing; the engine replaces ``adapter.telemetry`` with one that
    forwards to the observer hooks (``autotrader_on_rate_limit_wait``,
    ``autotrader_on_reconnect``). Implementations must return quickly and never raise.
    """

    def rate_limit_wait(self, name: str, seconds: float) -> None:
        """A request waited ``seconds`` for rate limiter ``name`` (or a Retry-After)."""

    def reconnected(self, reason: str) -> None:
        """The private stream reconnected (``reason``: what broke the previous connection)."""

    def bad_item(self, what: str, error: BrokerProtocolError, *, may_hold_fill: bool = False) -> None:
        """One payload item (``what``: "open order", "fill", "stream frame"…) was skipped, unparseable.

        ``may_hold_fill``: the item may have been a fill the OMS never got (reconcile).
        See :mod:`autotrader_core.skipping`.
        """


@dataclass(frozen=True, slots=True)
class OrderChange:
    """New terms for a working order; ``None`` keeps the current value."""

    quantity: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None


class BrokerAdapter(abc.ABC):
    """Abstract async broker adapter.

    Subclasses set the class attributes ``name`` (the entry-point name, e.g.
    ``"binance"``) and ``capabilities``.
    """

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    telemetry: AdapterTelemetry = AdapterTelemetry()
    """Set by the engine; adapters call ``self.telemetry.…`` (the class default does nothing)."""
    unknown_outcome_settle_delay: float | None = None
    """Seconds a request whose reply was lost may still take to reach the broker.

    The safe submit waits this long before asking the broker whether the order
    arrived, so a late arrival cannot follow a "not found" answer. Brokers with a
    request validity window (Binance's ``recvWindow``) set it to that window; ``None``
    uses the retry policy's first backoff.
    """
    resend_guarantee: ResendGuarantee = ResendGuarantee.none("not declared by the adapter")
    """What makes re-sending a submit or modify safe on this venue (:mod:`autotrader_core.resend`).

    The default declares none: an unknown outcome is then never settled by sending again.
    An adapter declaring :attr:`~autotrader_core.resend.ResendRule.EXPIRY` also overrides
    :meth:`request_stamp` and :meth:`venue_time`.
    """

    def request_stamp(self) -> datetime:
        """The timestamp a request sent now carries, by the adapter's estimate of the venue's clock.

        Taken *after* a request was sent, it bounds that request's stamp from above: an
        :attr:`~autotrader_core.resend.ResendRule.EXPIRY` venue refuses the request once
        :meth:`venue_time` is past it plus the window. The default is the local clock.
        """
        return utc_now()

    async def venue_time(self) -> datetime:
        """The venue's clock now, asked of the venue (not estimated), to prove a request expired.

        The default raises :class:`UnsupportedFeature`: an adapter whose
        ``resend_guarantee`` is an expiry must override it.
        """
        raise UnsupportedFeature(f"{self.name} cannot read the venue's clock", broker=self.name)

    # -- connection -------------------------------------------------------
    @abc.abstractmethod
    async def connect(self) -> None:
        """Open clients/sockets, authenticate, sync the clock where needed."""

    @abc.abstractmethod
    async def disconnect(self) -> None:
        """Close everything; safe to call twice."""

    @property
    @abc.abstractmethod
    def is_connected(self) -> bool:
        """Whether ``connect`` succeeded and ``disconnect`` has not been called."""

    # -- orders -----------------------------------------------------------
    @abc.abstractmethod
    async def submit_order(self, order: Order) -> list[OrderEvent]:
        """Send a new order carrying ``order.client_order_id``.

        Returns:
            The events the broker's reply proves (usually ``OrderAccepted``; market
            orders may also carry ``OrderFilled`` events when the broker fills in
            the same reply).

        Raises:
            InvalidOrder, InsufficientFunds, AuthenticationError, RateLimited:
                the broker refused.
            RequestTimeout, BrokerUnavailable: outcome unknown; look the order up
                by client order id before any re-send.
            DuplicateClientOrderId: the order is already at the broker.
        """

    @abc.abstractmethod
    async def cancel_order(self, order: Order) -> list[OrderEvent]:
        """Ask the broker to cancel ``order``; returns the events its reply proves.

        Raises:
            OrderNotFound: the broker does not know the order (it may have filled:
                query before concluding anything).
        """

    async def modify_order(self, order: Order, change: OrderChange) -> list[OrderEvent]:
        """Change a working order's quantity and/or prices (native or cancel/replace).

        The default raises :class:`UnsupportedFeature`; adapters that declare
        ``native_modify`` or ``emulated_modify`` override it.
        """
        raise UnsupportedFeature(f"{self.name} does not support modifying orders", broker=self.name)

    @abc.abstractmethod
    async def get_order(
        self,
        *,
        symbol: str,
        client_order_id: str | None = None,
        broker_order_id: str | None = None,
    ) -> OrderReport:
        """Look one order up by our client order id or the broker's id.

        Raises:
            OrderNotFound: the broker does not know it.
        """

    @abc.abstractmethod
    async def get_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        """Every working order, optionally for one symbol."""

    async def get_fills(self, *, symbol: str | None = None, since: datetime | None = None) -> list[Fill]:
        """Past fills, for catch-up after a reconnect and for reconciliation.

        Adapters that declare ``fill_history`` override it.
        """
        raise UnsupportedFeature(f"{self.name} cannot list past fills", broker=self.name)

    # -- account ----------------------------------------------------------
    @abc.abstractmethod
    async def get_positions(self) -> list[Position]:
        """Broker-reported positions (empty for brokers without positions, e.g. spot)."""

    @abc.abstractmethod
    async def get_balances(self) -> list[Balance]:
        """Balances per asset (or the account currency)."""

    @abc.abstractmethod
    async def get_instruments(self) -> list[Instrument]:
        """Trading rules of every instrument the adapter can trade."""

    def last_price(self, symbol: str) -> Decimal | None:
        """Latest price the adapter knows for ``symbol`` without a request, else ``None``.

        The engine uses it as the reference price for the price-band check and shows
        it to strategies; the paper adapter returns its simulated quote.
        """
        return None

    # -- public market data -------------------------------------------------
    async def get_quote(self, symbol: str) -> Quote:
        """REST snapshot of ``symbol``'s best bid/ask: the first value and the fallback.

        Raises:
            UnsupportedFeature: the adapter declares no ``quotes`` capability.
            InvalidOrder: a symbol the venue doesn't list.
        """
        raise UnsupportedFeature(f"{self.name} offers no market data", broker=self.name)

    def open_market_data(self, *, trades: bool = False) -> MarketDataFeed:
        """A public market-data feed (no keys needed where the venue allows it).

        Subscribe symbols on it, read :meth:`MarketDataFeed.items`, close it with
        ``aclose``. It reconnects and resubscribes by itself, yielding
        :class:`~autotrader_core.market_data.Stale` first so no old price is served as fresh.

        Args:
            trades: Also stream public trades (where the adapter declares ``trades``).
        """
        raise UnsupportedFeature(f"{self.name} offers no market data", broker=self.name)

    # -- stream -----------------------------------------------------------
    def stream_events(self) -> AsyncIterator[OrderEvent]:
        """Order updates and fills as they happen, until ``disconnect``.

        Implementations reconnect by themselves (with backoff, re-authentication
        and a catch-up query so nothing in the gap is lost) and may yield the same
        fill twice: the OMS is idempotent on trade id.
        """
        raise UnsupportedFeature(f"{self.name} has no private stream", broker=self.name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} connected={self.is_connected}>"
