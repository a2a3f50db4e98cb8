"""Fault injection: make the next call(s) of one adapter operation fail on purpose.

The conformance and fault suites use it to prove that the layers above cope
with a broker that times out, is down, rate-limits, or loses a reply::

    adapter.faults.fail_next("submit", BrokerUnavailable("down"), after_apply=True)

``after_apply=False`` (default): the request never arrived; nothing changes.
``after_apply=True``: the broker applied the request but the reply was lost;
the events the reply would have carried still arrive on ``stream_events()``,
as a real broker's private stream would report them.

``drop_stream()`` cuts the private stream's (simulated) connection: events in
flight are lost, and the stream reconnects by itself with a catch-up from the
fill history, the way a real adapter recovers (duplicates are possible; the OMS
de-duplicates fills on their trade id).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from autotrader_core.errors import AutotraderError, BrokerUnavailable

__all__ = ["OPERATIONS", "FaultInjector", "InjectedFault"]

OPERATIONS = frozenset(
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
"""Operation names accepted by :meth:`FaultInjector.fail_next`."""


@dataclass(frozen=True, slots=True)
class InjectedFault:
    """One planned failure."""

    operation: str
    error: AutotraderError
    after_apply: bool


class FaultInjector:
    """Queues of planned failures, one queue per operation, used first-in first-out."""

    def __init__(self) -> None:
        self._planned: dict[str, deque[InjectedFault]] = {}
        self.stream_drops = 0
        """Stream drops requested and not yet carried out by ``stream_events()``."""
        self.on_drop: Callable[[], None] | None = None
        """Called by :meth:`drop_stream` (the adapter wakes its stream with it)."""

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
            operation: One of :data:`OPERATIONS` (``"submit"``, ``"cancel"``, ``"get_order"``...).
            error: What to raise; default ``BrokerUnavailable``. Use ``RequestTimeout`` for an
                unknown outcome, ``RateLimited(retry_after=...)`` for throttling.
            after_apply: True when the broker carried out the request and only the reply is lost.
            times: How many consecutive calls fail.
        """
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}; choose from {sorted(OPERATIONS)}")
        if times < 1:
            raise ValueError("times must be at least 1")
        if error is None:
            error = BrokerUnavailable(
                f"injected fault: paper broker unavailable ({operation})", broker="paper"
            )
        queue = self._planned.setdefault(operation, deque())
        queue.extend(InjectedFault(operation, error, after_apply) for _ in range(times))

    def drop_stream(self) -> None:
        """Cut the stream connection once: in-flight events are lost, then caught up after reconnect."""
        self.stream_drops += 1
        if self.on_drop is not None:
            self.on_drop()

    def take(self, operation: str) -> InjectedFault | None:
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
        return sum(len(q) for q in self._planned.values())

    def clear(self, operation: str | None = None) -> None:
        """Forget planned failures (of one operation, or all)."""
        if operation is None:
            self._planned.clear()
        else:
            self._planned.pop(operation, None)

    def __bool__(self) -> bool:
        return bool(self._planned)
