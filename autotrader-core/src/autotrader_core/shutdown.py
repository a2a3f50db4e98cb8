"""Ctrl-C and SIGTERM during :meth:`ExecutionEngine.run`: stop safely and say what is left.

While ``engine.run()`` waits (``EngineSettings.handle_signals``, on by default) the engine
listens for ``SIGINT`` and ``SIGTERM`` and registers the process in ``data_dir``, so
``autotrader sessions`` lists it and ``autotrader kill`` reaches it. On the first signal:

* ``on_signal="cancel"`` (the default): the strategy stops, trading halts, every order
  this engine placed that is still open is cancelled, positions are left as they are,
  and a summary naming the cancelled orders and the positions left is printed to stderr;
* ``on_signal="kill"``: the full kill switch (cancel, then flatten every position).

``autotrader kill`` stays the full kill switch: the session is registered with
``SIGUSR1`` as its kill signal, and ``SIGUSR1`` always engages the kill switch.

Either way ``run()`` then returns normally: no ``KeyboardInterrupt`` traceback, exit code 0
unless the script says otherwise. Signal handlers exist only in the main thread on POSIX;
elsewhere ``run()`` just waits.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Protocol, TextIO

import anyio
from anyio.abc import TaskStatus

from autotrader_core.enums import OrderStatus
from autotrader_core.kill_switch import KillReport, KillSwitch, KillTarget
from autotrader_core.models import Order
from autotrader_core.notifier import Notifier
from autotrader_core.sessions import registered_session
from autotrader_core.trading_gate import TradingGate

__all__ = ["ShutdownReport", "ShutdownTarget", "SignalShutdown", "signals_supported"]

logger = logging.getLogger(__name__)

KILL_SIGNAL: signal.Signals | None = getattr(signal, "SIGUSR1", None)
"""What ``autotrader kill`` sends a script waiting in ``engine.run()``: the full kill switch."""
SIGNALS = (signal.SIGINT, signal.SIGTERM, *((KILL_SIGNAL,) if KILL_SIGNAL is not None else ()))


def signals_supported() -> bool:
    """True where signal handlers can be installed: POSIX, main thread."""
    return sys.platform != "win32" and threading.current_thread() is threading.main_thread()


class ShutdownTarget(KillTarget, Protocol):
    """What a signal shutdown needs from the engine (``ExecutionEngine`` provides it)."""

    @property
    def gate(self) -> TradingGate:
        """The trading gate."""
        ...

    @property
    def notifier(self) -> Notifier:
        """Where the alert goes."""
        ...

    @property
    def kill_switch(self) -> KillSwitch:
        """The full kill switch (cancel and flatten)."""
        ...


@dataclass(slots=True)
class ShutdownReport:
    """What a signal shutdown did."""

    signal: str
    flattened: bool
    canceled: list[str] = field(default_factory=list)
    """Client order ids of the orders cancelled."""
    still_open: list[str] = field(default_factory=list)
    """Orders whose cancel failed or is not confirmed: check them at the broker."""
    flatten_orders: list[str] = field(default_factory=list)
    positions: dict[str, Decimal] = field(default_factory=dict)
    """Positions left (symbol → quantity)."""

    def describe(self) -> str:
        """The lines printed to the user."""
        lines = [f"autotrader: {self.signal} received: strategy stopped, trading halted."]
        lines.append(
            f"  cancelled {len(self.canceled)} open order(s)"
            + (f": {', '.join(self.canceled)}" if self.canceled else "")
        )
        if self.still_open:
            lines.append(f"  NOT confirmed cancelled (check at the broker): {', '.join(self.still_open)}")
        if self.flattened:
            lines.append(f"  flatten orders sent: {len(self.flatten_orders)}")
        if self.positions:
            left = ", ".join(f"{symbol} {quantity}" for symbol, quantity in sorted(self.positions.items()))
            verb = "still open after flattening" if self.flattened else "left as they are"
            lines.append(f"  positions {verb}: {left}")
        else:
            lines.append("  no open positions")
        if not self.flattened and self.positions:
            lines.append("  (to close them on a signal too: EngineSettings(on_signal='kill'))")
        return "\n".join(lines)


class SignalShutdown:
    """Listens for ``SIGINT`` / ``SIGTERM`` while registered as a session; shuts down on the first.

    Args:
        engine: The engine to stop.
        flatten: ``True``: engage the full kill switch; ``False``: cancel orders, keep positions.
        data_dir: Where the session is registered (``autotrader sessions`` / ``kill``).
        broker: The broker name shown by ``autotrader sessions``.
        out: Where the summary is printed (default: stderr).
    """

    def __init__(
        self,
        engine: ShutdownTarget,
        *,
        flatten: bool,
        data_dir: Path,
        broker: str,
        out: TextIO | None = None,
    ) -> None:
        self._engine = engine
        self._flatten = flatten
        self._data_dir = data_dir
        self._broker = broker
        self._out = out
        self.triggered = False
        """True once a signal arrived (the shutdown then runs to its end)."""
        self.report: ShutdownReport | None = None

    async def listen(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Install the handlers, register the session, report ready; shut down on the first signal."""
        # Handlers first, then the file: a session is never listed while SIGTERM would end it unhandled.
        with (
            anyio.open_signal_receiver(*SIGNALS) as received,
            registered_session(self._data_dir, broker=self._broker, kill_signal=KILL_SIGNAL),
        ):
            task_status.started()
            async for signum in received:
                self.triggered = True
                name = signal.Signals(signum).name
                with anyio.CancelScope(shield=True):
                    await self.shut_down(name, flatten=self._flatten or signum == KILL_SIGNAL)
                return

    async def shut_down(self, signal_name: str, *, flatten: bool | None = None) -> ShutdownReport:
        """Stop the engine (``flatten``: the full kill switch; default as configured), print and log what is left."""
        engine = self._engine
        flatten = self._flatten if flatten is None else flatten
        open_before: list[Order] = list(engine.oms.open_orders())
        reason = f"signal {signal_name}"
        kill_switch = engine.kill_switch if flatten else self._cancel_only_switch()
        kill: KillReport = await kill_switch.engage(reason)
        report = ShutdownReport(
            signal=signal_name,
            flattened=flatten,
            canceled=[o.client_order_id for o in open_before if o.status is OrderStatus.CANCELED],
            still_open=[o.client_order_id for o in open_before if o.is_open],
            flatten_orders=list(kill.flatten_orders),
            positions=dict(kill.remaining_positions),
        )
        self.report = report
        text = report.describe()
        logger.info("%s", text)
        print(text, file=self._out if self._out is not None else sys.stderr, flush=True)
        return report

    def _cancel_only_switch(self) -> KillSwitch:
        engine = self._engine
        return KillSwitch(
            engine, gate=engine.gate, notifier=engine.notifier, flatten=False, name="signal shutdown"
        )
