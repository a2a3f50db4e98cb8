"""Reads of state a test has just changed, typed as declared rather than as last narrowed.

mypy keeps an attribute's narrowed type across the call that changes it, so
``assert order.status is A; act(); assert order.status is B`` reads to it as unreachable code
(and the rest of the test goes unchecked). Reading through a function gives the declared type back.
"""

from __future__ import annotations

from autotrader_core.control import EngineControl
from autotrader_core.engine import ExecutionEngine
from autotrader_core.enums import OrderStatus, TradingState
from autotrader_core.models import Order


def status(order: Order) -> OrderStatus:
    """The order's status now."""
    return order.status


def trading_state(control: EngineControl) -> TradingState:
    """The engine's trading state now."""
    return control.trading_state


def journal_failure(engine: ExecutionEngine) -> Exception | None:
    """The journal failure that halted the engine, if any, now."""
    return engine.journal_failure
