"""Ctrl-C and SIGTERM during :meth:`RemoteEngine.run`: this strategy stops, the account trades on.

The in-process default (:mod:`autotrader_core.shutdown`) with one difference: a strategy
connected through the account gateway shares the account with other strategies, so a signal
stops **only this strategy**. Its decision loop stops (a cycle in flight finishes first, so
no order is left with an unknown outcome), the orders it owns are cancelled through the
gateway, positions (the account's) are left as they are, and a summary is printed. The
account is never halted and its kill switch is never engaged: the trading-state bucket stays
as it was and the other strategies keep trading. Halting or killing the account is the
gateway's business (``autotrader kill`` / the ``kill`` key of the state bucket).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

__all__ = ["RemoteShutdownReport"]


@dataclass(slots=True)
class RemoteShutdownReport:
    """What a signal did to a remote strategy."""

    signal: str
    owner: str
    account: str
    canceled: list[str] = field(default_factory=list)
    """Client order ids of this strategy's orders confirmed cancelled."""
    still_open: list[str] = field(default_factory=list)
    """Orders whose cancel failed or is not confirmed: check them at the broker."""
    positions: dict[str, Decimal] = field(default_factory=dict)
    """The account's positions left as they are (symbol → quantity)."""

    def describe(self) -> str:
        """The lines printed to the user."""
        lines = [
            f"autotrader: {self.signal} received: strategy {self.owner!r} stopped; "
            f"account {self.account} NOT halted (other strategies keep trading)."
        ]
        lines.append(
            f"  cancelled {len(self.canceled)} open order(s) of this strategy"
            + (f": {', '.join(self.canceled)}" if self.canceled else "")
        )
        if self.still_open:
            lines.append(f"  NOT confirmed cancelled (check at the broker): {', '.join(self.still_open)}")
        if self.positions:
            left = ", ".join(f"{symbol} {quantity}" for symbol, quantity in sorted(self.positions.items()))
            lines.append(f"  account positions left as they are: {left}")
        else:
            lines.append("  no open positions")
        return "\n".join(lines)
