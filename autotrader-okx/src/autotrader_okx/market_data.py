"""OKX public market data: the ``/ws/v5/public`` feed and its parsers (protocols-market-data.md §2).

* ``tickers`` (§2.4) → :class:`Quote` (best bid/ask with sizes, ``ts`` as the broker time);
  pushed at most every 100 ms, on a trade or a change of the best bid/ask. Chosen over
  ``bbo-tbt`` because its access needs no login (§7 item 8);
* ``trades`` (§2.6) → :class:`Trade` (``side`` is the taker's side), when asked for;
* ``mark-price`` (§2.7) → :class:`MarkPrice`: OKX has mark prices for margin and
  derivatives only, so the spot adapter does not subscribe it (``mark_price=False``);
* the connection needs no keys; OKX drops it after 30 s without data, so the text
  ``ping`` is sent after ``ping_interval`` s of silence and ``pong`` expected;
* the ``64008`` notice ("reconnect within 60 s") renews the connection at once.

An empty side of the book (``""``) is read as zero, which the price cache refuses as
"no price"; an unreadable item is reported and skipped, never the stream.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from autotrader_core.adapter import AdapterTelemetry
from autotrader_core.enums import OrderSide
from autotrader_core.errors import BrokerProtocolError
from autotrader_core.market_data import MarketData, MarkPrice, Quote, Trade
from autotrader_core.resiliency.retry import RetryPolicy
from autotrader_core.streaming.carrier import Carrier, Reconnect
from autotrader_core.streaming.feed import Instruments, SymbolFeed
from autotrader_core.streaming.stream import Heartbeat
from autotrader_core.streaming.websocket import WebSocketCarrier
from autotrader_core.wire import WireReader

from autotrader_okx.errors import BROKER
from autotrader_okx.settings import OkxSettings

__all__ = [
    "TICKER_PATH",
    "WS_PUBLIC_HOSTS",
    "OkxMarketData",
    "parse_mark_price",
    "parse_public_frame",
    "parse_ticker",
    "parse_trade",
]

WS_PUBLIC_HOSTS: dict[tuple[str, str], str] = {
    ("global", "live"): "wss://ws.okx.com:8443/ws/v5/public",
    ("global", "demo"): "wss://wspap.okx.com:8443/ws/v5/public",
    ("us", "live"): "wss://wsus.okx.com:8443/ws/v5/public",
    ("us", "demo"): "wss://wsuspap.okx.com:8443/ws/v5/public",
    ("eea", "live"): "wss://wseea.okx.com:8443/ws/v5/public",
    ("eea", "demo"): "wss://wseeapap.okx.com:8443/ws/v5/public",
}
"""Public WebSocket URL per (region, environment): the private hosts' ``/public`` twin."""

TICKER_PATH = "/api/v5/market/ticker"
"""REST snapshot of one instrument's ticker (public, 20 requests / 2 s per IP)."""

_TICKER = WireReader(BROKER, "ticker")
_TRADE = WireReader(BROKER, "trade")
_MARK = WireReader(BROKER, "mark price")
_FRAME = WireReader(BROKER, "public push")
_ZERO = Decimal(0)
_SIDES = {"buy": OrderSide.BUY, "sell": OrderSide.SELL}
_MAINTENANCE_NOTICE = "64008"
_ARGS_PER_REQUEST = 100  # OKX caps one request's args at 64 KB; 100 short args stay far below

BadItem = Callable[[BrokerProtocolError, str | None], list[MarketData]]
"""Reports an unreadable item (with its symbol when known) and returns what to yield instead."""


def _broker_time(reader: WireReader, item: Any) -> datetime:
    raw = item.get("ts")
    if type(raw) is str and raw.isdigit():  # the hot path: epoch ms as a digit string
        return datetime.fromtimestamp(int(raw) / 1000, tz=UTC)
    return reader.epoch_ms(item, "ts")


def _book_side(item: Any, key: str) -> Decimal:
    """A best price or size; ``""`` (that side of the book is empty) is zero, i.e. no price."""
    value = item.get(key)
    if type(value) is str and value:
        try:
            return Decimal(value)
        except InvalidOperation:
            pass
    elif value == "":
        return _ZERO
    return _TICKER.decimal(item, key)  # raises the typed error naming the field


def parse_ticker(item: Any, received_at: float | None = None) -> Quote:
    """One ``tickers`` item (or ``GET /api/v5/market/ticker`` item) → :class:`Quote`."""
    if type(item) is not dict:
        _TICKER.mapping(item)
    return Quote(
        _TICKER.text(item, "instId", non_empty=True),
        _book_side(item, "bidPx"),
        _book_side(item, "bidSz"),
        _book_side(item, "askPx"),
        _book_side(item, "askSz"),
        _broker_time(_TICKER, item),
        time.monotonic() if received_at is None else received_at,
    )


def parse_trade(item: Any, received_at: float | None = None) -> Trade:
    """One ``trades`` item → :class:`Trade` (``side`` is the taker's)."""
    _TRADE.mapping(item)
    return Trade(
        _TRADE.text(item, "instId", non_empty=True),
        _TRADE.decimal(item, "px"),
        _TRADE.decimal(item, "sz"),
        _TRADE.enum(item, "side", _SIDES),
        _TRADE.text(item, "tradeId", non_empty=True),
        _broker_time(_TRADE, item),
        time.monotonic() if received_at is None else received_at,
    )


def parse_mark_price(item: Any, received_at: float | None = None) -> MarkPrice:
    """One ``mark-price`` item → :class:`MarkPrice`."""
    _MARK.mapping(item)
    return MarkPrice(
        _MARK.text(item, "instId", non_empty=True),
        _MARK.decimal(item, "markPx"),
        _broker_time(_MARK, item),
        time.monotonic() if received_at is None else received_at,
    )


_PARSERS: dict[str, Callable[[Any, float | None], MarketData]] = {
    "tickers": parse_ticker,
    "trades": parse_trade,
    "mark-price": parse_mark_price,
}


def _raise(error: BrokerProtocolError, symbol: str | None) -> list[MarketData]:
    raise error


def parse_public_frame(
    frame: str | bytes, *, received_at: float | None = None, bad_item: BadItem = _raise
) -> list[MarketData]:
    """One public-WebSocket text frame → its items (acks, ``pong``: none).

    Raises:
        Reconnect: the ``64008`` maintenance notice (reconnect before OKX cuts the connection).
        BrokerProtocolError: a frame that is not OKX JSON (a bad *item* goes to ``bad_item``).
    """
    if frame == "pong" or frame == b"pong":
        return []
    try:
        message = json.loads(frame)
    except ValueError:
        raise BrokerProtocolError("public push is not JSON", payload=frame, broker=BROKER) from None
    if type(message) is not dict:
        raise BrokerProtocolError("public push is not a JSON object", payload=message, broker=BROKER)
    data = message.get("data")
    if data is None:
        return _event(message, bad_item)
    arg = _FRAME.mapping(_FRAME.field(message, "arg"))
    parse = _PARSERS.get(arg.get("channel", ""))
    if parse is None or type(data) is not list:
        return []  # a channel we did not subscribe: OKX clients ignore what they don't know
    when = time.monotonic() if received_at is None else received_at
    items: list[MarketData] = []
    for item in data:
        try:
            items.append(parse(item, when))
        except BrokerProtocolError as exc:
            items += bad_item(exc, arg.get("instId"))
    return items


def _event(message: dict[str, Any], bad_item: BadItem) -> list[MarketData]:
    event = message.get("event")
    if event == "error":
        # Symbols are checked against the instruments before sending, so this is unexpected.
        error = BrokerProtocolError(
            f"OKX refused a public subscription: {message.get('code')} {message.get('msg')}",
            payload=message,
            broker=BROKER,
        )
        return bad_item(error, None)
    if event == "notice" and message.get("code") == _MAINTENANCE_NOTICE:
        raise Reconnect("maintenance notice 64008", immediate=True)
    return []  # subscribe / unsubscribe acks


def subscription_args(symbols: Collection[str], *, trades: bool, mark_price: bool) -> list[dict[str, str]]:
    """The ``args`` of a subscribe / unsubscribe request for ``symbols``."""
    channels = ["tickers"] + (["trades"] if trades else []) + (["mark-price"] if mark_price else [])
    return [{"channel": channel, "instId": symbol} for symbol in sorted(symbols) for channel in channels]


class OkxMarketData(SymbolFeed[str | bytes]):
    """OKX public market-data feed (``OkxAdapter.open_market_data``).

    Args:
        settings: Region/environment pick the public host (``public_ws_url`` overrides it);
            ``ping_interval`` / ``pong_timeout`` / ``reconnect_*`` as for the private stream.
        instruments: The adapter's listed symbols (checked before subscribing).
        trades: Also stream public trades.
        mark_price: Also stream mark prices (margin and derivatives instruments only).
        telemetry: The adapter's telemetry, looked up on every report.
    """

    def __init__(
        self,
        settings: OkxSettings,
        *,
        instruments: Instruments,
        trades: bool = False,
        mark_price: bool = False,
        telemetry: Callable[[], AdapterTelemetry] | None = None,
    ) -> None:
        super().__init__(
            name="okx-public",
            broker=BROKER,
            instruments=instruments,
            heartbeat=Heartbeat(
                silence=settings.ping_interval, ping="ping", pong_timeout=settings.pong_timeout
            ),
            policy=RetryPolicy(
                max_attempts=1,
                base_delay=settings.reconnect_initial_delay,
                max_delay=settings.reconnect_max_delay,
                jitter=0.5,
            ),
            telemetry=telemetry,
        )
        self.url = settings.public_ws_url or WS_PUBLIC_HOSTS[(settings.region, settings.environment)]
        self.trades = trades
        self.mark_price = mark_price

    def make_carrier(self, symbols: frozenset[str]) -> Carrier[str | bytes]:
        """A WebSocket to the public host (OKX's liveness is the text ping, not protocol pings)."""
        return WebSocketCarrier(self.url, ping_interval=None, ping_timeout=None, broker=BROKER)

    def subscribe_frames(self, symbols: Collection[str]) -> list[str | bytes]:
        """``{"op": "subscribe", "args": [...]}`` (tickers, plus trades / mark-price when asked)."""
        return self._requests("subscribe", symbols)

    def unsubscribe_frames(self, symbols: Collection[str]) -> list[str | bytes]:
        """``{"op": "unsubscribe", "args": [...]}``."""
        return self._requests("unsubscribe", symbols)

    def decode(self, frame: str | bytes) -> list[MarketData]:
        """One frame → quotes, trades, mark prices (bad items reported and skipped)."""
        try:
            return parse_public_frame(frame, bad_item=self.bad_item)
        except BrokerProtocolError as exc:
            return self.bad_item(exc, None)

    def _requests(self, op: str, symbols: Collection[str]) -> list[str | bytes]:
        args = subscription_args(symbols, trades=self.trades, mark_price=self.mark_price)
        return [
            json.dumps({"op": op, "args": args[start : start + _ARGS_PER_REQUEST]}, separators=(",", ":"))
            for start in range(0, len(args), _ARGS_PER_REQUEST)
        ]
