"""Planned failures for fault injection: one queue per adapter operation.

One implementation for everything that injects faults: the paper broker's
``adapter.faults`` and the conformance kit's :class:`~autotrader_conformance.faults.FaultyAdapter`
(and any adapter's own tests) use :class:`FaultQueue`::

    faults.fail_next("submit", RequestTimeout("lost"), after_apply=True)
    fault = faults.take("submit")   # the adapter asks before (and acts after) the real call

``after_apply=False``: the request never reached the broker. ``after_apply=True``:
the broker carried it out and only the reply was lost.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from autotrader_core.errors import AutotraderError, BrokerUnavailable

__all__ = ["FAULT_OPERATIONS", "FaultQueue", "PlannedFault"]

FAULT_OPERATIONS = frozenset(
    {
        "connect",
        "submit",
        "cancel",
        "modify",
        "get_order",
        "get_open_orders",
        "get_fills",
        "get_positions",
        "get_balances",
        "get_instruments",
    }
)
"""Operation names :meth:`FaultQueue.fail_next` accepts."""


@dataclass(frozen=True, slots=True)
class PlannedFault:
    """One planned failure."""

    operation: str
    error: AutotraderError
    after_apply: bool


class FaultQueue:
    """First-in first-out queues of planned failures, one per operation.

    Args:
        broker: Named in the default error (``BrokerUnavailable``) when ``fail_next`` gets none.
    """

    def __init__(self, broker: str | None = None) -> None:
        self._broker = broker
        self._planned: dict[str, deque[PlannedFault]] = {}

    def fail_next(
        self,
        operation: str,
        error: AutotraderError | None = None,
        *,
        after_apply: bool = False,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``operation`` raise ``error``.

        Args:
            operation: One of :data:`FAULT_OPERATIONS` (``"submit"``, ``"cancel"``, ``"get_order"``...).
            error: What to raise; default ``BrokerUnavailable``. Use ``RequestTimeout`` for an
                unknown outcome, ``RateLimited(retry_after=...)`` for throttling.
            after_apply: True when the broker carried out the request and only the reply is lost.
            times: How many consecutive calls fail.

        Raises:
            ValueError: for an unknown operation or ``times`` below 1.
        """
        if operation not in FAULT_OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}; choose from {sorted(FAULT_OPERATIONS)}")
        if times < 1:
            raise ValueError("times must be at least 1")
        if error is None:
            who = f"{self._broker} broker" if self._broker else "broker"
            error = BrokerUnavailable(f"injected fault: {who} unavailable ({operation})", broker=self._broker)
        queue = self._planned.setdefault(operation, deque())
        queue.extend(PlannedFault(operation, error, after_apply) for _ in range(times))

    def take(self, operation: str) -> PlannedFault | None:
        """Remove and return the next planned failure of ``operation`` (``None`` when none)."""
        queue = self._planned.get(operation)
        if not queue:
            return None
        fault = queue.popleft()
        if not queue:
            del self._planned[operation]
        return fault

    def pending(self, operation: str | None = None) -> int:
        """How many failures are still planned (for one operation, or in total)."""
        if operation is not None:
            return len(self._planned.get(operation, ()))
        return sum(len(queue) for queue in self._planned.values())

    def clear(self, operation: str | None = None) -> None:
        """Forget planned failures (of one operation, or all)."""
        if operation is None:
            self._planned.clear()
        else:
            self._planned.pop(operation, None)

    def __bool__(self) -> bool:
        return bool(self._planned)
