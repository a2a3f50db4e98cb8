"""What the control plane needs besides the engine's control seam, to serve a whole account.

An in-process engine needs nothing more: :class:`~autotrader_core.control.EngineControl`
performs the trading-state actions itself and every order belongs to its one strategy.
A gateway serving many strategy processes (``autotrader-nats``) hands the control plane
two more things:

* a :class:`TradingStateActions` that performs halt, reducing-only, resume and kill for
  the whole account (the gateway's trading-state path, which every process watches),
  instead of only on the local engine;
* an :data:`OrderOwners` lookup naming the strategy that owns each order, so one page
  shows every strategy's orders with their owner.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from autotrader_core.kill_switch import KillReport

__all__ = ["OrderOwners", "TradingStateActions"]

OrderOwners = Callable[[str], str | None]
"""Client order id -> the name of the strategy that owns it (``None`` when not known)."""


class TradingStateActions(Protocol):
    """Performs the account-wide trading-state actions, each audited with its ``actor``.

    :class:`~autotrader_core.control.EngineControl` is one (the local engine); an account
    gateway provides one that also reaches every process of the account.
    """

    async def halt(self, *, actor: str, reason: str = "") -> None:
        """Stop every new order until a resume."""
        ...

    async def reducing_only(self, *, actor: str, reason: str = "") -> None:
        """Accept only orders that shrink a position."""
        ...

    async def resume(self, *, actor: str) -> None:
        """Set trading back to active (raises ``InvalidOrder`` once the kill switch has run)."""
        ...

    async def kill(self, *, actor: str, reason: str = "operator") -> KillReport:
        """Engage the kill switch: cancel all, flatten, halt, disconnect, alert."""
        ...
