"""Test helpers: a scriptable in-memory broker and a scraper for the exposition text.

The broker follows the idea of the core's own test fake (``autotrader-core/tests/fakes.py``)
but lives here: third-party packages must not import another package's tests.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from decimal import Decimal

import anyio
import httpx
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from autotrader_core.adapter import BrokerAdapter, OrderChange
from autotrader_core.capabilities import Capabilities
from autotrader_core.enums import AssetClass, OrderStatus, OrderType, TimeInForce
from autotrader_core.errors import DuplicateClientOrderId, OrderNotFound
from autotrader_core.events import OrderAccepted, OrderCanceled, OrderEvent, OrderFilled, OrderModified
from autotrader_core.models import Balance, Fill, Instrument, Order, OrderReport, Position
from prometheus_client.parser import text_string_to_metric_families

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

Labels = tuple[tuple[str, str], ...]


class FakeBroker(BrokerAdapter):
    """Fills market orders at ``price`` in the submit reply; rests limit orders.

    ``fail_submit`` holds errors to raise on the next submits; ``push`` delivers an
    event through the private stream (for fills of resting orders).
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
        self.price = price
        self.connected = False
        self.book: dict[str, OrderReport] = {}
        self.fills: list[Fill] = []
        self.fail_submit: list[BaseException] = []
        self._trade_ids = itertools.count(1)
        self._send: MemoryObjectSendStream[OrderEvent]
        self._receive: MemoryObjectReceiveStream[OrderEvent]
        self._send, self._receive = anyio.create_memory_object_stream[OrderEvent](1000)

    async def connect(self) -> None:
        self.connected = True

    async def disconnect(self) -> None:
        self.connected = False

    @property
    def is_connected(self) -> bool:
        return self.connected

    def push(self, event: OrderEvent) -> None:
        """Deliver an event through the stream."""
        self._send.send_nowait(event)

    def make_fill(self, order: Order, quantity: Decimal, price: Decimal | None = None) -> Fill:
        """A fill of ``order`` with a fresh trade id."""
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
        if self.fail_submit:
            raise self.fail_submit.pop(0)
        if order.client_order_id in self.book:
            raise DuplicateClientOrderId("duplicate", broker=self.name)
        events: list[OrderEvent] = [OrderAccepted(order.client_order_id, f"B-{order.client_order_id}")]
        status, filled = OrderStatus.ACCEPTED, Decimal(0)
        if order.order_type is OrderType.MARKET:
            events.append(OrderFilled(self.make_fill(order, order.quantity)))
            status, filled = OrderStatus.FILLED, order.quantity
        self.book[order.client_order_id] = self._report(order, status, filled)
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
        report = self.book.get(order.client_order_id)
        if report is None or report.status.is_terminal:
            raise OrderNotFound("unknown order", broker=self.name)
        self.book[order.client_order_id] = self._report(order, OrderStatus.CANCELED, report.filled_quantity)
        return [OrderCanceled(order.client_order_id)]

    async def modify_order(self, order: Order, change: OrderChange) -> list[OrderEvent]:
        return [
            OrderModified(order.client_order_id, quantity=change.quantity, limit_price=change.limit_price)
        ]

    async def get_order(
        self, *, symbol: str, client_order_id: str | None = None, broker_order_id: str | None = None
    ) -> OrderReport:
        if client_order_id in self.book:
            return self.book[client_order_id]
        raise OrderNotFound("unknown order", broker=self.name)

    async def get_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        return [r for r in self.book.values() if r.status.is_open]

    async def get_fills(self, *, symbol: str | None = None, since: object = None) -> list[Fill]:
        return list(self.fills)

    async def get_positions(self) -> list[Position]:
        return []

    async def get_balances(self) -> list[Balance]:
        return [Balance("USDT", Decimal("10000"), Decimal("10000"))]

    async def get_instruments(self) -> list[Instrument]:
        return [BTC]

    def last_price(self, symbol: str) -> Decimal | None:
        return self.price

    async def stream_events(self) -> AsyncIterator[OrderEvent]:
        async for event in self._receive:
            yield event


# -- scraping ---------------------------------------------------------------------------
def parse_samples(text: str) -> dict[tuple[str, Labels], float]:
    """Exposition text → ``{(sample name, sorted labels): value}``."""
    samples: dict[tuple[str, Labels], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[tuple[str, Labels], float], name: str, **labels: str) -> float | None:
    """The value of one sample, or ``None`` when it is not exposed.

    A metric labelled by ``broker`` is also labelled by ``account``: ``default`` unless given.
    """
    if "broker" in labels:
        labels.setdefault("account", "default")
    return samples.get((name, tuple(sorted(labels.items()))))


def scrape(url: str) -> str:
    """GET the metrics page over loopback (blocking; for sync tests)."""
    response = httpx.get(url, timeout=5.0, trust_env=False)
    response.raise_for_status()
    return response.text


async def ascrape(url: str) -> str:
    """GET the metrics page over loopback without blocking the event loop."""
    async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
        response = await client.get(url)
    response.raise_for_status()
    return response.text
