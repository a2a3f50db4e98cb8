"""The three checks every in-flight scenario makes, at the exchange.

1. **orders per client order id**: the venue holds no more orders for one client order id
   than the commands could create (one per submit, plus one per cancel-replace modify);
2. **final state engine = broker**: the engine's order has the status, filled quantity,
   terms and broker order id of the venue's latest order for that id (no order at the
   venue: the engine must hold it closed without fills);
3. **position = fills**: the engine's position equals the signed sum of the venue's fills,
   and every venue fill is booked once.

:class:`InflightChecks` runs them and returns an :class:`InflightResult`, whose figures
go to the kit's summary table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from autotrader_core.enums import OrderStatus
from autotrader_core.oms import OrderManager

from autotrader_conformance.inflight.venue import VenueFill, VenueOrder
from autotrader_conformance.summary import RunFigures

__all__ = ["InflightChecks", "InflightResult", "VenueView"]

_CLOSED_UNFILLED = (OrderStatus.REJECTED, OrderStatus.CANCELED, OrderStatus.EXPIRED)


class VenueView(Protocol):
    """What the checks read from an exchange (a :class:`~.venue.LoopbackVenue`, or an adapter's simulator)."""

    @property
    def fills(self) -> Sequence[VenueFill]:
        """Every execution."""
        ...

    def orders_for(self, client_order_id: str) -> list[VenueOrder]:
        """Every order created under ``client_order_id``, oldest first."""
        ...

    def position(self, symbol: str) -> Decimal:
        """The signed sum of fills in ``symbol``."""
        ...


@dataclass(slots=True)
class InflightResult:
    """What the three checks found (empty lists: all good)."""

    orders_per_cid: dict[str, int] = field(default_factory=dict)
    allowed_per_cid: dict[str, int] = field(default_factory=dict)
    state_mismatches: list[str] = field(default_factory=list)
    position_mismatches: list[str] = field(default_factory=list)
    lost_fills: int = 0
    doubled_fills: int = 0
    venue_fills: int = 0

    @property
    def max_orders_per_cid(self) -> int:
        """The most orders the venue holds for one client order id."""
        return max(self.orders_per_cid.values(), default=0)

    @property
    def extra_orders(self) -> int:
        """Orders beyond what the commands could create (duplicates)."""
        return sum(
            max(0, count - self.allowed_per_cid.get(cid, 1)) for cid, count in self.orders_per_cid.items()
        )

    def problems(self) -> list[str]:
        """Every failed check, one line each."""
        found = [
            f"{count} orders at the venue for client order id {cid} (at most {self.allowed_per_cid[cid]})"
            for cid, count in self.orders_per_cid.items()
            if count > self.allowed_per_cid.get(cid, 1)
        ]
        found += self.state_mismatches + self.position_mismatches
        if self.lost_fills:
            found.append(f"{self.lost_fills} venue fill(s) not booked by the engine")
        if self.doubled_fills:
            found.append(f"{self.doubled_fills} fill(s) booked twice")
        return found

    def figures(self, faults: int) -> RunFigures:
        """The summary table's figures for this run."""
        return RunFigures(
            faults=faults,
            orders=sum(self.orders_per_cid.values()),
            fills=self.venue_fills,
            losses=self.lost_fills,
            duplicates=self.extra_orders + self.doubled_fills,
            max_orders_per_cid=self.max_orders_per_cid,
            state_mismatches=len(self.state_mismatches),
            position_mismatches=len(self.position_mismatches),
        )


class InflightChecks:
    """Compare an engine's OMS with the exchange after a scenario.

    Args:
        venue: The exchange's view.
        oms: The engine's order manager.
    """

    def __init__(self, venue: VenueView, oms: OrderManager) -> None:
        self.venue = venue
        self.oms = oms

    def run(self, allowed: Mapping[str, int], symbols: Sequence[str]) -> InflightResult:
        """Check the orders in ``allowed`` (client order id → most venue orders) and ``symbols``' positions."""
        result = InflightResult(allowed_per_cid=dict(allowed))
        for cid in allowed:
            orders = self.venue.orders_for(cid)
            result.orders_per_cid[cid] = len(orders)
            mismatch = self._state(cid, orders)
            if mismatch:
                result.state_mismatches.append(mismatch)
        for symbol in symbols:
            engine = self.oms.position(symbol).quantity
            venue = self.venue.position(symbol)
            if engine != venue:
                result.position_mismatches.append(f"position {symbol}: engine {engine}, venue fills {venue}")
        booked: dict[str, int] = {}
        for cid in allowed:
            for fill in self.oms.fills_for(cid):
                booked[str(fill.trade_id)] = booked.get(str(fill.trade_id), 0) + 1
        venue_fills = [f for f in self.venue.fills if f.client_order_id in allowed]
        result.venue_fills = len(venue_fills)
        result.lost_fills = sum(1 for f in venue_fills if str(f.trade_id) not in booked)
        result.doubled_fills = sum(count - 1 for count in booked.values() if count > 1)
        return result

    def _state(self, cid: str, orders: list[VenueOrder]) -> str | None:
        order = self.oms.get(cid)
        if order is None:
            return f"{cid}: the engine does not know the order" if orders else None
        if not orders:
            if order.status in _CLOSED_UNFILLED and order.filled_quantity == 0:
                return None
            return f"{cid}: engine {order.status.value} (filled {order.filled_quantity}), the venue has no such order"
        latest = orders[-1]
        engine = (order.status, order.filled_quantity)
        venue = (latest.status, latest.filled)
        wrong = []
        if engine[0] != venue[0]:
            wrong.append(f"status engine {engine[0].value} / venue {venue[0].value}")
        filled_at_venue = sum((o.filled for o in orders), Decimal(0))
        if order.filled_quantity != filled_at_venue:
            wrong.append(f"filled engine {order.filled_quantity} / venue {filled_at_venue}")
        if latest.is_open:
            if order.broker_order_id is not None and order.broker_order_id != str(latest.order_id):
                wrong.append(f"broker order id engine {order.broker_order_id} / venue {latest.order_id}")
            if order.quantity != latest.quantity:
                wrong.append(f"quantity engine {order.quantity} / venue {latest.quantity}")
            if latest.price is not None and order.limit_price != latest.price:
                wrong.append(f"limit price engine {order.limit_price} / venue {latest.price}")
        live = [o.order_id for o in orders if o.is_open]
        if len(live) > 1:
            wrong.append(f"{len(live)} orders working at the venue at once ({live})")
        return f"{cid}: " + "; ".join(wrong) if wrong else None
