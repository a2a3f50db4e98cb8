"""The kill switch: stop everything at once.

``engage`` blocks new exposure, cancels every open order (concurrently),
flattens positions with reduce-only market orders, halts trading, disconnects
and fires the alert hook. It is idempotent: a second call (from code, the CLI
or a signal) waits for the first and returns the same report.

An order whose submit or modify outcome is unknown is first handed to the engine's
resolver (one pass: it may turn out working, filled or never arrived); one still
unknown is not canceled blindly but listed in :attr:`KillReport.unknown`. Cancels and
flattens run under the kill switch's own deadline (``deadline``, the engine's
``kill_switch_timeout``): a request that hangs cannot hold it past that; trading is
halted and the engine stopped regardless.

It drives the engine only through its public order API (:class:`KillTarget`), changes
the trading state through the :class:`~autotrader_core.trading_gate.TradingGate` and
alerts through the :class:`~autotrader_core.notifier.Notifier`; it imports no engine.
"""

from __future__ import annotations

import logging
import signal
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Protocol

import anyio

from autotrader_core.adapter import BrokerAdapter
from autotrader_core.errors import AutotraderError
from autotrader_core.models import Order
from autotrader_core.notifier import Notifier
from autotrader_core.oms import OrderManager
from autotrader_core.sessions import registered_session
from autotrader_core.trading_gate import TradingGate

__all__ = ["KillReport", "KillSwitch", "KillTarget", "kill_on_signals", "kill_on_signals_active"]

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class KillReport:
    """What the kill switch did."""

    reason: str
    canceled: int = 0
    cancel_failures: list[str] = field(default_factory=list)
    flatten_orders: list[str] = field(default_factory=list)
    flatten_failures: list[str] = field(default_factory=list)
    remaining_positions: dict[str, Decimal] = field(default_factory=dict)
    elapsed: float = 0.0
    unknown: list[str] = field(default_factory=list)
    """Orders whose outcome was still unknown: not canceled blindly, left to the resolver and an operator."""
    timed_out: bool = False
    """The deadline cut the cancels/flattens short (a request hung)."""

    @property
    def clean(self) -> bool:
        """True when every cancel and flatten succeeded and nothing is left open or unknown."""
        return not (
            self.cancel_failures
            or self.flatten_failures
            or self.remaining_positions
            or self.unknown
            or self.timed_out
        )


class KillTarget(Protocol):
    """The public engine API the kill switch drives (``ExecutionEngine`` provides it)."""

    @property
    def adapter(self) -> BrokerAdapter:
        """The broker adapter (is it connected?)."""
        ...

    @property
    def oms(self) -> OrderManager:
        """Open orders and positions."""
        ...

    async def cancel_order(self, order: Order | str) -> Order:
        """Cancel one order."""
        ...

    async def resolve_outcome(self, order: Order) -> bool:
        """One resolver pass over an order whose outcome is unknown; whether it is settled now."""
        ...

    def is_outcome_unknown(self, client_order_id: str) -> bool:
        """Whether the order's last submit or modify has an unknown outcome."""
        ...

    async def flatten(self, symbol: str, *, tag: str = "flatten") -> Order | None:
        """Close one position (the protective path, exempt from risk limits)."""
        ...

    async def stop(self) -> None:
        """Stop and disconnect."""
        ...


class KillSwitch:
    """Cancel-all, flatten, halt, disconnect, alert. See the module docstring.

    Args:
        engine: The engine to stop (its public order API).
        gate: The trading gate (set to reducing, then halted).
        notifier: Where the critical alert goes.
        max_concurrency: Cancels in flight at once (brokers rate-limit; 1,000 sequential
            cancels would be too slow).
        flatten: Whether to flatten positions after canceling.
        name: How logs and the alert call it (a signal shutdown that keeps positions is no "kill").
        deadline: Seconds the cancels and flattens may take in all; a hung request is
            abandoned then (trading is halted and the engine stopped regardless).
    """

    def __init__(
        self,
        engine: KillTarget,
        *,
        gate: TradingGate,
        notifier: Notifier,
        max_concurrency: int = 64,
        flatten: bool = True,
        name: str = "kill switch",
        deadline: float = 30.0,
    ) -> None:
        self._name = name
        self._deadline = deadline
        self._engine = engine
        self._gate = gate
        self._notifier = notifier
        self._limit = anyio.CapacityLimiter(max_concurrency)
        self._flatten = flatten
        self._lock = anyio.Lock()
        self._report: KillReport | None = None

    @property
    def engaged(self) -> bool:
        """True once the kill switch has run."""
        return self._report is not None

    @property
    def report(self) -> KillReport | None:
        """The report of the first engagement, if any."""
        return self._report

    async def engage(self, reason: str = "manual") -> KillReport:
        """Run the kill switch once; later calls return the first report."""
        async with self._lock:
            if self._report is not None:
                return self._report
            with anyio.CancelScope(shield=True):
                report = await self._run(reason)
            self._report = report
            return report

    async def _run(self, reason: str) -> KillReport:
        engine = self._engine
        started = time.perf_counter()
        report = KillReport(reason=reason)
        logger.critical("%s engaged: %s", self._name.upper(), reason)
        self._gate.reduce(f"kill switch: {reason}")  # nothing new may add exposure

        if engine.adapter.is_connected:
            with anyio.move_on_after(self._deadline) as scope:
                async with anyio.create_task_group() as tg:
                    for order in engine.oms.open_orders():
                        tg.start_soon(self._cancel, order, report)
                if self._flatten:
                    await self._flatten_positions(report)
            if scope.cancelled_caught:
                report.timed_out = True
                logger.critical("%s: deadline of %gs reached; a request hung", self._name, self._deadline)

        self._gate.halt(f"kill switch: {reason}")
        report.remaining_positions = {
            s: p.quantity for s, p in engine.oms.positions().items() if not p.is_flat
        }
        await engine.stop()
        report.elapsed = time.perf_counter() - started
        self._alert(report)
        return report

    async def _cancel(self, order: Order, report: KillReport) -> None:
        async with self._limit:
            engine = self._engine
            cid = order.client_order_id
            if engine.is_outcome_unknown(cid):
                try:
                    await engine.resolve_outcome(order)
                except AutotraderError as exc:
                    logger.warning("%s: resolving %s failed: %s", self._name, cid, exc)
                if engine.is_outcome_unknown(cid):
                    report.unknown.append(cid)  # never canceled blindly: it may not exist yet
                    return
                if not order.is_open:
                    return
            try:
                await self._engine.cancel_order(order)
                report.canceled += 1
            except AutotraderError as exc:
                if order.is_open:
                    report.cancel_failures.append(f"{order.client_order_id}: {exc}")

    async def _flatten_positions(self, report: KillReport) -> None:
        engine = self._engine
        for symbol, position in engine.oms.positions().items():
            if position.is_flat:
                continue
            try:
                order = await engine.flatten(symbol, tag="kill-switch")
            except AutotraderError as exc:
                report.flatten_failures.append(f"{symbol}: {exc}")
                continue
            if order is not None:
                report.flatten_orders.append(order.client_order_id)

    def _alert(self, report: KillReport) -> None:
        message = (
            f"{self._name}: {report.reason}; canceled {report.canceled} orders, "
            f"{len(report.flatten_orders)} flatten orders, {report.elapsed:.3f}s"
        )
        if report.unknown:
            message += (
                f"; {len(report.unknown)} order(s) of unknown outcome: {', '.join(report.unknown[:10])}"
            )
        if report.timed_out:
            message += f"; deadline {self._deadline:g}s reached (a request hung)"
        details = {"canceled": str(report.canceled), "elapsed": f"{report.elapsed:.3f}"}
        self._notifier.alert("critical", message, source="kill_switch", details=details)
        logger.critical("%s", message)


async def kill_on_signals(
    kill_switch: KillSwitch,
    signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM),
    *,
    data_dir: Path | None = None,
) -> None:
    """Engage ``kill_switch`` on the first of ``signals`` (run it as a task).

    Args:
        data_dir: Also register this process there (usually ``engine.settings.data_dir``)
            so that ``autotrader kill`` from another shell finds it. The registration lasts
            exactly as long as the signal handlers: a session is never listed while a
            ``SIGTERM`` would end it without the kill switch.
    """
    global _listeners
    registration = registered_session(data_dir) if data_dir is not None else nullcontext()
    with anyio.open_signal_receiver(*signals) as received, registration:  # handlers first, then the file
        _listeners += 1
        try:
            async for signum in received:
                await kill_switch.engage(f"signal {signal.Signals(signum).name}")
                return
        finally:
            _listeners -= 1


_listeners = 0
"""How many :func:`kill_on_signals` listen in this process right now."""


def kill_on_signals_active() -> bool:
    """True while a :func:`kill_on_signals` listens: ``engine.run()`` then leaves the signals to it."""
    return _listeners > 0
