""":class:`InflightConformance`: the ``TC-INF-*`` scenarios, run through a real engine against a venue.

An adapter's test module subclasses it, says how to start its venue and build the
adapter against it; each scenario then starts an :class:`~autotrader_core.engine.ExecutionEngine`,
plans one fault, sends one command (submit, modify, cancel), waits until the venue is
quiet and the horizon of the fault has passed, and runs the three
:class:`~autotrader_conformance.inflight.checks.InflightChecks` at the exchange.

Usage (Binance, see ``autotrader-binance/tests/test_binance_inflight.py``)::

    class _BinanceInflight(InflightConformance):
        routes = {"submit": "POST /api/v3/order", ...}

        def make_venue(self) -> BinanceVenue:
            return BinanceVenue(exchange_info=..., account=..., prices={"ETHBTC": Decimal("0.05")})

        def make_adapter(self, venue: LoopbackVenue) -> BinanceAdapter:
            return BinanceAdapter(BinanceSettings(base_url=venue.url, ws_url=venue.ws_url,
                                                  http_transport=self.transport,
                                                  recv_window_ms=600, request_timeout=0.2, ...))

    TestBinanceInflightLean, TestBinanceInflightHttpx, TestBinanceInflightAiohttp = per_transport(_BinanceInflight)

Known open defects are declared, not hidden: ``inflight_xfail = {"TC-INF-06": "issue 14 item 1: ..."}``
(or ``"TC-INF-06[no-stream]"`` for one variant) marks them ``xfail(strict=True)``, so a fix
that makes one pass fails the run until the mark is removed.

``inflight_tier = "ci"`` runs :data:`~.catalogue.CI_SCENARIOS` with the stream on by default
and everything with ``AUTOTRADER_INFLIGHT=full`` (the ``inflight`` nox session); a class of
tier ``"full"`` runs only then.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from decimal import Decimal
from typing import Any, ClassVar, Literal

import anyio
import pytest
from autotrader_core.adapter import BrokerAdapter
from autotrader_core.control import EngineControl
from autotrader_core.engine import ExecutionEngine
from autotrader_core.enums import OrderStatus
from autotrader_core.errors import TransientError
from autotrader_core.models import Order
from autotrader_core.resend import ResendRule
from autotrader_core.resiliency import RetryPolicy
from autotrader_core.settings import EngineSettings

from autotrader_conformance.inflight.catalogue import CI_SCENARIOS, FAULTS, INFLIGHT_CATALOGUE, InflightSpec
from autotrader_conformance.inflight.checks import InflightChecks, InflightResult, VenueView
from autotrader_conformance.inflight.venue import LoopbackVenue
from autotrader_conformance.summary import record_figures

__all__ = ["InflightConformance", "InflightRun", "Transport", "per_transport"]

Transport = Literal["lean", "httpx", "aiohttp"]
"""The REST transports an in-flight class runs on (the adapters' ``http_transport`` values)."""

OVERSIZE = 64 * 1024 * 1024
"""Body size of an ``oversized`` reply: four times the adapters' default reply limit (16 MB)."""

_VARIANTS = [
    pytest.param(spec.id, stream, id=f"{spec.id}-{'stream' if stream else 'no-stream'}")
    for spec in INFLIGHT_CATALOGUE.values()
    for stream in (True, False)
]


class InflightRun:
    """One scenario in progress: the venue, the engine, what the commands raised.

    Attributes:
        venue: The venue (its view is :attr:`view`).
        engine: The running engine.
        raised: ``(command, exception)`` for every command that raised.
    """

    def __init__(self, case: InflightConformance, venue: Any, engine: ExecutionEngine) -> None:
        self.case = case
        self.venue = venue
        self.engine = engine
        self.view: VenueView = case.venue_view(venue)
        self.raised: list[tuple[str, BaseException]] = []
        self.problems: list[str] = []
        """Problems found while playing (a blocked command, an unbounded read)."""
        self.faults = 0

    async def command(self, what: str, call: Awaitable[Order]) -> Order | None:
        """Run one engine command; what it raises is kept (an unknown outcome may raise).

        A command still blocked after ``command_deadline`` seconds is a problem (and is cancelled).
        """
        deadline = self.case.command_deadline
        with anyio.move_on_after(deadline) as scope:
            try:
                return await call
            except Exception as exc:
                self.raised.append((what, exc))
                return None
        if scope.cancelled_caught:
            self.problems.append(f"{what} still blocked after {deadline:g}s")
        return None

    async def settle(
        self, horizon: float, allowed: Mapping[str, int], symbols: tuple[str, ...]
    ) -> InflightResult:
        """Wait ``horizon`` seconds and for a quiet venue, then until the checks pass or the budget ends."""
        case = self.case
        await anyio.sleep(horizon)
        control = EngineControl(self.engine)
        none = self.engine.adapter.resend_guarantee.rule is ResendRule.NONE
        unknown = (lambda: [u.client_order_id for u in control.unknown_outcomes()]) if none else None
        checks = InflightChecks(self.view, self.engine.oms, unknown=unknown)
        # Without a stream, the timeout watcher (one order_timeout, then its tick) may be what settles.
        order_timeout = self.engine.settings.order_timeout
        budget = max(case.settle_budget, order_timeout + min(1.0, order_timeout / 4) + 0.5 - horizon)
        deadline = time.monotonic() + budget
        while True:
            quiet = case.venue_quiet(self.venue)
            result = checks.run(allowed, symbols)
            if (quiet and not result.problems()) or time.monotonic() > deadline:
                return result
            await anyio.sleep(0.05)

    async def operator_settles(
        self, result: InflightResult, allowed: Mapping[str, int], symbols: tuple[str, ...]
    ) -> InflightResult:
        """Settle what the engine rightly left unknown (the venue never got it) as an operator
        would (``control.settle_unknown``: a submit ``rejected``, a modify ``working``), then
        check again: the end state must then match the venue's."""
        if not result.reported_unknown:
            return result
        control = EngineControl(self.engine)
        for cid in result.reported_unknown:
            order = self.engine.oms.get(cid)
            if order is not None and order.status is OrderStatus.PENDING_MODIFY:
                await control.settle_unknown(
                    cid, as_="working", by="inflight-kit", reason="the venue shows the old terms"
                )
            else:
                await control.settle_unknown(
                    cid, as_="rejected", by="inflight-kit", reason="the venue lists no such order"
                )
        after = InflightChecks(self.view, self.engine.oms).run(allowed, symbols)
        after.reported_unknown = list(result.reported_unknown)
        return after


class InflightConformance:
    """The ``TC-INF-*`` scenarios for one adapter (see the module docs)."""

    inflight_xfail: ClassVar[Mapping[str, str]] = {}
    """``{scenario id or "id[stream]"/"id[no-stream]": reason}``: known open defects (strict xfail)."""
    transport: ClassVar[Transport] = "lean"
    """The REST transport ``make_adapter`` should use (``lean``, ``httpx``, ``aiohttp``: see :func:`per_transport`)."""
    inflight_tier: ClassVar[str] = "ci"
    """``"ci"``: the CI subset by default, all with ``AUTOTRADER_INFLIGHT=full``; ``"full"``: only then."""
    request_timeout: ClassVar[float] = 0.2
    """The adapter's request timeout (make_adapter must configure it)."""
    window: ClassVar[float] = 0.6
    """The venue's re-send window in seconds (Binance ``recvWindow``; make_adapter must configure it)."""
    settle_budget: ClassVar[float] = 1.5
    """Seconds after the fault's horizon for the engine to agree with the venue (at least until the
    timeout watcher has had one ``order_timeout`` and a tick to settle a stream-less order)."""
    command_deadline: ClassVar[float] = 3.0
    """Seconds within which every command must return (settled, refused or unknown)."""
    order_timeout: ClassVar[float] = 2.0
    """The engine's ``order_timeout`` (the watcher scenario uses a shorter one)."""
    symbol: ClassVar[str] = "BTCUSDT"
    quantity: ClassVar[Decimal] = Decimal("1")
    resting_price: ClassVar[Decimal] = Decimal("1")
    """A limit price that rests (does not cross the venue's market)."""
    new_price: ClassVar[Decimal] = Decimal("2")
    """The price a cancel-replace modify moves the resting order to (still resting)."""
    reduced_quantity: ClassVar[Decimal] = Decimal("0.5")
    """The quantity a native modify lowers the order to."""
    native_modify_orders: ClassVar[int] = 1
    """Venue orders one client order id may have after a native modify (2: the venue's modify is a
    replace that creates a new order under the same client id, as OANDA's)."""
    routes: ClassVar[Mapping[str, str]] = {}
    """Operation → ``"METHOD /path"`` of the request it sends (loopback venues)."""
    faults_offered: ClassVar[frozenset[str]] = frozenset(FAULTS)
    silent_stream: ClassVar[bool] = True
    """Whether the venue can keep the stream silent (the ``[no-stream]`` variants)."""

    # -- hooks ------------------------------------------------------------------------
    def make_venue(self) -> AbstractAsyncContextManager[Any]:
        """A fresh venue (an async context manager that starts and stops it)."""
        raise NotImplementedError(f"{type(self).__name__} must implement make_venue()")

    def make_adapter(self, venue: Any) -> BrokerAdapter:
        """A fresh adapter pointed at ``venue`` (configured with :attr:`request_timeout` and :attr:`window`)."""
        raise NotImplementedError(f"{type(self).__name__} must implement make_adapter(venue)")

    def venue_view(self, venue: Any) -> VenueView:
        """What the checks read (the venue itself for a :class:`LoopbackVenue`)."""
        assert isinstance(venue, LoopbackVenue)
        return venue

    def venue_quiet(self, venue: Any) -> bool:
        """No request held or executing at the venue."""
        return venue.quiet if isinstance(venue, LoopbackVenue) else True

    def modify_change(self, kind: str) -> dict[str, Decimal] | None:
        """The change a ``modify_replace`` / ``modify_native`` scenario asks for (``None``: not offered)."""
        if kind == "modify_replace":
            return {"limit_price": self.new_price}
        return {"quantity": self.reduced_quantity}

    def plan_fault(self, run: InflightRun, operation: str, fault: str) -> None:
        """Plan ``fault`` for the next request of ``operation`` (loopback venues: through the proxy)."""
        venue = run.venue
        assert isinstance(venue, LoopbackVenue)
        route = self.routes[operation]
        rule = venue.faults.on(route, nth=venue.faults.seen[route] + 1)
        timeout, window = self.request_timeout, self.window
        if fault == "lost":
            rule.drop_reply()
        elif fault == "lost_stream_late":
            rule.drop_reply()
            venue.faults.stream.delay = timeout * 2
        elif fault == "trickled":
            rule.trickle(0.02)
        elif fault == "oversized":
            rule.oversize(OVERSIZE)
        elif fault == "reset":
            rule.reset()
        elif fault == "lost_stream_twice":
            rule.drop_reply()
            venue.faults.stream.twice = True
        elif fault == "late":
            rule.delay_reply(timeout / 2)
        elif fault == "held":
            rule.hold((timeout + window) / 2)
        elif fault == "expired":
            rule.hold(window + 0.3)
        elif fault == "clock_lag":
            # Behind the client's synced clock by more than the hold exceeds the window: the
            # request still executes when it lands, after the client's own reckoning expired it.
            venue.clock.jump(-int((window + 0.2) * 1000))
            rule.hold(window + timeout + 0.25)
        else:
            raise ValueError(f"unknown fault {fault!r}")

    def unfired_faults(self, venue: Any) -> list[str]:
        """Planned faults that never met a request (the scenario would have tested nothing)."""
        if isinstance(venue, LoopbackVenue):
            return [rule.describe() for rule in venue.faults.unfired()]
        return []

    def silence_stream(self, venue: Any) -> None:
        """Keep the venue's private stream silent (the ``[no-stream]`` variants)."""
        assert isinstance(venue, LoopbackVenue)
        venue.faults.stream.off = True

    async def stream_ready(self, venue: Any) -> None:
        """Wait until the adapter's private stream is subscribed."""
        if isinstance(venue, LoopbackVenue) and (venue.ws_path or venue.line_stream_path):
            with anyio.move_on_after(3):
                while not venue.subscribers:  # noqa: ASYNC110 - the venue has no event for it
                    await anyio.sleep(0.02)
            if not venue.subscribers:
                where = venue.ws_url or venue.url + venue.line_stream_path
                pytest.fail(f"the adapter's private stream never subscribed at {where}", pytrace=False)

    def fault_horizon(self, fault: str) -> float:
        """Seconds after the command by which the fault has played out (held requests landed)."""
        base = self.request_timeout + self.window
        if fault == "expired":
            return base + 0.5
        if fault == "clock_lag":
            return 2 * base + 0.3
        return base

    def retry_policy(self) -> RetryPolicy:
        """The engine's retry policy: quick backoff."""
        return RetryPolicy(max_attempts=3, base_delay=0.05, max_delay=0.1, jitter=0.0)

    def engine_settings(self, **overrides: Any) -> EngineSettings:
        """Short timers: the watcher after :attr:`order_timeout`, reconciliation every half second."""
        values: dict[str, Any] = {"order_timeout": self.order_timeout, "reconcile_interval": 0.5}
        values.update(overrides)
        return EngineSettings(**values)

    # -- machinery ---------------------------------------------------------------------
    @pytest.fixture
    def anyio_backend(self) -> str:
        """The venues run on asyncio."""
        return "asyncio"

    @asynccontextmanager
    async def _running(self, spec: InflightSpec, stream: bool) -> AsyncIterator[InflightRun]:
        async with self.make_venue() as venue:
            if not stream:
                self.silence_stream(venue)
            overrides: dict[str, Any] = {}
            if spec.operation == "watcher":
                overrides["order_timeout"] = self.request_timeout  # well before the held submit lands
            engine = await self._start_engine(venue, spec, overrides)
            try:
                if stream:
                    await self.stream_ready(venue)
                yield InflightRun(self, venue, engine)
            finally:
                await engine.__aexit__(None, None, None)

    async def _start_engine(
        self, venue: Any, spec: InflightSpec, overrides: dict[str, Any]
    ) -> ExecutionEngine:
        """A started engine; a start the loaded machine timed out (before any fault) is tried again."""
        for attempt in range(3):
            adapter = self.make_adapter(venue)
            guarantee = adapter.resend_guarantee
            if spec.needs_expiry and guarantee.rule is not ResendRule.EXPIRY:
                pytest.skip(f"needs an expiry re-send guarantee; the adapter declares {guarantee.rule.value}")
            engine = ExecutionEngine(
                adapter, settings=self.engine_settings(**overrides), retry_policy=self.retry_policy()
            )
            try:
                await engine.start()
            except TransientError:
                with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                    await adapter.disconnect()
                if attempt == 2:
                    raise
                continue
            return engine
        raise AssertionError("unreachable")

    def _gate(self, request: pytest.FixtureRequest, spec: InflightSpec, stream: bool) -> None:
        if self.transport == "aiohttp":
            pytest.importorskip("aiohttp")
        full = os.environ.get("AUTOTRADER_INFLIGHT", "") == "full"
        if not full and (self.inflight_tier != "ci" or spec.id not in CI_SCENARIOS or not stream):
            pytest.skip("in-flight scenario outside the CI subset (AUTOTRADER_INFLIGHT=full runs it)")
        if not stream and not self.silent_stream:
            pytest.skip("the venue cannot silence its stream")
        if spec.fault not in self.faults_offered:
            pytest.skip(f"{type(self).__name__} cannot inject {spec.fault!r}")
        if spec.operation.startswith("modify") and self.modify_change(spec.operation) is None:
            pytest.skip(f"the adapter offers no {spec.operation.replace('_', ' ')}")
        variant = "stream" if stream else "no-stream"
        reason = self.inflight_xfail.get(f"{spec.id}[{variant}]") or self.inflight_xfail.get(spec.id)
        if reason:
            request.applymarker(pytest.mark.xfail(strict=True, reason=reason))

    @pytest.mark.anyio
    @pytest.mark.parametrize(("scenario_id", "stream"), _VARIANTS)
    async def test_inflight(self, request: pytest.FixtureRequest, scenario_id: str, stream: bool) -> None:
        """One ``TC-INF-*`` scenario (see :mod:`autotrader_conformance.inflight.catalogue`)."""
        spec = INFLIGHT_CATALOGUE[scenario_id]
        self._gate(request, spec, stream)
        with anyio.fail_after(20):
            async with self._running(spec, stream) as run:
                allowed = await self._play(run, spec)
                result = await run.settle(self.fault_horizon(spec.fault), allowed, (self.symbol,))
                result = await run.operator_settles(result, allowed, (self.symbol,))
                record_figures(request, result.figures(run.faults))
                problems = run.problems + result.problems()
                unfired = self.unfired_faults(run.venue)
                assert not unfired, f"{spec.id}: fault never met a request: {unfired[0]}"
                if isinstance(run.venue, LoopbackVenue):
                    problems += _unbounded_reads(run.venue)
        raised = "; ".join(f"{what} raised {type(exc).__name__}: {exc}" for what, exc in run.raised)
        assert not problems, (
            f"{spec.id} ({spec.title}):\n  " + "\n  ".join(problems) + (f"\n  ({raised})" if raised else "")
        )

    async def _play(self, run: InflightRun, spec: InflightSpec) -> dict[str, int]:
        engine = run.engine
        cid = engine.ids.next_id()
        operation = "submit" if spec.operation == "watcher" else spec.operation
        market = spec.fault == "clock_lag"
        if operation == "submit":
            self.plan_fault(run, "submit", spec.fault)
            run.faults += 1
            await run.command("submit", self._submit(engine, cid, market=market))
            return {cid: 1}
        order = await self._submit(engine, cid, market=False)
        self.plan_fault(run, operation, spec.fault)
        run.faults += 1
        if operation == "cancel":
            await run.command("cancel", engine.cancel_order(order))
            return {cid: 1}
        change = self.modify_change(operation)
        assert change is not None
        await run.command("modify", engine.modify_order(order, **change))
        return {cid: 2 if operation == "modify_replace" else self.native_modify_orders}

    def _submit(self, engine: ExecutionEngine, cid: str, *, market: bool) -> Awaitable[Order]:
        if market:
            return engine.submit_order(self.symbol, "buy", self.quantity, client_order_id=cid)
        return engine.submit_order(
            self.symbol,
            "buy",
            self.quantity,
            order_type="limit",
            limit_price=self.resting_price,
            client_order_id=cid,
        )


def _unbounded_reads(venue: LoopbackVenue) -> list[str]:
    """An oversized reply the client read to the end: it has no reply size limit."""
    return [
        f"the client read {rule.sent} bytes of an oversized reply to {rule.route} (no reply size limit)"
        for rule in venue.faults.rules
        if rule.oversize_bytes is not None and rule.sent >= rule.oversize_bytes
    ]


def per_transport(base: type[InflightConformance]) -> tuple[type[InflightConformance], ...]:
    """``base`` on each REST transport: lean (the default; CI subset), httpx and aiohttp (``inflight`` session).

    Usage (the names on the left are the test classes pytest collects)::

        TestMyInflightLean, TestMyInflightHttpx, TestMyInflightAiohttp = per_transport(_MyInflight)
    """
    name = base.__name__.lstrip("_")
    variants: tuple[tuple[str, Transport, str], ...] = (
        ("Lean", "lean", base.inflight_tier),
        ("Httpx", "httpx", "full"),
        ("Aiohttp", "aiohttp", "full"),
    )
    return tuple(
        type(
            f"Test{name}{suffix}",
            (base,),
            {
                "transport": transport,
                "inflight_tier": tier,
                "__doc__": f"{name} on the {transport} transport (tier {tier!r}).",
                "__module__": base.__module__,
            },
        )
        for suffix, transport, tier in variants
    )
