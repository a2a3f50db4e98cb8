"""A public market-data feed on the reconnecting stream: symbol registry, resubscription, stale markers.

Each adapter's ``market_data.py`` subclasses :class:`SymbolFeed` with its venue's
carrier, subscribe/unsubscribe frames and frame decoder. This class does what every
venue shares, so that each implements :class:`~autotrader_core.market_data.MarketDataFeed`
the same way:

* ``subscribe`` checks every symbol against the venue's instruments before anything is
  sent (an unknown one raises :class:`~autotrader_core.errors.InvalidOrder`), records it,
  and sends the subscription at once on a live connection (else with the next one);
* a dropped connection yields ``Stale(None, reason)`` at once; every reconnect (after a
  drop or a silence) resubscribes the whole registry and yields ``Stale(None, reason)``
  before any item of the new connection (the stream's catch-up step), so no price from
  before the gap is served as fresh;
* a venue whose subscription is the request itself (OANDA's pricing stream) sets
  ``reopen_on_change``: a change of the symbol set reopens the stream at once;
* ``unsubscribe`` yields ``Stale(symbol, "unsubscribed")`` and drops that symbol's
  in-flight items, so the cache never refreshes a price nobody streams any more;
* the connection opens only once there is a symbol to stream.

One bad payload item never costs the others: decoders call :meth:`SymbolFeed.bad_item`,
which logs the :class:`~autotrader_core.errors.BrokerProtocolError`, counts it and marks
the symbol stale (its previous price is no longer the latest).
"""

from __future__ import annotations

import abc
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable
from typing import ClassVar, Generic, TypeVar, cast

import anyio

from autotrader_core.adapter import AdapterTelemetry
from autotrader_core.errors import BrokerProtocolError, InvalidOrder
from autotrader_core.market_data import MarketData, Stale
from autotrader_core.resiliency.retry import RetryPolicy
from autotrader_core.streaming.carrier import Carrier, Reconnect, StreamLost
from autotrader_core.streaming.stream import STREAM_RETRY_POLICY, Gap, Heartbeat, ReconnectingStream

__all__ = ["SymbolFeed"]

logger = logging.getLogger("autotrader_core.market_data")

F = TypeVar("F")

Instruments = Callable[[], Awaitable[Collection[str]]]
"""Returns every symbol the venue lists (the adapter's instruments)."""


class SymbolFeed(abc.ABC, Generic[F]):
    """Base of every venue's public market-data feed (implements ``MarketDataFeed``).

    Args:
        name: Stream name for logs and telemetry (``"okx-public"``).
        broker: Adapter name put on errors.
        instruments: Every symbol the venue lists; called once, at the first ``subscribe``.
        heartbeat: Silence detection (the venue's rule).
        policy: Reconnect backoff.
        telemetry: The adapter's telemetry (or a callable returning it).
        handshake_timeout: Seconds the subscribe step may take.
        max_age: Renew the connection after this many seconds (a venue that closes old
            connections, e.g. Binance at 24 h); ``None``: never.
    """

    reopen_on_change: ClassVar[bool] = False
    """The subscription is the request (OANDA): a changed symbol set reopens the stream."""

    def __init__(
        self,
        *,
        name: str,
        broker: str,
        instruments: Instruments,
        heartbeat: Heartbeat | None,
        policy: RetryPolicy = STREAM_RETRY_POLICY,
        telemetry: AdapterTelemetry | Callable[[], AdapterTelemetry] | None = None,
        handshake_timeout: float = 10.0,
        max_age: float | None = None,
    ) -> None:
        self.broker = broker
        self._instruments = instruments
        self._known: frozenset[str] | None = None
        self._symbols: set[str] = set()
        self._pending: list[MarketData] = []
        self._live: Carrier[F] | None = None
        self._wanted = anyio.Event()
        self._reopening = False
        self.bad_items = 0
        """Payload items refused as unreadable so far (each was logged)."""
        self.stream: ReconnectingStream[F, MarketData] = ReconnectingStream(
            self._new_carrier,
            self._decode_frame,
            name=name,
            subscribe=self._subscribe_all,
            catch_up=self._after_gap,
            heartbeat=heartbeat,
            policy=policy,
            telemetry=telemetry,
            handshake_timeout=handshake_timeout,
            max_age=max_age,
        )

    # -- what a venue implements -------------------------------------------------------
    @abc.abstractmethod
    def make_carrier(self, symbols: frozenset[str]) -> Carrier[F]:
        """A new, unopened connection (``symbols``: the registry, for venues that put it in the URL)."""

    @abc.abstractmethod
    def subscribe_frames(self, symbols: Collection[str]) -> list[F]:
        """The frames that subscribe ``symbols`` (empty for ``reopen_on_change`` venues)."""

    async def check_listed(self, symbols: Collection[str]) -> None:
        """Refuse a symbol the venue doesn't list, before anything is registered or sent.

        The default looks ``symbols`` up in ``instruments`` (read once). A venue without a
        full catalogue (IBKR qualifies each contract on its own) overrides this.

        Raises:
            InvalidOrder: a symbol the venue doesn't list.
        """
        if self._known is None:
            self._known = frozenset(await self._instruments())
        unknown = sorted(symbol for symbol in symbols if symbol not in self._known)
        if unknown:
            raise InvalidOrder(
                f"{self.broker} lists no instrument {', '.join(map(repr, unknown))}; nothing was subscribed",
                broker=self.broker,
            )

    def connection_frames(self) -> list[F]:
        """Frames sent once on every new connection, before the subscriptions (Coinbase ``heartbeats``)."""
        return []

    @abc.abstractmethod
    def unsubscribe_frames(self, symbols: Collection[str]) -> list[F]:
        """The frames that unsubscribe ``symbols``."""

    @abc.abstractmethod
    def decode(self, frame: F) -> list[MarketData]:
        """One frame → its items (acks and heartbeats: none). Never raises for one bad item."""

    # -- MarketDataFeed ------------------------------------------------------------------
    @property
    def symbols(self) -> frozenset[str]:
        """The symbols subscribed now."""
        return frozenset(self._symbols)

    async def subscribe(self, symbols: Collection[str]) -> None:
        """Start streaming ``symbols``.

        Raises:
            InvalidOrder: a symbol the venue doesn't list (nothing was sent).
        """
        wanted = _as_set(symbols)
        await self.check_listed(wanted)
        new = wanted - self._symbols
        if not new:
            return
        self._symbols |= new
        self._wanted.set()
        await self._changed(new, subscribe=True)

    async def unsubscribe(self, symbols: Collection[str]) -> None:
        """Stop streaming ``symbols``; each gets a ``Stale(symbol, "unsubscribed")`` item."""
        gone = _as_set(symbols) & self._symbols
        if not gone:
            return
        self._symbols -= gone
        if not self._symbols:
            self._wanted = anyio.Event()
        self._pending += [Stale(symbol, "unsubscribed") for symbol in sorted(gone)]
        await self._changed(gone, subscribe=False)

    def items(self) -> AsyncIterator[MarketData]:
        """Quotes, trades, mark prices and stale markers until :meth:`aclose`."""
        return self.stream.events()

    async def aclose(self) -> None:
        """Close the connection; safe to call twice."""
        await self.stream.aclose()

    # -- for decoders --------------------------------------------------------------------
    def bad_item(self, error: BrokerProtocolError, symbol: str | None) -> list[MarketData]:
        """Report an unreadable item (logged, counted); returns the stale marker to yield for it."""
        self.bad_items += 1
        logger.error("%s market data: unreadable item skipped: %s", self.broker, error)
        if symbol is None:
            return []
        return [Stale(symbol, f"unreadable update ({error.message})")]

    # -- the stream's hooks --------------------------------------------------------------
    def _new_carrier(self) -> Carrier[F]:
        return _FeedCarrier(self)

    async def _subscribe_all(self, carrier: Carrier[F]) -> None:
        symbols = frozenset(self._symbols)
        self._live = carrier  # from now on subscribe() sends on this connection itself
        for frame in [*self.connection_frames(), *self.subscribe_frames(symbols)]:
            await carrier.send(frame)

    async def _after_gap(self, gap: Gap) -> list[MarketData]:
        # Yielded before any item of the new connection: nothing from before the gap stays fresh.
        return [Stale(None, f"reconnected ({gap.reason or 'connection lost'})")]

    def _decode_frame(self, frame: F) -> Iterable[MarketData]:
        if isinstance(frame, _Lost):
            return [Stale(None, f"connection lost ({frame.reason})")]
        items = self.decode(frame)
        symbols = self._symbols
        for item in items:  # the hot path: every item is of a subscribed symbol, the list is kept
            if type(item) is not Stale and item.symbol not in symbols:
                items = [item for item in items if type(item) is Stale or item.symbol in symbols]
                break
        if self._pending:
            items = [*self._pending, *items]
            self._pending = []
        return items

    # -- internals -----------------------------------------------------------------------
    async def _changed(self, symbols: set[str], *, subscribe: bool) -> None:
        carrier = self._live
        if carrier is None:
            return  # the next connection subscribes the whole registry
        if self.reopen_on_change:
            self._reopening = True
            await carrier.close()
            return
        frames = self.subscribe_frames(symbols) if subscribe else self.unsubscribe_frames(symbols)
        with contextlib.suppress(StreamLost):  # lost meanwhile: the next connection subscribes all
            for frame in frames:
                await carrier.send(frame)


class _Lost:
    """Handed to the decoder once when a connection drops: its prices are stale from now on."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _FeedCarrier(Generic[F]):
    """The venue's carrier, opened once there is a symbol, reporting a reopen as a planned renewal.

    A drop is reported twice: first as a :class:`_Lost` frame, so ``Stale`` reaches the
    consumer at once (not only after the reconnect, which may take long), then as the
    ``StreamLost`` that makes the stream reconnect.
    """

    def __init__(self, feed: SymbolFeed[F]) -> None:
        self._feed = feed
        self._inner: Carrier[F] | None = None
        self._waiting: anyio.CancelScope | None = None
        self._closed = False
        self._lost_reported = False

    async def open(self) -> None:
        feed = self._feed
        with anyio.CancelScope() as scope:
            self._waiting = scope
            while not feed._symbols:
                await feed._wanted.wait()
        self._waiting = None
        if self._closed:
            raise StreamLost("closed before opening", broker=feed.broker)
        self._inner = feed.make_carrier(frozenset(feed._symbols))
        await self._inner.open()

    async def recv(self) -> F:
        try:
            return await self._open().recv()
        except StreamLost as exc:
            if self._feed._reopening:
                self._feed._reopening = False
                raise Reconnect("subscription changed", immediate=True) from None
            if not (self._lost_reported or self._closed):
                self._lost_reported = True
                return cast(F, _Lost(exc.message))
            raise

    async def send(self, frame: F) -> None:
        await self._open().send(frame)

    async def close(self) -> None:
        self._closed = True
        if self._waiting is not None:
            self._waiting.cancel()
        if self._feed._live is self:
            self._feed._live = None
        inner, self._inner = self._inner, None
        if inner is not None:
            await inner.close()

    def _open(self) -> Carrier[F]:
        if self._inner is None:
            raise StreamLost("the market-data connection is not open", broker=self._feed.broker)
        return self._inner


def _as_set(symbols: Collection[str]) -> set[str]:
    # A bare string is one symbol, not a collection of one-letter symbols.
    return {symbols} if isinstance(symbols, str) else set(symbols)
