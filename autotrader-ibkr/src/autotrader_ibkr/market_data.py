"""IBKR market data: ``reqMktData`` top of book and last trades on the TWS session.

Unlike the crypto venues, IBKR's market data is not a public stream of its own: it flows
over the same TWS API socket as orders (protocols-market-data.md §5), needs a logged-in
TWS/Gateway and the account's market-data subscriptions. The pieces:

* :class:`~autotrader_ibkr.tick_router.MarketDataRouter` (one per adapter, :mod:`.tick_router`)
  turns the raw tick messages into quotes, trades and stale markers per request, and hands
  them to the connection that owns the request.
* :class:`MarketDataCarrier` is one connection of a feed for the core's reconnecting
  stream: it opens (or reuses) the TWS session, sends ``reqMarketDataType`` once per socket
  and ``reqMktData`` (plus ``reqTickByTickData`` for tick-by-tick trades) per symbol, and
  reports the end of its connection — a dropped socket, or TWS's 1101 ("market data requests
  have been lost") — as ``StreamLost``, so the feed yields ``Stale`` and resubscribes
  everything.
* :class:`IbkrMarketData` is the :class:`~autotrader_core.market_data.MarketDataFeed`
  (``IbkrAdapter.open_market_data``). IBKR has no catalogue to check symbols against:
  each symbol is qualified (``reqContractDetails``) before anything is requested, so an
  unknown one raises ``InvalidOrder`` with nothing subscribed.

Errors TWS sends about one request (354 no subscription, 10089 not enabled for the API,
10168 delayed data not enabled, 10197 competing session, 200 no security definition, 101
too many lines...) end that request only: the symbol gets ``Stale`` with TWS's words and an
alert; the other symbols go on. ``get_quote`` raises them as typed errors
(:func:`~autotrader_ibkr.errors.market_data_error`).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

import anyio
import ib_async
from autotrader_core.adapter import AdapterTelemetry
from autotrader_core.market_data import MarketData
from autotrader_core.streaming import Heartbeat, StreamLost
from autotrader_core.streaming.feed import SymbolFeed

from autotrader_ibkr.parsing import BROKER
from autotrader_ibkr.session import TwsSession
from autotrader_ibkr.tick_router import MarketDataRouter, Pong

__all__ = ["PING", "IbkrMarketData", "MarketDataCarrier", "MdFrame", "Subscription"]


@dataclass(frozen=True, slots=True)
class Subscription:
    """A frame the feed sends: request (``on``) or cancel (``not on``) ``symbols``."""

    symbols: frozenset[str]
    on: bool


class _Ping:
    """Sent after a silence: asks TWS for its clock (``reqCurrentTime``)."""


PING = _Ping()
"""The heartbeat frame the feed sends after a silence."""

MdFrame = Subscription | _Ping | Pong | list[MarketData]
"""What a :class:`MarketDataCarrier` moves: requests out; batches of items (or a pong) in."""


class MarketDataCarrier:
    """One connection of an :class:`IbkrMarketData` feed on the TWS session (a core ``Carrier``).

    ``open`` connects the session (or reuses it: orders share the socket); ``send`` turns
    subscription frames into ``reqMktData`` / ``reqTickByTickData`` / cancels and a ping into
    ``reqCurrentTime``; ``recv`` returns the next batch of items, or raises ``StreamLost``
    once the socket it opened is gone or TWS lost its requests (1101). ``close`` cancels the
    lines it still owns when the socket is still up, and releases them.
    """

    def __init__(
        self,
        router: MarketDataRouter,
        session: TwsSession,
        contract_for: Callable[[str], Awaitable[ib_async.Contract]],
        *,
        trades: bool,
    ) -> None:
        self._router = router
        self._session = session
        self._contract_for = contract_for
        self._trades = trades
        send, receive = anyio.create_memory_object_stream[list[MarketData] | Pong | None](math.inf)
        self._send, self._receive = send, receive
        self._batch: list[MarketData] = []
        self._generation = -1
        self._lost: str | None = None
        self._closed = False

    async def open(self) -> None:
        """Connect the TWS session (a no-op when it is up)."""
        if self._session.closed:
            raise StreamLost("adapter disconnected", broker=BROKER)
        await self._session.open()
        self._generation = self._session.generation
        self._router.carriers.add(self)

    def _ib(self) -> ib_async.IB:
        ib = self._session.ib
        if self._lost is None:
            if self._closed or self._session.closed or ib is None or not ib.isConnected():
                self._lost = "TWS socket closed"
            elif self._session.generation != self._generation:
                self._lost = "TWS session reconnected"
        if self._lost is not None or ib is None:
            raise StreamLost(self._lost or "TWS socket closed", broker=BROKER)
        return ib

    async def send(self, frame: MdFrame) -> None:
        """Request or cancel symbols, or ping TWS."""
        ib = self._ib()
        if isinstance(frame, _Ping):
            ib.client.reqCurrentTime()  # type: ignore[no-untyped-call]
            return
        if not isinstance(frame, Subscription):
            raise TypeError(f"not a market-data request: {frame!r}")
        if not frame.on:
            self._router.cancel(ib, self, frame.symbols)
            return
        for symbol in sorted(frame.symbols):
            contract = await self._contract_for(symbol)
            ib = self._ib()  # the socket may have dropped during the lookup
            by_tick = self._trades and self._session.settings.trades_source == "tick_by_tick"
            self._router.request(
                ib, contract, symbol, "quotes", self, last_trades=self._trades and not by_tick
            )
            if by_tick:
                self._router.request(ib, contract, symbol, "trades", self)

    async def recv(self) -> MdFrame:
        """The next batch of items (or a pong); ``StreamLost`` when the connection ended."""
        while True:
            try:
                item = self._receive.receive_nowait()
            except anyio.WouldBlock:
                self._ib()  # raises once the connection is gone; queued batches went first
                item = await self._receive.receive()
            if item is not None:
                return item

    async def close(self) -> None:
        """Cancel this connection's lines (if the socket is still up) and release them."""
        if self._closed:
            return
        ib = self._session.ib
        up = (
            self._lost is None
            and not self._session.closed
            and ib is not None
            and ib.isConnected()
            and self._session.generation == self._generation
        )
        self._closed = True
        self._router.carriers.discard(self)
        self._router.cancel(ib if up else None, self, None)
        self._send.send_nowait(None)

    # -- for the router ------------------------------------------------------------------
    def add(self, item: MarketData | Pong) -> None:
        """Queue one item for the next batch (a pong goes at once)."""
        if isinstance(item, Pong):
            self._send.send_nowait(item)
        else:
            self._batch.append(item)

    def send_batch(self) -> None:
        """Hand the items collected in this read to ``recv``."""
        if self._batch and not self._closed:
            batch, self._batch = self._batch, []
            self._send.send_nowait(batch)

    def lose(self, reason: str) -> None:
        """The connection ended (socket closed, 1101): ``recv`` raises ``StreamLost`` after the queued items."""
        if self._lost is None:
            self._lost = reason
        self.send_batch()
        self._send.send_nowait(None)


class IbkrMarketData(SymbolFeed[MdFrame]):
    """The IBKR market-data feed (``IbkrAdapter.open_market_data``).

    Args:
        session: The adapter's TWS session (shared with orders).
        router: The adapter's :class:`MarketDataRouter`.
        connect: Connects the adapter if it is not (market data needs a TWS session).
        contract_for: Qualifies a symbol (``InvalidOrder`` when TWS knows none).
        trades: Also stream trades (``trades_source``: the line's last-trade ticks, or tick-by-tick ``AllLast``).
        telemetry: The adapter's telemetry, looked up on every report.
    """

    def __init__(
        self,
        session: TwsSession,
        router: MarketDataRouter,
        *,
        connect: Callable[[], Awaitable[None]],
        contract_for: Callable[[str], Awaitable[ib_async.Contract]],
        trades: bool = False,
        telemetry: Callable[[], AdapterTelemetry] | None = None,
    ) -> None:
        settings = session.settings
        super().__init__(
            name="ibkr-market-data",
            broker=BROKER,
            instruments=_no_catalogue,
            heartbeat=Heartbeat(
                silence=settings.market_data_silence, ping=PING, pong_timeout=settings.request_timeout
            ),
            policy=session.reconnect_policy,
            telemetry=telemetry,
            handshake_timeout=settings.request_timeout,
        )
        self._session = session
        self._router = router
        self._connect = connect
        self._contract_for = contract_for
        self.trades = trades

    async def _check_listed(self, wanted: set[str]) -> None:
        # IBKR has no list of every instrument: each symbol is qualified (reqContractDetails)
        # before anything is requested; an unknown one raises InvalidOrder.
        await self._connect()
        for symbol in sorted(wanted):
            await self._contract_for(symbol)

    def make_carrier(self, symbols: frozenset[str]) -> MarketDataCarrier:
        """A connection on the TWS session."""
        return MarketDataCarrier(self._router, self._session, self._contract_for, trades=self.trades)

    def subscribe_frames(self, symbols: Collection[str]) -> list[MdFrame]:
        """One frame requesting ``symbols``."""
        return [Subscription(frozenset(symbols), on=True)]

    def unsubscribe_frames(self, symbols: Collection[str]) -> list[MdFrame]:
        """One frame canceling ``symbols``."""
        return [Subscription(frozenset(symbols), on=False)]

    def decode(self, frame: MdFrame) -> list[MarketData]:
        """A batch is already items; a pong is none."""
        return frame if isinstance(frame, list) else []


async def _no_catalogue() -> Collection[str]:
    raise AssertionError("IBKR qualifies each symbol instead of listing instruments")  # pragma: no cover
