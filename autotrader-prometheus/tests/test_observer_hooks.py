"""Each hook driven directly: the metric it moves, its labels and values."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import prometheus_client
import pytest
from autotrader_core.enums import Liquidity, OrderSide, OrderStatus, OrderType
from autotrader_core.events import OrderAccepted, OrderCanceled, OrderFilled, OrderRejected
from autotrader_core.models import Alert, Fill, Order, Position
from autotrader_prometheus import ExporterMetrics, PrometheusObserver, PrometheusSettings
from prometheus_client import generate_latest

CID = "atxa1b2c3d4e5f6g7h8i9j0"


def make_order(
    status: OrderStatus = OrderStatus.ACCEPTED,
    *,
    quantity: str = "1",
    order_type: OrderType = OrderType.LIMIT,
    cid: str = CID,
) -> Order:
    return Order(
        client_order_id=cid,
        symbol="BTCUSDT",
        side=OrderSide.BUY,
        order_type=order_type,
        quantity=D(quantity),
        limit_price=D("100"),
        broker="binance",
        status=status,
    )


def make_fill(order: Order, quantity: str, *, after: timedelta, trade_id: str = "T1") -> Fill:
    return Fill(
        trade_id=trade_id,
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=order.side,
        quantity=D(quantity),
        price=D("100"),
        liquidity=Liquidity.MAKER,
        timestamp=order.created_at + after,
        broker="binance",
    )


def apply_fill(observer: PrometheusObserver, order: Order, fill: Fill, position: Position) -> None:
    """What the OMS does to the order before the engine calls the hook."""
    order.filled_quantity += fill.quantity
    order.status = (
        OrderStatus.FILLED if order.filled_quantity >= order.quantity else OrderStatus.PARTIALLY_FILLED
    )
    observer.autotrader_on_fill(order=order, fill=fill, position=position)


def get(observer: PrometheusObserver, name: str, **labels: str) -> float | None:
    if "broker" in labels:  # per-engine metrics carry the account label too
        labels.setdefault("account", "default")
    return observer.metrics.registry.get_sample_value(name, labels)


def test_order_events_are_counted_by_event_and_resulting_status(observer: PrometheusObserver) -> None:
    order = make_order(OrderStatus.ACCEPTED)
    observer.autotrader_on_order_event(order=order, event=OrderAccepted(CID, "B1"))
    order.status = OrderStatus.CANCELED
    observer.autotrader_on_order_event(order=order, event=OrderCanceled(CID))
    other = make_order(OrderStatus.ACCEPTED, cid="atxother")
    observer.autotrader_on_order_event(order=other, event=OrderAccepted("atxother", "B2"))

    base = {"broker": "binance", "symbol": "BTCUSDT"}
    name = "autotrader_order_events_total"
    assert get(observer, name, **base, event="accepted", status="accepted") == 2
    assert get(observer, name, **base, event="canceled", status="canceled") == 1


def test_fills_latency_and_position_from_the_fill_hook(observer: PrometheusObserver) -> None:
    order = make_order(quantity="1")
    first = make_fill(order, "0.4", after=timedelta(milliseconds=30), trade_id="T1")
    second = make_fill(order, "0.6", after=timedelta(seconds=7), trade_id="T2")
    apply_fill(observer, order, first, Position("BTCUSDT", quantity=D("0.4"), realized_pnl=D("0")))
    apply_fill(
        observer, order, second, Position("BTCUSDT", quantity=D("1.0"), realized_pnl=D("-0.123456789012"))
    )

    fills = {"broker": "binance", "symbol": "BTCUSDT", "side": "buy", "liquidity": "maker"}
    assert get(observer, "autotrader_fills_total", **fills) == 2
    # One latency observation per order (the first fill), 30 ms: above 25 ms, within 50 ms.
    lat = {"broker": "binance", "order_type": "limit"}
    assert get(observer, "autotrader_fill_latency_seconds_count", **lat) == 1
    assert get(observer, "autotrader_fill_latency_seconds_sum", **lat) == pytest.approx(0.03)
    assert get(observer, "autotrader_fill_latency_seconds_bucket", **lat, le="0.025") == 0
    assert get(observer, "autotrader_fill_latency_seconds_bucket", **lat, le="0.05") == 1
    # Decimal → float only here, at the export edge.
    pos = {"broker": "binance", "symbol": "BTCUSDT"}
    assert get(observer, "autotrader_position", **pos) == 1.0
    assert get(observer, "autotrader_realized_pnl", **pos) == pytest.approx(-0.123456789012)


def test_fill_latency_is_never_negative(observer: PrometheusObserver) -> None:
    # A broker clock slightly behind ours must not produce a negative observation.
    order = make_order(quantity="1")
    apply_fill(observer, order, make_fill(order, "1", after=timedelta(milliseconds=-5)), Position("BTCUSDT"))
    lat = {"broker": "binance", "order_type": "limit"}
    assert get(observer, "autotrader_fill_latency_seconds_sum", **lat) == 0.0
    assert get(observer, "autotrader_fill_latency_seconds_bucket", **lat, le="0.001") == 1


def test_rejects_by_origin_and_reason_code_without_client_order_id(observer: PrometheusObserver) -> None:
    local = make_order(OrderStatus.PENDING_SUBMIT)
    observer.autotrader_on_reject(
        order=local,
        reason="order notional 500 exceeds max_order_notional 10 | reason=MAX_ORDER_NOTIONAL",
        code="MAX_ORDER_NOTIONAL",
    )
    broker = make_order(OrderStatus.REJECTED)
    observer.autotrader_on_reject(
        order=broker,
        reason=f"Order {CID} would immediately match and take. | broker=binance | code=-2010",
        code="-2010",
    )
    circuit = make_order(OrderStatus.REJECTED)
    observer.autotrader_on_reject(
        order=circuit, reason="circuit open: circuit 'binance-requests' is open", code=None
    )

    base = {"broker": "binance", "symbol": "BTCUSDT"}
    name = "autotrader_rejects_total"
    assert get(observer, name, **base, origin="local", reason="max_order_notional") == 1
    assert get(observer, name, **base, origin="broker", reason="order_would_immediately_match_2010") == 1
    # Refused by our own breaker: never reached the broker.
    assert get(observer, name, **base, origin="local", reason="circuit_open") == 1
    assert CID not in generate_latest(observer.metrics.registry).decode()


def test_reject_reasons_are_capped() -> None:
    observer = PrometheusObserver(PrometheusSettings(port=0, autostart=False, max_reasons=3))
    for n in range(10):
        observer.autotrader_on_reject(
            order=make_order(OrderStatus.REJECTED), reason=f"failure kind{chr(97 + n)}", code=None
        )
    text = generate_latest(observer.metrics.registry).decode()
    reasons = {
        line.split('reason="')[1].split('"')[0] for line in text.splitlines() if "rejects_total{" in line
    }
    assert reasons == {"failure_kinda", "failure_kindb", "failure_kindc", "other"}
    assert (
        get(
            observer,
            "autotrader_rejects_total",
            broker="binance",
            symbol="BTCUSDT",
            origin="broker",
            reason="other",
        )
        == 7
    )


def test_breaker_state_gauge_and_transitions(observer: PrometheusObserver) -> None:
    name = "binance-requests"
    observer.autotrader_on_breaker_state(name=name, state="open")
    assert get(observer, "autotrader_circuit_breaker_state", breaker=name) == 2
    observer.autotrader_on_breaker_state(name=name, state="half_open")
    assert get(observer, "autotrader_circuit_breaker_state", breaker=name) == 1
    observer.autotrader_on_breaker_state(name=name, state="open")
    observer.autotrader_on_breaker_state(name=name, state="half_open")
    observer.autotrader_on_breaker_state(name=name, state="closed")
    assert get(observer, "autotrader_circuit_breaker_state", breaker=name) == 0
    # The gauge alone would miss an open that closed between two scrapes; the counter doesn't.
    assert get(observer, "autotrader_circuit_breaker_transitions_total", breaker=name, state="open") == 2


def test_unknown_breaker_state_is_counted_as_a_hook_error_not_raised(observer: PrometheusObserver) -> None:
    observer.autotrader_on_breaker_state(name="b", state="melted")
    assert get(observer, "autotrader_exporter_hook_errors_total", hook="breaker_state") == 1
    assert get(observer, "autotrader_circuit_breaker_state", breaker="b") is None


def test_rate_limit_waits(observer: PrometheusObserver) -> None:
    observer.autotrader_on_rate_limit_wait(name="binance-weight", seconds=0.004)
    observer.autotrader_on_rate_limit_wait(name="binance-weight", seconds=12.0)
    lim = {"limiter": "binance-weight"}
    assert get(observer, "autotrader_rate_limit_waits_total", **lim) == 2
    assert get(observer, "autotrader_rate_limit_wait_seconds_count", **lim) == 2
    assert get(observer, "autotrader_rate_limit_wait_seconds_sum", **lim) == pytest.approx(12.004)
    assert get(observer, "autotrader_rate_limit_wait_seconds_bucket", **lim, le="0.005") == 1
    assert get(observer, "autotrader_rate_limit_wait_seconds_bucket", **lim, le="10.0") == 1
    observer.autotrader_on_rate_limit_wait(name="binance-weight", seconds=float("nan"))
    assert get(observer, "autotrader_rate_limit_waits_total", **lim) == 2
    assert get(observer, "autotrader_exporter_hook_errors_total", hook="rate_limit_wait") == 1


def test_reconnects_by_broker_and_reason(observer: PrometheusObserver) -> None:
    observer.autotrader_on_reconnect(broker="okx", reason="ping timeout after 30s")
    observer.autotrader_on_reconnect(broker="okx", reason="ping timeout after 31s")
    assert get(observer, "autotrader_reconnects_total", broker="okx", reason="ping_timeout_after") == 2


def test_alerts_by_level_and_source(observer: PrometheusObserver) -> None:
    observer.autotrader_on_alert(
        alert=Alert(level="critical", message="kill switch: manual", source="kill_switch")
    )
    observer.autotrader_on_alert(alert=Alert(level="warning", message="x", source="engine"))
    observer.autotrader_on_alert(alert=Alert(level="LOUD", message="x", source="engine"))
    assert get(observer, "autotrader_alerts_total", level="critical", source="kill_switch") == 1
    assert get(observer, "autotrader_alerts_total", level="warning", source="engine") == 1
    assert get(observer, "autotrader_alerts_total", level="other", source="engine") == 1


def test_status_snapshot_sets_gauges(observer: PrometheusObserver) -> None:
    status = {
        "broker": "paper",
        "connected": True,
        "trading_state": "halted",
        "open_orders": 3,
        "dead_letters": 1,
        "unknown_outcomes": 2,
        "failure_rates": {"submit": 0.25},
        "positions": {"BTCUSDT": D("-0.5"), "ETHUSDT": D("0")},
        "realized_pnl": {"BTCUSDT": D("12.5")},
        "quote_ages": {"BTCUSDT": 1.5, "ETHUSDT": None},
    }
    observer.autotrader_on_status(status=status)
    assert get(observer, "autotrader_quote_age_seconds", broker="paper", symbol="BTCUSDT") == 1.5
    assert get(observer, "autotrader_quote_age_seconds", broker="paper", symbol="ETHUSDT") is None
    assert get(observer, "autotrader_open_orders", broker="paper") == 3
    assert get(observer, "autotrader_broker_connected", broker="paper") == 1
    assert get(observer, "autotrader_dead_letters", broker="paper") == 1
    assert get(observer, "autotrader_unknown_outcomes", broker="paper") == 2
    assert get(observer, "autotrader_request_failure_ratio", broker="paper", operation="submit") == 0.25
    assert get(observer, "autotrader_trading_state", broker="paper", autotrader_trading_state="halted") == 1
    assert get(observer, "autotrader_trading_state", broker="paper", autotrader_trading_state="active") == 0
    assert get(observer, "autotrader_position", broker="paper", symbol="BTCUSDT") == -0.5
    assert get(observer, "autotrader_realized_pnl", broker="paper", symbol="BTCUSDT") == 12.5
    assert get(observer, "autotrader_realized_pnl", broker="paper", symbol="ETHUSDT") == 0.0
    assert (get(observer, "autotrader_last_status_timestamp_seconds", broker="paper") or 0) > 1.7e9


def test_a_broken_payload_never_raises_into_the_engine(observer: PrometheusObserver) -> None:
    observer.autotrader_on_status(status={"broker": "paper"})  # no open_orders
    observer.autotrader_on_order_event(order=None, event=OrderAccepted(CID, None))  # type: ignore[arg-type]
    assert get(observer, "autotrader_exporter_hook_errors_total", hook="status") == 1
    assert get(observer, "autotrader_exporter_hook_errors_total", hook="order_event") == 1


def test_disabled_observer_records_nothing() -> None:
    observer = PrometheusObserver(PrometheusSettings(enabled=False, port=0))
    order = make_order(OrderStatus.REJECTED)
    observer.autotrader_on_order_event(order=order, event=OrderRejected(CID, "no"))
    observer.autotrader_on_reject(order=order, reason="no", code=None)
    assert "autotrader_rejects_total{" not in generate_latest(observer.metrics.registry).decode()
    assert not observer.server.running


def test_observers_have_separate_registries_and_leave_the_global_one_alone() -> None:
    first, second = ExporterMetrics(), ExporterMetrics()  # same names, no "Duplicated timeseries" error
    assert first.registry is not second.registry
    first.fills.labels("b", "default", "S", "buy", "taker").inc()
    assert (
        second.registry.get_sample_value(
            "autotrader_fills_total",
            {"broker": "b", "account": "default", "symbol": "S", "side": "buy", "liquidity": "taker"},
        )
        is None
    )
    global_names = {m.name for m in prometheus_client.REGISTRY.collect()}
    assert not any(name.startswith("autotrader_") for name in global_names)


def test_fill_event_counted_as_fill(observer: PrometheusObserver) -> None:
    order = make_order(OrderStatus.FILLED)
    fill = make_fill(order, "1", after=timedelta(0))
    observer.autotrader_on_order_event(order=order, event=OrderFilled(fill))
    assert (
        get(
            observer,
            "autotrader_order_events_total",
            broker="binance",
            symbol="BTCUSDT",
            event="fill",
            status="filled",
        )
        == 1
    )
