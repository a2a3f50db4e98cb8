"""The observer: turns autotrader's hook calls into metric updates.

Hooks run on the engine's event loop in the middle of order handling, so each one
only updates in-memory metrics (a dict lookup and a short lock inside
prometheus-client): no I/O, no logging on the happy path. A hook that fails is
counted and logged, never raised: metrics must not break order flow.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping
from decimal import Decimal
from types import TracebackType
from typing import Any, Self

from autotrader_core.account import AccountId
from autotrader_core.enums import OrderStatus
from autotrader_core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModified,
    OrderModifyRejected,
    OrderRejected,
)
from autotrader_core.hookspecs import hookimpl
from autotrader_core.models import Alert, Fill, Order, Position

from autotrader_prometheus.labels import DEFAULT_ACCOUNT, OTHER, UNKNOWN, BoundedLabel, reason_code, slug
from autotrader_prometheus.metrics import BREAKER_STATE_VALUES, TRADING_STATES, ExporterMetrics
from autotrader_prometheus.server import MetricsServer
from autotrader_prometheus.settings import PrometheusSettings

__all__ = ["PrometheusObserver"]

logger = logging.getLogger(__name__)

_EVENT_NAMES: dict[type[Any], str] = {
    OrderAccepted: "accepted",
    OrderRejected: "rejected",
    OrderFilled: "fill",
    OrderCanceled: "canceled",
    OrderExpired: "expired",
    OrderModified: "modified",
    OrderCancelRejected: "cancel_rejected",
    OrderModifyRejected: "modify_rejected",
}
_ALERT_LEVELS = frozenset({"info", "warning", "critical"})
_LOCAL_REJECT_CODES = frozenset({"circuit_open"})  # recorded as OrderRejected, yet never sent


def _to_float(value: Decimal | float | int) -> float:
    """The one place a Decimal becomes a float: Prometheus samples are float64."""
    return float(value)


class _HookGuard:
    """Context manager that swallows (and counts) an exception raised while handling one hook."""

    __slots__ = ("_hook", "_observer")

    def __init__(self, observer: PrometheusObserver, hook: str) -> None:
        self._observer = observer
        self._hook = hook

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False  # KeyboardInterrupt, cancellation: not ours to swallow
        self._observer._hook_failed(self._hook, exc)
        return True


class PrometheusObserver:
    """autotrader observer plugin that records every hook as Prometheus metrics.

    Register it directly::

        observer = PrometheusObserver(PrometheusSettings(port=9464))
        plugins = PluginManager(); plugins.register(observer, name="prometheus")
        observer.start()            # serve http://127.0.0.1:9464/metrics

    or install the package and let ``PluginManager().load_entry_points()`` load
    :mod:`autotrader_prometheus.plugin` (which wraps one process-wide observer).

    Args:
        settings: Endpoint and cardinality settings; read from the environment by default.
        metrics: Metric set to update; a fresh one on its own registry by default.
    """

    def __init__(
        self,
        settings: PrometheusSettings | None = None,
        *,
        metrics: ExporterMetrics | None = None,
    ) -> None:
        self.settings = settings if settings is not None else PrometheusSettings()
        self.metrics = metrics if metrics is not None else ExporterMetrics()
        self.server = MetricsServer.from_settings(self.metrics.registry, self.settings)
        self._enabled = self.settings.enabled
        self._start_pending = self.settings.enabled and self.settings.autostart
        self._start_lock = threading.Lock()
        self._failed_hooks: set[str] = set()
        self._brokers = BoundedLabel(self.settings.max_names)
        self._accounts = BoundedLabel(self.settings.max_names)
        self._symbols = BoundedLabel(self.settings.max_symbols)
        self._reasons = BoundedLabel(self.settings.max_reasons)
        self._reconnect_reasons = BoundedLabel(self.settings.max_reasons)
        self._breakers = BoundedLabel(self.settings.max_names)
        self._limiters = BoundedLabel(self.settings.max_names)
        self._sources = BoundedLabel(self.settings.max_names)
        self._operations = BoundedLabel(self.settings.max_names)
        self._guards = {
            name: _HookGuard(self, name)
            for name in (
                "order_event",
                "fill",
                "alert",
                "reject",
                "breaker_state",
                "rate_limit_wait",
                "reconnect",
                "status",
            )
        }

    # -- endpoint -------------------------------------------------------------------
    def start(self) -> None:
        """Start the HTTP endpoint now, in the calling thread (raises ``OSError`` on a port clash)."""
        self._start_pending = False
        self.server.start()

    def stop(self) -> None:
        """Stop the HTTP endpoint; metrics keep being recorded."""
        self._start_pending = False
        self.server.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _autostart(self) -> None:
        # Called from a hook: binding (and resolving a host name) happens on a helper
        # thread so the event loop never waits on it.
        with self._start_lock:
            if not self._start_pending:
                return
            self._start_pending = False
        threading.Thread(
            target=self._start_in_background, name="autotrader-prometheus-start", daemon=True
        ).start()

    def _start_in_background(self) -> None:
        try:
            self.server.start()
        except OSError as exc:
            logger.error(
                "prometheus endpoint could not listen on %s:%s (%s); metrics are recorded but not served. "
                "Set AUTOTRADER_PROMETHEUS_PORT to a free port.",
                self.server.host,
                self.server.requested_port,
                exc,
            )

    def _hook_failed(self, hook: str, exc: Exception) -> None:
        self.metrics.hook_errors.labels(hook).inc()
        if hook not in self._failed_hooks:  # log a broken hook once, not once per order
            self._failed_hooks.add(hook)
            logger.error(
                "prometheus exporter: %s hook failed; further failures only counted", hook, exc_info=exc
            )

    def _enter(self, hook: str) -> _HookGuard | None:
        if not self._enabled:
            return None
        if self._start_pending:
            self._autostart()
        return self._guards[hook]

    # -- label helpers ------------------------------------------------------------------
    def _broker(self, *candidates: str) -> str:
        for name in candidates:
            if name:
                return self._brokers(name)
        return UNKNOWN

    def _account(self, account: AccountId | None) -> str:
        """The ``account`` label: the engine's account label (``default`` from hooks without one)."""
        return self._accounts(account.account) if account is not None else DEFAULT_ACCOUNT

    def _set_position(
        self, broker: str, account: str, symbol: str, quantity: Decimal, realized: Decimal
    ) -> None:
        label = self._symbols(symbol)
        self.metrics.position.labels(broker, account, label).set(_to_float(quantity))
        self.metrics.realized_pnl.labels(broker, account, label).set(_to_float(realized))

    # -- hooks ----------------------------------------------------------------------------
    @hookimpl
    def autotrader_on_order_event(
        self, order: Order, event: OrderEvent, account: AccountId | None = None
    ) -> None:
        """Count the event by its type and the order's resulting status."""
        guard = self._enter("order_event")
        if guard is None:
            return
        with guard:
            event_name = _EVENT_NAMES.get(type(event), OTHER)
            self.metrics.order_events.labels(
                self._broker(order.broker),
                self._account(account),
                self._symbols(order.symbol),
                event_name,
                order.status.value,
            ).inc()

    @hookimpl
    def autotrader_on_fill(
        self, order: Order, fill: Fill, position: Position, account: AccountId | None = None
    ) -> None:
        """Count the fill, observe creation → first-fill latency, update the position gauges."""
        guard = self._enter("fill")
        if guard is None:
            return
        with guard:
            broker = self._broker(order.broker, fill.broker)
            acct = self._account(account)
            self.metrics.fills.labels(
                broker, acct, self._symbols(fill.symbol), fill.side.value, fill.liquidity.value
            ).inc()
            # The order already includes this fill: equal quantities mean it is the first
            # one (the same rule as the OMS's average fill latency).
            if order.filled_quantity == fill.quantity:
                latency = max((fill.timestamp - order.created_at).total_seconds(), 0.0)
                self.metrics.fill_latency.labels(broker, acct, order.order_type.value).observe(latency)
            self._set_position(broker, acct, position.symbol, position.quantity, position.realized_pnl)

    @hookimpl
    def autotrader_on_reject(
        self, order: Order, reason: str, code: str | None, account: AccountId | None = None
    ) -> None:
        """Count the refusal by origin and a short reason code (never the client order id)."""
        guard = self._enter("reject")
        if guard is None:
            return
        with guard:
            label = reason_code(reason, client_order_id=order.client_order_id, code=code)
            local = order.status is OrderStatus.PENDING_SUBMIT or label in _LOCAL_REJECT_CODES
            self.metrics.rejects.labels(
                self._broker(order.broker),
                self._account(account),
                self._symbols(order.symbol),
                "local" if local else "broker",
                self._reasons(label),
            ).inc()

    @hookimpl
    def autotrader_on_breaker_state(self, name: str, state: str) -> None:
        """Set the breaker's gauge (0 closed / 1 half-open / 2 open) and count the transition."""
        guard = self._enter("breaker_state")
        if guard is None:
            return
        with guard:
            breaker = self._breakers(name)
            value = BREAKER_STATE_VALUES.get(state)
            self.metrics.breaker_transitions.labels(
                breaker, slug(state) if value is not None else OTHER
            ).inc()
            if value is None:
                raise ValueError(f"unknown circuit breaker state {state!r} for {name!r}")
            self.metrics.breaker_state.labels(breaker).set(value)

    @hookimpl
    def autotrader_on_rate_limit_wait(self, name: str, seconds: float) -> None:
        """Count the wait and observe its length."""
        guard = self._enter("rate_limit_wait")
        if guard is None:
            return
        with guard:
            if not (math.isfinite(seconds) and seconds >= 0):
                raise ValueError(f"rate limiter {name!r} reported an invalid wait of {seconds!r}s")
            limiter = self._limiters(name)
            self.metrics.rate_limit_waits.labels(limiter).inc()
            self.metrics.rate_limit_wait_seconds.labels(limiter).observe(seconds)

    @hookimpl
    def autotrader_on_reconnect(self, broker: str, reason: str, account: AccountId | None = None) -> None:
        """Count the reconnection by broker and reason code."""
        guard = self._enter("reconnect")
        if guard is None:
            return
        with guard:
            self.metrics.reconnects.labels(
                self._broker(broker), self._account(account), self._reconnect_reasons(reason_code(reason))
            ).inc()

    @hookimpl
    def autotrader_on_alert(self, alert: Alert) -> None:
        """Count the alert by level and source."""
        guard = self._enter("alert")
        if guard is None:
            return
        with guard:
            level = alert.level if alert.level in _ALERT_LEVELS else OTHER
            self.metrics.alerts.labels(level, self._sources(slug(alert.source))).inc()

    @hookimpl
    def autotrader_on_status(self, status: dict[str, Any], account: AccountId | None = None) -> None:
        """Copy the engine's status snapshot into gauges (open orders, connection, positions…)."""
        guard = self._enter("status")
        if guard is None:
            return
        with guard:
            m = self.metrics
            broker = self._broker(str(status.get("broker") or ""))
            acct = self._account(account)
            m.open_orders.labels(broker, acct).set(int(status["open_orders"]))
            m.connected.labels(broker, acct).set(1 if status.get("connected") else 0)
            m.dead_letters.labels(broker, acct).set(int(status.get("dead_letters", 0)))
            m.unknown_outcomes.labels(broker, acct).set(int(status.get("unknown_outcomes", 0)))
            trading_state = str(status.get("trading_state", ""))
            if trading_state in TRADING_STATES:
                m.trading_state.labels(broker, acct).state(trading_state)
            failure_rates: Mapping[str, float] = status.get("failure_rates") or {}
            for operation, ratio in failure_rates.items():
                m.request_failure_ratio.labels(broker, acct, self._operations(operation)).set(float(ratio))
            positions: Mapping[str, Decimal] = status.get("positions") or {}
            realized: Mapping[str, Decimal] = status.get("realized_pnl") or {}
            for symbol, quantity in positions.items():
                self._set_position(broker, acct, symbol, quantity, realized.get(symbol, Decimal(0)))
            quote_ages: Mapping[str, float | None] = status.get("quote_ages") or {}
            for symbol, age in quote_ages.items():
                if age is not None:
                    m.quote_age.labels(broker, acct, self._symbols(symbol)).set(float(age))
            m.last_status.labels(broker, acct).set_to_current_time()

    def __repr__(self) -> str:
        return f"<PrometheusObserver {self.server!r} enabled={self._enabled}>"
