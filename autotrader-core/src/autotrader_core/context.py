"""The :class:`~autotrader_core.strategy.StrategyContext` the engine hands to its strategy."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from autotrader_core.adapter import BrokerAdapter
from autotrader_core.market_data import PriceCache, Quote
from autotrader_core.market_feed import MarketFeed
from autotrader_core.models import Balance, Instrument, Order, Position, utc_now
from autotrader_core.oms import OrderManager
from autotrader_core.risk import RiskChecks

__all__ = ["EngineContext"]


class EngineContext:
    """Read-only view of the market, the OMS and the instrument rules for a strategy.

    Args:
        adapter: Source of last prices.
        oms: Source of positions and open orders.
        risk: Source of instrument rules.
        balances: Returns the balances as last fetched from the broker.
        prices: The engine's price cache (none: prices come from the adapter alone).
        market: The engine's market-data task (whether the adapter has a feed).
    """

    def __init__(
        self,
        adapter: BrokerAdapter,
        oms: OrderManager,
        risk: RiskChecks,
        balances: Callable[[], list[Balance]],
        *,
        prices: PriceCache | None = None,
        market: MarketFeed | None = None,
    ) -> None:
        self._prices = prices
        self._feed = market is not None and market.available
        self._adapter = adapter
        self._oms = oms
        self._risk = risk
        self._balances = balances

    @property
    def now(self) -> datetime:
        """Current UTC time."""
        return utc_now()

    def last_price(self, symbol: str) -> Decimal | None:
        """The last trade (if fresh) else the quote's mid; the adapter's own price without a feed."""
        if self._feed and self._prices is not None:
            reading = self._prices.last_price(symbol)
            return None if reading is None else reading.price
        return self._adapter.last_price(symbol)

    def quote(self, symbol: str) -> Quote | None:
        """The latest fresh best bid/ask of ``symbol`` (``None`` when stale or never quoted)."""
        prices = self._prices
        if prices is None or not prices.is_fresh(symbol):
            return None
        return prices.quote(symbol)

    def price_age(self, symbol: str) -> float | None:
        """Seconds since ``symbol``'s latest quote arrived (``None``: never quoted)."""
        return None if self._prices is None else self._prices.age(symbol)

    def position(self, symbol: str) -> Position:
        """Net position in ``symbol``."""
        return self._oms.position(symbol)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Orders still working."""
        return self._oms.open_orders(symbol)

    def instrument(self, symbol: str) -> Instrument | None:
        """Trading rules of ``symbol``."""
        return self._risk.instrument(symbol)

    def balances(self) -> list[Balance]:
        """Balances as last fetched from the broker."""
        return list(self._balances())
