"""A venue that holds requests in flight: the kit's FakeBroker with a book per broker order id.

It models what issue 14 found at real venues, with no real waits:

* a submit can be **held** in the venue's gateway (our request timed out; it lands later,
  when the test calls :meth:`VenueBroker.land`), or executed with its **reply lost**;
* the duplicate-id check covers **open** orders only (Binance's -2010): a filled market
  order is not open, so a second send with the same id makes a second order;
* an expiry guarantee is enforced by the venue's own clock (:class:`VenueClock`, injected):
  a held request that lands after its stamp plus the window is refused;
* a modify is a native amend or a cancel-replace (a new broker order id, same client id),
  its reply can be lost; a cancel can hang forever.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

import anyio
from autotrader_conformance.testing import FakeBroker
from autotrader_core.adapter import OrderChange
from autotrader_core.enums import OrderStatus, OrderType
from autotrader_core.errors import (
    BrokerUnavailable,
    DuplicateClientOrderId,
    InvalidOrder,
    OrderNotFound,
    RequestTimeout,
)
from autotrader_core.events import OrderAccepted, OrderCanceled, OrderEvent, OrderFilled, OrderModified
from autotrader_core.models import Fill, Order, OrderReport, utc_now
from autotrader_core.resend import ResendGuarantee, ResendRule

__all__ = ["VenueBroker", "VenueClock", "declare_expiry"]


class VenueClock:
    """The venue's clock: ours plus ``offset`` seconds (advance it instead of sleeping)."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset
        self.reads = 0

    def now(self) -> datetime:
        """The venue's time now."""
        return utc_now() + timedelta(seconds=self.offset)

    def advance(self, seconds: float) -> None:
        """Move the venue's clock forward."""
        self.offset += seconds


class VenueBroker(FakeBroker):
    """See the module docstring; ``placed`` lists the client order id of every order the venue created."""

    def __init__(self, guarantee: ResendGuarantee | None = None) -> None:
        super().__init__()
        self.resend_guarantee = guarantee or ResendGuarantee.none("test venue")
        self.clock = VenueClock()
        self.orders: dict[str, OrderReport] = {}
        self.latest: dict[str, str] = {}
        self.placed: list[str] = []
        self.held: list[tuple[Order, datetime]] = []
        self.hold_submits = 0
        self.submit_calls = 0
        self.hang_held = False
        """A held submit never returns (the engine dies waiting) instead of timing out."""
        self.lose_replies = 0
        self.modify_mode: Literal["amend", "replace"] = "amend"
        self.lose_modify_replies = 0
        self.modify_calls = 0
        self.hang_modifies = False
        """A modify never returns and never reaches the matching engine (the engine dies waiting)."""
        self.hang_cancels = False
        self.lookup_delay = 0.0
        self.lookup_errors = 0
        """The next lookups fail (BrokerUnavailable)."""
        self.lookups = 0
        self.land_after_lookups: int | None = None
        """Held requests land right after this many lookups have answered (before the next call)."""
        self._ids = itertools.count(1)

    # -- the re-send guarantee's clock ------------------------------------------------------
    async def venue_time(self) -> datetime:
        """The venue's clock, asked."""
        self._maybe_land()
        self.clock.reads += 1
        return self.clock.now()

    def _maybe_land(self) -> None:
        if self.land_after_lookups is not None and self.lookups >= self.land_after_lookups and self.held:
            self.land()

    # -- orders -----------------------------------------------------------------------------
    async def submit_order(self, order: Order) -> list[OrderEvent]:
        """Place, hold (reply lost, lands later) or place and lose the reply."""
        self._maybe_land()
        self.submit_calls += 1
        stamp = utc_now()  # the stamp the request carries
        if self.hold_submits:
            self.hold_submits -= 1
            self.held.append((copy.copy(order), stamp))
            if self.hang_held:
                await anyio.sleep_forever()
            raise RequestTimeout("request held in the venue's gateway", broker=self.name)
        events = self._place(order)
        if self.lose_replies:
            self.lose_replies -= 1
            raise RequestTimeout("reply lost", broker=self.name)
        return events

    def land(self) -> int:
        """Let every held request reach the matching engine; returns how many made an order."""
        made = 0
        held, self.held = self.held, []
        for order, stamp in held:
            guarantee = self.resend_guarantee
            if guarantee.rule is ResendRule.EXPIRY and guarantee.expired_by(stamp, self.clock.now()):
                continue  # refused: outside the receive window
            try:
                self._place(order)
            except DuplicateClientOrderId:
                continue
            made += 1
        return made

    def _place(self, order: Order) -> list[OrderEvent]:
        cid = order.client_order_id
        current = self.latest.get(cid)
        if current is not None and self.orders[current].status.is_open:
            raise DuplicateClientOrderId("duplicate order sent", broker=self.name, code="-2010")
        broker_id = f"B{next(self._ids)}"
        self.placed.append(cid)
        self.received.append(cid)
        events: list[OrderEvent] = [OrderAccepted(cid, broker_id)]
        status, filled = OrderStatus.ACCEPTED, Decimal(0)
        if order.order_type is OrderType.MARKET:
            fill = Fill(
                trade_id=f"T{len(self.fills) + 1}",
                client_order_id=cid,
                symbol=order.symbol,
                side=order.side,
                quantity=order.quantity,
                price=self.price,
                broker_order_id=broker_id,
                broker=self.name,
            )
            self.fills.append(fill)
            events.append(OrderFilled(fill))
            status, filled = OrderStatus.FILLED, order.quantity
        self.orders[broker_id] = OrderReport(
            client_order_id=cid,
            broker_order_id=broker_id,
            symbol=order.symbol,
            side=order.side,
            order_type=order.order_type,
            quantity=order.quantity,
            status=status,
            filled_quantity=filled,
            limit_price=order.limit_price,
        )
        self.latest[cid] = broker_id
        return events

    def working(self, client_order_id: str) -> list[OrderReport]:
        """The venue's open orders under ``client_order_id``."""
        return [r for r in self.orders.values() if r.client_order_id == client_order_id and r.status.is_open]

    async def get_order(
        self, *, symbol: str, client_order_id: str | None = None, broker_order_id: str | None = None
    ) -> OrderReport:
        """By broker id if given and known, else the latest order under the client id."""
        self._maybe_land()
        self.lookups += 1
        if self.lookup_errors:
            self.lookup_errors -= 1
            raise BrokerUnavailable("503 Service Unavailable", broker=self.name)
        if self.lookup_delay:
            await anyio.sleep(self.lookup_delay)
        if broker_order_id is not None and broker_order_id in self.orders:
            return self.orders[broker_order_id]
        if client_order_id is not None and client_order_id in self.latest:
            return self.orders[self.latest[client_order_id]]
        raise OrderNotFound("Order does not exist.", broker=self.name, code="-2013")

    async def get_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        """Every open order."""
        return [r for r in self.orders.values() if r.status.is_open]

    async def cancel_order(self, order: Order) -> list[OrderEvent]:
        """Cancel by broker id (the one the engine names), else the latest under the client id."""
        self.cancel_calls += 1
        if self.hang_cancels:
            await anyio.sleep_forever()
        broker_id = order.broker_order_id or self.latest.get(order.client_order_id)
        report = self.orders.get(broker_id or "")
        if report is None or not report.status.is_open:
            raise OrderNotFound("Unknown order sent.", broker=self.name, code="-2011")
        self.orders[report.broker_order_id or ""] = replace(report, status=OrderStatus.CANCELED)
        return [OrderCanceled(order.client_order_id)]

    async def modify_order(self, order: Order, change: OrderChange) -> list[OrderEvent]:
        """A native amend or a cancel-replace of the broker order the engine names; its reply may be lost."""
        self.modify_calls += 1
        if self.hang_modifies:
            await anyio.sleep_forever()
        report = self.orders.get(order.broker_order_id or "")
        if report is None or not report.status.is_open:
            raise InvalidOrder("Order was not canceled due to cancel restrictions.", broker=self.name)
        quantity = change.quantity if change.quantity is not None else report.quantity
        limit = change.limit_price if change.limit_price is not None else report.limit_price
        if (quantity, limit) == (report.quantity, report.limit_price):
            raise InvalidOrder("the change would leave the order as it is", broker=self.name)
        cid = order.client_order_id
        if self.modify_mode == "amend":
            assert report.broker_order_id is not None
            self.orders[report.broker_order_id] = replace(report, quantity=quantity, limit_price=limit)
            events: list[OrderEvent] = [OrderModified(cid, quantity=quantity, limit_price=limit)]
        else:
            assert report.broker_order_id is not None
            self.orders[report.broker_order_id] = replace(report, status=OrderStatus.CANCELED)
            new_id = f"B{next(self._ids)}"
            self.orders[new_id] = replace(
                report, broker_order_id=new_id, quantity=quantity, limit_price=limit
            )
            self.latest[cid] = new_id
            self.placed.append(cid)
            events = [OrderModified(cid, quantity=quantity, limit_price=limit, broker_order_id=new_id)]
        if self.lose_modify_replies:
            self.lose_modify_replies -= 1
            raise RequestTimeout("modify reply lost", broker=self.name)
        return events


def declare_expiry(broker: FakeBroker, window: float = 5.0, *, ahead: float = 0.0) -> VenueClock:
    """Give any fake an expiry guarantee and a venue clock ``ahead`` seconds before ours (returned)."""
    clock = VenueClock(ahead)

    async def venue_time() -> datetime:
        clock.reads += 1
        return clock.now()

    broker.resend_guarantee = ResendGuarantee.expiry(window, "test venue")
    broker.venue_time = venue_time  # type: ignore[method-assign]
    return clock
