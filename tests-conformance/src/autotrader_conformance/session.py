"""One running scenario: the adapter under test plus the helpers scenario tests share.

A session plays the OMS's part just enough to drive an adapter through a
scenario: it builds orders from the scenario input, applies returned events to
them (broker id, status), and collects events from the adapter's stream in the
background so a test can wait for fills arriving either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup
from autotrader_core.adapter import BrokerAdapter
from autotrader_core.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from autotrader_core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModified,
    OrderRejected,
)
from autotrader_core.models import Fill, Order

from autotrader_conformance.faults import FaultPlan, FaultyAdapter
from autotrader_conformance.scenario import Scenario, to_decimal

__all__ = ["ScenarioSession", "apply_events", "unique_fills"]


class ScenarioSession:
    """The adapter under test and its scenario, with helpers.

    Attributes:
        adapter: The adapter (wrapped in a :class:`FaultyAdapter` when the kit injects faults itself).
        scenario: The scenario being played.
        faults: The fault plan for simulated adapters (``None`` in recorded mode).
        stream_events: Every event the adapter's stream yielded so far.
    """

    def __init__(
        self,
        scenario: Scenario,
        adapter: BrokerAdapter,
        faults: FaultPlan | None,
        task_group: TaskGroup,
    ) -> None:
        self.scenario = scenario
        self.adapter = adapter
        self.faults = faults
        self.stream_events: list[OrderEvent] = []
        self.stream_error: BaseException | None = None
        self._task_group = task_group
        self._changed = anyio.Event()
        self._streaming = False

    # -- orders -----------------------------------------------------------
    def order(self, values: dict[str, Any] | None = None, **overrides: Any) -> Order:
        """Build an :class:`Order` from the scenario input (or ``values``), with overrides.

        ``order_type`` defaults to ``stop_limit`` with a stop and limit price,
        ``limit`` with a limit price, ``market`` otherwise.
        """
        source = dict(values if values is not None else self.scenario.input)
        source.update(overrides)
        sid = self.scenario.id
        limit_price = _optional(source.get("limit_price"), f"{sid}: limit_price")
        stop_price = _optional(source.get("stop_price"), f"{sid}: stop_price")
        if "order_type" in source:
            order_type = OrderType(source["order_type"])
        elif limit_price is not None and stop_price is not None:
            order_type = OrderType.STOP_LIMIT
        elif limit_price is not None:
            order_type = OrderType.LIMIT
        else:
            order_type = OrderType.MARKET
        return Order(
            client_order_id=str(source["client_order_id"]),
            symbol=str(source["symbol"]),
            side=OrderSide(source["side"]),
            order_type=order_type,
            quantity=to_decimal(source["quantity"], f"{sid}: quantity"),
            time_in_force=TimeInForce(source.get("time_in_force", "gtc")),
            limit_price=limit_price,
            stop_price=stop_price,
            post_only=bool(source.get("post_only", False)),
            broker=self.adapter.name,
        )

    async def submit(self, order: Order) -> list[OrderEvent]:
        """Submit ``order`` and apply the reply's events to it."""
        events = await self.adapter.submit_order(order)
        _check_events(events, order)
        apply_events(order, events)
        return events

    # -- stream -----------------------------------------------------------
    async def start_stream(self) -> None:
        """Start collecting ``adapter.stream_events()`` in the background."""
        if self._streaming:
            return
        self._streaming = True
        self._task_group.start_soon(self._consume)
        await anyio.lowlevel.checkpoint()  # let the consumer subscribe before the scenario acts

    async def _consume(self) -> None:
        try:
            async for event in self.adapter.stream_events():
                self.stream_events.append(event)
                self._notify()
        except anyio.get_cancelled_exc_class():
            raise
        except Exception as exc:
            self.stream_error = exc
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_until(self, condition: Callable[[], bool], what: str, within: float = 5.0) -> None:
        """Wait until ``condition()`` holds, re-checking whenever the stream yields.

        Raises:
            AssertionError: naming ``what`` when it does not happen within ``within``
                seconds, or when the stream ended with an error.
        """
        with anyio.move_on_after(within):
            while not condition():
                if self.stream_error is not None:
                    raise AssertionError(
                        f"{self.scenario.id}: the adapter's stream failed while waiting for {what}: "
                        f"{self.stream_error!r}"
                    ) from self.stream_error
                with anyio.move_on_after(0.05):
                    await self._changed.wait()
            return
        raise AssertionError(
            f"{self.scenario.id}: {what} did not happen within {within}s; "
            f"stream events so far: {self.stream_events!r}"
        )

    async def stream_played(self, within: float = 5.0) -> None:
        """Recorded mode: wait until the recorded stream has been played to the end.

        Lets frames the recording pushes after the scenario's own condition was
        met (a repeated fill, say) reach the adapter before the final checks.
        """
        server = self.scenario.stream_server
        if server is None:
            return
        with anyio.move_on_after(within):
            while server.unfinished():  # noqa: ASYNC110 - the servers have no "script done" event
                await anyio.sleep(0.01)
        await anyio.sleep(0.05)  # let the adapter's consumer take the last frames

    def stream_fills(self, client_order_id: str | None = None) -> list[Fill]:
        """Fills the stream delivered (optionally for one order)."""
        return [
            event.fill
            for event in self.stream_events
            if isinstance(event, OrderFilled)
            and (client_order_id is None or event.fill.client_order_id == client_order_id)
        ]

    # -- no-duplicate accounting -------------------------------------------
    async def orders_received(self, order: Order) -> int:
        """How many times the broker received ``order`` (by its client order id).

        Recorded adapters: requests answered by exchanges labelled ``"submit"``
        (each must carry the client order id). Simulated adapters: the kit's
        wrapper count when it injected the faults, else the broker's own book
        (open orders carrying the id).
        """
        replay = self.scenario.http_replay
        if self.scenario.is_recorded and replay is not None:
            requests = replay.requests_for("submit")
            for request in requests:
                sent = str(request.url) + request.content.decode(errors="replace")
                assert order.client_order_id in sent, (
                    f"{self.scenario.id}: a submit request does not carry the client order id "
                    f"{order.client_order_id!r} (a re-send must reuse it): {request.method} {request.url}"
                )
            return len(requests)
        if isinstance(self.adapter, FaultyAdapter):
            return self.adapter.submitted.count(order.client_order_id)
        reports = await self.adapter.get_open_orders(order.symbol)
        return sum(1 for report in reports if report.client_order_id == order.client_order_id)


def apply_events(order: Order, events: Sequence[OrderEvent]) -> None:
    """Apply events to ``order`` the way the OMS would, as far as scenarios need."""
    for event in events:
        if isinstance(event, OrderAccepted):
            if event.broker_order_id is not None:
                order.broker_order_id = event.broker_order_id
            if order.status is OrderStatus.PENDING_SUBMIT:
                order.status = OrderStatus.ACCEPTED
        elif isinstance(event, OrderFilled):
            order.filled_quantity += event.fill.quantity
            if event.fill.broker_order_id and order.broker_order_id is None:
                order.broker_order_id = event.fill.broker_order_id
            order.status = (
                OrderStatus.FILLED
                if order.filled_quantity >= order.quantity
                else OrderStatus.PARTIALLY_FILLED
            )
        elif isinstance(event, OrderCanceled):
            order.status = OrderStatus.CANCELED
        elif isinstance(event, OrderExpired):
            order.status = OrderStatus.EXPIRED
        elif isinstance(event, OrderRejected):
            order.status = OrderStatus.REJECTED
        elif isinstance(event, OrderModified):
            if event.quantity is not None:
                order.quantity = event.quantity
            if event.limit_price is not None:
                order.limit_price = event.limit_price
            if event.stop_price is not None:
                order.stop_price = event.stop_price
            if event.broker_order_id is not None:
                order.broker_order_id = event.broker_order_id


def unique_fills(fills: Sequence[Fill]) -> list[Fill]:
    """Fills de-duplicated on their trade key, first occurrence kept (the OMS does the same)."""
    seen: set[tuple[str, str, str]] = set()
    result = []
    for fill in fills:
        if fill.key not in seen:
            seen.add(fill.key)
            result.append(fill)
    return result


def _check_events(events: object, order: Order) -> None:
    assert isinstance(events, list), f"submit_order must return a list of events, returned {events!r}"
    for event in events:
        assert event.client_order_id == order.client_order_id, (
            f"event {event!r} carries client order id {event.client_order_id!r}, "
            f"the order's is {order.client_order_id!r}"
        )


def _optional(raw: Any, what: str) -> Decimal | None:
    return None if raw is None else to_decimal(raw, what)
