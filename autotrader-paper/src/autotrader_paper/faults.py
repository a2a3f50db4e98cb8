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

from collections.abc import Callable

from autotrader_core.fault_plan import FAULT_OPERATIONS, FaultQueue, PlannedFault

__all__ = ["OPERATIONS", "FaultInjector", "InjectedFault"]

OPERATIONS = FAULT_OPERATIONS
"""Operation names accepted by :meth:`FaultInjector.fail_next`."""

InjectedFault = PlannedFault
"""One planned failure (the core's :class:`~autotrader_core.fault_plan.PlannedFault`)."""


class FaultInjector(FaultQueue):
    """The core's fault queue (one per operation, first-in first-out) plus stream drops."""

    def __init__(self) -> None:
        super().__init__(broker="paper")
        self.stream_drops = 0
        """Stream drops requested and not yet carried out by ``stream_events()``."""
        self.on_drop: Callable[[], None] | None = None
        """Called by :meth:`drop_stream` (the adapter wakes its stream with it)."""

    def drop_stream(self) -> None:
        """Cut the stream connection once: in-flight events are lost, then caught up after reconnect."""
        self.stream_drops += 1
        if self.on_drop is not None:
            self.on_drop()
