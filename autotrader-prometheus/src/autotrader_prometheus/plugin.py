"""Entry-point plugin (group ``autotrader.observers``, name ``prometheus``).

pluggy registers this *module*, so its hooks are module functions that forward to
one process-wide :class:`~autotrader_prometheus.observer.PrometheusObserver`. It is
built when the module is imported: its settings come from the environment, so a bad
``AUTOTRADER_PROMETHEUS_*`` value makes the plugin fail to load (reported by
``autotrader plugins``) instead of failing inside a hook. Importing starts nothing;
the endpoint starts on a helper thread at the first hook call (``autostart``).

Engines sharing this plugin share its metrics (the ``broker`` label tells them apart).
"""

from __future__ import annotations

import threading
from typing import Any

from autotrader_core.account import AccountId
from autotrader_core.events import OrderEvent
from autotrader_core.hookspecs import hookimpl
from autotrader_core.models import Alert, Fill, Order, Position

from autotrader_prometheus.observer import PrometheusObserver
from autotrader_prometheus.settings import PrometheusSettings

__all__ = ["configure", "default_observer"]

_lock = threading.Lock()
_observer = PrometheusObserver()


def default_observer() -> PrometheusObserver:
    """The observer behind the entry-point hooks (its ``server.url`` says where to scrape)."""
    return _observer


def configure(settings: PrometheusSettings | None = None) -> PrometheusObserver:
    """Replace the process-wide observer (stopping the old endpoint); returns the new one.

    For code that wants the entry-point plugin with settings other than the environment's.
    Metrics recorded so far are dropped with the old observer.
    """
    global _observer
    replacement = PrometheusObserver(settings)
    with _lock:
        previous, _observer = _observer, replacement
    previous.stop()
    return replacement


@hookimpl
def autotrader_on_order_event(order: Order, event: OrderEvent, account: AccountId | None = None) -> None:
    """Forward to :meth:`PrometheusObserver.autotrader_on_order_event`."""
    _observer.autotrader_on_order_event(order, event, account)


@hookimpl
def autotrader_on_fill(
    order: Order, fill: Fill, position: Position, account: AccountId | None = None
) -> None:
    """Forward to :meth:`PrometheusObserver.autotrader_on_fill`."""
    _observer.autotrader_on_fill(order, fill, position, account)


@hookimpl
def autotrader_on_alert(alert: Alert) -> None:
    """Forward to :meth:`PrometheusObserver.autotrader_on_alert`."""
    _observer.autotrader_on_alert(alert)


@hookimpl
def autotrader_on_reject(
    order: Order, reason: str, code: str | None, account: AccountId | None = None
) -> None:
    """Forward to :meth:`PrometheusObserver.autotrader_on_reject`."""
    _observer.autotrader_on_reject(order, reason, code, account)


@hookimpl
def autotrader_on_breaker_state(name: str, state: str) -> None:
    """Forward to :meth:`PrometheusObserver.autotrader_on_breaker_state`."""
    _observer.autotrader_on_breaker_state(name, state)


@hookimpl
def autotrader_on_rate_limit_wait(name: str, seconds: float) -> None:
    """Forward to :meth:`PrometheusObserver.autotrader_on_rate_limit_wait`."""
    _observer.autotrader_on_rate_limit_wait(name, seconds)


@hookimpl
def autotrader_on_reconnect(broker: str, reason: str, account: AccountId | None = None) -> None:
    """Forward to :meth:`PrometheusObserver.autotrader_on_reconnect`."""
    _observer.autotrader_on_reconnect(broker, reason, account)


@hookimpl
def autotrader_on_status(status: dict[str, Any], account: AccountId | None = None) -> None:
    """Forward to :meth:`PrometheusObserver.autotrader_on_status`."""
    _observer.autotrader_on_status(status, account)
