"""The live hub: an observer plugin that tells the page's streams when something changed.

The engine calls its hooks (fills, order events, alerts, breaker changes, operator
actions, status snapshots); each call bumps a version number and wakes the streams
waiting in :meth:`LiveHub.wait_change`. The streams then read a fresh snapshot through
:class:`~autotrader_core.control.EngineControl`: the hub holds no copy of engine state,
only what no read of the control seam gives — recent alerts and per-breaker states.

Hooks run on the engine's event loop; the web server runs on that same loop (the
control seam is not thread-safe), so no locking is needed here.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime
from typing import Any

import anyio
from autotrader_core.control import ControlAction
from autotrader_core.events import OrderEvent, OutcomeResolved, OutcomeUnknown
from autotrader_core.hookspecs import hookimpl
from autotrader_core.models import Alert, Fill, Order, Position, utc_now

__all__ = ["LiveHub"]


class LiveHub:
    """Change notifications and recent alerts for the live page (register it as a plugin).

    Args:
        max_alerts: Alerts kept for the page (newest first), oldest dropped.
    """

    def __init__(self, max_alerts: int = 100) -> None:
        self.version = 0
        """Bumped by every hook call; a stream compares it with the version it last sent."""
        self.alerts: deque[dict[str, Any]] = deque(maxlen=max_alerts)
        """Recent alerts, control actions and breaker changes, newest first."""
        self.breakers: dict[str, str] = {}
        """Latest state of every circuit breaker that reported a change."""
        self.rate_limits: dict[str, dict[str, Any]] = {}
        """Per limiter: waits so far, seconds waited, the longest wait and when the last one was."""
        self.closed = False
        """Set by :meth:`close`: streams end."""
        self._event: anyio.Event | None = None

    # -- notifications ------------------------------------------------------------------
    def touch(self) -> None:
        """Record a change and wake every waiting stream."""
        self.version += 1
        event, self._event = self._event, None
        if event is not None:
            event.set()

    def close(self) -> None:
        """End every stream (server shutdown)."""
        self.closed = True
        self.touch()

    async def wait_change(self, seen: int, within: float = math.inf) -> int:
        """Wait until :attr:`version` differs from ``seen`` (at most ``within`` seconds); returns the version."""
        if self.version == seen and not self.closed:
            if self._event is None:
                self._event = anyio.Event()
            event = self._event
            with anyio.move_on_after(within):
                await event.wait()
        return self.version

    def _note(self, level: str, source: str, message: str, at: datetime | None = None) -> None:
        self.alerts.appendleft(
            {"level": level, "source": source, "message": message, "timestamp": at or utc_now()}
        )

    # -- hooks --------------------------------------------------------------------------
    @hookimpl
    def autotrader_on_order_event(self, order: Order, event: OrderEvent) -> None:
        """An order changed."""
        self.touch()

    @hookimpl
    def autotrader_on_fill(self, order: Order, fill: Fill, position: Position) -> None:
        """A fill arrived."""
        self.touch()

    @hookimpl
    def autotrader_on_alert(self, alert: Alert) -> None:
        """Keep the alert for the page."""
        self.alerts.appendleft(
            {
                "level": alert.level,
                "source": alert.source,
                "message": alert.message,
                "timestamp": alert.timestamp,
            }
        )
        self.touch()

    @hookimpl
    def autotrader_on_outcome_unknown(self, order: Order, outcome: OutcomeUnknown) -> None:
        """An order's outcome became unknown: the page lists it (the engine's own alert says why)."""
        self.touch()

    @hookimpl
    def autotrader_on_outcome_resolved(self, order: Order | None, resolved: OutcomeResolved) -> None:
        """An unknown outcome was settled: the page drops it from the list."""
        self._note(
            "info", "unknown", f"{resolved.client_order_id} settled: {resolved.how}", resolved.timestamp
        )
        self.touch()

    @hookimpl
    def autotrader_on_breaker_state(self, name: str, state: str) -> None:
        """Keep the breaker's state (and an alert when it opens)."""
        self.breakers[name] = state
        if state == "open":
            self._note("critical", "breaker", f"circuit breaker {name} opened")
        self.touch()

    @hookimpl
    def autotrader_on_rate_limit_wait(self, name: str, seconds: float) -> None:
        """Count a request that waited for a rate limiter or a Retry-After."""
        usage = self.rate_limits.setdefault(name, {"waits": 0, "waited_seconds": 0.0, "longest_wait": 0.0})
        usage["waits"] += 1
        usage["waited_seconds"] += seconds
        usage["longest_wait"] = max(usage["longest_wait"], seconds)
        usage["last_wait_at"] = utc_now()
        self.touch()

    @hookimpl
    def autotrader_on_reconnect(self, broker: str, reason: str) -> None:
        """Show a stream reconnection among the alerts."""
        self._note("warning", "stream", f"{broker} stream reconnected: {reason}")
        self.touch()

    @hookimpl
    def autotrader_on_control_action(self, action: ControlAction) -> None:
        """Show operator actions (who did what) among the alerts."""
        detail = ", ".join(f"{k}={v}" for k, v in action.detail.items() if v)
        text = f"{action.action} by {action.actor}" + (f" ({detail})" if detail else "")
        self._note("info", "control", text, action.at)
        self.touch()

    @hookimpl
    def autotrader_on_status(self, status: dict[str, Any]) -> None:
        """A periodic status snapshot (failure rates, connection)."""
        self.touch()

    @hookimpl
    def autotrader_on_engine_started(self, status: dict[str, Any]) -> None:
        """The engine started."""
        self.touch()

    @hookimpl
    def autotrader_on_engine_stopped(self, status: dict[str, Any]) -> None:
        """The engine stopped."""
        self.touch()
