"""Binance Spot public market data: book ticker and trades on a public stream, REST snapshot.

No key is needed (protocols-market-data.md §1). The stream is a raw ``/ws`` connection
with live ``SUBSCRIBE`` / ``UNSUBSCRIBE`` frames (§1.3): ``<symbol>@bookTicker`` gives the
best bid/ask in real time (§1.4; it has no timestamp, so quotes carry the receive time
only, and ``u``, the book update id, drops out-of-order duplicates), ``<symbol>@trade``
gives public trades (§1.5). ``GET /api/v3/ticker/bookTicker`` is the snapshot (§1.6).

The feed runs on the core's :class:`~autotrader_core.streaming.ReconnectingStream`: it
reconnects with backoff, renews the connection before Binance's 24 h limit, reconnects at
once on ``serverShutdown``, resubscribes every symbol, and yields
:class:`~autotrader_core.market_data.Stale` the moment a connection is lost, so no old
price is served as fresh while it is away.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from autotrader_core.adapter import AdapterTelemetry
from autotrader_core.enums import OrderSide
from autotrader_core.errors import BrokerProtocolError, InvalidOrder
from autotrader_core.market_data import MarketData, Quote, Stale, Trade
from autotrader_core.streaming import Carrier, Reconnect, ReconnectingStream, WebSocketCarrier

__all__ = [
    "MARKET_DATA_HOSTS",
    "BinanceMarketData",
    "parse_book_ticker",
    "parse_rest_book_ticker",
    "parse_trade",
]

logger = logging.getLogger(__name__)

MARKET_DATA_HOSTS: dict[str, str] = {
    # protocols-market-data.md §1.1: raw streams live under /ws on each host.
    "live": "wss://stream.binance.com:9443/ws",
    "testnet": "wss://stream.testnet.binance.vision/ws",
    "demo": "wss://demo-stream.binance.com/ws",
}
"""Public market-data stream per environment (raw ``/ws`` endpoint)."""

_BROKER = "binance"


def _decimal(payload: Mapping[str, Any], key: str, kind: str) -> Decimal:
    # The hot path: four of these per book-ticker frame. Same rules as decimal_from_wire
    # (strings only, ASCII, no "_", finite), written inline to keep the frame cost low.
    value = payload.get(key)
    if type(value) is str and value.isascii() and "_" not in value:
        try:
            number = Decimal(value)
        except InvalidOperation:
            pass
        else:
            if number.is_finite():
                return number
    raise BrokerProtocolError(
        f"{kind} field {key!r} is not a decimal string: {value!r}", payload=payload, broker=_BROKER
    )


def _text(payload: Mapping[str, Any], key: str, kind: str) -> str:
    value = payload.get(key)
    if type(value) is not str or not value:
        raise BrokerProtocolError(f"{kind} field {key!r} is missing", payload=payload, broker=_BROKER)
    return value


def _epoch_ms(payload: Mapping[str, Any], key: str, kind: str) -> datetime:
    value = payload.get(key)
    if type(value) is not int:
        raise BrokerProtocolError(
            f"{kind} field {key!r} must be epoch milliseconds", payload=payload, broker=_BROKER
        )
    return datetime.fromtimestamp(value / 1000, UTC)


def parse_book_ticker(payload: Mapping[str, Any], received_at: float | None = None) -> Quote:
    """One ``<symbol>@bookTicker`` event (§1.4) → :class:`Quote` (receive time only: it has no timestamp)."""
    return Quote(
        _text(payload, "s", "bookTicker"),
        _decimal(payload, "b", "bookTicker"),
        _decimal(payload, "B", "bookTicker"),
        _decimal(payload, "a", "bookTicker"),
        _decimal(payload, "A", "bookTicker"),
        None,
        time.monotonic() if received_at is None else received_at,
    )


def parse_rest_book_ticker(payload: Mapping[str, Any]) -> Quote:
    """``GET /api/v3/ticker/bookTicker?symbol=`` (§1.6) → :class:`Quote`."""
    if not isinstance(payload, Mapping):
        raise BrokerProtocolError("bookTicker reply must be a JSON object", payload=payload, broker=_BROKER)
    return Quote(
        _text(payload, "symbol", "bookTicker"),
        _decimal(payload, "bidPrice", "bookTicker"),
        _decimal(payload, "bidQty", "bookTicker"),
        _decimal(payload, "askPrice", "bookTicker"),
        _decimal(payload, "askQty", "bookTicker"),
    )


def parse_trade(payload: Mapping[str, Any], received_at: float | None = None) -> Trade:
    """One ``<symbol>@trade`` event (§1.5) → :class:`Trade`.

    ``m`` ("is the buyer the market maker?") true means the taker sold.
    """
    maker_buyer = payload.get("m")
    if type(maker_buyer) is not bool:
        raise BrokerProtocolError("trade field 'm' must be a boolean", payload=payload, broker=_BROKER)
    trade_id = payload.get("t")
    if type(trade_id) is not int:
        raise BrokerProtocolError("trade field 't' must be an integer", payload=payload, broker=_BROKER)
    return Trade(
        _text(payload, "s", "trade"),
        _decimal(payload, "p", "trade"),
        _decimal(payload, "q", "trade"),
        OrderSide.SELL if maker_buyer else OrderSide.BUY,
        str(trade_id),
        _epoch_ms(payload, "T", "trade"),
        time.monotonic() if received_at is None else received_at,
    )


class BinanceMarketData:
    """A public market-data feed of Binance Spot (implements ``MarketDataFeed``).

    Args:
        url: The raw stream endpoint (``MARKET_DATA_HOSTS[environment]`` or an override).
        symbols: Every symbol the venue lists (from ``exchangeInfo``), or a coroutine
            function that loads them on the first subscribe; a subscribe naming another
            is refused before anything is sent.
        trades: Also subscribe ``<symbol>@trade``.
        telemetry: The adapter's telemetry (looked up on each report).
        max_age: Renew the connection after this many seconds (Binance closes at 24 h).
        silence: Seconds without any frame before the connection is replaced (a live
            book ticker of a traded symbol is never that quiet; an idle connection is dead).
        on_bad_frame: Called with every frame that could not be read (it is skipped).
    """

    def __init__(
        self,
        url: str,
        *,
        symbols: Collection[str] | Callable[[], Awaitable[Collection[str]]],
        trades: bool = False,
        telemetry: Callable[[], AdapterTelemetry] | None = None,
        max_age: float = 23.5 * 3600,
        silence: float | None = 60.0,
        on_bad_frame: Callable[[str, BrokerProtocolError], None] | None = None,
    ) -> None:
        from autotrader_core.streaming import Heartbeat

        self.url = url
        self._known: frozenset[str] | None = None if callable(symbols) else frozenset(symbols)
        self._load_symbols = symbols if callable(symbols) else None
        self._trades = trades
        self._subscribed: set[str] = set()
        self._last_update: dict[str, int] = {}
        self._pending: list[MarketData] = []  # Stale markers of unsubscribed symbols, yielded next
        self._carrier: Carrier[str | bytes] | None = None
        self._request_ids = iter(range(1, 2**62))
        self._on_bad_frame = on_bad_frame
        self._stream: ReconnectingStream[str | bytes, MarketData] = ReconnectingStream(
            self._connect,
            self._decode,
            name="binance-market-data",
            subscribe=self._resubscribe,
            catch_up=self._after_reconnect,
            heartbeat=None if silence is None else Heartbeat(silence=silence),
            max_age=max_age,
            telemetry=telemetry,
        )

    # -- MarketDataFeed ------------------------------------------------------------------
    async def subscribe(self, symbols: Collection[str]) -> None:
        """Add ``symbols`` (refused with :class:`InvalidOrder` if Binance doesn't list one)."""
        if self._known is None:
            assert self._load_symbols is not None
            self._known = frozenset(await self._load_symbols())
        known = self._known
        unknown = sorted(s for s in symbols if s not in known)
        if unknown:
            raise InvalidOrder(f"binance lists no symbol {', '.join(unknown)}", broker=_BROKER)
        new = [s for s in symbols if s not in self._subscribed]
        self._subscribed.update(new)
        if new:
            await self._send_request("SUBSCRIBE", new)

    async def unsubscribe(self, symbols: Collection[str]) -> None:
        """Remove ``symbols``: each gets a ``Stale(symbol, "unsubscribed")`` item, then no price."""
        gone = [s for s in symbols if s in self._subscribed]
        self._subscribed.difference_update(gone)
        for symbol in gone:
            self._last_update.pop(symbol, None)
        # A reader must not keep serving the last price of a symbol no longer streamed.
        self._pending += [Stale(symbol, "unsubscribed") for symbol in sorted(gone)]
        if gone:
            await self._send_request("UNSUBSCRIBE", gone)

    def items(self) -> AsyncIterator[MarketData]:
        """Quotes, trades and stale markers until :meth:`aclose`."""
        return self._stream.events()

    async def aclose(self) -> None:
        """Close the connection and end :meth:`items`; safe to call twice."""
        await self._stream.aclose()

    @property
    def subscribed(self) -> frozenset[str]:
        """The symbols subscribed now."""
        return frozenset(self._subscribed)

    @property
    def reconnects(self) -> int:
        """Reconnects so far."""
        return self._stream.reconnects

    # -- the stream ----------------------------------------------------------------------
    def _connect(self) -> Carrier[str | bytes]:
        carrier = _Watched(WebSocketCarrier(self.url, broker=_BROKER))
        self._carrier = carrier
        return carrier

    def _streams(self, symbols: Iterable[str]) -> list[str]:
        names = []
        for symbol in symbols:
            lower = symbol.lower()
            names.append(f"{lower}@bookTicker")
            if self._trades:
                names.append(f"{lower}@trade")
        return names

    async def _send_request(self, method: str, symbols: Iterable[str]) -> None:
        carrier = self._carrier
        if carrier is None:
            return  # not connected: the next connection subscribes the whole set
        frame = json.dumps(
            {"method": method, "params": self._streams(symbols), "id": next(self._request_ids)}
        )
        try:
            await carrier.send(frame)
        except Exception as exc:  # the reconnect resubscribes everything
            logger.debug("binance market data: %s not sent (%s); the next connection will", method, exc)

    async def _resubscribe(self, carrier: Carrier[str | bytes]) -> None:
        self._last_update.clear()
        if self._subscribed:
            frame = json.dumps(
                {
                    "method": "SUBSCRIBE",
                    "params": self._streams(sorted(self._subscribed)),
                    "id": next(self._request_ids),
                }
            )
            await carrier.send(frame)

    async def _after_reconnect(self, gap: Any) -> list[MarketData]:
        # Stale already went out when the loss was noticed; repeat it ahead of the new
        # connection's first quote for readers that joined in between.
        return [Stale(None, f"binance market data reconnected ({gap.reason or 'connection renewed'})")]

    def _decode(self, frame: str | bytes | _Lost) -> list[MarketData]:
        items = self._decode_frame(frame)
        if self._pending:  # yielded with the next frame (the unsubscribe ack at the latest)
            items = [*self._pending, *items]
            self._pending = []
        return items

    def _decode_frame(self, frame: str | bytes | _Lost) -> list[MarketData]:
        if isinstance(frame, _Lost):
            # The moment a connection is lost its prices can't be trusted: say so now,
            # not after the reconnect (a backoff can take seconds).
            self._carrier = None
            return [Stale(None, f"binance market data: {frame.reason}")] if self._subscribed else []
        received_at = time.monotonic()
        try:
            message = json.loads(frame)
        except ValueError:
            self._bad(
                frame, BrokerProtocolError("market-data frame is not JSON", payload=frame, broker=_BROKER)
            )
            return []
        if type(message) is not dict:
            self._bad(
                frame,
                BrokerProtocolError("market-data frame is not an object", payload=frame, broker=_BROKER),
            )
            return []
        try:
            if "u" in message and "b" in message:  # bookTicker: no event type field
                update = message.get("u")
                symbol = message.get("s")
                if type(update) is int and type(symbol) is str:
                    if update <= self._last_update.get(symbol, -1):
                        return []  # out of order or repeated: keep the newest book
                    self._last_update[symbol] = update
                quote = parse_book_ticker(message, received_at)
                return [quote] if quote.symbol in self._subscribed else []
            event = message.get("e")
            if event == "trade":
                trade = parse_trade(message, received_at)
                return [trade] if trade.symbol in self._subscribed else []
            if event == "serverShutdown":
                raise Reconnect("binance announced a server shutdown", immediate=True)
        except BrokerProtocolError as exc:
            self._bad(frame, exc)
            return []
        if "code" in message and "msg" in message:  # a refused request (§1.3)
            logger.warning("binance market data: request refused: %s", message.get("msg"))
        return []  # subscribe acks ({"result": null}) and events we don't use

    def _bad(self, frame: str | bytes, error: BrokerProtocolError) -> None:
        logger.warning("binance market data: skipped an unreadable frame: %s", error)
        if self._on_bad_frame is not None:
            self._on_bad_frame(frame if isinstance(frame, str) else repr(frame), error)


class _Lost:
    """The frame a :class:`_Watched` carrier hands over once when its connection is lost."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _Watched:
    """A carrier that says so, as one last frame, when its connection is lost.

    The stream decodes that frame into :class:`Stale` at once; the next ``recv`` raises
    the loss, and the stream reconnects as usual.
    """

    def __init__(self, inner: WebSocketCarrier) -> None:
        self._inner = inner
        self._lost: Exception | None = None

    async def open(self) -> None:
        await self._inner.open()

    async def recv(self) -> str | bytes:
        if self._lost is not None:
            raise self._lost
        try:
            return await self._inner.recv()
        except Exception as exc:
            self._lost = exc
            return _Lost(str(exc) or type(exc).__name__)  # type: ignore[return-value]  # decoded by _decode only

    async def send(self, frame: str | bytes) -> None:
        await self._inner.send(frame)

    async def close(self) -> None:
        await self._inner.close()
