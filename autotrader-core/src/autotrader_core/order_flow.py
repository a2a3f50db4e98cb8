"""The order flow: apply events to the OMS, journal them, fan them out.

Every change to an order passes through :class:`OrderFlow`, in this order:

1. the journal records it (write-ahead for intents and cancel/modify requests; a broker
   event is a fact and reaches the OMS even when the journal has failed);
2. the OMS applies it (state machine, idempotent fills, positions);
3. one ``autotrader.orders`` log record, the engine's in-process order listeners, the observer
   hooks (``autotrader_on_order_event``, ``autotrader_on_fill``, ``autotrader_on_reject``) and
   the strategy's ``on_fill`` / ``on_order_update`` callbacks see it.

Why not the OMS listener (``OrderManager.listener``): the listener is synchronous and
also fires while recovery replays the journal into the same OMS, when nothing may be
delivered twice; the fan-out here is async (strategy callbacks) and live-only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from autotrader_core.account import AccountId
from autotrader_core.adapter import OrderChange
from autotrader_core.events import OrderEvent, OrderFilled, OrderRejected
from autotrader_core.journal.base import Journal, JournalError
from autotrader_core.models import Order, OrderReport
from autotrader_core.notifier import Notifier
from autotrader_core.oms import OrderManager
from autotrader_core.state_machine import Trigger, next_status
from autotrader_core.strategy import Strategy, StrategyContext
from autotrader_core.trading_gate import TradingGate

__all__ = ["OrderFlow", "OrderListener", "log_order_event", "log_refusal"]

logger = logging.getLogger("autotrader_core.engine")
events_logger = logging.getLogger("autotrader.orders")
"""One record per applied order event: the audit trail users grep and ship."""

OrderListener = Callable[[Order, OrderEvent], None]
"""Told of each live order event as the OMS applied it: ``listener(order, event)``
(:meth:`ExecutionEngine.add_order_listener <autotrader_core.engine.ExecutionEngine.add_order_listener>`)."""


def log_order_event(order: Order, event: OrderEvent, account: AccountId | None = None) -> None:
    """Write the ``autotrader.orders`` record of one applied event."""
    fields: dict[str, object] = {
        "event": type(event).__name__,
        "client_order_id": order.client_order_id,
        "broker_order_id": order.broker_order_id,
        "broker": order.broker,
        "symbol": order.symbol,
        "side": order.side.value,
        "outcome": order.status.value,
        "filled_quantity": order.filled_quantity,
    }
    if account is not None:
        fields["account"] = str(account)
    if isinstance(event, OrderFilled):
        fill = event.fill
        fields.update(trade_id=fill.trade_id, quantity=fill.quantity, price=fill.price, fee=fill.fee)
    elif isinstance(event, OrderRejected):
        fields.update(reason=event.reason, code=event.code)
    events_logger.info("order %s %s", order.client_order_id, order.status.value, extra=fields)


def log_refusal(order: Order, reason: str, account: AccountId | None = None) -> None:
    """Write the ``autotrader.orders`` record of an order refused before send."""
    fields: dict[str, object] = {
        "event": "refused",
        "client_order_id": order.client_order_id,
        "broker": order.broker,
        "symbol": order.symbol,
        "side": order.side.value,
        "outcome": "refused",
        "reason": reason,
    }
    if account is not None:
        fields["account"] = str(account)
    events_logger.info("order refused before send", extra=fields)


class OrderFlow:
    """Applies, journals and fans out every order change of one engine.

    Args:
        oms: The order manager (single owner of order state).
        journal: The durable journal, if any.
        notifier: The observer hooks.
        context: What strategy callbacks receive.
        is_running: Whether the engine runs (a journal failure after stop is expected).
    """

    def __init__(
        self,
        oms: OrderManager,
        *,
        journal: Journal | None,
        notifier: Notifier,
        context: StrategyContext,
        is_running: Callable[[], bool],
    ) -> None:
        self.oms = oms
        self.journal = journal
        self.notifier = notifier
        self.context = context
        self.strategy: Strategy | None = None
        """The strategy whose callbacks see every change (set by the engine)."""
        self._is_running = is_running
        self.gate: TradingGate | None = None
        """Halted on the first journal write failure (set by the engine)."""
        self.journal_failure: JournalError | None = None
        """The first journal write failure while running (``None``: the journal never failed)."""
        self.listeners: list[OrderListener] = []
        """In-process listeners, told of every live order event before the observer hooks
        (:meth:`ExecutionEngine.add_order_listener <autotrader_core.engine.ExecutionEngine.add_order_listener>`)."""
        self.event_journal_seq: int | None = None
        """While the listeners run: the journal record of their event (or of the report it came
        from); ``None`` when it was not journaled."""
        self.after_change: Callable[[Order], Awaitable[None]] | None = None
        """Told about every order an applied event changed: set by the resolver of unknown outcomes
        while it has an unknown outcome to watch (``None`` otherwise: nothing on the hot path)."""

    # -- intents and requests (write-ahead) -------------------------------------------------
    async def record_intent(self, order: Order) -> None:
        """Add a new order to the OMS and journal its intent before it is sent.

        Raises:
            InvalidOrder: the client order id is already in use.
            JournalError: the intent is not durable; the order is closed as rejected
                (never sent, so refusing locally is safe).
        """
        self.oms.add(order)
        journal = self.journal
        if journal is None:
            return
        try:
            await journal.record_intent(order)
        except JournalError as exc:
            self.journal_failed(exc)
            await self.apply(OrderRejected(order.client_order_id, reason=f"journal unavailable: {exc}"))
            raise

    async def request_cancel(self, order: Order) -> None:
        """Mark ``order`` pending-cancel, journaling the request first.

        Raises:
            IllegalTransition: the order is already finished (nothing journaled).
        """
        if self.journal is not None:
            next_status(order.status, Trigger.REQUEST_CANCEL)  # refuse before journaling anything
            try:
                await self.journal.record_request("cancel", order)  # write-ahead, like an intent
            except JournalError as exc:
                self.journal_failed(exc)
                raise
        self.oms.mark_pending_cancel(order.client_order_id)

    async def request_modify(self, order: Order, change: OrderChange) -> None:
        """Mark ``order`` pending-modify, journaling the request (and its new terms) first."""
        if self.journal is not None:
            next_status(order.status, Trigger.REQUEST_MODIFY)  # refuse before journaling anything
            try:
                await self.journal.record_request("modify", order, change)  # write-ahead
            except JournalError as exc:
                self.journal_failed(exc)
                raise
        self.oms.mark_pending_modify(order.client_order_id)

    # -- events -----------------------------------------------------------------------------
    async def apply_all(self, events: Sequence[OrderEvent]) -> None:
        """:meth:`apply` each event in turn."""
        for event in events:
            await self.apply(event)

    async def apply(self, event: OrderEvent, *, journal: bool = True, journal_seq: int | None = None) -> None:
        """Journal (unless ``journal=False``), apply to the OMS, then fan out if it changed an order.

        Args:
            event: The broker event.
            journal: Record it first (``False``: it comes from a record already written, e.g.
                a report's, whose sequence number ``journal_seq`` is then).
            journal_seq: With ``journal=False``, the sequence number of the record it comes from.
        """
        if journal and self.journal is not None:
            journal_seq = await self.journal_event(event)
        order = self.oms.apply(event)
        if order is None:
            return
        notifier = self.notifier
        if events_logger.isEnabledFor(logging.INFO):
            log_order_event(order, event, notifier.account)
        fill = event.fill if isinstance(event, OrderFilled) else None
        # Set with nothing awaited before the listeners run: each reads its own event's record.
        self.event_journal_seq = journal_seq
        for listener in self.listeners:  # plain calls: no plugin machinery per event
            try:
                listener(order, event)
            except Exception:
                logger.exception(
                    "order listener %r failed on %s of %s (ignored: order handling goes on)",
                    listener,
                    type(event).__name__,
                    order.client_order_id,
                )
        if notifier.enabled:
            notifier.hook("autotrader_on_order_event", order=order, event=event)
            if fill is not None:
                notifier.hook(
                    "autotrader_on_fill", order=order, fill=fill, position=self.oms.position(fill.symbol)
                )
            if isinstance(event, OrderRejected):
                notifier.hook("autotrader_on_reject", order=order, reason=event.reason, code=event.code)
        strategy = self.strategy
        if strategy is not None:
            try:
                if fill is not None:
                    await strategy.on_fill(fill, self.oms.position(fill.symbol), self.context)
                await strategy.on_order_update(order, self.context)
            except Exception:
                logger.exception("strategy callback failed for order %s", order.client_order_id)
        if self.after_change is not None:
            await self.after_change(order)

    async def journal_event(self, event: OrderEvent | OrderReport) -> int | None:
        """Journal a broker event or query report; a journal failure is logged, never raised.

        A broker event is a fact: it reaches the OMS even when the journal has failed
        (new orders are refused then, by the write-ahead in :meth:`record_intent`).

        Returns:
            The record's sequence number (``None``: not journaled).
        """
        assert self.journal is not None
        try:
            if isinstance(event, OrderReport):
                return await self.journal.record_report(event)
            return await self.journal.record_event(event)
        except JournalError as exc:
            log = logger.critical if self._is_running() else logger.warning  # after stop(): closed, expected
            log("journal unavailable; applying %r unjournaled: %s", event, exc)
            self.journal_failed(exc)
            return None

    def journal_failed(self, exc: JournalError) -> None:
        """A journal write failed while running: halt trading and alert (source ``"journal"``), once.

        Without a durable journal no new order may go out (the write-ahead refuses each
        one anyway); halting says so once, loudly, instead of one local reject per order.
        """
        if not self._is_running() or self.journal_failure is not None:
            return  # after stop() the journal is closed: expected; already halted: said once
        self.journal_failure = exc
        message = f"journal write failed; trading halted, no more orders can be sent: {exc}"
        logger.critical("%s", message)
        if self.gate is not None:
            self.gate.halt(f"journal write failed: {exc}")
        self.notifier.alert("critical", message, source="journal")

    def refuse(self, order: Order, reason: str, code: str | None = None) -> None:
        """Report an order refused before send (risk check, bad input): log record and reject hook."""
        log_refusal(order, reason, self.notifier.account)
        self.notifier.hook("autotrader_on_reject", order=order, reason=reason, code=code)
