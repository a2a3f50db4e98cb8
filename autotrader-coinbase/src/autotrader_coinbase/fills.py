"""Turn the user channel's cumulative order state into exact fills, each exactly once.

The ``user`` channel reports ``cumulative_quantity`` / ``number_of_fills`` but no
trade ids, prices or fees per trade (protocols.md §3.5). When an order's
cumulative quantity grows past what was already emitted, :class:`FillCompleter`
fetches the order's fills from ``/orders/historical/fills`` and emits the ones
whose trade id it has not emitted before. The REST fills list can lag the
stream by a moment; a shortfall is remembered and fetched again on the next
heartbeat. A reconnect replays orders the same way (catch-up), and the trade-id
set makes every replay harmless: the OMS gets each fill once.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from autotrader_core.enums import OrderSide, OrderStatus
from autotrader_core.errors import BrokerProtocolError, RateLimited, TransientError
from autotrader_core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
)
from autotrader_core.models import Fill
from autotrader_core.skipping import PARSE_ERRORS, BadItemLog

from autotrader_coinbase.errors import BROKER
from autotrader_coinbase.parsing import ProductInfo, UserOrderUpdate, parse_fill

__all__ = ["FillCompleter", "OrderDirectory", "OrderRef", "OrderState"]

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
MAX_FETCHES_WITHOUT_PROGRESS = 30
"""After this many fruitless fetches for one order, stop and log (reconciliation takes over)."""


@dataclass(frozen=True, slots=True)
class OrderRef:
    """What a fill needs from its order: our id, the symbol and the side."""

    client_order_id: str
    symbol: str
    side: OrderSide


@dataclass(slots=True)
class OrderState:
    """How far one order's events have been emitted."""

    ref: OrderRef
    emitted_quantity: Decimal = ZERO
    """Sum of the quantities of the fills emitted so far."""
    target_quantity: Decimal = ZERO
    """Cumulative quantity the broker last reported."""
    emitted_count: int = 0
    target_count: int = 0
    """``number_of_fills`` the broker last reported."""
    accepted: bool = False
    terminal: bool = False
    last_fetch: float = field(default=0.0)
    fetches_without_progress: int = 0

    @property
    def missing_fills(self) -> bool:
        """True while the broker reports more fills (by count, else by quantity) than we emitted."""
        if self.fetches_without_progress >= MAX_FETCHES_WITHOUT_PROGRESS:
            return False
        if self.target_count:
            return self.emitted_count < self.target_count
        return self.target_quantity > self.emitted_quantity


FetchFills = Callable[[str], Awaitable[list[Mapping[str, Any]]]]
"""``order_id -> raw fill objects`` (``GET /orders/historical/fills?order_ids=<id>``)."""


class FillCompleter:
    """Emits accepted/fill/terminal events from cumulative updates, de-duplicated by trade id.

    Args:
        fetch_fills: Fetches the raw fills of one order.
        retry_interval: Seconds between two fetches for an order whose fills lag.
        max_tracked: Trade ids and orders remembered (oldest forgotten first).
        clock: Monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        fetch_fills: FetchFills,
        *,
        retry_interval: float = 1.0,
        max_tracked: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        product_for: Callable[[str], ProductInfo | None] | None = None,
        bad_items: BadItemLog | None = None,
    ) -> None:
        self._fetch_fills = fetch_fills
        self._product_for = product_for or (lambda product_id: None)
        self._bad_items = bad_items if bad_items is not None else BadItemLog(BROKER)
        self._retry_interval = retry_interval
        self._max_tracked = max_tracked
        self._clock = clock
        self._seen_trades: OrderedDict[str, None] = OrderedDict()
        self._orders: OrderedDict[str, OrderState] = OrderedDict()

    # -- bookkeeping -------------------------------------------------------------------------

    def track(self, order_id: str, ref: OrderRef, *, accepted: bool = False) -> OrderState:
        """Start (or keep) following ``order_id``; ``accepted`` marks OrderAccepted as already sent."""
        state = self._orders.get(order_id)
        if state is None:
            state = OrderState(ref=ref)
            self._orders[order_id] = state
            while len(self._orders) > self._max_tracked:
                self._orders.popitem(last=False)
        state.accepted = state.accepted or accepted
        return state

    def open_order_ids(self) -> list[str]:
        """Orders not known to be finished, or finished with fills still missing (for catch-up)."""
        return [oid for oid, state in self._orders.items() if not state.terminal or state.missing_fills]

    def has_seen(self, trade_id: str) -> bool:
        """Whether a fill with this trade id was already emitted."""
        return trade_id in self._seen_trades

    def _mark_seen(self, trade_id: str) -> None:
        self._seen_trades[trade_id] = None
        while len(self._seen_trades) > self._max_tracked:
            self._seen_trades.popitem(last=False)

    # -- fills ---------------------------------------------------------------------------------

    def emit_new_fills(
        self, raw_fills: Iterable[Mapping[str, Any]], refs: Mapping[str, OrderRef]
    ) -> list[OrderEvent]:
        """Fills not emitted before, oldest first; ``refs`` maps order id → order for each fill.

        Raw fills whose order is not in ``refs`` are skipped (the caller resolves them first).
        A fill that cannot be parsed is reported (a possibly lost fill, see
        :mod:`autotrader_core.skipping`) and skipped; the others are emitted.
        """
        fills: list[Fill] = []
        for raw in raw_fills:
            trade_id = raw.get("trade_id")
            order_id = raw.get("order_id")
            if (
                not isinstance(trade_id, str)
                or not isinstance(order_id, str)
                or trade_id in self._seen_trades
            ):
                continue
            ref = refs.get(order_id)
            if ref is None:
                continue
            try:
                product_id = raw.get("product_id")
                product = self._product_for(product_id) if isinstance(product_id, str) else None
                fills.append(
                    parse_fill(raw, client_order_id=ref.client_order_id, side=ref.side, product=product)
                )
            except PARSE_ERRORS as exc:
                self._bad_items.report("fill", raw, exc, may_hold_fill=True)
        fills.sort(key=lambda fill: fill.timestamp)
        events: list[OrderEvent] = []
        for fill in fills:
            if fill.trade_id in self._seen_trades:  # the same trade twice in one page
                continue
            self._mark_seen(fill.trade_id)
            if fill.broker_order_id is not None:
                state = self._orders.get(fill.broker_order_id)
                if state is None and fill.broker_order_id in refs:
                    state = self.track(fill.broker_order_id, refs[fill.broker_order_id])
                if state is not None:
                    state.emitted_quantity += fill.quantity
                    state.emitted_count += 1
                    state.target_quantity = max(state.target_quantity, state.emitted_quantity)
                    state.target_count = max(state.target_count, state.emitted_count)
            events.append(OrderFilled(fill))
        return events

    async def _complete(self, order_id: str, state: OrderState) -> list[OrderEvent]:
        state.last_fetch = self._clock()
        try:
            raw = await self._fetch_fills(order_id)
        except (TransientError, RateLimited) as exc:
            # Still missing: the next heartbeat fetches again.
            logger.warning("coinbase: fetching fills of order %s failed (%s); will retry", order_id, exc)
            return []
        reported = self._bad_items.total
        try:
            events = self.emit_new_fills(raw, {order_id: state.ref})
        except BrokerProtocolError as exc:
            # The same reply would fail again: stop fetching, reconciliation settles this order.
            logger.error("coinbase: unreadable fills for order %s, giving up on them: %s", order_id, exc)
            state.fetches_without_progress = MAX_FETCHES_WITHOUT_PROGRESS
            return []
        if self._bad_items.total != reported:
            # A fill of this order was unreadable (reported, with an alert); the readable ones are
            # in ``events``. Fetching again would read the same fill: reconciliation settles it.
            state.fetches_without_progress = MAX_FETCHES_WITHOUT_PROGRESS
            return events
        state.fetches_without_progress = 0 if events else state.fetches_without_progress + 1
        if state.fetches_without_progress >= MAX_FETCHES_WITHOUT_PROGRESS:
            logger.warning(
                "coinbase: order %s still lacks fills after %d fetches; leaving it to reconciliation",
                order_id,
                state.fetches_without_progress,
            )
        elif state.missing_fills:
            logger.info(
                "coinbase: order %s reports %s filled, fills list has %s so far; will fetch again",
                order_id,
                state.target_quantity,
                state.emitted_quantity,
            )
        return events

    # -- updates ---------------------------------------------------------------------------------

    async def on_update(self, update: UserOrderUpdate, *, ref: OrderRef | None = None) -> list[OrderEvent]:
        """Events for one cumulative order update, in a safe order: accepted, fills, terminal.

        ``ref`` is the order as we placed it (from the adapter's id map); without it
        the update's own client order id, product and side are used.
        """
        ref = ref or OrderRef(update.client_order_id, update.product_id, update.side)
        state = self.track(update.order_id, ref)
        events: list[OrderEvent] = []
        cid = state.ref.client_order_id
        if not state.accepted and update.status in (
            OrderStatus.ACCEPTED,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.PENDING_CANCEL,
            OrderStatus.PENDING_MODIFY,
        ):
            state.accepted = True
            events.append(OrderAccepted(cid, update.order_id))
        if update.cumulative_quantity > state.target_quantity:
            state.target_quantity = update.cumulative_quantity
        if update.number_of_fills > state.target_count:
            state.target_count = update.number_of_fills
        if state.missing_fills:
            events.extend(await self._complete(update.order_id, state))
        if not state.terminal:
            terminal = self._terminal_event(update, cid)
            if terminal is not None or update.status is OrderStatus.FILLED:
                state.terminal = True
            if terminal is not None:
                events.append(terminal)
        return events

    @staticmethod
    def _terminal_event(update: UserOrderUpdate, cid: str) -> OrderEvent | None:
        if update.status is OrderStatus.CANCELED:
            return OrderCanceled(cid, reason=update.reason or None)
        if update.status is OrderStatus.EXPIRED:
            return OrderExpired(cid)
        if update.status is OrderStatus.REJECTED:
            return OrderRejected(cid, reason=update.reason or "FAILED", code=update.reason or None)
        return None

    async def retry_lagging(self) -> list[OrderEvent]:
        """Fetch again for orders whose fills lagged the stream (at most once per ``retry_interval``)."""
        now = self._clock()
        events: list[OrderEvent] = []
        for order_id, state in list(self._orders.items()):
            if state.missing_fills and now - state.last_fetch >= self._retry_interval:
                events.extend(await self._complete(order_id, state))
        return events


# -- the id map ---------------------------------------------------------------------------
# Client order id ↔ Coinbase order id (the only order state the adapter keeps). Coinbase
# addresses orders by its own ``order_id`` (the ``client_order_id`` query parameter is
# deprecated) and its fills carry no client order id, so the adapter remembers both ids of
# every order it placed or saw. Bounded: the oldest entries are forgotten first; a forgotten
# order is looked up again over REST. (Was directory.py.)


class OrderDirectory:
    """Bidirectional, bounded id map.

    Args:
        max_orders: Entries kept (oldest evicted first).
    """

    def __init__(self, max_orders: int = 100_000) -> None:
        self._max = max_orders
        self._by_order_id: OrderedDict[str, OrderRef] = OrderedDict()
        self._by_client_id: dict[str, str] = {}

    def remember(self, order_id: str, ref: OrderRef) -> None:
        """Record that ``order_id`` is our ``ref.client_order_id``."""
        self._by_order_id[order_id] = ref
        self._by_order_id.move_to_end(order_id)
        if ref.client_order_id:
            self._by_client_id[ref.client_order_id] = order_id
        while len(self._by_order_id) > self._max:
            old_id, old_ref = self._by_order_id.popitem(last=False)
            if self._by_client_id.get(old_ref.client_order_id) == old_id:
                del self._by_client_id[old_ref.client_order_id]

    def ref(self, order_id: str) -> OrderRef | None:
        """Our view of a Coinbase order, if known."""
        return self._by_order_id.get(order_id)

    def order_id(self, client_order_id: str) -> str | None:
        """Coinbase's id for one of our client order ids, if known."""
        return self._by_client_id.get(client_order_id)

    def __len__(self) -> int:
        return len(self._by_order_id)
