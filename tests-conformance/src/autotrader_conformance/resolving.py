"""Send a submit the way the engine does: through its resolver of unknown outcomes.

The kit's fault scenarios plan a fault on one submit and check what comes of it. What
production does with a submit whose reply was lost is
:meth:`ExecutionEngine.submit_order <autotrader_core.engine.ExecutionEngine.submit_order>` →
:meth:`BrokerGateway.send <autotrader_core.broker_gateway.BrokerGateway.send>` →
:class:`~autotrader_core.resolver.OutcomeResolver` (look the order up by client order id; re-send
only when the adapter's declared re-send guarantee makes it safe). :class:`ResolvingSubmitter`
runs that same path on an engine that is built but not started (no background tasks, no
stream, no risk checks), so a scenario tests what a user's engine would do with the fault
without recording the engine's start-up traffic.

Usage::

    submitter = ResolvingSubmitter(adapter, policy)
    order = await submitter.submit(session.order())   # settled, or raises
    submitter.oms                                     # the engine's OMS, holding the order
"""

from __future__ import annotations

from autotrader_core.adapter import BrokerAdapter
from autotrader_core.engine import ExecutionEngine
from autotrader_core.models import Order
from autotrader_core.oms import OrderManager
from autotrader_core.resiliency import RetryPolicy
from autotrader_core.resolver import UnknownOutcome
from autotrader_core.settings import EngineSettings

__all__ = ["ResolvingSubmitter"]


class ResolvingSubmitter:
    """The engine's submit path (gateway and resolver) for one adapter, without a running engine.

    Args:
        adapter: The adapter under test (connected by the caller).
        policy: The engine's retry policy: ``max_attempts`` bounds the resolver's lookups
            while the caller waits, its backoff spaces them.
        settle_wait: The engine's ``order_timeout``: how long a submit whose outcome is
            unknown keeps resolving before it raises ``TransientError`` (the order then
            stays open and unknown, as in a running engine).
    """

    def __init__(self, adapter: BrokerAdapter, policy: RetryPolicy, *, settle_wait: float = 10.0) -> None:
        self.engine = ExecutionEngine(
            adapter, retry_policy=policy, settings=EngineSettings(order_timeout=settle_wait)
        )

    @property
    def oms(self) -> OrderManager:
        """The engine's order manager (every answer of the broker is applied to it)."""
        return self.engine.oms

    async def submit(self, order: Order) -> Order:
        """Record ``order`` as the engine does (intent first) and send it through the resolver.

        Returns the order, settled from the broker's answer or its lookup.

        Raises:
            BrokerError / InvalidOrder: the broker proved it refused the order (closed as rejected).
            TransientError: its outcome is still unknown after ``settle_wait`` (left open and unknown).
        """
        if self.engine.oms.get(order.client_order_id) is None:
            await self.engine.flow.record_intent(order)
        return await self.engine.gateway.send(order)

    def unknown(self) -> list[UnknownOutcome]:
        """The orders whose outcome the resolver still holds as unknown."""
        return self.engine.gateway.resolver.outcomes()
