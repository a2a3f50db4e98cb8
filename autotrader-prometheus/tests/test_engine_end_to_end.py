"""A real ExecutionEngine with the exporter plugged in, scraped over 127.0.0.1.

These tests go through the engine's own hook calls (not the hooks directly): if the
core stops calling a hook, or calls it with other arguments, they fail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal as D
from typing import Any

import anyio
import pytest
from autotrader_core.engine import ExecutionEngine
from autotrader_core.enums import OrderStatus
from autotrader_core.errors import (
    BrokerUnavailable,
    CircuitOpen,
    InsufficientFunds,
    RiskRejected,
    TransientError,
)
from autotrader_core.events import OrderFilled
from autotrader_core.models import ExecutionDecision
from autotrader_core.plugins import OBSERVER_GROUP, PluginManager
from autotrader_core.resiliency import RetryPolicy
from autotrader_core.risk import RiskChecks, RiskLimits
from autotrader_core.settings import EngineSettings
from autotrader_core.strategy import Strategy, StrategyContext
from autotrader_prometheus import PrometheusObserver, PrometheusSettings, plugin
from prometheus_support import FakeBroker, Labels, ascrape, parse_samples, value

pytestmark = pytest.mark.anyio

ONE_SHOT = RetryPolicy(max_attempts=1, base_delay=0.0, max_delay=0.0, jitter=0.0)
Samples = dict[tuple[str, Labels], float]


class Idle(Strategy):
    """Decides nothing; its presence makes the engine run the decision loop (status hook)."""

    name = "idle"

    async def decide(self, ctx: StrategyContext) -> list[ExecutionDecision]:
        return []


def make_engine(broker: FakeBroker, observer: PrometheusObserver, **kwargs: Any) -> ExecutionEngine:
    plugins = PluginManager(disabled=set())
    plugins.register(observer, name="prometheus")
    assert not plugins.load_errors
    kwargs.setdefault("retry_policy", ONE_SHOT)
    kwargs.setdefault("settings", EngineSettings(decision_interval=0.01, order_timeout=30))
    return ExecutionEngine(broker, plugins=plugins, **kwargs)


async def scrape_until(url: str, ready: Callable[[Samples], bool], patience: float = 5.0) -> Samples:
    """Scrape until ``ready`` holds (status and stream updates land asynchronously)."""
    samples: Samples = {}
    with anyio.move_on_after(patience):
        while True:
            samples = parse_samples(await ascrape(url))
            if ready(samples):
                return samples
            await anyio.sleep(0.02)
    return samples


async def wait_until_serving(observer: PrometheusObserver) -> None:
    """Autostart binds on a helper thread: wait for it."""
    with anyio.fail_after(5):
        while not observer.server.running:
            await anyio.sleep(0.01)


FAKE_BTC = {"broker": "fake", "symbol": "BTCUSDT"}


async def test_market_order_fill_shows_up_in_the_scrape(serving: PrometheusObserver) -> None:
    engine = make_engine(FakeBroker(), serving)
    async with engine:
        order = await engine.submit_order("BTCUSDT", "buy", D("0.5"))
    assert order.status is OrderStatus.FILLED

    text = await ascrape(serving.server.url)
    assert (
        'autotrader_fills_total{account="default",broker="fake",liquidity="unknown",side="buy",symbol="BTCUSDT"} 1.0'
        in text
    )
    samples = parse_samples(text)
    events = "autotrader_order_events_total"
    assert value(samples, events, **FAKE_BTC, event="accepted", status="accepted") == 1
    assert value(samples, events, **FAKE_BTC, event="fill", status="filled") == 1
    latency = {"broker": "fake", "order_type": "market"}
    assert value(samples, "autotrader_fill_latency_seconds_count", **latency) == 1
    assert value(samples, "autotrader_fill_latency_seconds_bucket", **latency, le="+Inf") == 1
    assert value(samples, "autotrader_position", **FAKE_BTC) == 0.5
    assert order.client_order_id not in text


async def test_resting_order_filled_through_the_stream_with_status_gauges(
    serving: PrometheusObserver,
) -> None:
    broker = FakeBroker()
    engine = make_engine(broker, serving, strategy=Idle())
    url = serving.server.url
    async with engine:
        order = await engine.submit_order("BTCUSDT", "buy", D("0.2"), order_type="limit", limit_price=D("99"))
        samples = await scrape_until(url, lambda s: value(s, "autotrader_open_orders", broker="fake") == 1)
        assert value(samples, "autotrader_open_orders", broker="fake") == 1
        assert value(samples, "autotrader_broker_connected", broker="fake") == 1
        assert (
            value(samples, "autotrader_trading_state", broker="fake", autotrader_trading_state="active") == 1
        )
        assert (
            value(samples, "autotrader_fill_latency_seconds_count", broker="fake", order_type="limit") is None
        )

        broker.push(OrderFilled(broker.make_fill(order, D("0.2"), D("99"))))
        samples = await scrape_until(url, lambda s: value(s, "autotrader_open_orders", broker="fake") == 0)
    assert order.status is OrderStatus.FILLED
    assert value(samples, "autotrader_open_orders", broker="fake") == 0
    assert value(samples, "autotrader_fills_total", **FAKE_BTC, side="buy", liquidity="unknown") == 1
    assert value(samples, "autotrader_fill_latency_seconds_count", broker="fake", order_type="limit") == 1
    assert value(samples, "autotrader_position", **FAKE_BTC) == pytest.approx(0.2)


async def test_local_and_broker_rejects_by_reason(serving: PrometheusObserver) -> None:
    broker = FakeBroker()
    risk = RiskChecks(RiskLimits(max_order_notional=D("1000")))
    engine = make_engine(broker, serving, risk=risk)
    async with engine:
        with pytest.raises(RiskRejected):
            await engine.submit_order("BTCUSDT", "buy", D("50"))  # 5,000 notional
        broker.fail_submit.append(
            InsufficientFunds(
                "Account has insufficient balance for requested action.", broker="fake", code="-2010"
            )
        )
        with pytest.raises(InsufficientFunds):
            await engine.submit_order("BTCUSDT", "buy", D("1"))

    samples = parse_samples(await ascrape(serving.server.url))
    rejects = "autotrader_rejects_total"
    assert value(samples, rejects, **FAKE_BTC, origin="local", reason="max_order_notional") == 1
    assert (
        value(samples, rejects, **FAKE_BTC, origin="broker", reason="account_has_insufficient_balance_2010")
        == 1
    )
    # Only the broker's refusal was an order event (the risk refusal never entered the OMS).
    assert (
        value(samples, "autotrader_order_events_total", **FAKE_BTC, event="rejected", status="rejected") == 1
    )


async def test_breaker_opens_after_broker_outage_and_refuses_locally(serving: PrometheusObserver) -> None:
    broker = FakeBroker()
    engine = make_engine(broker, serving)
    async with engine:
        broker.fail_submit.extend(
            BrokerUnavailable("503 Service Unavailable", broker="fake") for _ in range(20)
        )
        for _ in range(engine.breaker.failure_threshold):
            with pytest.raises(TransientError):
                await engine.submit_order("BTCUSDT", "buy", D("0.1"))
        samples = parse_samples(await ascrape(serving.server.url))
        breaker = {"breaker": "fake-requests"}
        assert value(samples, "autotrader_circuit_breaker_state", **breaker) == 2
        assert value(samples, "autotrader_circuit_breaker_transitions_total", **breaker, state="open") == 1
        assert value(samples, "autotrader_alerts_total", level="critical", source="engine") == 1
        # Five unknown outcomes were each a warning, never a reject.
        assert value(samples, "autotrader_alerts_total", level="warning", source="engine") == 5
        assert (
            value(samples, "autotrader_rejects_total", **FAKE_BTC, origin="broker", reason="503_service")
            is None
        )

        with pytest.raises(CircuitOpen):
            await engine.submit_order("BTCUSDT", "buy", D("0.1"))
        engine.breaker.reset()

    samples = parse_samples(await ascrape(serving.server.url))
    assert value(samples, "autotrader_rejects_total", **FAKE_BTC, origin="local", reason="circuit_open") == 1
    assert value(samples, "autotrader_circuit_breaker_state", breaker="fake-requests") == 0


async def test_kill_switch_alert_is_counted(serving: PrometheusObserver) -> None:
    engine = make_engine(FakeBroker(), serving)
    async with engine:
        await engine.submit_order("BTCUSDT", "buy", D("0.3"))
        report = await engine.kill("drill")
    assert report.clean
    samples = parse_samples(await ascrape(serving.server.url))
    assert value(samples, "autotrader_alerts_total", level="critical", source="kill_switch") == 1
    # Flattening sold the position back: the gauge followed the fill hook.
    assert value(samples, "autotrader_position", **FAKE_BTC) == 0
    assert value(samples, "autotrader_fills_total", **FAKE_BTC, side="sell", liquidity="unknown") == 1


async def test_two_engines_share_one_exporter_without_clashing(serving: PrometheusObserver) -> None:
    class OtherBroker(FakeBroker):
        name = "other"

    first, second = make_engine(FakeBroker(), serving), make_engine(OtherBroker(), serving)
    async with first, second:
        await first.submit_order("BTCUSDT", "buy", D("1"))
        await second.submit_order("BTCUSDT", "sell", D("2"))
    samples = parse_samples(await ascrape(serving.server.url))
    assert value(samples, "autotrader_position", broker="fake", symbol="BTCUSDT") == 1
    assert value(samples, "autotrader_position", broker="other", symbol="BTCUSDT") == -2


@pytest.fixture
def entry_point_observer() -> Iterator[PrometheusObserver]:
    """The entry-point plugin's observer, reconfigured for a free loopback port."""
    observer = plugin.configure(PrometheusSettings(host="127.0.0.1", port=0, autostart=True))
    yield observer
    plugin.configure(PrometheusSettings(enabled=False, autostart=False, port=0))


async def test_entry_point_plugin_loads_autostarts_and_exports(
    entry_point_observer: PrometheusObserver,
) -> None:
    plugins = PluginManager(disabled=set()).load_entry_points()
    assert not plugins.load_errors
    assert plugins.hooks.get_plugin(f"{OBSERVER_GROUP}:prometheus") is plugin
    assert not entry_point_observer.server.running  # loading starts nothing

    engine = ExecutionEngine(FakeBroker(), plugins=plugins, retry_policy=ONE_SHOT)
    async with engine:
        await engine.submit_order("BTCUSDT", "buy", D("0.5"))
    await wait_until_serving(entry_point_observer)
    assert entry_point_observer is plugin.default_observer()
    samples = parse_samples(await ascrape(entry_point_observer.server.url))
    assert value(samples, "autotrader_fills_total", **FAKE_BTC, side="buy", liquidity="unknown") == 1
    assert value(samples, "autotrader_position", **FAKE_BTC) == 0.5


async def test_entry_point_plugin_can_be_disabled_by_name(entry_point_observer: PrometheusObserver) -> None:
    plugins = PluginManager(disabled={"prometheus"}).load_entry_points()
    assert not plugins.hooks.has_plugin(f"{OBSERVER_GROUP}:prometheus")
    async with ExecutionEngine(FakeBroker(), plugins=plugins, retry_policy=ONE_SHOT) as engine:
        await engine.submit_order("BTCUSDT", "buy", D("0.5"))
    assert (
        entry_point_observer.metrics.registry.get_sample_value(
            "autotrader_fills_total", {**FAKE_BTC, "side": "buy", "liquidity": "unknown"}
        )
        is None
    )


async def test_two_engines_in_one_process_stay_apart_by_account(serving: PrometheusObserver) -> None:
    main = make_engine(FakeBroker(), serving, settings=EngineSettings(order_timeout=30, account="main"))
    hedge = make_engine(FakeBroker(), serving, settings=EngineSettings(order_timeout=30, account="hedge"))
    async with main, hedge:
        await main.submit_order("BTCUSDT", "buy", D("0.5"))
        await hedge.submit_order("BTCUSDT", "sell", D("0.2"))
        await hedge.submit_order("BTCUSDT", "sell", D("0.1"))
    samples = parse_samples(await ascrape(serving.server.url))
    fills = {"side": "buy", "liquidity": "unknown"}
    assert value(samples, "autotrader_fills_total", **FAKE_BTC, **fills, account="main") == 1
    assert (
        value(samples, "autotrader_fills_total", **FAKE_BTC, **{**fills, "side": "sell"}, account="hedge")
        == 2
    )
    assert value(samples, "autotrader_position", **FAKE_BTC, account="main") == 0.5
    assert value(samples, "autotrader_position", **FAKE_BTC, account="hedge") == -0.3
    assert value(samples, "autotrader_position", **FAKE_BTC) is None  # no "default" account traded
