"""The HTTP endpoint: loopback by default, scraped over 127.0.0.1, clean stop."""

from __future__ import annotations

import time
from decimal import Decimal as D

import httpx
import pytest
from autotrader_core.enums import OrderSide, OrderType
from autotrader_core.models import Order
from autotrader_prometheus import DEFAULT_PORT, MetricsServer, PrometheusObserver, PrometheusSettings
from prometheus_client import CollectorRegistry
from prometheus_support import parse_samples, scrape, value


def test_defaults_bind_loopback_on_the_default_port(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOST", "PORT", "ENABLED", "AUTOSTART"):
        monkeypatch.delenv(f"AUTOTRADER_PROMETHEUS_{name}", raising=False)
    settings = PrometheusSettings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.host, settings.port, settings.autostart) == ("127.0.0.1", DEFAULT_PORT, True)


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOTRADER_PROMETHEUS_PORT", "19464")
    monkeypatch.setenv("AUTOTRADER_PROMETHEUS_HOST", "::1")
    monkeypatch.setenv("AUTOTRADER_PROMETHEUS_MAX_REASONS", "7")
    settings = PrometheusSettings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.port, settings.host, settings.max_reasons) == (19464, "::1", 7)
    assert MetricsServer.from_settings(CollectorRegistry(), settings).url == "http://[::1]:19464/metrics"


def test_scrape_returns_the_recorded_samples(serving: PrometheusObserver) -> None:
    order = Order("atx1", "BTCUSDT", OrderSide.BUY, OrderType.MARKET, D("1"), broker="paper")
    serving.autotrader_on_reject(
        order=order, reason="quantity below minimum | reason=MIN_QUANTITY", code="MIN_QUANTITY"
    )
    serving.autotrader_on_breaker_state(name="paper-requests", state="open")

    assert serving.server.url.startswith("http://127.0.0.1:")
    assert serving.server.port != 0  # the real port, not the requested 0
    response = httpx.get(serving.server.url, timeout=5.0, trust_env=False)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'autotrader_circuit_breaker_state{breaker="paper-requests"} 2.0' in text
    samples = parse_samples(text)
    assert (
        value(
            samples,
            "autotrader_rejects_total",
            broker="paper",
            symbol="BTCUSDT",
            origin="local",
            reason="min_quantity",
        )
        == 1
    )


def test_stop_releases_the_port(observer: PrometheusObserver) -> None:
    observer.start()
    url, port = observer.server.url, observer.server.port
    scrape(url)
    started = time.perf_counter()
    observer.stop()
    assert time.perf_counter() - started < 1.0
    assert not observer.server.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2.0, trust_env=False)
    # The port is free again: a new endpoint starts on it at once (a restart keeps its port).
    with MetricsServer(CollectorRegistry(), host="127.0.0.1", port=port) as again:
        assert again.port == port
        scrape(again.url)
    observer.stop()  # idempotent


def test_start_on_a_busy_port_raises(serving: PrometheusObserver) -> None:
    clash = MetricsServer(CollectorRegistry(), host="127.0.0.1", port=serving.server.port)
    with pytest.raises(OSError, match="in use"):
        clash.start()
    assert not clash.running


def test_autostart_serves_after_the_first_hook_without_blocking_it() -> None:
    observer = PrometheusObserver(PrometheusSettings(port=0, autostart=True))
    try:
        assert not observer.server.running  # constructing starts nothing
        observer.autotrader_on_reconnect(broker="oanda", reason="stream heartbeat missed")
        deadline = time.monotonic() + 5
        while not observer.server.running and time.monotonic() < deadline:
            time.sleep(0.01)
        samples = parse_samples(scrape(observer.server.url))
        assert (
            value(samples, "autotrader_reconnects_total", broker="oanda", reason="stream_heartbeat_missed")
            == 1
        )
    finally:
        observer.stop()


def test_autostart_on_a_busy_port_logs_and_keeps_recording(
    serving: PrometheusObserver, caplog: pytest.LogCaptureFixture
) -> None:
    observer = PrometheusObserver(PrometheusSettings(port=serving.server.port, autostart=True))
    observer.autotrader_on_reconnect(broker="okx", reason="closed")
    deadline = time.monotonic() + 5
    while "could not listen" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "AUTOTRADER_PROMETHEUS_PORT" in caplog.text
    assert not observer.server.running
    assert (
        observer.metrics.registry.get_sample_value(
            "autotrader_reconnects_total", {"broker": "okx", "account": "default", "reason": "closed"}
        )
        == 1
    )
