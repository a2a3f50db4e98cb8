"""TWS's answers to one place, modify or cancel, collected for the call waiting on them.

TWS answers an order request asynchronously, with several messages that can arrive in
one socket read (openOrder, orderStatus, error). The taps hand each one to
:meth:`OrderAnswers.resolve`; the call waiting on that orderId reads them in order.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import anyio
from autotrader_core.errors import AutotraderError

from autotrader_ibkr.parsing import ErrorRecord, OpenOrderRecord, StatusRecord

__all__ = ["OrderAnswers", "Outcome", "Waiter"]


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
