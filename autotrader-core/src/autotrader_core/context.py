"""The :class:`~autotrader_core.strategy.StrategyContext` the engine hands to its strategy."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from autotrader_core.adapter import BrokerAdapter
from autotrader_core.market_data import PriceCache, Quote
from autotrader_core.market_feed import MarketFeed
from autotrader_core.models import Balance, Instrument, Order, Position, utc_now
from autotrader_core.oms import OrderManager
from autotrader_core.risk import RiskChecks

__all__ = ["EngineContext", "OrderActions"]


class OrderActions(Protocol):
    """The engine's public cancel and modify (``ExecutionEngine`` provides them)."""

    async def cancel_order(self, order: Order | str) -> Order:
        """Ask the broker to cancel ``order``."""
        ...

    async def modify_order(
        self,
        order: Order | str,
        *,
        quantity: Decimal | int | str | None = None,
        limit_price: Decimal | int | str | None = None,
        stop_price: Decimal | int | str | None = None,
    ) -> Order:
        """Change a working order's quantity and/or prices."""
        ...


class EngineContext:
    """The strategy's view of the market, the OMS and the instrument rules, plus
    :meth:`cancel` and :meth:`modify` for its orders (through :attr:`order_actions`).

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
        self.order_actions: OrderActions | None = None
        """Where :meth:`cancel` and :meth:`modify` go (the engine sets itself)."""

    @property
    def now(self) -> datetime:
        """Current UTC time."""
        return utc_now()

    def last_price(self, symbol: str) -> Decimal | None:
        """The last trade (if fresh) else the quote's mid; the adapter's own price without a feed."""
        prices = self._prices
        if self._feed and prices is not None and symbol in prices.known:
            reading = prices.last_price(symbol)
            return None if reading is None else reading.price  # stale: no price, never an old one
        return self._adapter.last_price(symbol)  # not on the feed: the adapter's own (paper's simulated)

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

    async def cancel(self, order: Order | str) -> Order:
        """Ask the broker to cancel ``order`` (an :class:`Order` or its client order id).

        Returns the order, ``pending_cancel`` until the broker confirms; see
        :meth:`~autotrader_core.engine.ExecutionEngine.cancel_order` for the errors.
        """
        return await self._actions().cancel_order(order)

    async def modify(
        self,
        order: Order | str,
        *,
        quantity: Decimal | int | str | None = None,
        limit_price: Decimal | int | str | None = None,
        stop_price: Decimal | int | str | None = None,
    ) -> Order:
        """Change a working order's quantity and/or prices (native or cancel/replace).

        See :meth:`~autotrader_core.engine.ExecutionEngine.modify_order` for the errors.
        """
        return await self._actions().modify_order(
            order, quantity=quantity, limit_price=limit_price, stop_price=stop_price
        )

    def _actions(self) -> OrderActions:
        if self.order_actions is None:
            raise RuntimeError("this context is not attached to an engine")
        return self.order_actions
