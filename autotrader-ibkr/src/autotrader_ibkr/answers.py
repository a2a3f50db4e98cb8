"""TWS's answers to one place, modify or cancel, collected for the call waiting on them.

TWS answers an order request asynchronously, with several messages that can arrive in
one socket read (openOrder, orderStatus, error). The taps hand each one to
:meth:`OrderAnswers.resolve`; the call waiting on that orderId reads them in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import anyio
from autotrader_core.enums import OrderStatus
from autotrader_core.errors import AutotraderError, InvalidOrder, RequestTimeout

from autotrader_ibkr.orders import CANCELED_STATUSES, core_status
from autotrader_ibkr.parsing import BROKER, ErrorRecord, OpenOrderRecord, StatusRecord

__all__ = [
    "OrderAnswers",
    "Outcome",
    "Waiter",
    "first_decisive",
    "is_cancel_answer",
    "is_modify_answer",
    "is_rejection",
    "placement_verdict",
]


@dataclass(slots=True)
class Outcome:
    """One message TWS sent about an order: a status, an openOrder or an error."""

    status: StatusRecord | None = None
    open_order: OpenOrderRecord | None = None
    error: ErrorRecord | None = None

    @property
    def order_status(self) -> str:
        """The TWS status this answer carries (``""`` for an error)."""
        if self.status is not None:
            return self.status.status
        if self.open_order is not None:
            return self.open_order.status
        return ""

    @property
    def why_held(self) -> str:
        """orderStatus ``whyHeld`` (``locate`` while shares to borrow are searched)."""
        return self.status.why_held if self.status is not None else ""


class Waiter:
    """Collects TWS's answers about one order for one pending call."""

    def __init__(self) -> None:
        self._outcomes: list[Outcome] = []
        self._error: AutotraderError | None = None
        self._event = asyncio.Event()

    def put(self, outcome: Outcome) -> None:
        """One more answer."""
        self._outcomes.append(outcome)
        self._event.set()

    def fail(self, error: AutotraderError) -> None:
        """The session ended: the waiting call raises ``error``."""
        self._error = error
        self._event.set()

    def take(self) -> list[Outcome]:
        """The answers received since the last call (raises the failure, if any)."""
        if self._error is not None:
            raise self._error
        taken, self._outcomes = self._outcomes, []
        self._event.clear()
        return taken

    async def next_batch(self, seconds: float) -> list[Outcome] | None:
        """Answers as they come; ``None`` when ``seconds`` pass without any."""
        with anyio.move_on_after(seconds):
            while True:
                taken = self.take()
                if taken:
                    return taken
                await self._event.wait()
        return None


class OrderAnswers:
    """The waiters of the pending calls, per orderId."""

    def __init__(self) -> None:
        self._waiters: dict[int, list[Waiter]] = {}

    def waiter(self, order_id: int) -> Waiter:
        """Register a waiter for ``order_id`` (before sending, or in the same loop turn)."""
        waiter = Waiter()
        self._waiters.setdefault(order_id, []).append(waiter)
        return waiter

    def done(self, order_id: int, waiter: Waiter) -> None:
        """The call has its answer (or gave up)."""
        pending = self._waiters.get(order_id, [])
        if waiter in pending:
            pending.remove(waiter)
        if not pending:
            self._waiters.pop(order_id, None)

    def pending(self, order_id: int) -> bool:
        """Whether a call is waiting on ``order_id``."""
        return bool(self._waiters.get(order_id))

    def resolve(self, order_id: int, outcome: Outcome) -> None:
        """Hand one answer to every call waiting on ``order_id``."""
        for waiter in self._waiters.get(order_id, []):
            waiter.put(outcome)

    def fail_all(self, error: AutotraderError) -> None:
        """The session ended: every waiting call raises ``error``."""
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.fail(error)


def is_rejection(outcome: Outcome) -> bool:
    """An Inactive orderStatus is a rejection unless TWS is locating shares to borrow (a hold).

    An Inactive openOrder decides nothing alone: the orderStatus after it carries ``whyHeld``.
    """
    return (
        outcome.status is not None
        and core_status(outcome.status.status, outcome.why_held) is OrderStatus.REJECTED
    )


def is_cancel_answer(outcome: Outcome) -> bool:
    """The cancel is settled: canceled, or finished some other way (filled)."""
    return outcome.status is not None and outcome.status.status in (*CANCELED_STATUSES, "Filled")


def is_modify_answer(outcome: Outcome) -> bool:
    """TWS took the new terms: the order reports a status past PendingSubmit."""
    return outcome.order_status in ("PreSubmitted", "Submitted", "Filled", *CANCELED_STATUSES)


async def placement_verdict(
    waiter: Waiter, order_id: int, *, ack_timeout: float, reject_window: float
) -> str | ErrorRecord:
    """TWS's verdict on a new order: its status once settled, or the refusing error.

    ``Submitted`` (or filled, or canceled) settles it at once; ``PreSubmitted`` (or a locate
    hold) settles it after ``reject_window`` without a rejection, since TWS rejects for margin
    *after* PreSubmitted (PreSubmitted, 201, Inactive). An Inactive status without an error
    saying why is an ``InvalidOrder`` once the window has passed.

    Raises:
        InvalidOrder: Inactive and no error within the window.
        RequestTimeout: nothing in ``ack_timeout``.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ack_timeout
    watch_until: float | None = None  # PreSubmitted or Inactive seen: watch a short window more
    status, rejected = "", False
    while True:
        until = deadline if watch_until is None else min(deadline, watch_until)
        batch = await waiter.next_batch(max(0.0, until - loop.time()))
        if batch is None:
            if rejected:  # Inactive and no error saying why
                raise InvalidOrder(f"TWS set orderId {order_id} Inactive (rejected)", broker=BROKER)
            if status:
                return status  # PreSubmitted (or a locate hold) and no rejection in the window
            raise RequestTimeout(
                f"no answer from TWS to placeOrder for orderId {order_id} in {ack_timeout}s; outcome unknown",
                broker=BROKER,
            )
        for outcome in batch:
            if outcome.error is not None:
                return outcome.error  # only errors that end the request reach the waiter
            if is_rejection(outcome):
                rejected = True  # wait briefly for the error that says why
            elif outcome.order_status in ("Submitted", "Filled", *CANCELED_STATUSES) and not rejected:
                return outcome.order_status
            elif outcome.order_status == "Inactive" and outcome.status is None:
                continue  # an Inactive openOrder: its orderStatus (with whyHeld) decides
            elif outcome.order_status:
                status = outcome.order_status
            else:
                continue
            if watch_until is None:
                watch_until = loop.time() + reject_window


async def first_decisive(
    waiter: Waiter, order_id: int, what: str, decisive: Callable[[Outcome], bool], *, seconds: float
) -> Outcome:
    """Wait for TWS's first decisive answer about ``order_id`` (status, openOrder or error).

    Several answers can arrive in one socket read (PendingCancel, Cancelled, 202),
    so the waiter keeps every outcome rather than only the first.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (batch := await waiter.next_batch(max(0.0, deadline - loop.time()))) is not None:
        for outcome in batch:
            if outcome.error is not None or decisive(outcome):
                return outcome
    raise RequestTimeout(
        f"no answer from TWS to {what} for orderId {order_id} in {seconds}s; outcome unknown",
        broker=BROKER,
    )
