"""The order management system: the single owner of order state and positions.

Every broker event passes through :meth:`OrderManager.apply`, which runs the
state machine, aggregates fills idempotently on trade id (duplicates and
out-of-order fills are harmless), keeps net positions and realized PnL, and
tells its listener what changed. Fills are facts: a fill is never dropped, even
for an order in an unexpected state; it is applied and the oddity is logged.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from autotrader_core.enums import OrderStatus
from autotrader_core.errors import IllegalTransition, InvalidOrder
from autotrader_core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModified,
    OrderModifyRejected,
    OrderRejected,
)
from autotrader_core.models import Fill, Instrument, Order, OrderReport, Position, utc_now
from autotrader_core.positions import apply_fill_to_position
from autotrader_core.state_machine import Trigger, next_status

__all__ = ["OmsListener", "OmsMetrics", "OmsState", "OrderManager"]

logger = logging.getLogger(__name__)
_ZERO = Decimal(0)

OmsListener = Callable[[Order, OrderEvent, Fill | None], None]
"""Called after an event changed an order: ``(order, event, new fill or None)``."""


@dataclass(slots=True)
class OmsMetrics:
    """Running figures for the status display and the metrics exporter."""

    orders_total: int = 0
    orders_filled: int = 0
    orders_canceled: int = 0
    orders_rejected: int = 0
    orders_expired: int = 0
    fills_total: int = 0
    duplicate_fills: int = 0
    ignored_events: int = 0
    orphan_fills: int = 0
    filled_notional: Decimal = _ZERO
    commission: Decimal = _ZERO
    _latency_total: float = 0.0
    _latency_count: int = 0

    @property
    def fill_rate(self) -> float:
        """Filled orders / finished orders (0.0 before anything finished)."""
        done = self.orders_filled + self.orders_canceled + self.orders_rejected + self.orders_expired
        return self.orders_filled / done if done else 0.0

    @property
    def average_fill_latency(self) -> float | None:
        """Mean seconds from order creation to its first fill."""
        return self._latency_total / self._latency_count if self._latency_count else None

    def record_latency(self, seconds: float) -> None:
        """Add one order's creation → first fill latency."""
        self._latency_total += seconds
        self._latency_count += 1


@dataclass(slots=True)
class OmsState:
    """Everything an :class:`OrderManager` holds: what a journal snapshot keeps (see
    :mod:`autotrader_core.snapshots`)."""

    active: list[Order]
    completed: list[Order]
    """Oldest first."""
    fills: dict[str, list[Fill]]
    """Applied fills per client order id, in the order applied."""
    broker_ids: dict[str, str]
    """Broker order id → client order id (a replaced order's old ids included)."""
    positions: list[Position]
    orphans: list[Fill]
    metrics: OmsMetrics


@dataclass(slots=True)
class _Book:
    active: dict[str, Order] = field(default_factory=dict)
    completed: dict[str, Order] = field(default_factory=dict)
    by_broker_id: dict[str, str] = field(default_factory=dict)
    fills: dict[str, list[Fill]] = field(default_factory=dict)


class OrderManager:
    """Tracks orders, fills and positions.

    Args:
        listener: Called after every event that changed something.
        completed_retention: Finished orders kept in memory (oldest dropped first), so a
            long session runs in bounded memory; the journal keeps the full history.
    """

    def __init__(self, *, listener: OmsListener | None = None, completed_retention: int = 100_000) -> None:
        self._book = _Book()
        self._positions: dict[str, Position] = {}
        self._seen_fills: set[tuple[str, str, str]] = set()
        self._orphans: list[Fill] = []
        self._instruments: dict[str, Instrument] = {}
        self._completed_order: deque[str] = deque()
        self._retention = completed_retention
        self.listener = listener
        self.metrics = OmsMetrics()

    # -- setup ----------------------------------------------------------------
    def set_instruments(self, instruments: Iterable[Instrument]) -> None:
        """Instrument rules used to value fees and contract multipliers."""
        self._instruments = {i.symbol: i for i in instruments}

    def instruments(self) -> list[Instrument]:
        """The instrument rules set by :meth:`set_instruments` (a snapshot's fold uses the same)."""
        return list(self._instruments.values())

    # -- queries --------------------------------------------------------------
    def get(self, client_order_id: str) -> Order | None:
        """The order with this client order id, active or recently completed."""
        return self._book.active.get(client_order_id) or self._book.completed.get(client_order_id)

    def get_by_broker_id(self, broker_order_id: str) -> Order | None:
        """The order the broker knows as ``broker_order_id``."""
        cid = self._book.by_broker_id.get(broker_order_id)
        return None if cid is None else self.get(cid)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Orders that may still trade (including ones awaiting acknowledgement)."""
        orders = self._book.active.values()
        return [o for o in orders if symbol is None or o.symbol == symbol]

    def open_order_count(self) -> int:
        """Number of orders that may still trade."""
        return len(self._book.active)

    def completed_orders(self) -> list[Order]:
        """Finished orders still held in memory, oldest first."""
        return [self._book.completed[c] for c in self._completed_order if c in self._book.completed]

    def fills_for(self, client_order_id: str) -> list[Fill]:
        """Fills applied to one order, in the order they were applied."""
        return list(self._book.fills.get(client_order_id, ()))

    def position(self, symbol: str) -> Position:
        """Net position in ``symbol`` (flat when never traded)."""
        position = self._positions.get(symbol)
        if position is None:
            position = self._positions[symbol] = Position(symbol=symbol)
        return position

    def positions(self) -> dict[str, Position]:
        """Every position ever opened, flat ones included."""
        return dict(self._positions)

    def orphan_fills(self) -> list[Fill]:
        """Fills for orders this OMS does not know (reported for reconciliation)."""
        return list(self._orphans)

    def has_seen_fill(self, fill: Fill) -> bool:
        """Whether this trade was already applied."""
        return fill.key in self._seen_fills

    def __iter__(self) -> Iterator[Order]:
        yield from self._book.active.values()
        yield from self._book.completed.values()

    # -- local intents ----------------------------------------------------------
    def add(self, order: Order) -> Order:
        """Record a new order intent before it is sent.

        Raises:
            InvalidOrder: when the client order id is already in use.
        """
        cid = order.client_order_id
        if cid in self._book.active or cid in self._book.completed:
            raise InvalidOrder(f"client order id {cid!r} is already in use")
        self._book.active[cid] = order
        self.metrics.orders_total += 1
        return order

    def mark_pending_cancel(self, client_order_id: str) -> Order:
        """Note that a cancel request is about to be sent.

        Raises:
            IllegalTransition: the order cannot be canceled (e.g. already filled).
        """
        return self._request(client_order_id, Trigger.REQUEST_CANCEL)

    def mark_pending_modify(self, client_order_id: str) -> Order:
        """Note that a modify request is about to be sent."""
        return self._request(client_order_id, Trigger.REQUEST_MODIFY)

    def _request(self, client_order_id: str, trigger: Trigger) -> Order:
        order = self.get(client_order_id)
        if order is None:
            raise InvalidOrder(f"unknown client order id {client_order_id!r}")
        order.status = next_status(order.status, trigger, has_fills=order.filled_quantity > 0)
        order.updated_at = utc_now()
        return order

    # -- broker events ----------------------------------------------------------
    def apply(self, event: OrderEvent) -> Order | None:
        """Apply one broker event; returns the order it changed, or ``None``.

        ``None`` means nothing changed: a duplicate fill, a repeated or late event,
        an illegal transition (logged), or an event for an unknown order (fills for
        unknown orders are kept in :meth:`orphan_fills`).
        """
        if isinstance(event, OrderFilled):
            return self._apply_fill(event)
        order = self.get(event.client_order_id)
        if order is None:
            self.metrics.ignored_events += 1
            logger.warning("event for unknown order %s ignored: %r", event.client_order_id, event)
            return None
        before = order.status
        try:
            changed = self._apply_state_event(order, event)
        except IllegalTransition as exc:
            self.metrics.ignored_events += 1
            logger.warning("order %s: %s; event ignored: %r", order.client_order_id, exc, event)
            return None
        if not changed:
            return None
        order.updated_at = event.timestamp
        self._after_change(order, before, event, None)
        return order

    def _apply_state_event(self, order: Order, event: OrderEvent) -> bool:
        has_fills = order.filled_quantity > 0
        if isinstance(event, OrderAccepted):
            status = next_status(order.status, Trigger.ACCEPT)
            changed = status is not order.status
            if event.broker_order_id and order.broker_order_id != event.broker_order_id:
                self._set_broker_id(order, event.broker_order_id)
                changed = True
            if changed and order.accepted_at is None:
                order.accepted_at = event.timestamp
            order.status = status
            return changed
        if isinstance(event, OrderRejected):
            status = next_status(order.status, Trigger.REJECT)
            if status is order.status:
                return False
            order.status = status
            order.reject_reason = event.reason
            return True
        if isinstance(event, OrderCanceled):
            return self._set_status(order, next_status(order.status, Trigger.CANCEL))
        if isinstance(event, OrderExpired):
            return self._set_status(order, next_status(order.status, Trigger.EXPIRE))
        if isinstance(event, OrderCancelRejected):
            return self._set_status(
                order, next_status(order.status, Trigger.CANCEL_REJECT, has_fills=has_fills)
            )
        if isinstance(event, OrderModifyRejected):
            return self._set_status(
                order, next_status(order.status, Trigger.MODIFY_REJECT, has_fills=has_fills)
            )
        if isinstance(event, OrderModified):
            order.status = next_status(order.status, Trigger.MODIFY, has_fills=has_fills)
            if event.quantity is not None:
                order.quantity = event.quantity
            if event.limit_price is not None:
                order.limit_price = event.limit_price
            if event.stop_price is not None:
                order.stop_price = event.stop_price
            if event.broker_order_id and event.broker_order_id != order.broker_order_id:
                self._set_broker_id(order, event.broker_order_id)
            return True
        raise TypeError(f"not an order event: {event!r}")  # pragma: no cover - exhaustive above

    @staticmethod
    def _set_status(order: Order, status: OrderStatus) -> bool:
        if status is order.status:
            return False
        order.status = status
        return True

    def _set_broker_id(self, order: Order, broker_order_id: str) -> None:
        order.broker_order_id = broker_order_id
        self._book.by_broker_id[broker_order_id] = order.client_order_id

    def _apply_fill(self, event: OrderFilled) -> Order | None:
        fill = event.fill
        key = fill.key
        if key in self._seen_fills:
            self.metrics.duplicate_fills += 1
            return None
        order = self.get(fill.client_order_id)
        if order is None and fill.broker_order_id:
            order = self.get_by_broker_id(fill.broker_order_id)
        self._seen_fills.add(key)
        self._book_position(fill)
        if order is None:
            self._orphans.append(fill)
            self.metrics.orphan_fills += 1
            logger.error("fill %s for unknown order %s kept as orphan", fill.trade_id, fill.client_order_id)
            return None

        before = order.status
        previous_qty = order.filled_quantity
        new_qty = previous_qty + fill.quantity
        if new_qty > order.quantity:
            logger.error(
                "order %s overfilled: %s of %s (fill %s applied: fills are facts)",
                order.client_order_id,
                new_qty,
                order.quantity,
                fill.trade_id,
            )
        previous_avg = order.average_fill_price or _ZERO
        order.average_fill_price = (previous_avg * previous_qty + fill.price * fill.quantity) / new_qty
        order.filled_quantity = new_qty
        order.fees += fill.fee
        if order.broker_order_id is None and fill.broker_order_id:
            self._set_broker_id(order, fill.broker_order_id)
        try:
            order.status = next_status(order.status, Trigger.FILL, fully_filled=new_qty >= order.quantity)
        except IllegalTransition as exc:
            logger.warning("order %s: %s; fill %s still counted", order.client_order_id, exc, fill.trade_id)
        if order.first_fill_at is None:
            order.first_fill_at = fill.timestamp
            self.metrics.record_latency(max((fill.timestamp - order.created_at).total_seconds(), 0.0))
        order.updated_at = fill.timestamp
        self._book.fills.setdefault(order.client_order_id, []).append(fill)
        self.metrics.fills_total += 1
        self.metrics.filled_notional += fill.price * fill.quantity
        self.metrics.commission += fill.fee
        self._after_change(order, before, event, fill)
        return order

    def _book_position(self, fill: Fill) -> None:
        instrument = self._instruments.get(fill.symbol)
        position = self.position(fill.symbol)
        if instrument is None:
            apply_fill_to_position(position, fill)
        else:
            apply_fill_to_position(
                position,
                fill,
                base_currency=instrument.base,
                quote_currency=instrument.quote,
                multiplier=instrument.multiplier,
            )

    def _after_change(self, order: Order, before: OrderStatus, event: OrderEvent, fill: Fill | None) -> None:
        if order.status is not before and order.status.is_terminal:
            self._complete(order)
        if self.listener is not None:
            self.listener(order, event, fill)

    def _complete(self, order: Order) -> None:
        cid = order.client_order_id
        if self._book.active.pop(cid, None) is None:
            return
        self._book.completed[cid] = order
        self._completed_order.append(cid)
        status = order.status
        if status is OrderStatus.FILLED:
            self.metrics.orders_filled += 1
        elif status is OrderStatus.CANCELED:
            self.metrics.orders_canceled += 1
        elif status is OrderStatus.REJECTED:
            self.metrics.orders_rejected += 1
        elif status is OrderStatus.EXPIRED:
            self.metrics.orders_expired += 1
        while len(self._completed_order) > self._retention:
            self._evict(self._completed_order.popleft())

    def _evict(self, cid: str) -> None:
        order = self._book.completed.pop(cid, None)
        if order is None:
            return
        if order.broker_order_id is not None:
            self._book.by_broker_id.pop(order.broker_order_id, None)
        for fill in self._book.fills.pop(cid, ()):
            self._seen_fills.discard(fill.key)

    # -- snapshots ------------------------------------------------------------------
    def export_state(self) -> OmsState:
        """The whole state, for a snapshot (the objects themselves: encode before changing them)."""
        orders = {**self._book.active, **self._book.completed}
        return OmsState(
            active=list(self._book.active.values()),
            completed=self.completed_orders(),
            fills={cid: list(fills) for cid, fills in self._book.fills.items() if cid in orders},
            broker_ids={b: c for b, c in self._book.by_broker_id.items() if c in orders},
            positions=list(self._positions.values()),
            orphans=list(self._orphans),
            metrics=self.metrics,
        )

    def restore_state(self, state: OmsState) -> None:
        """Load a snapshot's state into this fresh OMS (then replay the journal rows after it).

        Raises:
            InvalidOrder: this OMS already holds orders or positions.
        """
        if self._book.active or self._book.completed or self._positions:
            raise InvalidOrder("a snapshot is restored into a fresh OMS only")
        for order in state.active:
            self._book.active[order.client_order_id] = order
        for order in state.completed:
            self._book.completed[order.client_order_id] = order
            self._completed_order.append(order.client_order_id)
        self._book.by_broker_id.update(state.broker_ids)
        for cid, fills in state.fills.items():
            self._book.fills[cid] = list(fills)
            self._seen_fills.update(f.key for f in fills)
        self._positions = {p.symbol: p for p in state.positions}
        self._orphans = list(state.orphans)
        self._seen_fills.update(f.key for f in state.orphans)
        self.metrics = state.metrics

    # -- broker queries -----------------------------------------------------------
    def apply_report(self, report: OrderReport) -> Order | None:
        """Settle an order from a broker query (after a timeout, or during reconciliation).

        Applies the events :meth:`report_events` derives. Fill quantities are never
        invented from a report: when the broker reports more filled than the OMS has
        applied, the fills must be fetched (``get_fills``) and applied;
        :meth:`missing_fill_quantity` tells how much.
        """
        order, events = self.report_events(report)
        if order is None:
            return None
        before = order.status
        changed = False
        for event in events:
            changed = self.apply(event) is not None or changed
        return order if changed or order.status is not before else None

    def report_events(self, report: OrderReport) -> tuple[Order | None, list[OrderEvent]]:
        """The order a broker report is about, and the events that bring it to the reported state.

        Records the broker order id the report carries. A report that shows a pending
        cancel or modify never took effect (the order still working) yields the
        matching ``…Rejected`` event, so the order does not stay pending forever.
        """
        cid = report.client_order_id
        order = self.get(cid) if cid else None
        if order is None and report.broker_order_id:
            order = self.get_by_broker_id(report.broker_order_id)
        if order is None:
            return None, []
        if report.broker_order_id and order.broker_order_id != report.broker_order_id:
            self._set_broker_id(order, report.broker_order_id)
        target = report.status
        events: list[OrderEvent] = []
        cid = order.client_order_id
        if order.status is OrderStatus.PENDING_SUBMIT and target is not OrderStatus.REJECTED:
            events.append(OrderAccepted(cid, report.broker_order_id))
        if target is OrderStatus.CANCELED:
            events.append(OrderCanceled(cid, reason="reported by broker query"))
        elif target is OrderStatus.EXPIRED:
            events.append(OrderExpired(cid))
        elif target is OrderStatus.REJECTED:
            events.append(OrderRejected(cid, reason="reported by broker query"))
        elif target in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED):
            if order.status is OrderStatus.PENDING_CANCEL:
                events.append(OrderCancelRejected(cid, reason="broker still reports the order working"))
            elif order.status is OrderStatus.PENDING_MODIFY:
                same_terms = (report.quantity, report.limit_price, report.stop_price) == (
                    order.quantity,
                    order.limit_price,
                    order.stop_price,
                )
                if same_terms:
                    events.append(OrderModifyRejected(cid, reason="broker reports the order unchanged"))
                else:  # the modify took effect: adopt the broker's terms
                    events.append(
                        OrderModified(
                            cid,
                            quantity=report.quantity,
                            limit_price=report.limit_price,
                            stop_price=report.stop_price,
                            broker_order_id=report.broker_order_id,
                        )
                    )
        return order, events

    @staticmethod
    def missing_fill_quantity(order: Order, report: OrderReport) -> Decimal:
        """How much the broker reports filled beyond the fills the OMS has applied."""
        return max(report.filled_quantity - order.filled_quantity, _ZERO)

    def stale_orders(self, older_than: timedelta, *, now: datetime | None = None) -> list[Order]:
        """Orders stuck awaiting the broker (submit/cancel/modify) for longer than ``older_than``."""
        cutoff = (now or utc_now()) - older_than
        waiting = {OrderStatus.PENDING_SUBMIT, OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_MODIFY}
        return [o for o in self._book.active.values() if o.status in waiting and o.updated_at < cutoff]
