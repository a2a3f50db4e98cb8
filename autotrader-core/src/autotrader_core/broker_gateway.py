"""The broker gateway: every call the engine makes to its adapter.

Each request goes through the circuit breaker and, where it is safe (idempotent
requests only: lookups, cancels, listings), the retry policy; transport trouble is
counted per operation (:class:`FailureTracker`), a request that fails for good is
dead-lettered. Submits and modifies are not idempotent: they go through the
:class:`~autotrader_core.resolver.OutcomeResolver` (:attr:`BrokerGateway.resolver`), the
one place that settles an unknown outcome. The "look the order up, then settle it from
the broker's answer" of cancels and reconciliation is :meth:`BrokerGateway.look_up_and_settle`.

An unknown outcome is never guessed: an order whose outcome is unknown stays open
until the broker's answer (a query report, the stream) or an operator settles it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from functools import partial
from typing import TypeVar

from autotrader_core.adapter import BrokerAdapter, OrderChange
from autotrader_core.enums import OrderStatus
from autotrader_core.errors import (
    OrderNotFound,
    TransientError,
)
from autotrader_core.events import OrderFilled, OrderRejected
from autotrader_core.models import Order, OrderReport, utc_now
from autotrader_core.notifier import Notifier
from autotrader_core.order_flow import OrderFlow
from autotrader_core.resiliency import (
    CircuitBreaker,
    DeadLetter,
    DeadLetterQueue,
    FailureTracker,
    RetryPolicy,
    retry,
)
from autotrader_core.resiliency.failures import TRANSPORT_FAILURES
from autotrader_core.resolver import NEVER_ARRIVED_CODE, OutcomeResolver

__all__ = ["NEVER_ARRIVED_CODE", "BrokerGateway", "LookupResult", "UnsentRule"]

logger = logging.getLogger("autotrader_core.engine")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class UnsentRule:
    """How to close a never-acknowledged order the broker does not know: as rejected, with this reason and code."""

    reason: str
    code: str


class LookupResult(StrEnum):
    """How :meth:`BrokerGateway.look_up_and_settle` ended."""

    SETTLED = "settled"
    """The broker answered with a report; the order was settled from it."""
    CLOSED_UNSENT = "closed_unsent"
    """The broker does not know a never-acknowledged order: closed as rejected (:class:`UnsentRule`)."""
    UNKNOWN = "unknown"
    """The broker does not know the order and no rule closes it: left as it is, for review."""


Settle = Callable[[Order, OrderReport], Awaitable[None]]


class BrokerGateway:
    """Every request to one adapter: breaker, retry, failure tracking, dead letters, settling.

    Args:
        adapter: The broker adapter.
        flow: Where the broker's answers are applied (journal, OMS, fan-out).
        notifier: Alerts.
        retry_policy: Retries for retryable failures (submissions keep their client order id).
        breaker: Circuit breaker around every request.
        failures: Transport-level outcomes per operation.
        dead_letters: Where operations that failed for good go.
        order_timeout: Seconds after which an unconfirmed order is queried; also how long a
            submit or modify whose outcome is unknown keeps resolving before it returns.
    """

    def __init__(
        self,
        adapter: BrokerAdapter,
        *,
        flow: OrderFlow,
        notifier: Notifier,
        retry_policy: RetryPolicy,
        breaker: CircuitBreaker,
        failures: FailureTracker,
        dead_letters: DeadLetterQueue,
        order_timeout: float,
    ) -> None:
        self.adapter = adapter
        self.flow = flow
        self.notifier = notifier
        self.retry_policy = retry_policy
        self.breaker = breaker
        self.failures = failures
        self.dead_letters = dead_letters
        self.order_timeout = order_timeout
        self._reported_unknown: set[str] = set()
        self.resolver = OutcomeResolver(self, settle_wait=order_timeout, max_backoff=max(order_timeout, 1.0))
        """The one resolver of unknown submit/modify outcomes."""

    # -- requests -----------------------------------------------------------------------------
    async def call(self, operation: str, fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``fn`` (an idempotent request) through the breaker and the retry policy, tracked
        as :meth:`track` does (written out: a kill switch makes thousands of these calls)."""
        try:
            result = await self.breaker.call(partial(retry, fn, self.retry_policy))
        except TRANSPORT_FAILURES:
            self.failures.record_failure(operation)
            raise
        self.failures.record_success(operation)
        return result

    async def track(self, operation: str, fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``fn`` and count its transport-level outcome under ``operation``.

        Only transport trouble counts as a failure: a broker's refusal is a healthy answer.
        """
        try:
            result = await fn()
        except TRANSPORT_FAILURES:
            self.failures.record_failure(operation)
            raise
        self.failures.record_success(operation)
        return result

    def dead_letter(self, operation: str, order: Order, error: BaseException) -> None:
        """Keep an operation that failed for good for a human (and the journal)."""
        self.dead_letters.put(DeadLetter.from_error(operation, order, error))

    async def send(self, order: Order) -> Order:
        """Send a recorded order and apply the answer; an unknown outcome goes to :attr:`resolver`.

        Raises:
            CircuitOpen: not sent; the order is closed as rejected.
            BrokerError / InvalidOrder: the broker proved it refused the order; closed as
                rejected and dead-lettered.
            TransientError: the outcome is still unknown; the order stays open and
                unknown (alerted, dead-lettered) until the resolver settles it.
        """
        return await self.resolver.submit(order)

    async def cancel(self, order: Order) -> Order:
        """Send a cancel (the order is already pending-cancel) and apply the answer.

        A broker that no longer knows the order is asked about it, never guessed.
        """
        try:
            events = await self.call("cancel", partial(self.adapter.cancel_order, order))
        except OrderNotFound:
            # Gone at the broker: filled or canceled already. Ask, don't guess.
            await self.settle_stale(order)
            return order
        except TransientError as exc:
            self.dead_letter("cancel", order, exc)
            raise
        await self.flow.apply_all(events)
        return order

    async def modify(self, order: Order, change: OrderChange) -> Order:
        """Send a modify (the order is already pending-modify) through :attr:`resolver`: never retried blindly."""
        return await self.resolver.modify(order, change)

    # -- settling from the broker's answer -------------------------------------------------------
    async def settle_from_report(self, order: Order, report: OrderReport) -> None:
        """Bring ``order`` to the state the broker reports, fetching fills it is missing."""
        flow = self.flow
        seq = None if flow.journal is None else await flow.journal_event(report)
        _, events = flow.oms.report_events(report)
        for event in events:  # through apply: hooks, logs and callbacks see report-settled changes too
            await flow.apply(event, journal=False, journal_seq=seq)  # the report itself is journaled above
        if flow.oms.missing_fill_quantity(order, report) > 0:
            await self.catch_up_fills(order)

    async def catch_up_fills(self, order: Order) -> None:
        """Fetch and apply the fills of ``order`` the broker reports but the OMS lacks."""
        adapter = self.adapter
        if not adapter.capabilities.fill_history:
            self.notifier.alert(
                "warning", f"broker reports fills for {order.client_order_id} we cannot fetch"
            )
            return
        fills = await self.call(
            "get_fills",
            lambda: adapter.get_fills(symbol=order.symbol, since=order.created_at - timedelta(minutes=1)),
        )
        for fill in fills:
            if fill.client_order_id == order.client_order_id or (
                order.broker_order_id is not None and fill.broker_order_id == order.broker_order_id
            ):
                await self.flow.apply(OrderFilled(fill))

    async def look_up(self, order: Order) -> OrderReport:
        """The broker's report of ``order`` (``get_order``, through breaker and retry).

        Raises:
            OrderNotFound: the broker does not know it.
        """
        return await self.call(
            "get_order",
            lambda: self.adapter.get_order(
                symbol=order.symbol,
                client_order_id=order.client_order_id,
                broker_order_id=order.broker_order_id,
            ),
        )

    async def look_up_and_settle(
        self, order: Order, *, unsent: UnsentRule | None = None, settle: Settle | None = None
    ) -> LookupResult:
        """Ask the broker about ``order`` and settle it from the answer; never guess.

        Args:
            unsent: When the broker does not know a never-acknowledged (pending-submit)
                order, close it as rejected with this reason and code. ``None``: leave it.
            settle: How to settle from a report (default :meth:`settle_from_report`).

        Raises:
            AutotraderError: the query itself failed (other than ``OrderNotFound``).
        """
        try:
            report = await self.look_up(order)
        except OrderNotFound:
            if unsent is not None and order.status is OrderStatus.PENDING_SUBMIT:
                await self.flow.apply(
                    OrderRejected(order.client_order_id, reason=unsent.reason, code=unsent.code)
                )
                return LookupResult.CLOSED_UNSENT
            return LookupResult.UNKNOWN
        await (settle or self.settle_from_report)(order, report)
        return LookupResult.SETTLED

    async def settle_stale(self, order: Order, *, timed_out: bool = False) -> None:
        """Look up an order the engine is unsure about and settle it, alerting what is left open.

        A pending submit or modify (``timed_out``: it waited a full ``order_timeout``) is
        the resolver's: one pass of :meth:`OutcomeResolver.resolve`, which never closes an
        order by guessing (see :mod:`autotrader_core.resolver`).
        """
        if timed_out and order.status in (OrderStatus.PENDING_SUBMIT, OrderStatus.PENDING_MODIFY):
            await self.resolver.resolve(order)
            return
        result = await self.look_up_and_settle(order)
        if result is LookupResult.UNKNOWN and order.client_order_id not in self._reported_unknown:
            self._reported_unknown.add(order.client_order_id)
            self.notifier.alert(
                "warning",
                f"order {order.client_order_id} ({order.status.value}) is unknown at the broker; left for review",
            )

    async def settle_unlisted(self, *, grace: float = 0.0) -> int:
        """Settle orders we think are working but the broker no longer lists (see ``reconcile_open_orders``)."""
        reports = await self.call("get_open_orders", lambda: self.adapter.get_open_orders())
        await self.resolver.reconcile(reports)
        listed = {r.client_order_id for r in reports} | {r.broker_order_id for r in reports}
        cutoff = utc_now() - timedelta(seconds=grace)
        working = (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)
        missing = [
            o
            for o in self.flow.oms.open_orders()
            if o.status in working
            and o.updated_at <= cutoff
            and o.client_order_id not in listed
            and (o.broker_order_id is None or o.broker_order_id not in listed)
        ]
        for order in missing:
            await self.settle_stale(order)
        return len(missing)
