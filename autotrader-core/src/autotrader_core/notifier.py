"""Observer fan-out: the ``autotrader_on_*`` hooks, alerts and adapter telemetry.

:class:`Notifier` is the one place the engine's seams call observer hooks. It adds the
engine's :class:`~autotrader_core.account.AccountId` as ``account=`` to every call (a
hook implementation that does not declare ``account`` simply does not receive it:
pluggy passes each implementation only the arguments it names) and never lets an
observer's exception reach order handling.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from autotrader_core.account import AccountId
from autotrader_core.adapter import AdapterTelemetry
from autotrader_core.errors import BrokerProtocolError
from autotrader_core.models import Alert

if TYPE_CHECKING:
    from autotrader_core.plugins import PluginManager

__all__ = ["HookTelemetry", "Notifier"]

logger = logging.getLogger("autotrader_core.engine")  # the records users already filter on


class Notifier:
    """Calls observer hooks for one engine, tagged with its account.

    Args:
        plugins: The plugin manager whose hooks receive the calls (``None``: no observers).
        account: The engine's account identity, passed as ``account=`` to every hook.
    """

    __slots__ = ("_hooks", "account", "enabled")

    def __init__(self, plugins: PluginManager | None, account: AccountId) -> None:
        self._hooks = plugins.hooks.hook if plugins is not None else None
        self.account = account
        self.enabled = self._hooks is not None
        """Whether any plugin manager is attached (skip building hook arguments when not);
        a plain attribute, not a property: it is read for every order event."""

    def hook(self, hook_name: str, /, **kwargs: Any) -> None:
        """Call observer hook ``hook_name``; an observer's exception is logged, never propagated."""
        hooks = self._hooks
        if hooks is None:
            return
        caller = getattr(hooks, hook_name)
        if not caller.get_hookimpls():  # nobody listens: pluggy's call machinery is skipped
            return
        try:
            caller(account=self.account, **kwargs)
        except Exception:
            logger.exception("observer hook %s failed (ignored: order handling goes on)", hook_name)

    def alert(
        self, level: str, message: str, *, source: str = "engine", details: dict[str, str] | None = None
    ) -> None:
        """Log ``message`` and send it to the ``autotrader_on_alert`` hook."""
        if source == "engine":  # other sources log their own way (e.g. the kill switch: critical)
            logger.warning("%s", message) if level != "info" else logger.info("%s", message)
        alert = Alert(level=level, message=message, source=source, details=details or {})
        self.hook("autotrader_on_alert", alert=alert)

    def breaker_changed(self, name: str, state: str) -> None:
        """A circuit breaker changed state: tell observers, alert when it opened."""
        self.hook("autotrader_on_breaker_state", name=name, state=state)
        if state == "open":
            self.alert("critical", f"circuit breaker {name} opened: broker requests paused")


class HookTelemetry(AdapterTelemetry):
    """Forwards what an adapter reports (rate-limit waits, reconnects) to the observer hooks."""

    def __init__(self, notifier: Notifier, broker: str) -> None:
        self._notifier = notifier
        self._broker = broker

    def rate_limit_wait(self, name: str, seconds: float) -> None:
        """A request waited ``seconds`` for the rate limiter or a Retry-After."""
        self._notifier.hook("autotrader_on_rate_limit_wait", name=name, seconds=seconds)

    def reconnected(self, reason: str) -> None:
        """The adapter's stream reconnected."""
        logger.info("%s stream reconnected: %s", self._broker, reason)
        self._notifier.hook("autotrader_on_reconnect", broker=self._broker, reason=reason)

    def bad_item(self, what: str, error: BrokerProtocolError, *, may_hold_fill: bool = False) -> None:
        """An adapter skipped one unparseable item: ``autotrader_on_bad_item``, and an alert if it may be a fill."""
        self._notifier.hook(
            "autotrader_on_bad_item", broker=self._broker, what=what, error=error, may_hold_fill=may_hold_fill
        )
        if may_hold_fill:  # a fill is never dropped without an alert
            self._notifier.alert(
                "warning",
                f"{self._broker} skipped an unparseable {what} that may hold a fill: {error}",
                source="adapter",
                details={"broker": self._broker, "what": what},
            )
