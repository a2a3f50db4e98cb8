"""Binance Spot public market data: book ticker and trades on a public stream, REST snapshot.

No key is needed (protocols-market-data.md §1). The stream is a raw ``/ws`` connection
with live ``SUBSCRIBE`` / ``UNSUBSCRIBE`` frames (§1.3): ``<symbol>@bookTicker`` gives the
best bid/ask in real time (§1.4; it has no timestamp, so quotes carry the receive time
only, and ``u``, the book update id, drops out-of-order duplicates), ``<symbol>@trade``
gives public trades (§1.5). ``GET /api/v3/ticker/bookTicker`` is the snapshot (§1.6).

The feed is a :class:`~autotrader_core.streaming.feed.SymbolFeed` like every venue's: it
reconnects with backoff, renews the connection before Binance's 24 h limit, reconnects at
once on ``serverShutdown``, resubscribes every symbol, and yields
:class:`~autotrader_core.market_data.Stale` the moment a connection is lost, so no old
price is served as fresh while it is away. Fields are read with the core's
:class:`~autotrader_core.wire.WireReader`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import Any

from autotrader_core.adapter import AdapterTelemetry
from autotrader_core.enums import OrderSide
from autotrader_core.errors import BrokerProtocolError
from autotrader_core.market_data import MarketData, Quote, Trade
from autotrader_core.streaming import Carrier, Heartbeat, Reconnect, WebSocketCarrier
from autotrader_core.streaming.feed import SymbolFeed
from autotrader_core.wire import WireReader

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
_BOOK = WireReader(_BROKER, "bookTicker")
_TRADE = WireReader(_BROKER, "trade")


def parse_book_ticker(payload: Mapping[str, Any], received_at: float | None = None) -> Quote:
    """One ``<symbol>@bookTicker`` event (§1.4) → :class:`Quote` (receive time only: it has no timestamp)."""
    return Quote(
        _BOOK.text(payload, "s", non_empty=True),
        _BOOK.decimal(payload, "b"),
        _BOOK.decimal(payload, "B"),
        _BOOK.decimal(payload, "a"),
        _BOOK.decimal(payload, "A"),
        None,
        time.monotonic() if received_at is None else received_at,
    )


def parse_rest_book_ticker(payload: Mapping[str, Any]) -> Quote:
    """``GET /api/v3/ticker/bookTicker?symbol=`` (§1.6) → :class:`Quote`."""
    _BOOK.mapping(payload)
    return Quote(
        _BOOK.text(payload, "symbol", non_empty=True),
        _BOOK.decimal(payload, "bidPrice"),
        _BOOK.decimal(payload, "bidQty"),
        _BOOK.decimal(payload, "askPrice"),
        _BOOK.decimal(payload, "askQty"),
    )


def parse_trade(payload: Mapping[str, Any], received_at: float | None = None) -> Trade:
    """One ``<symbol>@trade`` event (§1.5) → :class:`Trade`.

    ``m`` ("is the buyer the market maker?") true means the taker sold.
    """
    maker_buyer = _TRADE.field(payload, "m")
    if type(maker_buyer) is not bool:  # a JSON boolean only: "false" must not read as a sell
        raise _TRADE.error(f"must be a boolean, got {maker_buyer!r}", field="m", payload=payload)
    trade_id = _TRADE.field(payload, "t")
    if type(trade_id) is not int:
        raise _TRADE.error(f"must be an integer, got {trade_id!r}", field="t", payload=payload)
    return Trade(
        _TRADE.text(payload, "s", non_empty=True),
        _TRADE.decimal(payload, "p"),
        _TRADE.decimal(payload, "q"),
        OrderSide.SELL if maker_buyer else OrderSide.BUY,
        str(trade_id),
        _TRADE.epoch_ms(payload, "T"),
        time.monotonic() if received_at is None else received_at,
    )


class BinanceMarketData(SymbolFeed[str | bytes]):
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
        if callable(symbols):
            instruments = symbols
        else:
            listed = frozenset(symbols)

            async def instruments() -> Collection[str]:
                return listed

        super().__init__(
            name="binance-market-data",
            broker=_BROKER,
            instruments=instruments,
            heartbeat=None if silence is None else Heartbeat(silence=silence),
            max_age=max_age,
            telemetry=telemetry,
        )
        self.url = url
        self._trades = trades
        self._last_update: dict[str, int] = {}  # newest book update id (``u``) per symbol
        self._request_ids = iter(range(1, 2**62))
        self._on_bad_frame = on_bad_frame

    @property
    def subscribed(self) -> frozenset[str]:
        """The symbols subscribed now (same as :attr:`symbols`)."""
        return self.symbols

    @property
    def reconnects(self) -> int:
        """Reconnects so far."""
        return self.stream.reconnects

    async def unsubscribe(self, symbols: Collection[str]) -> None:
        """Remove ``symbols``: each gets a ``Stale(symbol, "unsubscribed")`` item, then no price."""
        for symbol in [symbols] if isinstance(symbols, str) else symbols:
            self._last_update.pop(symbol, None)
        await super().unsubscribe(symbols)

    # -- SymbolFeed ----------------------------------------------------------------------
    def make_carrier(self, symbols: frozenset[str]) -> Carrier[str | bytes]:
        """A WebSocket to the raw stream endpoint; book update ids restart with it."""
        self._last_update.clear()
        return WebSocketCarrier(self.url, broker=_BROKER)

    def subscribe_frames(self, symbols: Collection[str]) -> list[str | bytes]:
        """One ``SUBSCRIBE`` request for every stream of ``symbols`` (§1.3)."""
        return [self._request("SUBSCRIBE", symbols)]

    def unsubscribe_frames(self, symbols: Collection[str]) -> list[str | bytes]:
        """One ``UNSUBSCRIBE`` request for every stream of ``symbols``."""
        return [self._request("UNSUBSCRIBE", symbols)]

    def decode(self, frame: str | bytes) -> list[MarketData]:
        """A book ticker or trade event → its item; acks, refusals and other events → none.

        Raises:
            Reconnect: ``serverShutdown`` (reconnect at once, before Binance cuts the line).
        """
        received_at = time.monotonic()
        try:
            message = json.loads(frame)
        except ValueError:
            return self._bad(
                frame, BrokerProtocolError("market-data frame is not JSON", payload=frame, broker=_BROKER)
            )
        if type(message) is not dict:
            error = BrokerProtocolError("market-data frame is not an object", payload=frame, broker=_BROKER)
            return self._bad(frame, error)
        try:
            if "u" in message and "b" in message:  # bookTicker: no event type field
                update = message.get("u")
                symbol = message.get("s")
                if type(update) is int and type(symbol) is str:
                    if update <= self._last_update.get(symbol, -1):
                        return []  # out of order or repeated: keep the newest book
                    self._last_update[symbol] = update
                return [parse_book_ticker(message, received_at)]
            event = message.get("e")
            if event == "trade":
                return [parse_trade(message, received_at)]
            if event == "serverShutdown":
                raise Reconnect("binance announced a server shutdown", immediate=True)
        except BrokerProtocolError as exc:
            return self._bad(frame, exc)
        if "code" in message and "msg" in message:  # a refused request (§1.3)
            logger.warning("binance market data: request refused: %s", message.get("msg"))
        return []  # subscribe acks ({"result": null}) and events we don't use

    # -- internals -----------------------------------------------------------------------
    def _request(self, method: str, symbols: Iterable[str]) -> str:
        streams = []
        for symbol in sorted(symbols):
            lower = symbol.lower()
            streams.append(f"{lower}@bookTicker")
            if self._trades:
                streams.append(f"{lower}@trade")
        return json.dumps({"method": method, "params": streams, "id": next(self._request_ids)})

    def _bad(self, frame: str | bytes, error: BrokerProtocolError) -> list[MarketData]:
        # Logged and counted by the feed; no stale marker (as before the port): the frame
        # may name no symbol, and the next good book of that symbol replaces the last one.
        self.bad_item(error, None)
        if self._on_bad_frame is not None:
            self._on_bad_frame(frame if isinstance(frame, str) else repr(frame), error)
        return []
