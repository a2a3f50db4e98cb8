"""The engine's status snapshot (``ExecutionEngine.status()`` and the ``autotrader_on_status`` hook)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = ["EngineStatus"]


@dataclass(frozen=True, slots=True)
class EngineStatus:
    """Snapshot of the engine for status displays and the ``autotrader_on_status`` hook."""

    broker: str
    connected: bool
    running: bool
    strategy: str | None
    trading_state: str
    breaker_state: str
    open_orders: int
    orders_total: int
    orders_filled: int
    orders_rejected: int
    fills_total: int
    fill_rate: float
    average_fill_latency: float | None
    filled_notional: Decimal
    commission: Decimal
    dead_letters: int
    failure_rates: dict[str, float] = field(default_factory=dict)
    positions: dict[str, Decimal] = field(default_factory=dict)
    realized_pnl: dict[str, Decimal] = field(default_factory=dict)
    quote_ages: dict[str, float | None] = field(default_factory=dict)
    """Seconds since each subscribed symbol's latest quote (``None``: never quoted)."""
    unknown_outcomes: int = 0
    """Orders whose last submit or modify has an unknown outcome (open, counted in exposure)."""
    unknown_orders: list[str] = field(default_factory=list)
    """Their client order ids, oldest first (see ``ExecutionEngine.unknown_outcomes()``)."""

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form (Decimals kept) for hooks and JSON logs."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}
