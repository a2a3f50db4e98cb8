"""The :class:`~autotrader_core.strategy.StrategyContext` the engine hands to its strategy."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from autotrader_core.adapter import BrokerAdapter
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
    """

    def __init__(
        self,
        adapter: BrokerAdapter,
        oms: OrderManager,
        risk: RiskChecks,
        balances: Callable[[], list[Balance]],
    ) -> None:
        self._adapter = adapter
        self._oms = oms
        self._risk = risk
        self._balances = balances

    @property
    def now(self) -> datetime:
        """Current UTC time."""
        return utc_now()

    def last_price(self, symbol: str) -> Decimal | None:
        """Latest price the adapter saw for ``symbol``."""
        return self._adapter.last_price(symbol)

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
