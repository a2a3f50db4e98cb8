"""Metric definitions, all on one dedicated :class:`~prometheus_client.CollectorRegistry`.

Nothing here touches prometheus-client's global ``REGISTRY``: each
:class:`ExporterMetrics` owns its registry, so two exporters (or two tests) in one
process never collide over metric names, and an application's own metrics stay its own.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Histogram

__all__ = [
    "BREAKER_STATE_VALUES",
    "FILL_LATENCY_BUCKETS",
    "NAMESPACE",
    "RATE_LIMIT_WAIT_BUCKETS",
    "TRADING_STATES",
    "ExporterMetrics",
]

NAMESPACE = "autotrader"
"""Prefix of every metric name."""

FILL_LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
"""Seconds: a paper or co-located market order fills in ms, a REST round trip in 10–500 ms."""

RATE_LIMIT_WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
"""Seconds: token-bucket waits are ms; a Retry-After or a ban is seconds to minutes."""

BREAKER_STATE_VALUES = {"closed": 0.0, "half_open": 1.0, "open": 2.0}
"""Gauge value per circuit breaker state (higher is worse, so ``max()`` alerts work)."""

TRADING_STATES = ("active", "reducing", "halted")
"""States of the engine's trading switch (``autotrader_core.enums.TradingState``)."""


class ExporterMetrics:
    """Every metric the exporter publishes, registered on ``registry``.

    Args:
        registry: Where to register; a fresh :class:`CollectorRegistry` by default.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        """The registry the HTTP endpoint serves."""
        reg = self.registry
        ns = NAMESPACE

        # -- orders and fills ---------------------------------------------------------
        self.order_events = Counter(
            "order_events",
            "Order events applied by the OMS, by event type and the order's resulting status.",
            ["broker", "account", "symbol", "event", "status"],
            namespace=ns,
            registry=reg,
        )
        self.fills = Counter(
            "fills",
            "Fills (trades) applied to orders.",
            ["broker", "account", "symbol", "side", "liquidity"],
            namespace=ns,
            registry=reg,
        )
        self.fill_latency = Histogram(
            "fill_latency_seconds",
            "Order creation to first fill, in seconds (one observation per filled order).",
            ["broker", "account", "order_type"],
            namespace=ns,
            registry=reg,
            buckets=FILL_LATENCY_BUCKETS,
        )
        self.rejects = Counter(
            "rejects",
            "Orders refused, by origin (local: before sending; broker: OrderRejected) and reason code.",
            ["broker", "account", "symbol", "origin", "reason"],
            namespace=ns,
            registry=reg,
        )

        # -- resiliency ---------------------------------------------------------------
        self.breaker_state = Gauge(
            "circuit_breaker_state",
            "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
            ["breaker"],
            namespace=ns,
            registry=reg,
        )
        self.breaker_transitions = Counter(
            "circuit_breaker_transitions",
            "Circuit breaker state changes, by the state entered (catches opens shorter than a scrape).",
            ["breaker", "state"],
            namespace=ns,
            registry=reg,
        )
        self.rate_limit_waits = Counter(
            "rate_limit_waits",
            "Requests that waited for a rate limiter or a Retry-After.",
            ["limiter"],
            namespace=ns,
            registry=reg,
        )
        self.rate_limit_wait_seconds = Histogram(
            "rate_limit_wait_seconds",
            "Seconds a request waited for a rate limiter or a Retry-After.",
            ["limiter"],
            namespace=ns,
            registry=reg,
            buckets=RATE_LIMIT_WAIT_BUCKETS,
        )
        self.reconnects = Counter(
            "reconnects",
            "Private stream reconnections, by broker and reason code.",
            ["broker", "account", "reason"],
            namespace=ns,
            registry=reg,
        )
        self.alerts = Counter(
            "alerts",
            "Operator alerts (kill switch, breaker open, unknown outcomes), by level and source.",
            ["level", "source"],
            namespace=ns,
            registry=reg,
        )

        # -- positions (Decimal → float here, at the export edge only) -----------------
        self.position = Gauge(
            "position",
            "Net position per symbol in base units (negative = short); float copy of the OMS Decimal.",
            ["broker", "account", "symbol"],
            namespace=ns,
            registry=reg,
        )
        self.realized_pnl = Gauge(
            "realized_pnl",
            "Realized PnL per symbol in its quote currency, net of quote-currency fees; float copy.",
            ["broker", "account", "symbol"],
            namespace=ns,
            registry=reg,
        )

        self.quote_age = Gauge(
            "quote_age_seconds",
            "Seconds since each subscribed symbol's latest quote (a stale feed shows as a growing age).",
            ["broker", "account", "symbol"],
            namespace=ns,
            registry=reg,
        )

        # -- engine status snapshot (autotrader_on_status) ------------------------------
        self.open_orders = Gauge(
            "open_orders",
            "Orders still working at the broker, from the engine's latest status snapshot.",
            ["broker", "account"],
            namespace=ns,
            registry=reg,
        )
        self.connected = Gauge(
            "broker_connected",
            "1 while the adapter reports a live connection, from the latest status snapshot.",
            ["broker", "account"],
            namespace=ns,
            registry=reg,
        )
        self.dead_letters = Gauge(
            "dead_letters",
            "Requests whose outcome needs review (dead-letter queue size), from the latest status.",
            ["broker", "account"],
            namespace=ns,
            registry=reg,
        )
        self.unknown_outcomes = Gauge(
            "unknown_outcomes",
            "Orders whose submit or modify outcome is unknown (open until settled), from the latest status.",
            ["broker", "account"],
            namespace=ns,
            registry=reg,
        )
        self.request_failure_ratio = Gauge(
            "request_failure_ratio",
            "Share of broker requests that failed at transport level over the last minute.",
            ["broker", "account", "operation"],
            namespace=ns,
            registry=reg,
        )
        self.trading_state = Enum(
            "trading_state",
            "The engine's trading switch (halted after the kill switch).",
            ["broker", "account"],
            namespace=ns,
            registry=reg,
            states=list(TRADING_STATES),
        )
        self.last_status = Gauge(
            "last_status_timestamp_seconds",
            "Unix time of the latest status snapshot (alert when it stops moving).",
            ["broker", "account"],
            namespace=ns,
            registry=reg,
        )

        # -- the exporter itself ------------------------------------------------------
        self.hook_errors = Counter(
            "exporter_hook_errors",
            "Hook calls the exporter could not turn into metrics (logged; never raised into the engine).",
            ["hook"],
            namespace=ns,
            registry=reg,
        )
