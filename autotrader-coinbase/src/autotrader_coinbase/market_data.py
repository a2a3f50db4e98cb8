"""Coinbase public market data: the Advanced Trade market-data WebSocket and its parsers.

protocols-market-data.md §3:

* ``wss://advanced-trade-ws.coinbase.com`` needs no keys for ``ticker``, ``market_trades``
  and ``heartbeats``; one subscribe message per channel, the first within 5 s of connecting;
* ``ticker`` (§3.5) → :class:`Quote` from ``best_bid``/``best_bid_quantity``/``best_ask``/
  ``best_ask_quantity``, timed by the envelope ``timestamp`` (tickers carry none). It is
  pushed on every match, so its best bid/ask can lag quote-only changes between trades;
* ``market_trades`` (§3.6) → :class:`Trade`; Coinbase's ``side`` is the **maker's**, so
  the aggressor is the other side;
* ``heartbeats`` (§3.4) arrive every second and keep quiet channels open: a silence of
  ``heartbeat_timeout`` seconds reconnects;
* every message carries ``sequence_num``, +1 per message on a connection: a jump yields
  ``Stale(None, ...)`` (a message was dropped: the next ticker of each product is a full
  best bid/ask again), an older number is dropped (out of order), and the count starts
  again on each connection (§3.3 "safe rule").
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from autotrader_core.adapter import AdapterTelemetry
from autotrader_core.enums import OrderSide
from autotrader_core.errors import BrokerProtocolError, InvalidOrder
from autotrader_core.market_data import MarketData, Quote, Stale, Trade
from autotrader_core.resiliency.retry import RetryPolicy
from autotrader_core.streaming.carrier import Carrier
from autotrader_core.streaming.feed import Instruments, SymbolFeed
from autotrader_core.streaming.stream import Heartbeat
from autotrader_core.streaming.websocket import WebSocketCarrier
from autotrader_core.wire import WireReader

from autotrader_coinbase.errors import BROKER
from autotrader_coinbase.settings import CoinbaseSettings

__all__ = [
    "MARKET_DATA_URL",
    "CoinbaseMarketData",
    "SequenceTracker",
    "parse_market_message",
    "parse_market_trade",
    "parse_product_book",
    "parse_ticker",
    "require_listed",
]

MARKET_DATA_URL = "wss://advanced-trade-ws.coinbase.com"
"""The public market-data host (no sandbox exists for it: §3.1)."""

_TICKER = WireReader(BROKER, "ticker")
_TRADE = WireReader(BROKER, "market trade")
_BOOK = WireReader(BROKER, "product book")
_ENVELOPE = WireReader(BROKER, "market-data message")
# The maker's side as Coinbase sends it → the taker's (aggressor) side.
_AGGRESSOR = {"BUY": OrderSide.SELL, "SELL": OrderSide.BUY}

BadItem = Callable[[BrokerProtocolError, str | None], list[MarketData]]
"""Reports an unreadable item (with its symbol when known) and returns what to yield instead."""


def parse_ticker(item: Any, broker_time: datetime | None, received_at: float) -> Quote:
    """One ``tickers[]`` element of a ``ticker`` event → :class:`Quote`."""
    if type(item) is not dict:
        _TICKER.mapping(item)
    return Quote(
        _TICKER.text(item, "product_id", non_empty=True),
        _TICKER.decimal(item, "best_bid"),
        _TICKER.decimal(item, "best_bid_quantity"),
        _TICKER.decimal(item, "best_ask"),
        _TICKER.decimal(item, "best_ask_quantity"),
        broker_time,
        received_at,
    )


def parse_market_trade(item: Any, received_at: float) -> Trade:
    """One ``trades[]`` element of a ``market_trades`` event → :class:`Trade` (aggressor = not the maker)."""
    _TRADE.mapping(item)
    return Trade(
        _TRADE.text(item, "product_id", non_empty=True),
        _TRADE.decimal(item, "price"),
        _TRADE.decimal(item, "size"),
        _TRADE.enum(item, "side", _AGGRESSOR, fold_case=True),
        _TRADE.text(item, "trade_id", non_empty=True),
        _TRADE.optional_rfc3339(item, "time"),
        received_at,
    )


def parse_product_book(body: Any) -> Quote:
    """``GET /market/product_book?limit=1`` → :class:`Quote` (the first bid and ask are the best)."""
    book = _BOOK.mapping(_BOOK.field(_BOOK.mapping(body), "pricebook"))
    bids, asks = _BOOK.array(book, "bids"), _BOOK.array(book, "asks")
    if not bids or not asks:
        # An empty side is no price: zero, which the price cache refuses and reports.
        zero = {"price": "0", "size": "0"}
        bids, asks = bids or [zero], asks or [zero]
    return Quote(
        _BOOK.text(book, "product_id", non_empty=True),
        _BOOK.decimal(bids[0], "price"),
        _BOOK.decimal(bids[0], "size"),
        _BOOK.decimal(asks[0], "price"),
        _BOOK.decimal(asks[0], "size"),
        _BOOK.optional_rfc3339(book, "time"),
    )


def require_listed(symbol: str, listed: Collection[str]) -> None:
    """Raise :class:`InvalidOrder` for a product Coinbase doesn't list (before any request)."""
    if symbol not in listed:
        raise InvalidOrder(f"coinbase lists no product {symbol!r}", broker=BROKER)


class SequenceTracker:
    """``sequence_num`` per connection: gaps and out-of-order messages (§3.3)."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: int | None = None

    def check(self, number: int) -> str | None:
        """``"old"`` for a number already passed (drop the message), a gap description, or ``None``."""
        last = self.last
        if last is not None and number <= last:
            return "old"
        self.last = number
        if last is not None and number > last + 1:
            return f"sequence gap: {last} then {number} ({number - last - 1} message(s) missed)"
        return None


def _raise(error: BrokerProtocolError, symbol: str | None) -> list[MarketData]:
    raise error


def parse_market_message(
    frame: str | bytes,
    *,
    sequence: SequenceTracker | None = None,
    received_at: float | None = None,
    bad_item: BadItem = _raise,
) -> list[MarketData]:
    """One market-data frame → its items (heartbeats, subscriptions: none).

    Raises:
        BrokerProtocolError: not JSON, or an envelope without ``channel``/``events``
            (a bad *item* goes to ``bad_item``).
    """
    try:
        message = json.loads(frame)
    except ValueError:
        raise BrokerProtocolError("market-data message is not JSON", payload=frame, broker=BROKER) from None
    if type(message) is not dict:
        raise BrokerProtocolError("market-data message is not a JSON object", payload=message, broker=BROKER)
    channel = message.get("channel")
    if channel is None:
        if message.get("type") == "error":
            return bad_item(
                BrokerProtocolError(f"Coinbase refused a request: {message}", payload=message, broker=BROKER),
                None,
            )
        return []  # undocumented control messages: clients ignore what they don't support
    items: list[MarketData] = []
    if sequence is not None and "sequence_num" in message:
        verdict = sequence.check(_ENVELOPE.integer(message, "sequence_num"))
        if verdict == "old":
            return []  # an older message than one already handled: its prices are superseded
        if verdict is not None:
            items.append(Stale(None, verdict))
    if channel == "ticker":
        when = time.monotonic() if received_at is None else received_at
        stamp = _ENVELOPE.optional_rfc3339(message, "timestamp")
        for event in _events(message):
            for item in event.get("tickers") or ():
                try:
                    items.append(parse_ticker(item, stamp, when))
                except BrokerProtocolError as exc:
                    items += bad_item(exc, _product(item))
    elif channel == "market_trades":
        when = time.monotonic() if received_at is None else received_at
        for event in _events(message):
            for item in event.get("trades") or ():
                try:
                    items.append(parse_market_trade(item, when))
                except BrokerProtocolError as exc:
                    items += bad_item(exc, _product(item))
    return items


def _events(message: dict[str, Any]) -> list[dict[str, Any]]:
    events = _ENVELOPE.array(message, "events")
    return [event for event in events if type(event) is dict]


def _product(item: Any) -> str | None:
    value = item.get("product_id") if isinstance(item, dict) else None
    return value if isinstance(value, str) and value else None


class CoinbaseMarketData(SymbolFeed[str | bytes]):
    """Coinbase public market-data feed (``CoinbaseAdapter.open_market_data``).

    Args:
        settings: ``market_data_url`` overrides the host; ``heartbeat_timeout`` and
            ``reconnect_*`` as for the user stream.
        instruments: The adapter's listed products (checked before subscribing).
        trades: Also stream ``market_trades``.
        telemetry: The adapter's telemetry, looked up on every report.
    """

    def __init__(
        self,
        settings: CoinbaseSettings,
        *,
        instruments: Instruments,
        trades: bool = False,
        telemetry: Callable[[], AdapterTelemetry] | None = None,
    ) -> None:
        super().__init__(
            name="coinbase-market-data",
            broker=BROKER,
            instruments=instruments,
            heartbeat=Heartbeat(silence=settings.heartbeat_timeout),
            policy=RetryPolicy(
                max_attempts=1,
                base_delay=settings.reconnect_initial_delay,
                max_delay=settings.reconnect_max_delay,
                jitter=0.5,
            ),
            telemetry=telemetry,
        )
        self.url = settings.market_data_url or MARKET_DATA_URL
        self.trades = trades
        self._sequence = SequenceTracker()

    def make_carrier(self, symbols: frozenset[str]) -> Carrier[str | bytes]:
        """A WebSocket to the market-data host; the sequence count starts again with it."""
        self._sequence = SequenceTracker()
        return WebSocketCarrier(self.url, broker=BROKER)

    def connection_frames(self) -> list[str | bytes]:
        """``heartbeats`` (no products): keeps quiet channels open and proves the connection alive."""
        return [_request("subscribe", "heartbeats", None)]

    def subscribe_frames(self, symbols: Collection[str]) -> list[str | bytes]:
        """One subscribe message per channel (``ticker``, plus ``market_trades`` when asked)."""
        return [_request("subscribe", channel, symbols) for channel in self._channels()]

    def unsubscribe_frames(self, symbols: Collection[str]) -> list[str | bytes]:
        """One unsubscribe message per channel."""
        return [_request("unsubscribe", channel, symbols) for channel in self._channels()]

    def decode(self, frame: str | bytes) -> list[MarketData]:
        """One frame → quotes, trades and gap markers (bad items reported and skipped)."""
        try:
            return parse_market_message(frame, sequence=self._sequence, bad_item=self.bad_item)
        except BrokerProtocolError as exc:
            return self.bad_item(exc, None)

    def _channels(self) -> list[str]:
        return ["ticker", "market_trades"] if self.trades else ["ticker"]


def _request(kind: str, channel: str, symbols: Collection[str] | None) -> str:
    message: dict[str, Any] = {"type": kind}
    if symbols is not None:
        message["product_ids"] = sorted(symbols)
    message["channel"] = channel
    return json.dumps(message, separators=(",", ":"))
