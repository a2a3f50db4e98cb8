"""An in-memory broker adapter for the kit's tests: limit and market orders, no stream, no HTTP."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from autotrader_core.adapter import BrokerAdapter
from autotrader_core.capabilities import Capabilities
from autotrader_core.enums import AssetClass, OrderStatus, OrderType, TimeInForce
from autotrader_core.errors import InsufficientFunds, InvalidOrder, OrderNotFound
from autotrader_core.events import OrderAccepted, OrderCanceled, OrderEvent, OrderFilled
from autotrader_core.models import Balance, Fill, Instrument, Order, OrderReport, Position
from autotrader_core.resend import ResendGuarantee

PRICE = Decimal("100.00")
FEE_RATE = Decimal("0.001")


class MemoryAdapter(BrokerAdapter):
    """Market orders fill at PRICE; limit orders rest; cash is checked."""

    name: ClassVar[str] = "memory"
    resend_guarantee = ResendGuarantee.none("memory test broker: no request expiry, no idempotency key")
    capabilities: ClassVar[Capabilities] = Capabilities(
        order_types=frozenset({OrderType.MARKET, OrderType.LIMIT}),
        time_in_force=frozenset({TimeInForce.GTC}),
        asset_classes=frozenset({AssetClass.CRYPTO_SPOT}),
    )

    def __init__(self, cash: Decimal = Decimal(1000)) -> None:
        self.cash = cash
        self.orders: dict[str, OrderReport] = {}
        self._connected = False
        self._trades = 0

    async def connect(self) -> None:
        self._connected = True

    async def disconnect(self) -> None:
        self._connected = False

    @property
    def is_connected(self) -> bool:
        return self._connected

    async def submit_order(self, order: Order) -> list[OrderEvent]:
        if order.quantity % Decimal("0.01"):
            raise InvalidOrder("quantity is not a multiple of 0.01", broker=self.name, code="LOT")
        price = order.limit_price if order.limit_price is not None else PRICE
        if price * order.quantity > self.cash:
            raise InsufficientFunds("not enough cash", broker=self.name, code="FUNDS")
        broker_id = f"m{len(self.orders) + 1}"
        events: list[OrderEvent] = [OrderAccepted(order.client_order_id, broker_id)]
        status = OrderStatus.ACCEPTED
        if order.order_type is OrderType.MARKET:
            self._trades += 1
            fee = PRICE * order.quantity * FEE_RATE
            fill = Fill(
                f"t{self._trades}",
                order.client_order_id,
                order.symbol,
                order.side,
                order.quantity,
                PRICE,
                fee,
                "USD",
                broker_order_id=broker_id,
                broker=self.name,
            )
            events.append(OrderFilled(fill))
            status = OrderStatus.FILLED
        self.orders[order.client_order_id] = OrderReport(
            order.client_order_id,
            broker_id,
            order.symbol,
            order.side,
            order.order_type,
            order.quantity,
            status,
            limit_price=order.limit_price,
            broker=self.name,
        )
        return events

    async def cancel_order(self, order: Order) -> list[OrderEvent]:
        report = self.orders.get(order.client_order_id)
        if report is None or not report.status.is_open:
            raise OrderNotFound("no such open order", broker=self.name, code="UNKNOWN")
        self.orders[order.client_order_id] = OrderReport(
            report.client_order_id,
            report.broker_order_id,
            report.symbol,
            report.side,
            report.order_type,
            report.quantity,
            OrderStatus.CANCELED,
            limit_price=report.limit_price,
            broker=self.name,
        )
        return [OrderCanceled(order.client_order_id)]

    async def get_order(
        self, *, symbol: str, client_order_id: str | None = None, broker_order_id: str | None = None
    ) -> OrderReport:
        for report in self.orders.values():
            if report.symbol == symbol and (
                report.client_order_id == client_order_id or report.broker_order_id == broker_order_id
            ):
                return report
        raise OrderNotFound("no such order", broker=self.name, code="UNKNOWN")

    async def get_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        return [r for r in self.orders.values() if r.status.is_open and symbol in (None, r.symbol)]

    async def get_positions(self) -> list[Position]:
        return []

    async def get_balances(self) -> list[Balance]:
        return [Balance("USD", self.cash, self.cash)]

    async def get_instruments(self) -> list[Instrument]:
        return [
            Instrument(
                "ABCUSD",
                AssetClass.CRYPTO_SPOT,
                "ABC",
                "USD",
                Decimal("0.01"),
                Decimal("0.01"),
                Decimal("0.01"),
            )
        ]
