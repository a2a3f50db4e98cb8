"""A stateful fake TWS for the in-flight scenarios: it keeps orders and executions, and can hold a request.

**Composed**, like the transcripts: every message comes from the builders of
``ibkr_tws_messages`` (server version 178, checked against an IB Gateway capture) in the
sequences ``ibkr_compose_recordings`` documents (placeOrder → openOrder/orderStatus
PreSubmitted then Submitted; a fill → execDetails, openOrder/orderStatus Filled,
commissionReport; cancelOrder → orderStatus Cancelled + error 202). What it adds is state:

* ``placeOrder`` with a new orderId creates an order (``orderRef`` = our client order id);
  with an orderId in use it **modifies** that order (TWS API docs) — a re-send never adds
  one; an orderId whose order is done answers error 103 (duplicate order id);
* ``reqOpenOrders`` / ``reqAllOpenOrders`` / ``reqCompletedOrders`` / ``reqExecutions`` /
  ``reqPositions`` are answered from the orders and executions kept;
* a :class:`TwsFault` holds a ``placeOrder`` / ``cancelOrder`` before TWS executes it, and
  then answers, answers late, answers twice or never answers (the messages it would have sent
  for that request are dropped: TWS's replies and its "stream" are the same socket).

Matching: one price (:attr:`StatefulTws.price`); a MKT order fills at it, a crossing LMT
order fills at it, any other rests. Commission 1 USD per execution.

Other requests (handshake, contract details, account updates) are the ``connect``
transcript's standing answers.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import ibkr_compose_recordings as compose
import ibkr_tws_messages as m
from autotrader_conformance.inflight import VenueFill, VenueOrder
from autotrader_core.enums import OrderSide, OrderStatus
from ibkr_fake_tws import REQUEST_NAMES, FakeTws, Received, Transcript

__all__ = ["StatefulTws", "TwsFault"]

_STATEFUL = frozenset(
    {"placeOrder", "cancelOrder", "reqOpenOrders", "reqAllOpenOrders", "reqCompletedOrders", "reqExecutions"}
)
_STATUS = {
    OrderStatus.ACCEPTED: "Submitted",
    OrderStatus.PARTIALLY_FILLED: "Submitted",
    OrderStatus.FILLED: "Filled",
    OrderStatus.CANCELED: "Cancelled",
}
_PERM = int(compose.PERM)


def _text(value: Decimal | None) -> str:
    return "0.0" if value is None else f"{value.normalize():f}"


@dataclass
class TwsFault:
    """What happens to the ``nth`` request named ``request`` (``placeOrder`` or ``cancelOrder``).

    Attributes:
        hold: Seconds TWS holds the request before executing it.
        fate: ``answer`` (as usual), ``late`` (after ``delay`` more seconds), ``twice`` (every
            message sent twice) or ``drop`` (never answered; the lookups still see the result).
    """

    request: str
    nth: int
    hold: float = 0.0
    fate: str = "answer"
    delay: float = 0.0
    fired: bool = False

    def describe(self) -> str:
        """One line for a failure message."""
        return f"{self.request} #{self.nth}: hold {self.hold:g}s, then {self.fate}"


@dataclass
class StatefulTws(FakeTws):
    """A fake TWS that keeps state (see the module docs); ``async with StatefulTws() as tws``."""

    transcript: Transcript = field(
        default_factory=lambda: Transcript.from_dict("stateful", compose.connect())
    )
    price: Decimal = Decimal("150.25")
    orders: list[VenueOrder] = field(default_factory=list)
    fills: list[VenueFill] = field(default_factory=list)
    faults: list[TwsFault] = field(default_factory=list)
    seen: Counter[str] = field(default_factory=Counter)
    pending: int = 0
    """Requests held or not yet executed."""
    _exec_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        # Start flat: the in-flight checks compare the position with this TWS's own executions.
        self.transcript.answers["reqPositions"] = [{"reply": [m.position_end()]}]

    # -- the venue view (what the in-flight checks read) --------------------------------
    def orders_for(self, client_order_id: str) -> list[VenueOrder]:
        """Every order TWS created under ``orderRef`` = ``client_order_id``."""
        return [o for o in self.orders if o.client_order_id == client_order_id]

    def position(self, symbol: str) -> Decimal:
        """The signed sum of the executions in ``symbol``."""
        return sum((f.signed_quantity for f in self.fills if f.symbol == symbol), Decimal(0))

    @property
    def quiet(self) -> bool:
        """No request held or executing."""
        return self.pending == 0

    def fault(self, request: str, **how: object) -> TwsFault:
        """Plan a fault for the next ``request`` (see :class:`TwsFault`)."""
        rule = TwsFault(request, self.seen[request] + 1, **how)  # type: ignore[arg-type]
        self.faults.append(rule)
        return rule

    # -- requests ------------------------------------------------------------------------
    def _on_request(self, fields: list[str], connection: int) -> None:
        name = REQUEST_NAMES.get(int(fields[0]), f"msg{fields[0]}")
        if name not in _STATEFUL:
            super()._on_request(fields, connection)
            return
        request = Received(name, fields, connection)
        self.received.append(request)
        if name not in ("placeOrder", "cancelOrder"):
            for message in self._listing(request):
                self.send(message)
            return
        self.seen[name] += 1
        rule = next((f for f in self.faults if f.request == name and f.nth == self.seen[name]), None)
        self.pending += 1
        if rule is not None:
            rule.fired = True
            if rule.hold:
                self._spawn(self._held(request, rule))
                return
        self._execute(request, rule)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _held(self, request: Received, rule: TwsFault) -> None:
        await asyncio.sleep(rule.hold)  # the client may give up meanwhile: TWS executes anyway
        self._execute(request, rule)

    def _execute(self, request: Received, rule: TwsFault | None) -> None:
        try:
            messages = self._place(request) if request.name == "placeOrder" else self._cancel(request)
        finally:
            self.pending -= 1
        fate = rule.fate if rule is not None else "answer"
        if fate == "drop":
            return
        if fate == "late":
            self._spawn(self._send_later(messages, rule.delay if rule is not None else 0.0))
            return
        for message in messages:
            for _ in range(2 if fate == "twice" else 1):
                self.send(message)

    async def _send_later(self, messages: list[list[str]], delay: float) -> None:
        await asyncio.sleep(delay)
        for message in messages:
            self.send(message)

    # -- the matching engine ---------------------------------------------------------------
    def _place(self, request: Received) -> list[list[str]]:
        named = request.named
        order_id = int(named["orderId"])
        quantity = Decimal(named["totalQuantity"])
        price = Decimal(named["lmtPrice"]) if named.get("orderType") == "LMT" else None
        existing = next((o for o in self.orders if o.order_id == order_id), None)
        if existing is not None:
            if not existing.is_open:
                return [m.error(str(order_id), "103", "Duplicate order id")]
            existing.quantity = quantity  # an orderId in use: the order is modified, never added
            existing.price = price
            return [*self._state(existing), *self._match(existing)]
        order = VenueOrder(
            order_id=order_id,
            client_order_id=named.get("orderRef", ""),
            symbol=named["symbol"],
            side=OrderSide.BUY if named.get("action") == "BUY" else OrderSide.SELL,
            order_type=named.get("orderType", "LMT"),
            quantity=quantity,
            price=price,
            time_in_force=named.get("tif", "DAY"),
            created_ms=0,
        )
        self.orders.append(order)
        ack = [self._open(order, "PreSubmitted"), self._status(order, "PreSubmitted")]
        return [*ack, *self._state(order), *self._match(order)]

    def _match(self, order: VenueOrder) -> list[list[str]]:
        crosses = order.order_type == "MKT" or (
            order.price is not None
            and (order.price >= self.price if order.side is OrderSide.BUY else order.price <= self.price)
        )
        if not order.is_open or not crosses:
            return []
        quantity = order.quantity - order.filled
        exec_id = f"0000e0d5.6734{next(self._exec_ids):04x}.01.01"
        order.filled += quantity
        order.quote_filled += quantity * self.price
        order.status = OrderStatus.FILLED if order.filled >= order.quantity else OrderStatus.PARTIALLY_FILLED
        fill = VenueFill(
            exec_id,
            order.order_id,
            order.client_order_id,
            order.symbol,
            order.side,
            quantity,
            self.price,
            Decimal(1),
            "USD",
            0,
        )
        self.fills.append(fill)
        return [self._execution("-1", fill), *self._state(order), m.commission_report(exec_id, "1.0", "USD")]

    def _cancel(self, request: Received) -> list[list[str]]:
        order_id = request.named["orderId"]
        order = next((o for o in self.orders if str(o.order_id) == order_id), None)
        if order is None:
            return [
                m.error(order_id, "10147", f"OrderId {order_id} that needs to be cancelled is not found.")
            ]
        if not order.is_open:
            return [m.error(order_id, "161", "Cancel attempted when order is not in a cancellable state.")]
        order.status = OrderStatus.CANCELED
        return [self._status(order, "Cancelled"), m.error(order_id, "202", "Order Canceled - reason:")]

    def _listing(self, request: Received) -> list[list[str]]:
        if request.name in ("reqOpenOrders", "reqAllOpenOrders"):
            live = [message for o in self.orders if o.is_open for message in self._state(o)]
            return [*live, m.open_order_end()]
        if request.name == "reqCompletedOrders":
            done = [self._completed(o) for o in self.orders if not o.is_open]
            return [*done, m.completed_orders_end()]
        req_id = request.fields[1] if len(request.fields) > 1 else "-1"
        req_id = request.named.get("reqId", req_id)
        rows = [
            message
            for f in self.fills
            for message in (self._execution(req_id, f), m.commission_report(str(f.trade_id), "1.0", "USD"))
        ]
        return [*rows, m.exec_details_end(req_id)]

    # -- messages (ibkr_tws_messages, as ibkr_compose_recordings uses them) ---------------------
    def _state(self, order: VenueOrder) -> list[list[str]]:
        status = _STATUS[order.status]
        return [self._open(order, status), self._status(order, status)]

    def _open(self, order: VenueOrder, status: str) -> list[str]:
        return m.open_order(
            str(order.order_id),
            m.AAPL,
            action="BUY" if order.side is OrderSide.BUY else "SELL",
            quantity=_text(order.quantity),
            order_type=order.order_type,
            lmt_price=_text(order.price),
            aux_price="0.0",
            tif=order.time_in_force,
            account=compose.ACCOUNT,
            order_ref=order.client_order_id,
            client_id=compose.CLIENT_ID,
            perm_id=str(_PERM + int(order.order_id)),
            status=status,
        )

    def _status(self, order: VenueOrder, status: str) -> list[str]:
        average = order.quote_filled / order.filled if order.filled else Decimal(0)
        return m.order_status(
            str(order.order_id),
            status,
            _text(order.filled),
            _text(order.quantity - order.filled),
            _text(average),
            str(_PERM + int(order.order_id)),
            _text(self.price if order.filled else Decimal(0)),
            compose.CLIENT_ID,
        )

    def _completed(self, order: VenueOrder) -> list[str]:
        filled = order.status is OrderStatus.FILLED
        return m.completed_order(
            m.AAPL,
            action="BUY" if order.side is OrderSide.BUY else "SELL",
            quantity=_text(order.quantity),
            order_type=order.order_type,
            lmt_price=_text(order.price),
            tif=order.time_in_force,
            account=compose.ACCOUNT,
            order_ref=order.client_order_id,
            perm_id=str(_PERM + int(order.order_id)),
            status=_STATUS[order.status],
            filled=_text(order.filled),
            completed_time=_now(),
            completed_status="Filled" if filled else "Cancelled by Trader",
        )

    def _execution(self, req_id: str, fill: VenueFill) -> list[str]:
        order = next(o for o in self.orders if o.order_id == fill.order_id)
        cumulative = sum((f.quantity for f in self.fills if f.order_id == fill.order_id), Decimal(0))
        return m.exec_details(
            req_id,
            str(fill.order_id),
            m.AAPL,
            exec_id=str(fill.trade_id),
            time=_now(),
            account=compose.ACCOUNT,
            exchange="ISLAND",
            side="BOT" if fill.side is OrderSide.BUY else "SLD",
            shares=_text(fill.quantity),
            price=_text(fill.price),
            perm_id=str(_PERM + int(order.order_id)),
            client_id=compose.CLIENT_ID,
            cum_qty=_text(cumulative),
            avg_price=_text(fill.price),
            order_ref=fill.client_order_id,
            last_liquidity="2",
        )


def _now() -> str:
    """TWS's time format in the transcripts' zone (``20251124 09:31:05 US/Eastern``)."""
    return datetime.now(ZoneInfo("US/Eastern")).strftime("%Y%m%d %H:%M:%S") + " US/Eastern"
