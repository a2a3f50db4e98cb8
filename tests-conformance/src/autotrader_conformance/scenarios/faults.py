"""TC-FLT: the fault suite — nothing lost, nothing doubled, positions exact, typed errors.

Every fault scenario but TC-FLT-05 replays another scenario's traffic (its
``ScenarioSpec.replays``) and injects the fault on top, so every adapter gets
the suite without new recordings:

* recorded adapters meet the fault on their real HTTP path
  (:mod:`autotrader_conformance.http_faults`): their own code must map it;
* simulated adapters get the typed error through their fault plan.

Each scenario feeds what the adapter reported through a real
:class:`~autotrader_core.oms.OrderManager` and compares the OMS with what the
broker recorded: one order per client order id, every fill once, the position
equal to the signed sum of the broker's fills. The figures go to the session's
summary table (:mod:`autotrader_conformance.summary`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from autotrader_core.capabilities import Feature
from autotrader_core.enums import OrderSide, OrderStatus
from autotrader_core.errors import (
    AutotraderError,
    BrokerError,
    BrokerProtocolError,
    BrokerUnavailable,
    RequestTimeout,
    TransientError,
)
from autotrader_core.events import OrderAccepted, OrderCanceled, OrderEvent, OrderFilled
from autotrader_core.models import Fill, Order
from autotrader_core.oms import OrderManager
from autotrader_core.resiliency import RetryPolicy

from autotrader_conformance.faults import FaultPlan
from autotrader_conformance.http_faults import HttpFaultInjector, typed_equivalent, wrap_for_faults
from autotrader_conformance.resolving import ResolvingSubmitter
from autotrader_conformance.scenario import Scenario, to_decimal
from autotrader_conformance.scenarios._base import ScenarioBase, scenario
from autotrader_conformance.scenarios._checks import assert_fill, events_of, expect_error
from autotrader_conformance.session import ScenarioSession, unique_fills
from autotrader_conformance.summary import RunFigures, record_figures

__all__ = ["FaultRun", "FaultScenarios", "order_lifecycle"]


class FaultRun:
    """One fault scenario in progress: the wrapped adapter, its faults and an engine's OMS.

    Attributes:
        adapter: The adapter under test, wrapped to count what reached it and keep what it raised.
        submitter: The engine's submit path (its resolver of unknown outcomes) over :attr:`adapter`,
            built with ``policy``.
        oms: The engine's OMS, fed with everything the adapter reported.
        http: The HTTP fault injector (recorded adapters sending through httpx), else ``None``.
    """

    def __init__(
        self, session: ScenarioSession, scenario_id: str, policy: RetryPolicy, *, http: bool = True
    ) -> None:
        self.session = session
        self.id = scenario_id
        self.http = HttpFaultInjector() if http and session.scenario.is_recorded else None
        self.adapter = wrap_for_faults(session.adapter, self.http)
        self.submitter = ResolvingSubmitter(self.adapter, policy)
        self.oms: OrderManager = self.submitter.oms
        self._planned = 0
        # Simulated adapters: their own plan (or the kit's wrapper, for FaultRun(http=False)).
        self._plan: FaultPlan = session.faults if session.faults is not None else self.adapter.faults

    @contextmanager
    def active(self) -> Iterator[None]:
        """HTTP faults are live inside this block (recorded mode)."""
        if self.http is None:
            yield
            return
        with self.http.installed():
            yield

    def inject(self, operation: str, kind: str) -> None:
        """Plan ``kind`` (see :data:`~autotrader_conformance.http_faults.HTTP_FAULTS`) for the next ``operation``."""
        self._planned += 1
        if self.http is not None:
            self.http.plan(operation, kind)
            return
        error, after_apply = typed_equivalent(kind, operation, self.adapter.name)
        self._plan.fail_next(operation, error, after_apply=after_apply)

    def faults_fired(self) -> int:
        """How many planned faults actually hit a request (or a call)."""
        if self.http is not None:
            return len(self.http.fired)
        pending = getattr(self._plan, "pending", None)
        left = pending() if callable(pending) else 0
        return self._planned - int(left)

    def assert_all_fired(self) -> None:
        """Every planned fault met a request; else the scenario proved nothing."""
        if self.http is not None:
            left = self.http.pending()
            assert not left, (
                f"{self.id}: planned HTTP fault(s) never met a request: "
                + ", ".join(f"{f.kind} on {f.operation}" for f in left)
                + ". The kit injects them into httpx.AsyncClient.send; an adapter whose request path "
                "bypasses httpx cannot run the HTTP fault suite."
            )
        else:
            assert self.faults_fired() == self._planned, f"{self.id}: planned faults did not all fire"

    def apply(self, events: Sequence[OrderEvent]) -> None:
        """Feed events to the OMS."""
        for event in events:
            self.oms.apply(event)

    def sends(self, order: Order) -> int:
        """How many times the order was handed to the adapter's submit."""
        return self.adapter.submitted.count(order.client_order_id)


def _first_error(run: FaultRun, operation: str) -> BaseException | None:
    errors = run.adapter.errors_of(operation)
    return errors[0] if errors else None


def _assert_typed(error: BaseException | None, expected: type[AutotraderError], what: str) -> None:
    assert error is not None, f"{what}: the fault raised nothing, expected {expected.__name__}"
    assert isinstance(error, expected), (
        f"{what}: raised {type(error).__name__}: {error}; expected {expected.__name__}"
    )


def _fills_in(oms: OrderManager, client_order_id: str) -> list[Fill]:
    return oms.fills_for(client_order_id)


def _signed(side: OrderSide, quantity: Decimal) -> Decimal:
    return quantity if side is OrderSide.BUY else -quantity


def _expected_fill_keys(expected: Any, sc: Scenario) -> list[tuple[Decimal, Decimal, Decimal, str | None]]:
    assert isinstance(expected, list) and expected, f"{sc.id}: expect.fills must be a non-empty list"
    keys = []
    for index, want in enumerate(expected):
        what = f"{sc.id}: expect.fills[{index}]"
        keys.append(
            (
                to_decimal(want["quantity"], f"{what}.quantity"),
                to_decimal(want["price"], f"{what}.price"),
                to_decimal(want.get("fee", "0"), f"{what}.fee"),
                str(want["trade_id"]) if "trade_id" in want else None,
            )
        )
    return keys


def _missing_and_doubled(
    booked: Sequence[Fill], expected: Sequence[tuple[Decimal, Decimal, Decimal, str | None]]
) -> tuple[int, int]:
    """(expected fills the OMS does not hold, fills the OMS holds beyond the expected ones)."""
    remaining = list(booked)
    missing = 0
    for quantity, price, fee, trade_id in expected:
        match = next(
            (
                fill
                for fill in remaining
                if (fill.quantity, fill.price, fill.fee) == (quantity, price, fee)
                and (trade_id is None or fill.trade_id == trade_id)
            ),
            None,
        )
        if match is None:
            missing += 1
        else:
            remaining.remove(match)
    return missing, len(remaining)


async def order_lifecycle(
    run: FaultRun,
    *,
    submit_fault: str | None = None,
    lookup_fault: str | None = None,
    query_fault: str | None = None,
) -> Order:
    """Submit, query, cancel with faults; the OMS follows every step.

    Without a submit fault these are TC-ORD-02's calls (submit, query, cancel).
    With one they are TC-RES-03's (submit with an unknown outcome, then the engine's
    resolver looks it up by client order id), and the order stays working. The submit
    goes through the engine's path (:attr:`FaultRun.submitter`), as in production.
    """
    adapter = run.adapter
    await adapter.connect()
    order = run.session.order()
    if submit_fault is not None:
        run.inject("submit", submit_fault)
    if lookup_fault is not None:
        run.inject("get_order", lookup_fault)
    await run.submitter.submit(order)
    if submit_fault is None:
        if query_fault is not None:
            run.inject("get_order", query_fault)
            with expect_error(BrokerProtocolError, f"{run.id}: a malformed get_order reply") as caught:
                await adapter.get_order(symbol=order.symbol, client_order_id=order.client_order_id)
            assert caught.value.payload is not None, (
                f"{run.id}: BrokerProtocolError must carry the offending payload"
            )
            assert not caught.value.retryable, f"{run.id}: a malformed reply is not retryable"
        report = await adapter.get_order(symbol=order.symbol, client_order_id=order.client_order_id)
        run.oms.apply_report(report)
    assert order.status is OrderStatus.ACCEPTED, (
        f"{run.id}: after the fault the OMS must hold the order as accepted (the broker has it), "
        f"holds it as {order.status!r}"
    )
    if submit_fault is not None:
        return order
    run.oms.mark_pending_cancel(order.client_order_id)
    events = await adapter.cancel_order(order)
    run.apply(events)
    if not events_of(events, OrderCanceled):
        run.oms.apply_report(
            await adapter.get_order(symbol=order.symbol, client_order_id=order.client_order_id)
        )
    return order


class FaultScenarios(ScenarioBase):
    """The fault suite (TC-FLT-*)."""

    def _fault_run(self, session: ScenarioSession, scenario_id: str) -> FaultRun:
        """HTTP-level faults for recorded adapters, the fault plan's typed errors for simulated ones."""
        return FaultRun(session, scenario_id, self.retry_policy())

    def _check_lifecycle(
        self, request: pytest.FixtureRequest, run: FaultRun, order: Order, *, canceled: bool = True
    ) -> None:
        sends = run.sends(order)
        # TC-RES-03's recording says how often the broker received the order (2 when the lookup
        # proved the first send never arrived); TC-ORD-02's order is sent once.
        expected = int(run.session.scenario.value("submits", 1))
        figures = RunFigures(
            faults=run.faults_fired(),
            orders=1,
            fills=len(_fills_in(run.oms, order.client_order_id)),
            losses=0,
            duplicates=max(sends - expected, 0),
        )
        record_figures(request, figures)
        run.assert_all_fired()
        assert sends == expected, (
            f"{run.id}: the order was submitted {sends} times, the broker's recording expects {expected}; "
            "after a submit with an unknown outcome it must be looked up by client order id, never "
            "re-sent while the broker has it"
        )
        working = 0 if canceled else 1
        want = OrderStatus.ACCEPTED if working else OrderStatus.CANCELED
        assert order.status is want, f"{run.id}: OMS status {order.status!r}, expected {want.value}"
        assert run.oms.open_order_count() == working, (
            f"{run.id}: the OMS holds {run.oms.open_order_count()} open orders, expected {working}"
        )
        assert run.oms.position(order.symbol).quantity == 0, (
            f"{run.id}: a resting order left a position: {run.oms.position(order.symbol)!r}"
        )

    @scenario("TC-FLT-01")
    async def test_flt_01_submit_timeout_then_lookup_5xx(
        self, conformance_scenario: Scenario, request: pytest.FixtureRequest
    ) -> None:
        """Submit times out after the broker took it; the first lookup meets a 503; found, not re-sent."""
        async with self.session(conformance_scenario) as session:
            run = self._fault_run(session, "TC-FLT-01")
            with run.active():
                order = await order_lifecycle(run, submit_fault="timeout_after", lookup_fault="status_503")
            canceled = False
            _assert_typed(
                _first_error(run, "submit"), RequestTimeout, "TC-FLT-01: submit whose reply timed out"
            )
            lookup_error = _first_error(run, "get_order")
            if lookup_error is not None:  # an adapter may retry a query by itself
                _assert_typed(lookup_error, BrokerUnavailable, "TC-FLT-01: lookup answered HTTP 503")
            self._check_lifecycle(request, run, order, canceled=canceled)

    @scenario("TC-FLT-02")
    async def test_flt_02_connection_reset_on_submit(
        self, conformance_scenario: Scenario, request: pytest.FixtureRequest
    ) -> None:
        """The connection resets after the broker took the submit: BrokerUnavailable, looked up, not re-sent."""
        async with self.session(conformance_scenario) as session:
            run = self._fault_run(session, "TC-FLT-02")
            with run.active():
                order = await order_lifecycle(run, submit_fault="reset_after")
            canceled = False
            _assert_typed(
                _first_error(run, "submit"), BrokerUnavailable, "TC-FLT-02: submit whose connection reset"
            )
            self._check_lifecycle(request, run, order, canceled=canceled)

    @scenario("TC-FLT-03")
    async def test_flt_03_malformed_json_on_query(
        self, conformance_scenario: Scenario, request: pytest.FixtureRequest
    ) -> None:
        """A query's reply is cut off mid-JSON: BrokerProtocolError with the payload; asking again works."""
        async with self.session(conformance_scenario) as session:
            run = self._fault_run(session, "TC-FLT-03")
            with run.active():
                order = await order_lifecycle(run, query_fault="garbled")
            canceled = True
            self._check_lifecycle(request, run, order, canceled=canceled)

    @scenario("TC-FLT-04")
    async def test_flt_04_duplicate_and_out_of_order_fills(
        self, conformance_scenario: Scenario, request: pytest.FixtureRequest
    ) -> None:
        """TC-ORD-01's fills reach the OMS reversed, before the ack, and repeated: booked once, position exact."""
        sc = conformance_scenario
        async with self.session(sc) as session:
            adapter = session.adapter
            await adapter.connect()
            streaming = self.declares(Feature.STREAMING_FILLS)
            if streaming:
                await session.start_stream()
            order = session.order()
            events = await session.submit(order)
            reply = [event.fill for event in events_of(events, OrderFilled)]
            want = sc.decimal("fill_quantity")

            def delivered() -> list[Fill]:
                return reply + session.stream_fills(order.client_order_id)

            if streaming:
                await session.wait_until(
                    lambda: sum(f.quantity for f in unique_fills(delivered())) >= want,
                    f"fills totalling {want}",
                )
                await session.stream_played()
            raw = delivered()
            if not raw and self.declares(Feature.FILL_HISTORY):
                history = await adapter.get_fills(symbol=order.symbol)
                raw = [f for f in history if f.client_order_id == order.client_order_id]
            unique = unique_fills(raw)
            assert unique, "TC-FLT-04: the market order produced no fill to replay through the OMS"
            for fill in unique:
                assert_fill(fill, order, adapter)

        oms = OrderManager()
        booked_order = oms.add(session.order())
        cid = booked_order.client_order_id
        shuffled: list[OrderEvent] = [OrderFilled(fill) for fill in reversed(unique)]  # out of order...
        shuffled.append(OrderAccepted(cid, order.broker_order_id))  # ...and before the ack
        shuffled += [OrderFilled(fill) for fill in raw]  # everything again, as delivered
        shuffled.append(OrderFilled(unique[0]))  # and a late repeat
        for event in shuffled:
            oms.apply(event)
        fill_events = len(events_of(shuffled, OrderFilled))
        booked = _fills_in(oms, cid)
        keys = [(f.quantity, f.price, f.fee, f.trade_id) for f in unique]
        missing, doubled = _missing_and_doubled(booked, keys)
        record_figures(
            request,
            RunFigures(
                faults=fill_events - len(unique) + 1,
                orders=1,
                fills=len(unique),
                losses=missing,
                duplicates=doubled,
            ),
        )
        assert missing == 0, f"TC-FLT-04: the OMS lost {missing} fill(s): booked {booked!r}"
        assert doubled == 0, f"TC-FLT-04: the OMS booked {doubled} fill(s) twice: {booked!r}"
        assert oms.metrics.duplicate_fills == fill_events - len(unique), (
            f"TC-FLT-04: the OMS recognised {oms.metrics.duplicate_fills} duplicate fill(s), "
            f"{fill_events - len(unique)} were fed (fills need stable trade ids)"
        )
        assert booked_order.filled_quantity == want, (
            f"TC-FLT-04: OMS filled {booked_order.filled_quantity}, the broker filled {want}"
        )
        position = oms.position(order.symbol)
        assert position.quantity == _signed(order.side, want), (
            f"TC-FLT-04: position {position.quantity}, the broker's fills sum to {_signed(order.side, want)}"
        )
        assert position.average_price == sc.decimal("fill_price"), (
            f"TC-FLT-04: position price {position.average_price}, the broker's average {sc.decimal('fill_price')}"
        )

    @scenario("TC-FLT-05")
    async def test_flt_05_stale_clock(
        self, conformance_scenario: Scenario, request: pytest.FixtureRequest
    ) -> None:
        """The broker refuses a submit for a stale timestamp: placed exactly once after a resync, or a typed error.

        With ``expect.code`` the adapter must raise a non-transient
        :class:`~autotrader_core.errors.BrokerError` carrying that code (nothing
        was placed). Without it the adapter must recover (resync its clock and
        re-send with the same client order id): the order is accepted once, and
        the broker got ``expect.submits`` submit requests (default 2: refused, placed).
        """
        sc = conformance_scenario
        async with self.session(sc) as session:
            adapter = session.adapter
            await adapter.connect()
            order = session.order()
            # The engine's submit path: a refusal closes the order, an unknown outcome is resolved.
            submitter = ResolvingSubmitter(adapter, self.retry_policy())
            if "code" in sc.expect:
                with pytest.raises(AutotraderError) as caught:
                    await submitter.submit(order)
                error = caught.value
                record_figures(request, RunFigures(faults=1, orders=0))
                assert isinstance(error, BrokerError) and not isinstance(error, TransientError), (
                    f"TC-FLT-05: a stale-timestamp refusal must raise a BrokerError (the broker proved it did "
                    f"not execute), raised {type(error).__name__}: {error}"
                )
                assert error.code == str(sc.expect["code"]), f"TC-FLT-05: code {error.code!r}"
                assert order.status is OrderStatus.REJECTED, (
                    f"TC-FLT-05: the engine closes a refused submit as rejected, the OMS holds {order.status!r}"
                )
                assert not submitter.unknown(), "TC-FLT-05: a proven refusal is no unknown outcome"
                return
            await submitter.submit(order)
            received = await session.orders_received(order)
            want = int(sc.value("submits", 2))
            record_figures(request, RunFigures(faults=1, orders=1, duplicates=max(0, received - want)))
            assert order.status is OrderStatus.ACCEPTED, (
                f"TC-FLT-05: after the resync the order must be accepted, OMS holds {order.status!r}"
            )
            assert received == want, (
                f"TC-FLT-05: the broker received {received} submit request(s), the recording expects {want} "
                "(one refused for the stale timestamp, one placed)"
            )

    @scenario("TC-FLT-06")
    async def test_flt_06_stream_drop_through_oms(
        self, conformance_scenario: Scenario, request: pytest.FixtureRequest
    ) -> None:
        """TC-STR-02 with every event, as delivered, fed to the OMS: each fill once, position exact."""
        sc = conformance_scenario
        expected = _expected_fill_keys(sc.value("fills"), sc)
        want = sum((key[0] for key in expected), Decimal(0))
        async with self.session(sc) as session:
            adapter = session.adapter
            drop = getattr(session.faults, "drop_stream", None) if session.faults is not None else None
            if session.faults is not None and not callable(drop):
                pytest.skip(
                    "TC-FLT-06: the simulated adapter's fault hooks have no drop_stream(); "
                    "without one there is no stream connection to drop"
                )
            await adapter.connect()
            await session.start_stream()
            order = session.order()
            oms = OrderManager()
            oms.add(session.order())
            events = await session.submit(order)
            if callable(drop):
                drop()

            def collected() -> list[Fill]:
                reply = [event.fill for event in events_of(events, OrderFilled)]
                return unique_fills(reply + session.stream_fills(order.client_order_id))

            await session.wait_until(
                lambda: sum(f.quantity for f in collected()) >= want,
                f"fills totalling {want} after the reconnect",
            )
            await session.stream_played()
            stream = [
                event for event in session.stream_events if event.client_order_id == order.client_order_id
            ]
        for event in [*events, *stream]:
            oms.apply(event)
        booked = _fills_in(oms, order.client_order_id)
        missing, doubled = _missing_and_doubled(booked, expected)
        record_figures(
            request, RunFigures(faults=1, orders=1, fills=len(expected), losses=missing, duplicates=doubled)
        )
        assert missing == 0, f"TC-FLT-06: {missing} recorded fill(s) never reached the OMS; booked {booked!r}"
        assert doubled == 0, (
            f"TC-FLT-06: the OMS booked {doubled} fill(s) beyond the recorded ones: {booked!r}"
        )
        booked_order = oms.get(order.client_order_id)
        assert booked_order is not None
        assert booked_order.filled_quantity == want, (
            f"TC-FLT-06: OMS filled {booked_order.filled_quantity}, the broker filled {want}"
        )
        assert oms.position(order.symbol).quantity == _signed(order.side, want), (
            f"TC-FLT-06: position {oms.position(order.symbol).quantity}, fills sum to {_signed(order.side, want)}"
        )
