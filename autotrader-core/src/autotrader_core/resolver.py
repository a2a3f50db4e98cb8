"""The one resolver of unknown outcomes: a submit or modify whose reply was lost.

A request that timed out, met a dropped connection or got an unreadable reply may have
executed, may still be waiting in the venue's gateway, or may never have arrived. Such
an order is **unknown**: it stays open (it counts toward exposure and the risk limits),
it is listed in ``status()``, an :class:`~autotrader_core.events.OutcomeUnknown` note is
journaled and the ``autotrader_on_outcome_unknown`` hook is called, and the resolver owns
it until the broker says what happened. Nothing else settles it by guessing: the live
submit and modify paths, the timeout watcher, recovery after a restart and the kill
switch all go through :class:`OutcomeResolver`, which works on one order at a time
under a per-client-order-id lock, so no two of them race on the same order.

One pass (:meth:`OutcomeResolver.resolve`) looks the order up by its client order id
(with backoff between passes). Found: the broker's report settles it. Not found: what
happens depends on the adapter's declared :class:`~autotrader_core.resend.ResendGuarantee`:

* ``IDEMPOTENCY_KEY`` / ``SAME_ID``: the request is sent again with the same id (the venue
  cannot double it);
* ``EXPIRY``: once the venue's clock (``adapter.venue_time()``) is provably past the
  request's stamp plus the window and a lookup *after* that still finds nothing, the
  first request can no longer execute: the caller still waiting gets a re-send, otherwise
  the order is closed as rejected (``NEVER_ARRIVED`` live, ``NEVER_SENT`` after a restart);
* ``NONE``: never re-sent, never closed by itself: it stays unknown, is looked up with
  backoff, alerted once, and settled by reconciliation (the broker's open orders and
  fills, or its stream) or by an operator (:meth:`OutcomeResolver.settle_by_hand`).

A ``DuplicateClientOrderId`` never leads to a second send. A modify whose reply was lost
keeps every possible broker order (the old id and, for cancel-replace, the replacement an
adapter names with :func:`note_replacement`) under watch until the broker says which one
lives.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import Protocol, TypeVar

import anyio

from autotrader_core.adapter import BrokerAdapter, OrderChange
from autotrader_core.enums import OrderStatus
from autotrader_core.errors import (
    AutotraderError,
    BrokerProtocolError,
    CircuitOpen,
    DuplicateClientOrderId,
    InvalidOrder,
    OrderNotFound,
    RateLimited,
    TransientError,
)
from autotrader_core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderFilled,
    OrderModifyRejected,
    OrderRejected,
    OutcomeResolved,
    OutcomeUnknown,
)
from autotrader_core.journal.base import JournalError
from autotrader_core.models import Order, OrderReport, utc_now
from autotrader_core.notifier import Notifier
from autotrader_core.order_flow import OrderFlow
from autotrader_core.resend import ResendRule
from autotrader_core.resiliency import CircuitBreaker, FailureTracker, RetryPolicy
from autotrader_core.resiliency.failures import TRANSPORT_FAILURES
from autotrader_core.resiliency.retry import Sleep, record_attempts, retry

T = TypeVar("T")

__all__ = [
    "NEVER_ARRIVED_CODE",
    "OPERATOR_CODE",
    "Gateway",
    "Operation",
    "OutcomeResolver",
    "SettleAs",
    "UnknownOutcome",
    "is_unknown_outcome",
    "note_replacement",
    "noted_replacements",
]

logger = logging.getLogger("autotrader_core.engine")

NEVER_ARRIVED_CODE = "NEVER_ARRIVED"
"""Reject code of a submit the venue provably never executed (its request expired unseen)."""
OPERATOR_CODE = "OPERATOR"
"""Reject code of an unknown submit an operator settled as rejected by hand."""

_REPLACEMENT_ATTR = "autotrader_replacement_ids"


def note_replacement(error: BaseException, broker_order_id: str) -> BaseException:
    """Name on ``error`` a replacement order a lost cancel-replace may have created; returns ``error``.

    An adapter whose modify is a cancel-replace calls it before raising a transient error
    when it knows the replacement's broker order id up front (or learned it before the
    reply was lost): the resolver then watches that id too, with the old one, until the
    broker says which one lives.
    """
    ids = (*noted_replacements(error), broker_order_id)
    setattr(error, _REPLACEMENT_ATTR, ids)
    return error


def noted_replacements(error: BaseException) -> tuple[str, ...]:
    """The replacement broker order ids :func:`note_replacement` put on ``error``."""
    ids = getattr(error, _REPLACEMENT_ATTR, ())
    return tuple(ids) if isinstance(ids, tuple) else ()


def is_unknown_outcome(error: BaseException) -> bool:
    """Whether ``error`` from a submit or modify leaves its outcome unknown (lost or unreadable reply)."""
    return isinstance(error, TransientError | BrokerProtocolError) and not isinstance(error, RateLimited)


class Gateway(Protocol):
    """What the resolver needs of the :class:`~autotrader_core.broker_gateway.BrokerGateway`."""

    adapter: BrokerAdapter
    flow: OrderFlow
    notifier: Notifier
    retry_policy: RetryPolicy
    breaker: CircuitBreaker
    failures: FailureTracker

    async def call(self, operation: str, fn: Callable[[], Awaitable[T]]) -> T:
        """An idempotent request through breaker and retry, tracked."""
        ...

    def dead_letter(self, operation: str, order: Order, error: BaseException) -> None:
        """Keep a failed operation for a human."""
        ...

    async def settle_from_report(self, order: Order, report: OrderReport) -> None:
        """Bring ``order`` to the state the broker reports (fetching missing fills)."""
        ...

    async def catch_up_fills(self, order: Order) -> None:
        """Fetch and apply the order's fills the broker lists."""
        ...


class Operation(StrEnum):
    """The non-idempotent request whose outcome is unknown."""

    SUBMIT = "submit"
    MODIFY = "modify"

    @property
    def pending_status(self) -> OrderStatus:
        """The order's status while this request is unsettled."""
        return OrderStatus.PENDING_SUBMIT if self is Operation.SUBMIT else OrderStatus.PENDING_MODIFY


class SettleAs(StrEnum):
    """What an operator says the broker shows for an unknown order (:meth:`OutcomeResolver.settle_by_hand`)."""

    LOOK_UP = "look_up"
    """Ask the broker again now (and apply the guarantee's rule)."""
    WORKING = "working"
    """The order works at the broker (a submit: accepted; a modify: it did not take effect)."""
    FILLED = "filled"
    """The order filled: its fills are fetched from the broker (a fill is never invented)."""
    CANCELED = "canceled"
    """The order is no longer working at the broker."""
    REJECTED = "rejected"
    """The broker never took the order (a submit only)."""


@dataclass(slots=True)
class UnknownOutcome:
    """One order whose last submit or modify has an unknown outcome (what ``status()`` lists)."""

    client_order_id: str
    symbol: str
    operation: Operation
    reason: str
    stamp: datetime
    """Upper bound of the timestamp the request carried (for an expiry guarantee)."""
    since: datetime = field(default_factory=utc_now)
    unsent_code: str = NEVER_ARRIVED_CODE
    """The reject code if the request provably expired unseen (``NEVER_SENT`` after a restart)."""
    unsent_reason: str | None = None
    """The reject reason then (``None``: the resolver says why in its own words)."""
    change: OrderChange | None = None
    """A modify's new terms."""
    candidates: tuple[str, ...] = ()
    """Broker order ids that may be the live order (the old one, a cancel-replace's replacement)."""
    duplicate: bool = False
    """The venue refused a send as a duplicate: the order is there; it is never sent again."""
    may_resend: bool = False
    """True while the caller of the submit/modify still waits: an expired request may then be re-sent."""
    passes: int = 0
    sends: int = 1
    next_at: float = 0.0
    """``time.monotonic()`` of the next pass."""
    last_error: str | None = None
    alerted: bool = False
    awaiting_expiry: bool = False
    """The last pass found the request may still land: the next one is set for its expiry."""
    resend_until: datetime | None = None
    """After a restart: past this moment the journaled request is too old to re-send (``None``: no bound)."""

    def as_dict(self) -> dict[str, object]:
        """Plain data for the status snapshot, hooks and the CLI."""
        return {
            "client_order_id": self.client_order_id,
            "symbol": self.symbol,
            "operation": self.operation.value,
            "reason": self.reason,
            "since": self.since.isoformat(),
            "passes": self.passes,
            "candidates": list(self.candidates),
            "last_error": self.last_error,
        }


class OutcomeResolver:
    """The single owner of every unknown outcome of one engine (see the module docstring).

    Args:
        gateway: Every request to the adapter; the broker's answers go through its flow.
        settle_wait: Seconds the live submit/modify call keeps resolving before it returns
            the order as unknown (the resolver goes on in the background: the watcher).
        max_backoff: Longest wait between two passes over one order.
        sleep, clock, rand: Injected in tests.
    """

    def __init__(
        self,
        gateway: Gateway,
        *,
        settle_wait: float = 30.0,
        max_backoff: float = 30.0,
        sleep: Sleep = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._gateway = gateway
        self.settle_wait = settle_wait
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._clock = clock
        self._rand = rand
        self._unknown: dict[str, UnknownOutcome] = {}
        self._owners: dict[str, list[anyio.Event]] = {}
        """Client order ids a submit, modify or pass owns right now → who waits for them."""

    # -- what a user sees ---------------------------------------------------------------------------
    def outcomes(self) -> list[UnknownOutcome]:
        """Every order whose outcome is unknown right now, oldest first."""
        return sorted(self._unknown.values(), key=lambda u: u.since)

    def get(self, client_order_id: str) -> UnknownOutcome | None:
        """The unknown outcome of one order, or ``None`` when it is known."""
        return self._unknown.get(client_order_id)

    def busy(self, client_order_id: str) -> bool:
        """Whether a submit, modify or pass is working on this order right now."""
        return client_order_id in self._owners

    # -- the live paths -------------------------------------------------------------------------
    async def submit(self, order: Order) -> Order:
        """Send a recorded order and settle its outcome; an unknown outcome is resolved here first.

        Raises:
            CircuitOpen: not sent; the order is closed as rejected.
            BrokerError / InvalidOrder: the broker proved it refused the order; closed as
                rejected and dead-lettered.
            TransientError: the outcome is still unknown after ``settle_wait``; the order
                stays open and unknown, and the resolver goes on (the watcher's passes).
        """
        gateway = self._gateway
        flow = gateway.flow
        cid = order.client_order_id
        # The hot path of every order: ownership is taken inline, not with ``async with
        # self._owning(cid)`` (two coroutines per order); a new order is never owned yet.
        owners = self._owners
        if cid in owners:
            await _acquire(owners, cid)
        else:
            owners[cid] = []
        try:
            try:
                events = await self._send(order, None)
            except CircuitOpen as exc:  # never sent: refusing locally is safe
                await flow.apply(OrderRejected(cid, reason=f"circuit open: {exc}"))
                raise
            except DuplicateClientOrderId as exc:
                entry = await self._register(order, Operation.SUBMIT, f"duplicate id: {exc}", exc)
                entry.duplicate = True
                return await self._work(order, entry, exc)
            except AutotraderError as exc:
                if not is_unknown_outcome(exc):
                    # The broker proved it refused the order.
                    await flow.apply(OrderRejected(cid, reason=str(exc), code=exc.code))
                    gateway.dead_letter("submit", order, exc)
                    raise
                entry = await self._register(order, Operation.SUBMIT, str(exc), exc)
                return await self._work(order, entry, exc)
            apply = flow.apply
            for event in events:  # flow.apply_all, inlined: one coroutine fewer per order
                await apply(event)
            return order
        finally:
            for waiter in owners.pop(cid, ()):
                waiter.set()

    async def modify(self, order: Order, change: OrderChange) -> Order:
        """Send a modify (the order is already pending-modify) and settle its outcome; never retried blindly.

        A modify the adapter or the broker refuses restores the order at once
        (``OrderModifyRejected``) and raises. A lost or unreadable reply makes the
        modify unknown: the order is looked up and its terms and broker order id are
        settled from the broker's report.

        Raises:
            InvalidOrder / UnsupportedFeature / BrokerError: refused; the order keeps its terms.
            TransientError: still unknown after ``settle_wait`` (the resolver goes on).
        """
        flow = self._gateway.flow
        cid = order.client_order_id
        async with self._owning(cid):
            try:
                events = await self._send(order, change)
            except AutotraderError as exc:
                if not is_unknown_outcome(exc) or isinstance(exc, CircuitOpen):
                    # Refused (before or at the broker), or never sent: the order is as it was.
                    await flow.apply(OrderModifyRejected(cid, reason=f"modify refused: {exc}"))
                    raise
                entry = await self._register(order, Operation.MODIFY, str(exc), exc, change=change)
                return await self._work(order, entry, exc)
            await flow.apply_all(events)
            return order

    # -- passes ---------------------------------------------------------------------------------
    async def resolve(
        self,
        order: Order,
        *,
        unsent_code: str | None = None,
        unsent_reason: str | None = None,
        change: OrderChange | None = None,
        resend_until: datetime | None = None,
    ) -> bool:
        """One pass over an order in doubt, unless another path is working on it.

        Registers the order as unknown first when it is not yet (a submit or modify left
        pending for ``order_timeout``, or found pending after a restart: then
        ``unsent_code``/``unsent_reason`` are recovery's ``NEVER_SENT``, ``change`` the
        journaled terms of a modify left pending, and ``resend_until`` the moment past which
        its journaled request is too old to re-send). Returns whether the outcome is settled.
        """
        cid = order.client_order_id
        if self.busy(cid):
            return False  # the submit, a modify or another pass owns it right now
        async with self._owning(cid):
            entry = self._unknown.get(cid)
            if entry is None:
                operation = (
                    Operation.MODIFY if order.status is OrderStatus.PENDING_MODIFY else Operation.SUBMIT
                )
                if order.status is not operation.pending_status:
                    return True
                entry = await self._register(
                    order,
                    operation,
                    "no answer from the broker",
                    None,
                    unsent_code=unsent_code,
                    change=change,
                )
                entry.next_at = self._clock()  # it already waited: ask at once
            elif unsent_code is not None:
                entry.unsent_code = unsent_code
            if entry.change is None and change is not None:
                entry.change = change
            if unsent_reason is not None:
                entry.unsent_reason = unsent_reason
            if resend_until is not None:
                entry.resend_until = resend_until
            return await self._pass(order, entry)

    def due(self) -> list[str]:
        """Client order ids whose next pass is due (for the watcher)."""
        now = self._clock()
        return [cid for cid, u in self._unknown.items() if u.next_at <= now and not self.busy(cid)]

    async def note_change(self, order: Order) -> None:
        """An event was applied to ``order``: if it settled an unknown outcome, say so (the flow calls it)."""
        entry = self._unknown.get(order.client_order_id)
        if entry is None or self.busy(order.client_order_id):
            return  # a pass in progress settles it itself
        if _settled_by_events(order, entry):
            await self._resolved(entry, f"settled by the broker's events ({order.status.value})")

    async def reconcile(self, open_reports: list[OrderReport]) -> None:
        """Settle unknown outcomes from the broker's open orders, and from its fills (reconciliation).

        An unknown order the broker lists is settled from that report (by the same rule as a
        pass); a fill of an unknown order the broker's history holds is applied, which
        settles it (an order with a fill was received). Orders a pass is working on are left to it.
        """
        if not self._unknown:
            return
        gateway = self._gateway
        oms = gateway.flow.oms
        by_id: dict[str, OrderReport] = {}
        for listed in open_reports:
            for key in (listed.client_order_id, listed.broker_order_id):
                if key:
                    by_id.setdefault(key, listed)
        for entry in list(self._unknown.values()):
            order = oms.get(entry.client_order_id)
            if order is None or self.busy(entry.client_order_id):
                continue
            report = by_id.get(entry.client_order_id) or next(
                (by_id[c] for c in entry.candidates if c in by_id), None
            )
            if report is None:
                continue
            async with self._owning(entry.client_order_id):
                if entry.operation is Operation.SUBMIT:
                    await self._submit_pass(
                        order, entry, replace(report, client_order_id=order.client_order_id)
                    )
                else:
                    await self._modify_pass(
                        order, entry, replace(report, client_order_id=order.client_order_id)
                    )
        adapter = gateway.adapter
        waiting = [u for u in self._unknown.values() if u.operation is Operation.SUBMIT]
        if not waiting or not adapter.capabilities.fill_history:
            return
        since = min(u.since for u in waiting) - timedelta(minutes=1)
        fills = await gateway.call("get_fills", lambda: adapter.get_fills(since=since))
        cids = {u.client_order_id for u in waiting}
        for fill in fills:
            if fill.client_order_id in cids:
                await gateway.flow.apply(OrderFilled(fill))  # fills are facts: the order was received

    async def _work(self, order: Order, entry: UnknownOutcome, cause: AutotraderError) -> Order:
        """Passes while the caller waits (at most ``settle_wait``); still unknown: raise transient."""
        entry.may_resend = True
        # The first pass always runs (after the settle delay); the others within settle_wait,
        # stretched for an expiry the venue declares (at most two windows more: a venue clock
        # far behind ours must not hold the caller).
        deadline = max(entry.next_at, self._clock() + self.settle_wait)
        window = self._gateway.adapter.resend_guarantee.window or 0.0
        longest = deadline + 2 * window
        lookups = self._gateway.retry_policy.max_attempts
        try:
            while True:
                now = self._clock()
                if entry.awaiting_expiry:  # the venue's window bounds this wait: the caller gets the answer
                    deadline = min(longest, max(deadline, entry.next_at))
                if max(now, entry.next_at) > deadline or (
                    entry.passes >= lookups and not entry.awaiting_expiry
                ):
                    break
                wait = max(0.0, entry.next_at - now)
                await self._sleep(wait)
                if await self._pass(order, entry):
                    return order
        finally:
            entry.may_resend = False
        raise _still_unknown(order, entry, cause)

    async def _pass(self, order: Order, entry: UnknownOutcome) -> bool:
        entry.passes += 1
        entry.awaiting_expiry = False
        if _settled_by_events(order, entry):
            await self._resolved(entry, f"settled by the broker's events ({order.status.value})")
            return True
        try:
            report = await self._look_up(order, entry)
        except AutotraderError as exc:
            entry.last_error = f"lookup failed: {exc}"
            self._backoff(entry)
            return False
        if entry.operation is Operation.SUBMIT:
            return await self._submit_pass(order, entry, report)
        return await self._modify_pass(order, entry, report)

    async def _submit_pass(self, order: Order, entry: UnknownOutcome, report: OrderReport | None) -> bool:
        gateway = self._gateway
        if report is not None:
            await gateway.settle_from_report(order, report)
            await self._resolved(entry, f"found at the broker ({report.status.value})")
            return True
        if entry.duplicate:
            return self._stays(entry, "the venue reported a duplicate id but cannot find the order")
        guarantee = gateway.adapter.resend_guarantee
        if guarantee.resend_is_immediately_safe:
            if _too_old(entry):
                return self._stays(entry, _TOO_OLD)
            return await self._resend(order, entry, f"re-sent with the same id ({guarantee.rule.value})")
        if guarantee.rule is ResendRule.EXPIRY:
            if not await self._expired(entry):
                return False
            try:  # asked again after the expiry: nothing can land any more
                report = await self._look_up(order, entry)
            except AutotraderError as exc:
                entry.last_error = f"lookup failed: {exc}"
                self._backoff(entry)
                return False
            if report is not None:
                return await self._submit_pass(order, entry, report)
            if entry.may_resend:
                return await self._resend(order, entry, "re-sent after its first request expired unseen")
            reason = entry.unsent_reason or (
                f"not known to the broker and its request expired unseen ({guarantee.window:g}s "
                "window, by the venue's clock): it never arrived"
            )
            await gateway.flow.apply(
                OrderRejected(order.client_order_id, reason=reason, code=entry.unsent_code)
            )
            gateway.notifier.alert("warning", f"order {order.client_order_id} {reason}")
            await self._resolved(entry, f"expired unseen: closed as rejected ({entry.unsent_code})")
            return True
        return self._stays(
            entry, "the venue gives no re-send guarantee: left for reconciliation or an operator"
        )

    async def _modify_pass(self, order: Order, entry: UnknownOutcome, report: OrderReport | None) -> bool:
        gateway = self._gateway
        if report is None:
            return self._stays(entry, "the broker knows none of the order's ids")
        old = order.broker_order_id
        replaced = report.broker_order_id is not None and old is not None and report.broker_order_id != old
        working = report.status in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)
        terms = (report.quantity, report.limit_price, report.stop_price)
        unchanged = terms == (order.quantity, order.limit_price, order.stop_price)
        if (replaced and working) or not unchanged or report.status is OrderStatus.FILLED:
            # The broker's answer says which order lives and on what terms.
            await gateway.settle_from_report(order, report)
            await self._resolved(
                entry, f"found at the broker ({report.status.value}, id {report.broker_order_id})"
            )
            return True
        # The old order, unchanged, still working or ended: a late request could still change it.
        guarantee = gateway.adapter.resend_guarantee
        if guarantee.rule is ResendRule.EXPIRY:
            if not await self._expired(entry):
                return False
        elif guarantee.resend_is_immediately_safe:
            if working and entry.change is not None:
                if _too_old(entry):
                    return self._stays(entry, _TOO_OLD)
                return await self._resend(order, entry, f"modify re-sent ({guarantee.rule.value})")
        else:
            return self._stays(
                entry, "the modify may still take effect: the venue gives no re-send guarantee"
            )
        # Nothing can change it any more: the report is the truth (unchanged → modify rejected).
        await gateway.settle_from_report(order, report)
        await self._resolved(entry, f"the modify did not take effect ({report.status.value})")
        return True

    async def _look_up(self, order: Order, entry: UnknownOutcome) -> OrderReport | None:
        """The broker's report by client order id, then by each candidate broker id; ``None``: not found."""
        gateway = self._gateway
        adapter = gateway.adapter
        symbol = order.symbol
        cid = order.client_order_id
        try:
            report = await self._query(lambda: adapter.get_order(symbol=symbol, client_order_id=cid))
        except OrderNotFound:
            report = None
        if entry.operation is Operation.MODIFY:
            # A cancel-replace: whichever candidate is working is the live order.
            for broker_id in entry.candidates:
                if report is not None and report.broker_order_id == broker_id and report.status.is_open:
                    break
                try:
                    found = await self._query(
                        partial(adapter.get_order, symbol=symbol, broker_order_id=broker_id)
                    )
                except OrderNotFound:
                    continue
                if found.status.is_open and (report is None or not report.status.is_open):
                    report = replace(found, client_order_id=cid)
        return report

    async def _query(self, fn: Callable[[], Awaitable[OrderReport]]) -> OrderReport:
        """A lookup (idempotent, retried). Not through the breaker: an answered lookup must not
        reset the count of failed submits that opens it, and a pass is spaced by its own backoff."""
        return await retry(fn, self._gateway.retry_policy, rand=self._rand)

    async def _expired(self, entry: UnknownOutcome) -> bool:
        """Whether the venue's clock proves the request expired; if not, the next pass is set for then."""
        adapter = self._gateway.adapter
        guarantee = adapter.resend_guarantee
        try:
            venue_now = await adapter.venue_time()
        except AutotraderError as exc:
            entry.last_error = f"cannot read the venue's clock: {exc}"
            self._backoff(entry)
            return False
        if guarantee.expired_by(entry.stamp, venue_now):
            return True
        entry.awaiting_expiry = True
        assert guarantee.window is not None
        left = guarantee.window - (venue_now - entry.stamp).total_seconds()
        entry.last_error = f"its request may still land for {left:.3f}s (venue clock)"
        entry.next_at = self._clock() + min(max(0.0, left), guarantee.window) + 0.001  # re-checked then
        return False

    async def _resend(self, order: Order, entry: UnknownOutcome, how: str) -> bool:
        """Send the same request again (only when the guarantee makes it safe)."""
        gateway = self._gateway
        entry.sends += 1
        try:
            events = await self._send(order, entry.change)
        except DuplicateClientOrderId:
            entry.duplicate = True  # it is there after all: look it up, never send again
            entry.next_at = self._clock()
            return False
        except AutotraderError as exc:
            if is_unknown_outcome(exc):
                entry.stamp = gateway.adapter.request_stamp()
                entry.last_error = f"re-send outcome unknown too: {exc}"
                self._backoff(entry)
                return False
            if entry.operation is Operation.SUBMIT:
                await gateway.flow.apply(OrderRejected(order.client_order_id, reason=str(exc), code=exc.code))
            else:
                await gateway.flow.apply(OrderModifyRejected(order.client_order_id, reason=str(exc)))
            await self._resolved(entry, f"re-send refused by the broker: {exc}")
            return True
        await gateway.flow.apply_all(events)
        await self._resolved(entry, how)
        return True

    async def _send(self, order: Order, change: OrderChange | None) -> list[OrderEvent]:
        """One request through breaker and tracking; a rate limit proves it was not taken (waits, sends again)."""
        gateway = self._gateway
        adapter = gateway.adapter
        policy = gateway.retry_policy
        operation = "submit" if change is None else "modify"
        attempt = 0
        while True:
            attempt += 1
            try:
                # partial, not lambdas: no extra Python frame per request on the hot path
                request = (
                    partial(adapter.submit_order, order)
                    if change is None
                    else partial(adapter.modify_order, order, change)
                )
                # gateway.track, inlined (one coroutine fewer per order): only transport trouble
                # counts as a failure, a broker's refusal is a healthy answer.
                try:
                    events = await gateway.breaker.call(request)
                except TRANSPORT_FAILURES:
                    gateway.failures.record(operation, ok=False)
                    raise
                gateway.failures.record(operation, ok=True)
                return events
            except RateLimited as exc:
                delay = policy.delay_after(exc, attempt, self._rand)
                if delay is None:
                    record_attempts(exc, attempt)
                    raise
            await self._sleep(delay)

    # -- bookkeeping ------------------------------------------------------------------------------
    def _owning(self, client_order_id: str) -> _Owner:
        """Own one order for a block: waits for another owner; never yields to the loop when free (hot path)."""
        return _Owner(self._owners, client_order_id)

    async def _register(
        self,
        order: Order,
        operation: Operation,
        reason: str,
        error: BaseException | None,
        *,
        change: OrderChange | None = None,
        unsent_code: str | None = None,
        stamp: datetime | None = None,
    ) -> UnknownOutcome:
        """Make the order visibly unknown: registry, journal note, hook, alert, dead letter."""
        gateway = self._gateway
        adapter = gateway.adapter
        candidates: tuple[str, ...] = ()
        if operation is Operation.MODIFY:
            old = (order.broker_order_id,) if order.broker_order_id else ()
            candidates = (*old, *(noted_replacements(error) if error is not None else ()))
        entry = UnknownOutcome(
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            operation=operation,
            reason=reason,
            stamp=stamp or adapter.request_stamp(),  # taken after the request left: an upper bound
            unsent_code=unsent_code or NEVER_ARRIVED_CODE,
            change=change,
            candidates=candidates,
        )
        settle = adapter.unknown_outcome_settle_delay
        entry.next_at = self._clock() + (
            gateway.retry_policy.backoff(1, self._rand) if settle is None else settle
        )
        self._track(entry)
        note = OutcomeUnknown(order.client_order_id, operation.value, reason, entry.stamp, candidates)
        await self._journal(note)
        gateway.notifier.hook("autotrader_on_outcome_unknown", order=order, outcome=note)
        if error is not None:
            gateway.dead_letter(operation.value, order, error)
            gateway.notifier.alert(
                "warning", f"{operation.value} outcome unknown for {order.client_order_id}: {error}"
            )
        return entry

    def restore(self, order: Order, note: OutcomeUnknown, *, unsent_code: str) -> UnknownOutcome:
        """Take over an unknown outcome journaled before a restart (no hook: it was said then)."""
        entry = UnknownOutcome(
            client_order_id=note.client_order_id,
            symbol=order.symbol,
            operation=Operation(note.operation),
            reason=note.reason,
            stamp=note.stamp,
            since=note.timestamp,
            unsent_code=unsent_code,
            candidates=note.candidates,
        )
        self._track(entry)
        return entry

    def _track(self, entry: UnknownOutcome) -> None:
        self._unknown[entry.client_order_id] = entry
        # Told about applied events only while something is unknown: nothing on the hot path otherwise.
        self._gateway.flow.after_change = self.note_change

    async def _resolved(self, entry: UnknownOutcome, how: str) -> None:
        if self._unknown.pop(entry.client_order_id, None) is None:
            return
        if not self._unknown:
            self._gateway.flow.after_change = None
        note = OutcomeResolved(entry.client_order_id, entry.operation.value, how)
        await self._journal(note)
        order = self._gateway.flow.oms.get(entry.client_order_id)
        self._gateway.notifier.hook("autotrader_on_outcome_resolved", order=order, resolved=note)
        logger.info("outcome of %s %s settled: %s", entry.operation.value, entry.client_order_id, how)

    def _stays(self, entry: UnknownOutcome, why: str) -> bool:
        entry.last_error = why
        if not entry.alerted and not entry.may_resend:  # a waiting caller hears it from the raised error
            entry.alerted = True
            self._gateway.notifier.alert(
                "warning",
                f"{entry.operation.value} of {entry.client_order_id} stays unknown: {why}; it counts as open "
                "until the broker's orders or fills settle it, or an operator does (autotrader settle)",
            )
        self._backoff(entry)
        return False

    def _backoff(self, entry: UnknownOutcome) -> None:
        delay = self._gateway.retry_policy.backoff(min(entry.passes, 30), self._rand)
        delay = max(delay, min(self.max_backoff, 0.05 * 2.0 ** min(entry.passes, 30)))
        entry.next_at = self._clock() + min(self.max_backoff, delay)

    async def _journal(self, note: OutcomeUnknown | OutcomeResolved) -> None:
        journal = self._gateway.flow.journal
        if journal is None:
            return
        try:
            await journal.record_outcome(note)
        except JournalError as exc:
            logger.warning(
                "journal unavailable; outcome note for %s not recorded: %s", note.client_order_id, exc
            )

    # -- by hand ----------------------------------------------------------------------------------
    async def settle_by_hand(self, order: Order, as_: SettleAs, *, reason: str, by: str) -> bool:
        """Settle an unknown order as an operator says the broker shows it; returns whether it is settled.

        ``LOOK_UP`` runs a pass now. ``FILLED`` applies the order's fills as the broker
        lists them (refused when it lists none: a fill is never invented).

        Raises:
            InvalidOrder: the order's outcome is not unknown, or the choice does not fit it.
        """
        cid = order.client_order_id
        if as_ is SettleAs.LOOK_UP:
            settled = await self.resolve(order)
            if self._unknown.get(cid) is None:
                return True
            return settled
        entry = self._unknown.get(cid)
        if entry is None:
            raise InvalidOrder(f"the outcome of order {cid!r} is not unknown")
        flow = self._gateway.flow
        text = f"settled by {by}: {reason}"
        async with self._owning(cid):
            if as_ is SettleAs.FILLED:
                await self._gateway.catch_up_fills(order)
                if order.filled_quantity == 0:
                    raise InvalidOrder(f"the broker lists no fill of {cid!r}: a fill is never invented")
            elif as_ is SettleAs.REJECTED:
                if entry.operation is not Operation.SUBMIT:
                    raise InvalidOrder("only a submit can be settled as rejected; a modify: 'working'")
                await flow.apply(OrderRejected(cid, reason=text, code=OPERATOR_CODE))
            elif as_ is SettleAs.CANCELED:
                await flow.apply(OrderCanceled(cid, reason=text))
            else:  # WORKING
                event: OrderEvent
                if entry.operation is Operation.SUBMIT:
                    event = OrderAccepted(cid, order.broker_order_id)
                else:
                    event = OrderModifyRejected(cid, reason=text)
                await flow.apply(event)
            await self._resolved(entry, f"{as_.value}, {text}")
        return True


class _Owner:
    """One owner of one client order id at a time (no lock object per order: the hot path stays cheap)."""

    __slots__ = ("_cid", "_owners")

    def __init__(self, owners: dict[str, list[anyio.Event]], client_order_id: str) -> None:
        self._owners = owners
        self._cid = client_order_id

    async def __aenter__(self) -> None:
        await _acquire(self._owners, self._cid)

    async def __aexit__(self, *exc_info: object) -> None:
        for waiter in self._owners.pop(self._cid, ()):
            waiter.set()


async def _acquire(owners: dict[str, list[anyio.Event]], client_order_id: str) -> None:
    """Own ``client_order_id``: wait for each owner's release until it is free, then take it."""
    while client_order_id in owners:  # owned: wait for its release, then try again
        released = anyio.Event()
        owners[client_order_id].append(released)
        await released.wait()
    owners[client_order_id] = []


_TOO_OLD = (
    "its request was journaled before a restart longer ago than resend_after_restart_max_age: "
    "not re-sent at today's prices; left for reconciliation or an operator"
)


def _too_old(entry: UnknownOutcome) -> bool:
    """Whether a re-send after a restart would place a stale request (the venue would take it as new)."""
    return entry.resend_until is not None and utc_now() > entry.resend_until


def _settled_by_events(order: Order, entry: UnknownOutcome) -> bool:
    """Whether events moved the order out of doubt (a cancel requested meanwhile does not)."""
    return (
        order.status is not entry.operation.pending_status and order.status is not OrderStatus.PENDING_CANCEL
    )


def _still_unknown(order: Order, entry: UnknownOutcome, cause: AutotraderError) -> TransientError:
    reason = (
        f"outcome of {entry.operation.value} {order.client_order_id} is still unknown after "
        f"{entry.passes} lookup(s) ({entry.last_error or 'no answer'}); the order stays open and "
        "the engine keeps resolving it"
    )
    if isinstance(cause, TransientError):
        cause.add_note(reason)
        error: TransientError = cause
    else:
        error = TransientError(
            reason, broker=cause.broker, code=cause.code, broker_message=cause.broker_message
        )
        error.__cause__ = cause
    record_attempts(error, entry.sends)
    return error
