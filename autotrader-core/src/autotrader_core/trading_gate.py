"""The trading gate: whether new orders may go out (active / reducing / halted).

One object owns the state and every change goes through its methods, so "who halted
trading, and why" has one answer: the kill switch, recovery, an operator through
:class:`~autotrader_core.control.EngineControl` and the user's
:meth:`~autotrader_core.engine.ExecutionEngine.resume_trading` all call
:meth:`TradingGate.halt`, :meth:`TradingGate.reduce` or :meth:`TradingGate.resume`.
:class:`~autotrader_core.risk.RiskChecks` reads it on every order.
"""

from __future__ import annotations

import logging

from autotrader_core.enums import TradingState

__all__ = ["TradingGate"]

logger = logging.getLogger(__name__)


class TradingGate:
    """Owner of the trading state.

    ``ACTIVE``: every order the risk checks pass may go out; ``REDUCING``: only orders
    that shrink a position; ``HALTED``: nothing (protective flattens excepted).
    """

    __slots__ = ("_reason", "_state")

    def __init__(self, state: TradingState = TradingState.ACTIVE) -> None:
        self._state = TradingState(state)
        self._reason = ""

    @property
    def state(self) -> TradingState:
        """The trading state in force."""
        return self._state

    @property
    def reason(self) -> str:
        """Why the state last changed (empty when nobody said)."""
        return self._reason

    def halt(self, reason: str = "") -> None:
        """Send nothing new (protective flattens excepted) until :meth:`resume`."""
        self._set(TradingState.HALTED, reason)

    def reduce(self, reason: str = "") -> None:
        """Accept only orders that shrink a position."""
        self._set(TradingState.REDUCING, reason)

    def resume(self, reason: str = "") -> None:
        """Set trading back to ``ACTIVE``."""
        self._set(TradingState.ACTIVE, reason)

    def set(self, state: TradingState | str, reason: str = "") -> None:
        """Set ``state`` by value (``"halted"``, ...); refuses unknown states with ``ValueError``."""
        self._set(TradingState(state), reason)

    def _set(self, state: TradingState, reason: str) -> None:
        if state is not self._state:
            logger.debug("trading state %s -> %s (%s)", self._state.value, state.value, reason or "no reason")
        self._state = state
        self._reason = reason

    def __repr__(self) -> str:
        return f"<TradingGate {self._state.value}>"
