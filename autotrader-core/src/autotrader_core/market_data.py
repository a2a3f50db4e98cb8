"""Public market data: quotes, trades and mark prices, and the engine's price cache.

An adapter that offers market data turns its venue's public stream into
:class:`Quote`, :class:`Trade` and :class:`MarkPrice` items (Decimal throughout, the
broker's timestamp when the venue sends one, the receive time always) and yields a
:class:`Stale` item whenever prices it handed out can no longer be trusted — the
connection dropped, the feed went silent, a sequence gap. :class:`PriceCache` keeps the
latest of each per symbol and answers "what is the price, and how old is it?":

.. code-block:: python

    cache = PriceCache(max_age=5.0)
    cache.update(Quote("BTCUSDT", bid=D("64000.1"), bid_size=D("0.5"), ask=D("64000.2"), ask_size=D("1")))
    cache.reference_price("BTCUSDT", OrderSide.BUY)   # the ask: what a buy would pay
    cache.last_price("BTCUSDT")                       # last trade if the venue streams trades, else the mid

A crossed, empty or zero-size book is no price: the cache refuses it, marks the symbol
stale and reports it through ``on_alert``; it never becomes a price of zero.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol

from autotrader_core.enums import OrderSide

__all__ = [
    "MarkPrice",
    "MarketData",
    "MarketDataFeed",
    "PriceCache",
    "PriceReading",
    "Quote",
    "Stale",
    "Trade",
]

_ZERO = Decimal(0)


def _now() -> float:
    return time.monotonic()


@dataclass(frozen=True, slots=True)
class Quote:
    """Best bid and ask of one symbol.

    ``broker_time`` is the venue's timestamp when it sends one (Binance's book ticker
    has none); ``received_at`` is ``time.monotonic()`` when the frame arrived, the clock
    every age is measured on.

    ``delayed`` is true when the venue serves this symbol's quotes late on purpose (IBKR
    without a live market-data subscription: 15-20 minutes behind). Such a quote arrives
    just now but shows an old market: strategies see it (flagged), while the price cache
    gives it to no opening order unless ``EngineSettings.accept_delayed_quotes`` allows it.
    """

    symbol: str
    bid: Decimal
    bid_size: Decimal
    ask: Decimal
    ask_size: Decimal
    broker_time: datetime | None = None
    received_at: float = field(default_factory=_now)
    delayed: bool = False

    @property
    def mid(self) -> Decimal:
        """``(bid + ask) / 2``."""
        return (self.bid + self.ask) / 2

    @property
    def spread(self) -> Decimal:
        """``ask - bid``."""
        return self.ask - self.bid

    def problem(self) -> str | None:
        """Why this quote is no price (crossed, empty or zero-size book), or ``None``."""
        if self.bid <= _ZERO or self.ask <= _ZERO:
            return f"empty book for {self.symbol} (bid {self.bid}, ask {self.ask})"
        if self.bid_size <= _ZERO or self.ask_size <= _ZERO:
            return f"zero size at the top of {self.symbol}'s book (bid size {self.bid_size}, ask size {self.ask_size})"
        if self.bid >= self.ask:
            return f"crossed book for {self.symbol} (bid {self.bid} >= ask {self.ask})"
        return None


@dataclass(frozen=True, slots=True)
class Trade:
    """One public trade. ``aggressor`` is the taker's side (``None`` when the venue doesn't say)."""

    symbol: str
    price: Decimal
    size: Decimal
    aggressor: OrderSide | None
    trade_id: str
    broker_time: datetime | None = None
    received_at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class MarkPrice:
    """The venue's mark price (derivatives and margin venues)."""

    symbol: str
    price: Decimal
    broker_time: datetime | None = None
    received_at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class Stale:
    """Prices of ``symbol`` (every symbol when ``None``) can't be trusted since ``reason``.

    A feed yields it when its connection drops, it goes silent, or it detects a gap; the
    next fresh quote of a symbol makes it fresh again.
    """

    symbol: str | None
    reason: str


MarketData = Quote | Trade | MarkPrice | Stale
"""What a :class:`MarketDataFeed` yields."""


class MarketDataFeed(Protocol):
    """A public market-data subscription of one adapter (see ``BrokerAdapter.open_market_data``).

    Symbols can be added and removed while it runs; after a reconnect the adapter
    resubscribes every symbol by itself (after yielding :class:`Stale`).
    """

    async def subscribe(self, symbols: Collection[str]) -> None:
        """Start receiving ``symbols`` (venue symbols, as in ``Order.symbol``).

        Raises:
            InvalidOrder: a symbol the venue doesn't list (checked before anything is sent).
        """
        ...

    async def unsubscribe(self, symbols: Collection[str]) -> None:
        """Stop receiving ``symbols``."""
        ...

    def items(self) -> AsyncIterator[MarketData]:
        """Quotes, trades, mark prices and stale markers as they arrive, until :meth:`aclose`."""
        ...

    async def aclose(self) -> None:
        """Close the connection; safe to call twice."""
        ...


@dataclass(frozen=True, slots=True)
class PriceReading:
    """A price with where it came from and how old it is (seconds)."""

    price: Decimal
    source: Literal["trade", "mid", "mark", "ask", "bid"]
    age: float


class PriceCache:
    """Latest quote, trade and mark price per symbol, with ages and staleness.

    Args:
        max_age: A price older than this many seconds is stale (``max_quote_age``).
        on_alert: Called with a message when the cache refuses a quote (crossed,
            empty, zero-size) — once per symbol until a good quote arrives.
        clock: Monotonic seconds (tests inject one).
        accept_delayed: Let a delayed quote (``Quote.delayed``) price orders
            (``accept_delayed_quotes``); by default it prices none.
    """

    def __init__(
        self,
        *,
        max_age: float = 5.0,
        on_alert: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        accept_delayed: bool = False,
    ) -> None:
        if max_age <= 0:
            raise ValueError("max_age must be positive")
        self.max_age = max_age
        self.accept_delayed = accept_delayed
        self._on_alert = on_alert
        self._clock = clock
        self._quotes: dict[str, Quote] = {}
        self._trades: dict[str, Trade] = {}
        self._marks: dict[str, MarkPrice] = {}
        self._stale: dict[str, str] = {}
        self._refused: set[str] = set()
        self._trades_seen = False
        self._seen: set[str] = set()

    # -- writes ------------------------------------------------------------------------
    def update(self, item: MarketData) -> bool:
        """Take one feed item; returns ``False`` when a quote was refused as no price."""
        if isinstance(item, Quote):
            problem = item.problem()
            if problem is not None:
                self._quotes.pop(item.symbol, None)
                self._stale[item.symbol] = problem
                if item.symbol not in self._refused:
                    self._refused.add(item.symbol)
                    if self._on_alert is not None:
                        self._on_alert(f"no price: {problem}")
                return False
            self._quotes[item.symbol] = item
            self._seen.add(item.symbol)
            self._stale.pop(item.symbol, None)
            self._refused.discard(item.symbol)
        elif isinstance(item, Trade):
            if item.price <= _ZERO:
                return False  # a trade at zero is no price either
            self._trades[item.symbol] = item
            self._trades_seen = True
        elif isinstance(item, MarkPrice):
            if item.price > _ZERO:
                self._marks[item.symbol] = item
        else:
            self.mark_stale(item.symbol, item.reason)
        return True

    def mark_stale(self, symbol: str | None, reason: str) -> None:
        """Distrust ``symbol``'s prices (every symbol's when ``None``) until a fresh quote."""
        symbols = list(self._seen) if symbol is None else [symbol]
        for name in symbols:
            self._stale[name] = reason
            self._seen.add(name)

    # -- reads -------------------------------------------------------------------------
    def quote(self, symbol: str) -> Quote | None:
        """The latest accepted quote of ``symbol`` (fresh or not: check :meth:`age`)."""
        return self._quotes.get(symbol)

    def trade(self, symbol: str) -> Trade | None:
        """The latest public trade of ``symbol``."""
        return self._trades.get(symbol)

    def mark_price(self, symbol: str) -> MarkPrice | None:
        """The latest mark price of ``symbol``."""
        return self._marks.get(symbol)

    def age(self, symbol: str) -> float | None:
        """Seconds since ``symbol``'s latest quote arrived (``None``: never quoted)."""
        quote = self._quotes.get(symbol)
        return None if quote is None else max(0.0, self._clock() - quote.received_at)

    def stale_reason(self, symbol: str, max_age: float | None = None) -> str | None:
        """Why ``symbol`` has no fresh price (``None``: it has one)."""
        reason = self._stale.get(symbol)
        if reason is not None:
            return reason
        age = self.age(symbol)
        if age is None:
            return f"no quote for {symbol} yet"
        limit = self.max_age if max_age is None else max_age
        if age > limit:
            return f"the last quote for {symbol} is {age:.1f}s old (max {limit:g}s)"
        return None

    def is_fresh(self, symbol: str, max_age: float | None = None) -> bool:
        """Whether ``symbol`` has a quote younger than ``max_age`` and no stale marker."""
        return self.stale_reason(symbol, max_age) is None

    def delayed_reason(self, symbol: str) -> str | None:
        """Why ``symbol``'s quote prices no order although it is fresh: it is delayed (``None``: it is not)."""
        quote = self._quotes.get(symbol)
        if quote is None or not quote.delayed or self.accept_delayed:
            return None
        return (
            f"the quote for {symbol} is delayed (the venue serves no live data of it), "
            "and accept_delayed_quotes is off"
        )

    def reference_price(self, symbol: str, side: OrderSide, max_age: float | None = None) -> Decimal | None:
        """What an order would trade at now: the ask for a buy, the bid for a sell.

        ``None`` if stale, or delayed while delayed quotes are not accepted (:meth:`delayed_reason`).
        """
        if not self.is_fresh(symbol, max_age):
            return None
        quote = self._quotes[symbol]
        if quote.delayed and not self.accept_delayed:
            return None
        return quote.ask if side is OrderSide.BUY else quote.bid

    def last_price(self, symbol: str, max_age: float | None = None) -> PriceReading | None:
        """The last trade where this feed streams trades, else the quote's mid; ``None`` if stale.

        A trade is used only while the quote is fresh and the trade is no older than
        ``max_age`` either, so a quiet market falls back to the mid, not to an old print.
        """
        if not self.is_fresh(symbol, max_age):
            return None
        now = self._clock()
        limit = self.max_age if max_age is None else max_age
        trade = self._trades.get(symbol)
        if trade is not None and now - trade.received_at <= limit:
            return PriceReading(trade.price, "trade", max(0.0, now - trade.received_at))
        quote = self._quotes[symbol]
        return PriceReading(quote.mid, "mid", max(0.0, now - quote.received_at))

    @property
    def known(self) -> set[str]:
        """Symbols with a quote or a stale marker (membership test only: the feed has seen them)."""
        return self._seen

    def symbols(self) -> list[str]:
        """Every symbol with a quote, trade or stale marker."""
        return sorted(set(self._quotes) | set(self._trades) | set(self._stale))

    def delayed_symbols(self) -> list[str]:
        """Symbols whose latest quote is delayed (``Quote.delayed``), for status pages and metrics."""
        return sorted(symbol for symbol, quote in self._quotes.items() if quote.delayed)

    def ages(self) -> dict[str, float | None]:
        """Quote age per symbol (for status pages and metrics)."""
        return {symbol: self.age(symbol) for symbol in self.symbols()}
