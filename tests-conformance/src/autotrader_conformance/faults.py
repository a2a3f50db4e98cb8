"""Transport-agnostic fault injection for adapters the kit cannot reach through HTTP.

Recorded adapters get their faults (429, 5xx, timeouts, malformed replies) from
the recording itself. An adapter without HTTP traffic to replay — the paper
simulator, or a socket-based broker — runs those scenarios through a fault plan
instead:

* if the adapter exposes its own hooks as ``adapter.faults.fail_next(operation,
  error, after_apply=..., times=...)`` (the paper adapter does), they are used,
  so the adapter's real code path handles the fault;
* otherwise the adapter is wrapped in :class:`FaultyAdapter`, which raises the
  planned error before calling the adapter (the request never arrived) or after
  it (``after_apply=True``: the broker applied it, the reply was lost).

Operation names: ``connect``, ``submit``, ``cancel``, ``modify``, ``get_order``,
``get_open_orders``, ``get_fills``, ``get_positions``, ``get_balances``,
``get_instruments``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Protocol, TypeVar, runtime_checkable

from autotrader_core.adapter import AdapterTelemetry, BrokerAdapter, OrderChange
from autotrader_core.errors import AutotraderError
from autotrader_core.events import OrderEvent
from autotrader_core.fault_plan import FAULT_OPERATIONS, FaultQueue, PlannedFault
from autotrader_core.market_data import MarketDataFeed, Quote
from autotrader_core.models import Balance, Fill, Instrument, Order, OrderReport, Position

__all__ = ["OPERATIONS", "FaultPlan", "FaultyAdapter", "PlannedFault", "SimpleFaultPlan", "with_faults"]

T = TypeVar("T")

OPERATIONS = FAULT_OPERATIONS
"""Operation names a fault plan accepts."""


@runtime_checkable
class FaultPlan(Protocol):
    """What the kit needs from a fault injector (the paper adapter's ``faults`` satisfies it)."""

    def fail_next(
        self,
        operation: str,
        error: AutotraderError | None = None,
        *,
        after_apply: bool = False,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``operation`` raise ``error``."""


SimpleFaultPlan = FaultQueue
"""The kit's fault plan is the core's :class:`~autotrader_core.fault_plan.FaultQueue` (one
implementation for the kit, the paper broker and adapters' own tests)."""


class FaultyAdapter(BrokerAdapter):
    """Wraps an adapter and injects planned failures around its calls.

    Build it with :func:`with_faults` (which copies the wrapped adapter's ``name``
    and ``capabilities``). ``calls`` counts the calls that reached the wrapped
    adapter per operation, and ``submitted`` the client order ids that did — what
    the broker actually received; ``answered`` keeps every report ``get_order`` returned.
    """

    def __init__(self, inner: BrokerAdapter) -> None:
        self.inner = inner
        # What the wrapped venue guarantees for a re-send and how long it settles, not the defaults.
        self.resend_guarantee = inner.resend_guarantee
        self.unknown_outcome_settle_delay = inner.unknown_outcome_settle_delay
        self.faults = SimpleFaultPlan()
        self.calls: dict[str, int] = {}
        self.submitted: list[str] = []
        self.answered: list[OrderReport] = []

    async def _call(self, operation: str, fn: Callable[[], Awaitable[T]]) -> T:
        fault = self.faults.take(operation)
        if fault is not None and not fault.after_apply:
            raise fault.error
        self.calls[operation] = self.calls.get(operation, 0) + 1
        result = await fn()
        if fault is not None:
            raise fault.error
        return result

    async def connect(self) -> None:
        """Connect the wrapped adapter (subject to planned faults)."""
        await self._call("connect", self.inner.connect)

    async def disconnect(self) -> None:
        """Disconnect the wrapped adapter (never faulted)."""
        await self.inner.disconnect()

    @property
    def is_connected(self) -> bool:
        """The wrapped adapter's connection state."""
        return self.inner.is_connected

    def request_stamp(self) -> datetime:
        """The wrapped adapter's stamp (its estimate of the venue's clock)."""
        return self.inner.request_stamp()

    async def venue_time(self) -> datetime:
        """The wrapped adapter's reading of the venue's clock (never faulted)."""
        return await self.inner.venue_time()

    @property
    def telemetry(self) -> AdapterTelemetry:
        """The wrapped adapter's telemetry: who sets it here (engine, kit) sets it on the adapter."""
        return self.inner.telemetry

    @telemetry.setter
    def telemetry(self, value: AdapterTelemetry) -> None:
        self.inner.telemetry = value

    async def submit_order(self, order: Order) -> list[OrderEvent]:
        """Submit through the wrapped adapter, recording that the broker received it."""

        async def send() -> list[OrderEvent]:
            self.submitted.append(order.client_order_id)
            return await self.inner.submit_order(order)

        return await self._call("submit", send)

    async def cancel_order(self, order: Order) -> list[OrderEvent]:
        """Cancel through the wrapped adapter."""
        return await self._call("cancel", lambda: self.inner.cancel_order(order))

    async def modify_order(self, order: Order, change: OrderChange) -> list[OrderEvent]:
        """Modify through the wrapped adapter."""
        return await self._call("modify", lambda: self.inner.modify_order(order, change))

    async def get_order(
        self, *, symbol: str, client_order_id: str | None = None, broker_order_id: str | None = None
    ) -> OrderReport:
        """Query through the wrapped adapter (its report is kept in ``answered``)."""
        report = await self._call(
            "get_order",
            lambda: self.inner.get_order(
                symbol=symbol, client_order_id=client_order_id, broker_order_id=broker_order_id
            ),
        )
        self.answered.append(report)
        return report

    async def get_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        """Open orders from the wrapped adapter."""
        return await self._call("get_open_orders", lambda: self.inner.get_open_orders(symbol))

    async def get_fills(self, *, symbol: str | None = None, since: datetime | None = None) -> list[Fill]:
        """Past fills from the wrapped adapter."""
        return await self._call("get_fills", lambda: self.inner.get_fills(symbol=symbol, since=since))

    async def get_positions(self) -> list[Position]:
        """Positions from the wrapped adapter."""
        return await self._call("get_positions", self.inner.get_positions)

    async def get_balances(self) -> list[Balance]:
        """Balances from the wrapped adapter."""
        return await self._call("get_balances", self.inner.get_balances)

    async def get_instruments(self) -> list[Instrument]:
        """Instruments from the wrapped adapter."""
        return await self._call("get_instruments", self.inner.get_instruments)

    def last_price(self, symbol: str) -> Decimal | None:
        """The wrapped adapter's last price."""
        return self.inner.last_price(symbol)

    def stream_events(self) -> AsyncIterator[OrderEvent]:
        """The wrapped adapter's stream, untouched."""
        return self.inner.stream_events()

    async def get_quote(self, symbol: str) -> Quote:
        """The wrapped adapter's market-data snapshot, untouched (TC-MD on a socket broker)."""
        return await self.inner.get_quote(symbol)

    def open_market_data(self, *, trades: bool = False) -> MarketDataFeed:
        """The wrapped adapter's market-data feed, untouched (TC-MD on a socket broker)."""
        return self.inner.open_market_data(trades=trades)


def with_faults(adapter: BrokerAdapter) -> FaultyAdapter:
    """Wrap ``adapter`` in a :class:`FaultyAdapter` carrying its name and capabilities."""
    cls = type(
        f"Faulty{type(adapter).__name__}",
        (FaultyAdapter,),
        {"name": adapter.name, "capabilities": type(adapter).capabilities},
    )
    wrapped: FaultyAdapter = cls(adapter)
    return wrapped
