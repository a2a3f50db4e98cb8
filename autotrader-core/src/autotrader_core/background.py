"""The engine's background tasks: stream consumer, timeout watcher, periodic
reconciliation, decision loop and status tick.

They run in their own cancel scope (:meth:`BackgroundTasks.cancel`): stopping the
engine, even from inside ``async with engine:``, cancels them and never the caller's
code. They drive the engine only through its public API (:class:`EngineDriver`).
"""

from __future__ import annotations

import logging
import math
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

import anyio

from autotrader_core.adapter import BrokerAdapter
from autotrader_core.decide_failures import DecideFailures
from autotrader_core.errors import AutotraderError, RateLimited, UnsupportedFeature
from autotrader_core.models import Balance, ExecutionDecision, Order
from autotrader_core.settings import EngineSettings

if TYPE_CHECKING:
    from autotrader_core.broker_gateway import BrokerGateway
    from autotrader_core.notifier import Notifier
    from autotrader_core.order_flow import OrderFlow
    from autotrader_core.status import EngineStatus
    from autotrader_core.trading_gate import TradingGate

__all__ = ["BackgroundTasks", "EngineDriver"]

logger = logging.getLogger("autotrader_core.engine")


class EngineDriver(Protocol):
    """The public engine API the background tasks drive."""

    @property
    def running(self) -> bool:
        """True between start and stop."""
        ...

    async def execute(self, decision: ExecutionDecision) -> Order | None:
        """Turn a decision into an order."""
        ...

    async def reconcile_open_orders(self, *, grace: float = 0.0) -> int:
        """Settle orders the broker no longer lists."""
        ...

    async def refresh_balances(self) -> list[Balance]:
        """Fetch balances."""
        ...

    def status(self) -> EngineStatus:
        """The status snapshot."""
        ...

    @property
    def gate(self) -> TradingGate:
        """The trading gate (halted after too many ``decide()`` failures in a row)."""
        ...


class BackgroundTasks:
    """Runs the engine's background loops until :meth:`cancel`.

    Args:
        engine: The engine's public API.
        adapter: Source of the stream.
        flow: Where stream events are applied; its ``strategy`` drives the decision loop.
        gateway: Settles orders that wait too long.
        notifier: Status hook and alerts.
        settings: Intervals and the order timeout.
    """

    def __init__(
        self,
        engine: EngineDriver,
        *,
        adapter: BrokerAdapter,
        flow: OrderFlow,
        gateway: BrokerGateway,
        notifier: Notifier,
        settings: EngineSettings,
    ) -> None:
        self._engine = engine
        self._adapter = adapter
        self._flow = flow
        self._gateway = gateway
        self._notifier = notifier
        self._settings = settings
        self._scope = anyio.CancelScope()
        self.ready = anyio.Event()
        """Set once the OMS is rebuilt (recovery done): stream events wait for it."""

    async def run(self) -> None:
        """Start every loop (the stream at once, the rest once :attr:`ready` is set); return on :meth:`cancel`."""
        with self._scope:
            async with anyio.create_task_group() as tg:
                if self._adapter.capabilities.streaming_fills:
                    tg.start_soon(self.consume_stream)
                await self.ready.wait()
                tg.start_soon(self.watch_timeouts)
                tg.start_soon(self.report_status)
                if self._settings.reconcile_interval > 0:
                    tg.start_soon(self.reconcile_periodically)
                if self._flow.strategy is not None:
                    tg.start_soon(self.decision_loop)

    def cancel(self) -> None:
        """Stop every loop."""
        self._scope.cancel()

    async def consume_stream(self) -> None:
        """Apply the adapter's stream events; reopen the stream if it gives up."""
        # Adapters reconnect by themselves; this loop only guards against a stream
        # that gives up for good, so the engine never silently stops hearing fills.
        adapter = self._adapter
        flow = self._flow
        delay = 1.0
        while True:
            try:
                async for event in adapter.stream_events():
                    await self.ready.wait()  # no-op once the OMS has been rebuilt
                    await flow.apply(event)
                    delay = 1.0
                if not self._engine.running:
                    return
                logger.warning("%s stream ended; reopening", adapter.name)
            except UnsupportedFeature as exc:
                # e.g. a sandbox without a private stream: poll-only, nothing to retry.
                logger.warning("%s has no usable stream (%s); relying on queries", adapter.name, exc)
                return
            except AutotraderError as exc:
                self._notifier.alert(
                    "warning", f"{adapter.name} stream failed: {exc}; retrying in {delay:.0f}s"
                )
            await anyio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def watch_timeouts(self) -> None:
        """Query the broker about orders unconfirmed for ``order_timeout``; drive the resolver's passes.

        A pending submit or modify is the resolver's (:mod:`autotrader_core.resolver`): it is
        never closed here, and an order a submit, modify or pass is working on is skipped,
        so the watcher never races the live path. A pending cancel is looked up (once per
        order per ``order_timeout``).
        """
        order_timeout = self._settings.order_timeout
        timeout = timedelta(seconds=order_timeout)
        interval = min(1.0, order_timeout / 4)
        oms = self._flow.oms
        resolver = self._gateway.resolver
        last_query: dict[str, float] = {}
        while True:
            await anyio.sleep(interval)
            now = time.monotonic()
            for cid in resolver.due():  # unknown outcomes whose next pass is due (backoff)
                order = oms.get(cid)
                if order is None:
                    continue
                try:
                    await resolver.resolve(order)
                except AutotraderError as exc:
                    logger.warning("resolving the unknown outcome of %s failed: %s", cid, exc)
            for order in oms.stale_orders(timeout):
                cid = order.client_order_id
                if resolver.busy(cid) or resolver.get(cid) is not None:
                    continue  # the live submit/modify or the resolver owns it
                if now - last_query.get(cid, -math.inf) < order_timeout:
                    continue  # asked recently: one query per order per order_timeout, not per tick
                last_query[cid] = now
                try:
                    await self._gateway.settle_stale(order, timed_out=True)
                except AutotraderError as exc:
                    logger.warning("timeout query for %s failed: %s", cid, exc)
            if len(last_query) > 10_000:  # forget orders that are no longer waiting
                waiting = {o.client_order_id for o in oms.stale_orders(timeout)}
                last_query = {c: t for c, t in last_query.items() if c in waiting}

    async def reconcile_periodically(self) -> None:
        """Every ``reconcile_interval``: settle orders the broker no longer lists, refresh balances."""
        interval = self._settings.reconcile_interval
        while True:
            await anyio.sleep(interval)
            try:
                await self._engine.reconcile_open_orders(grace=interval)
                await self._engine.refresh_balances()
            except AutotraderError as exc:
                logger.warning("open-order reconciliation failed: %s", exc)

    async def decision_loop(self) -> None:
        """Every ``decision_interval``: ask the strategy for decisions and execute them."""
        strategy = self._flow.strategy
        assert strategy is not None
        context = self._flow.context
        interval = self._settings.decision_interval
        failures = self.decide_failures(strategy.name)
        while True:
            started = time.monotonic()
            try:
                decisions = await strategy.decide(context)
            except Exception as exc:
                delay = failures.failed(exc)
                if delay is None:
                    return  # halted: see DecideFailures
                await anyio.sleep(delay)
                continue
            failures.succeeded()
            for decision in decisions:
                try:
                    await self._engine.execute(decision)
                except RateLimited as exc:
                    logger.warning("decision %s not sent: %s", decision, exc)
                except AutotraderError as exc:
                    logger.warning("decision %s failed: %s", decision, exc)
            await anyio.sleep(max(0.0, interval - (time.monotonic() - started)))

    def decide_failures(self, strategy: str) -> DecideFailures:
        """The back-off / alert / halt policy for ``strategy``'s failing ``decide()``."""
        return DecideFailures(
            strategy,
            notifier=self._notifier,
            gate=self._engine.gate,
            interval=self._settings.decision_interval,
            limit=self._settings.max_decide_failures,
        )

    async def report_status(self) -> None:
        """Every ``status_interval``: the status snapshot to the ``autotrader_on_status`` hook."""
        notifier = self._notifier
        while self._engine.running:  # a tick already due when stop() ran must not follow the final status
            if notifier.enabled:
                notifier.hook("autotrader_on_status", status=self._engine.status().as_dict())
            await anyio.sleep(self._settings.status_interval)
