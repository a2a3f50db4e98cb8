"""The engine's market-data task: the adapter's public feed into the price cache.

The engine subscribes the symbols its strategy declares (``Strategy.symbols``) and any
symbol given to :meth:`MarketFeed.subscribe`, seeds each with the adapter's REST snapshot
(``get_quote``), then keeps :class:`~autotrader_core.market_data.PriceCache` current from
the stream, calling the strategy's ``on_quote`` per quote. An adapter without the
``quotes`` capability has no feed: prices then come from ``adapter.last_price`` (the
paper broker's simulated quote), as before.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from decimal import Decimal

import anyio

from autotrader_core.adapter import BrokerAdapter
from autotrader_core.enums import OrderSide
from autotrader_core.errors import AutotraderError, UnsupportedFeature
from autotrader_core.market_data import MarketDataFeed, PriceCache, Quote

__all__ = ["MarketFeed"]

logger = logging.getLogger("autotrader_core.engine")

SNAPSHOT_TIMEOUT = 5.0
"""Seconds a REST snapshot may take before the price counts as missing."""


class MarketFeed:
    """Feeds ``prices`` from ``adapter``'s public market data while :meth:`run` runs.

    Args:
        adapter: The broker adapter (its ``quotes`` capability decides whether there is a feed).
        prices: The engine's price cache.
        alert: Called with a message when the feed fails (the engine's alert).
        on_quote: Awaited with every fresh quote (the strategy's callback), guarded.
    """

    def __init__(
        self,
        adapter: BrokerAdapter,
        prices: PriceCache,
        *,
        alert: Callable[[str], None],
        on_quote: Callable[[Quote], Awaitable[None]] | None = None,
    ) -> None:
        self._adapter = adapter
        self._prices = prices
        self._alert = alert
        self._on_quote = on_quote
        self._symbols: set[str] = set()
        self._feed: MarketDataFeed | None = None
        self._scope = anyio.CancelScope()

    @property
    def available(self) -> bool:
        """Whether the adapter offers market data."""
        return bool(self._adapter.capabilities.quotes)

    @property
    def symbols(self) -> frozenset[str]:
        """The symbols asked for so far."""
        return frozenset(self._symbols)

    async def subscribe(self, symbols: Collection[str]) -> None:
        """Add ``symbols`` (a no-op without market data).

        Raises:
            InvalidOrder: a symbol the venue doesn't list (from the adapter's feed).
        """
        new = [s for s in symbols if s not in self._symbols]
        if not new or not self.available:
            return
        feed = self._feed
        if feed is not None:
            await feed.subscribe(new)
        self._symbols.update(new)
        if feed is not None:
            for symbol in new:
                await self.snapshot(symbol)

    def reference_price(self, symbol: str, side: OrderSide) -> Decimal | None:
        """What an order would trade at now: the fresh ask (buy) / bid (sell) of a symbol on the feed, else
        the adapter's own price (``None`` on a live venue: the engine then fetches the REST snapshot)."""
        if symbol in self._prices.known and self.available:  # the set first: no property call off the feed
            return self._prices.reference_price(symbol, side)  # stale: None, never an old price
        return self._adapter.last_price(symbol)  # not on the feed: the adapter's own (paper's simulated)

    def missing_reason(self, symbol: str) -> str:
        """Why ``symbol`` has no usable price (for a risk refusal)."""
        if not self.available:
            return f"{self._adapter.name} offers no market data and knows no price for {symbol}"
        prices = self._prices
        return prices.stale_reason(symbol) or prices.delayed_reason(symbol) or f"no price for {symbol}"

    async def snapshot(self, symbol: str) -> Quote | None:
        """Fetch ``symbol``'s REST snapshot into the cache (``None`` if it fails or is no price)."""
        if not self.available:
            return None
        try:
            with anyio.fail_after(SNAPSHOT_TIMEOUT):
                quote = await self._adapter.get_quote(symbol)
        except (AutotraderError, TimeoutError) as exc:
            logger.warning("%s: no snapshot for %s: %s", self._adapter.name, symbol, exc)
            return None
        return quote if self._prices.update(quote) else None

    async def run(self, initial: Collection[str] = ()) -> None:
        """Subscribe ``initial`` and feed the cache until :meth:`cancel` (returns at once without market data)."""
        if not self.available:
            return
        self._symbols.update(initial)
        with self._scope:
            delay = 1.0
            while True:
                try:
                    feed = self._adapter.open_market_data(trades=self._adapter.capabilities.trades)
                except UnsupportedFeature as exc:  # declared, but not on this connection (a proxy, a sandbox)
                    logger.warning(
                        "%s: no market data (%s); prices come from the adapter", self._adapter.name, exc
                    )
                    return
                try:
                    if self._symbols:
                        await feed.subscribe(sorted(self._symbols))
                        for symbol in sorted(self._symbols):
                            await self.snapshot(symbol)
                    self._feed = feed
                    await self._consume(feed)
                except Exception as exc:  # market data must never take the engine down: alert and retry
                    self._prices.mark_stale(None, f"market data failed: {exc}")
                    self._alert(f"{self._adapter.name} market data failed: {exc}; retrying in {delay:.0f}s")
                finally:
                    self._feed = None
                    with anyio.CancelScope(shield=True):
                        await feed.aclose()
                await anyio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _consume(self, feed: MarketDataFeed) -> None:
        update = self._prices.update
        on_quote = self._on_quote
        async for item in feed.items():
            if update(item) and on_quote is not None and type(item) is Quote:
                try:
                    await on_quote(item)
                except Exception:
                    logger.exception("strategy on_quote failed for %s", item.symbol)

    def cancel(self) -> None:
        """Stop :meth:`run`."""
        self._scope.cancel()
