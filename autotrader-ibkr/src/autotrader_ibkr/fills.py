"""Join execDetails and commissionReport per execution into one core ``Fill``, once.

An execution is identified by its execId without the part after the last ``.``
(:func:`~autotrader_ibkr.parsing.exec_base`): IBKR documents that a correction repeats
the execution with only that part changed, so a correction *replaces* the execution it
corrects (held, or already released) instead of adding a second fill. The fill's
``trade_id`` is that base id, stable across corrections and restarts.

TWS reports a trade in two messages: ``execDetails`` (price, size, order) and
``commissionReport`` (fee), keyed by ``execId``. They normally come in that order
with other messages between, but after a reconnect both are sent again in answer
to ``reqExecutions``, and nothing in the protocol forbids the commission first.
The joiner holds whichever half arrives first and releases the fill when both
are in, exactly once per execId for the life of the adapter, so repeats after a
reconnect never reach the OMS twice.

If a commission never comes, :meth:`FillJoiner.flush` releases the held fill
without a fee after a timeout (the adapter schedules it): a fill without its fee
is recoverable, a lost fill is not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from autotrader_core.enums import Liquidity, OrderSide
from autotrader_core.models import ZERO, Fill

from autotrader_ibkr.parsing import BROKER, CommissionRecord, ExecutionRecord, exec_base

__all__ = ["FillJoiner", "fill_from"]

_LIQUIDITY = {1: Liquidity.MAKER, 2: Liquidity.TAKER}  # lastLiquidity: 1 added, 2 removed, 3 routed out


def fill_from(
    execution: ExecutionRecord, commission: CommissionRecord | None, *, symbol: str, client_order_id: str
) -> Fill:
    """Build a core fill from the two TWS halves (commission optional)."""
    return Fill(
        trade_id=execution.base_id,
        client_order_id=client_order_id,
        symbol=symbol,
        side=OrderSide.BUY if execution.side == "BOT" else OrderSide.SELL,
        quantity=execution.shares,
        price=execution.price,
        fee=commission.commission if commission is not None else ZERO,
        fee_currency=commission.currency if commission is not None else "",
        liquidity=_LIQUIDITY.get(execution.last_liquidity, Liquidity.UNKNOWN),
        timestamp=execution.time,
        # The TWS orderId (what cancel/modify use), consistent with OrderAccepted.broker_order_id.
        broker_order_id=str(execution.order_id),
        broker=BROKER,
    )


@dataclass
class FillJoiner:
    """Pairs execution and commission halves; each execId yields its fill once.

    Args:
        resolve: Maps an execution to ``(symbol, client_order_id)``.
    """

    resolve: Callable[[ExecutionRecord], tuple[str, str]]
    _executions: dict[str, ExecutionRecord] = field(default_factory=dict)
    _commissions: dict[str, CommissionRecord] = field(default_factory=dict)
    _released: set[str] = field(default_factory=set)

    def is_released(self, exec_id: str) -> bool:
        """Whether this execution's fill (any revision of it) has already been handed out."""
        return exec_base(exec_id) in self._released

    def pending(self) -> list[str]:
        """Executions (base ids) whose execution arrived but whose commission has not."""
        return [e for e in self._executions if e not in self._commissions and e not in self._released]

    def on_execution(self, record: ExecutionRecord) -> Fill | None:
        """Feed an execDetails (a correction replaces the held one); returns the fill when complete."""
        base = record.base_id
        if base in self._released:
            return None
        self._executions[base] = record
        return self._release(base)

    def on_commission(self, record: CommissionRecord) -> Fill | None:
        """Feed a commissionReport; returns the fill when its execution is already known."""
        base = exec_base(record.exec_id)
        if base in self._released:
            return None
        self._commissions[base] = record
        return self._release(base)

    def flush(self, exec_id: str) -> Fill | None:
        """Release a held execution without its commission (the commission timed out)."""
        base = exec_base(exec_id)
        if base in self._released or base not in self._executions:
            return None
        return self._build(base, None)

    def _release(self, exec_id: str) -> Fill | None:
        if exec_id in self._executions and exec_id in self._commissions:
            return self._build(exec_id, self._commissions.pop(exec_id))
        return None

    def _build(self, exec_id: str, commission: CommissionRecord | None) -> Fill:
        execution = self._executions.pop(exec_id)
        self._released.add(exec_id)
        symbol, client_order_id = self.resolve(execution)
        return fill_from(execution, commission, symbol=symbol, client_order_id=client_order_id)

    def known_fill(self, exec_id: str) -> ExecutionRecord | None:
        """The held (unreleased) execution for ``exec_id`` (any revision), if any."""
        return self._executions.get(exec_base(exec_id))
