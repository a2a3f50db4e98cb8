"""Testing helpers shipped with the kit: a fake adapter, recording telemetry, the fault plan.

For the core's, paper's and prometheus's tests, and for any adapter's own tests::

    from autotrader_conformance.testing import FakeBroker, RecordingTelemetry, SimpleFaultPlan

    adapter.telemetry = telemetry = RecordingTelemetry()
    ...
    assert telemetry.reconnects == ["heartbeat timeout (no frame for 30s)"]
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from decimal import Decimal

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from autotrader_core.adapter import AdapterTelemetry, BrokerAdapter, OrderChange
from autotrader_core.capabilities import Capabilities
from autotrader_core.enums import AssetClass, OrderStatus, OrderType, TimeInForce
from autotrader_core.errors import DuplicateClientOrderId, OrderNotFound
from autotrader_core.events import OrderAccepted, OrderCanceled, OrderEvent, OrderFilled, OrderModified
from autotrader_core.fault_plan import FAULT_OPERATIONS, FaultQueue, PlannedFault
from autotrader_core.models import Balance, Fill, Instrument, Order, OrderReport, Position

from autotrader_conformance.faults import FaultPlan, FaultyAdapter, SimpleFaultPlan, with_faults

__all__ = [
    "BTC",
    "FAULT_OPERATIONS",
    "FakeBroker",
    "FaultPlan",
    "FaultQueue",
    "FaultyAdapter",
    "PlannedFault",
    "RecordingTelemetry",
    "SimpleFaultPlan",
    "with_faults",
]


class RecordingTelemetry(AdapterTelemetry):
    """Keeps every report, as the engine's forwarding telemetry would pass them on."""

    def __init__(self) -> None:
        self.waits: list[tuple[str, float]] = []
        """``(limiter name, seconds)`` of every rate-limit wait."""
        self.reconnects: list[str] = []
        """The reason of every stream reconnect."""

    def rate_limit_wait(self, name: str, seconds: float) -> None:
        """Record a rate-limit wait."""
        self.waits.append((name, seconds))

    def reconnected(self, reason: str) -> None:
        """Record a reconnect."""
        self.reconnects.append(reason)


BTC = Instrument(
    "BTCUSDT",
    AssetClass.CRYPTO_SPOT,
    "BTC",
    "USDT",
    tick_size=Decimal("0.01"),
    lot_size=Decimal("0.001"),
    min_quantity=Decimal("0.001"),
    min_notional=Decimal("5"),
)
"""The one instrument :class:`FakeBroker` lists."""


class FakeBroker(BrokerAdapter):
    """Fills market orders at ``price``; rests limit orders; can fail on demand.

    ``fail_submit`` holds errors to raise on the next submits; ``lose_reply`` makes a
    failing submit still book the order first (the reply got lost on the way back).
    """

    name = "fake"
    capabilities = Capabilities(
        order_types=frozenset({OrderType.MARKET, OrderType.LIMIT}),
        time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC}),
        asset_classes=frozenset({AssetClass.CRYPTO_SPOT}),
        native_modify=True,
        streaming_fills=True,
        fill_history=True,
    )

    def __init__(self, price: Decimal = Decimal("100")) -> None:
        """A connected-on-demand broker quoting ``price``."""
        self.price = price
        self.connected = False
        self.received: list[str] = []  # client order ids of every submit that reached the "broker"
        self.book: dict[str, OrderReport] = {}
        self.fills: list[Fill] = []
        self.fail_submit: list[BaseException] = []
        self.fail_cancel: list[BaseException] = []
        self.lose_reply = False
        self.cancel_calls = 0
        self._trade_ids = itertools.count(1)
        self._send: MemoryObjectSendStream[OrderEvent]
        self._receive: MemoryObjectReceiveStream[OrderEvent]
        self._send, self._receive = anyio.create_memory_object_stream[OrderEvent](1000)

    async def connect(self) -> None:
        """Mark the broker connected."""
        self.connected = True

    async def disconnect(self) -> None:
        """Mark the broker disconnected."""
        self.connected = False

    @property
    def is_connected(self) -> bool:
        """Whether :meth:`connect` was called last."""
        return self.connected

    def push(self, event: OrderEvent) -> None:
        """Deliver an event through the stream."""
        self._send.send_nowait(event)

    def make_fill(self, order: Order, quantity: Decimal, price: Decimal | None = None) -> Fill:
        """A fill of ``order`` with a fresh trade id (kept in :attr:`fills`)."""
        fill = Fill(
            trade_id=f"T{next(self._trade_ids)}",
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            quantity=quantity,
            price=price or self.price,
            fee=Decimal("0.01"),
            fee_currency="USDT",
            broker_order_id=f"B-{order.client_order_id}",
            broker=self.name,
        )
        self.fills.append(fill)
        return fill

    async def submit_order(self, order: Order) -> list[OrderEvent]:
        """Book the order; fill a market order at once (or raise the next planned failure)."""
        error = self.fail_submit.pop(0) if self.fail_submit else None
        if error is not None and not self.lose_reply:
            raise error
        if order.client_order_id in self.book:
            raise DuplicateClientOrderId("duplicate", broker=self.name)
        self.received.append(order.client_order_id)
        events: list[OrderEvent] = [OrderAccepted(order.client_order_id, f"B-{order.client_order_id}")]
        status = OrderStatus.ACCEPTED
        filled = Decimal(0)
        if order.order_type is OrderType.MARKET:
            events.append(OrderFilled(self.make_fill(order, order.quantity)))
            status, filled = OrderStatus.FILLED, order.quantity
        self.book[order.client_order_id] = self._report(order, status, filled)
        if error is not None:
            raise error
        return events

    def _report(self, order: Order, status: OrderStatus, filled: Decimal) -> OrderReport:
        return OrderReport(
            client_order_id=order.client_order_id,
            broker_order_id=f"B-{order.client_order_id}",
            symbol=order.symbol,
            side=order.side,
            order_type=order.order_type,
            quantity=order.quantity,
            status=status,
            filled_quantity=filled,
            limit_price=order.limit_price,
        )

    async def cancel_order(self, order: Order) -> list[OrderEvent]:
        """Cancel a working order; ``OrderNotFound`` for an unknown or finished one."""
        self.cancel_calls += 1
        if self.fail_cancel:
            raise self.fail_cancel.pop(0)
        report = self.book.get(order.client_order_id)
        if report is None or report.status.is_terminal:
            raise OrderNotFound("unknown order", broker=self.name, code="-2011")
        self.book[order.client_order_id] = self._report(order, OrderStatus.CANCELED, report.filled_quantity)
        return [OrderCanceled(order.client_order_id)]

    async def modify_order(self, order: Order, change: OrderChange) -> list[OrderEvent]:
        """Acknowledge the change."""
        return [
            OrderModified(order.client_order_id, quantity=change.quantity, limit_price=change.limit_price)
        ]

    async def get_order(
        self, *, symbol: str, client_order_id: str | None = None, broker_order_id: str | None = None
    ) -> OrderReport:
        """The booked order; ``OrderNotFound`` when unknown."""
        if client_order_id in self.book:
            return self.book[client_order_id]
        raise OrderNotFound("unknown order", broker=self.name)

    async def get_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        """Orders still working."""
        return [r for r in self.book.values() if r.status.is_open]

    async def get_fills(self, *, symbol: str | None = None, since: object = None) -> list[Fill]:
        """Every fill made so far."""
        return list(self.fills)

    async def get_positions(self) -> list[Position]:
        """None: the fake keeps no positions."""
        return []

    async def get_balances(self) -> list[Balance]:
        """A fixed 10,000 USDT."""
        return [Balance("USDT", Decimal("10000"), Decimal("10000"))]

    async def get_instruments(self) -> list[Instrument]:
        """BTCUSDT only."""
        return [BTC]

    def last_price(self, symbol: str) -> Decimal | None:
        """The configured price."""
        return self.price

    async def stream_events(self) -> AsyncIterator[OrderEvent]:
        """Events delivered with :meth:`push`."""
        async for event in self._receive:
            yield event
