"""Observers see everything the engine does, and a broken observer never breaks trading."""

from __future__ import annotations

import time
from decimal import Decimal as D
from typing import Any

import anyio
import pytest
from autotrader_core.engine import ExecutionEngine
from autotrader_core.enums import OrderStatus
from autotrader_core.errors import RequestTimeout, RiskRejected
from autotrader_core.hookspecs import hookimpl
from autotrader_core.models import Order
from autotrader_core.plugins import PluginManager
from autotrader_core.risk import RiskChecks, RiskLimits
from autotrader_core.settings import EngineSettings

from .fakes import FakeBroker
from .test_engine import FAST_RETRY, make_engine

pytestmark = pytest.mark.anyio


class Everything:
    """Records every observer hook."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def autotrader_on_order_event(self, order: Order, event: object) -> None:
        self.calls.append(("order_event", {"event": type(event).__name__, "status": order.status}))

    @hookimpl
    def autotrader_on_reject(self, order: Order, reason: str, code: str | None) -> None:
        self.calls.append(("reject", {"code": code}))

    @hookimpl
    def autotrader_on_status(self, status: dict[str, Any]) -> None:
        self.calls.append(("status", status))

    @hookimpl
    def autotrader_on_engine_started(self, status: dict[str, Any]) -> None:
        self.calls.append(("started", status))

    @hookimpl
    def autotrader_on_engine_stopped(self, status: dict[str, Any]) -> None:
        self.calls.append(("stopped", status))

    @hookimpl
    def autotrader_on_reconnect(self, broker: str, reason: str) -> None:
        self.calls.append(("reconnect", {"broker": broker, "reason": reason}))

    @hookimpl
    def autotrader_on_rate_limit_wait(self, name: str, seconds: float) -> None:
        self.calls.append(("rate_limit_wait", {"name": name, "seconds": seconds}))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


class Broken:
    """An observer with a bug in every hook it implements."""

    @hookimpl
    def autotrader_on_order_event(self, order: Order, event: object) -> None:
        raise RuntimeError("observer bug")

    @hookimpl
    def autotrader_on_fill(self, order: Order, fill: object, position: object) -> None:
        raise RuntimeError("observer bug")


def engine_with(observer: object, broker: FakeBroker, **kwargs: Any) -> Any:
    from autotrader_core.engine import ExecutionEngine

    plugins = PluginManager(disabled=set())
    plugins.register(observer, name="observer")
    kwargs.setdefault("retry_policy", FAST_RETRY)
    kwargs.setdefault("settings", EngineSettings(status_interval=0.01, order_timeout=5))
    return ExecutionEngine(broker, plugins=plugins, **kwargs)


async def test_a_failing_observer_never_breaks_order_handling() -> None:
    broker = FakeBroker()
    async with engine_with(Broken(), broker) as engine:
        order = await engine.submit_order("BTCUSDT", "buy", D("0.5"))
    assert order.status is OrderStatus.FILLED
    assert engine.oms.position("BTCUSDT").quantity == D("0.5")


async def test_status_start_and_stop_are_reported_without_a_strategy() -> None:
    observer = Everything()
    async with engine_with(observer, FakeBroker()):
        await anyio.sleep(0.05)
    names = observer.names()
    assert names[0] == "started"
    assert names[-1] == "stopped"
    assert names.count("status") >= 2
    assert observer.calls[-1][1]["running"] is False


async def test_reject_hooks_carry_the_reason_code() -> None:
    observer = Everything()
    broker = FakeBroker()
    risk = RiskChecks(RiskLimits(max_order_notional=D("10")))
    async with engine_with(observer, broker, risk=risk) as engine:
        with pytest.raises(RiskRejected):
            await engine.submit_order("BTCUSDT", "buy", D("1"))
    assert ("reject", {"code": "MAX_ORDER_NOTIONAL"}) in observer.calls


async def test_changes_settled_by_a_broker_query_reach_the_observers() -> None:
    observer = Everything()
    broker = FakeBroker()
    broker.fail_submit = [RequestTimeout("lost reply")]
    broker.lose_reply = True
    async with engine_with(observer, broker) as engine:
        order = await engine.submit_order("BTCUSDT", "buy", D("0.2"))
    events = [c[1]["event"] for c in observer.calls if c[0] == "order_event"]
    assert events == ["OrderAccepted", "OrderFilled"]
    assert order.status is OrderStatus.FILLED


async def test_adapter_telemetry_reaches_the_hooks() -> None:
    observer = Everything()
    broker = FakeBroker()
    async with engine_with(observer, broker):
        broker.telemetry.reconnected("connection lost: test")
        broker.telemetry.rate_limit_wait("fake-orders", 0.25)
    assert ("reconnect", {"broker": "fake", "reason": "connection lost: test"}) in observer.calls
    assert ("rate_limit_wait", {"name": "fake-orders", "seconds": 0.25}) in observer.calls


async def test_safe_submit_waits_the_adapters_settle_delay_before_asking() -> None:
    broker = FakeBroker()
    broker.unknown_outcome_settle_delay = 0.2
    broker.fail_submit = [RequestTimeout("lost reply")]
    broker.lose_reply = True
    engine, _ = make_engine(broker)
    async with engine:
        started = time.monotonic()
        await engine.submit_order("BTCUSDT", "buy", D("0.2"))
        assert time.monotonic() - started >= 0.2
    assert len(broker.received) == 1


async def test_a_hook_nobody_implements_costs_no_pluggy_call(monkeypatch: pytest.MonkeyPatch) -> None:
    # A market order fires order-event and fill hooks; an observer of order events only gets
    # them all, and the fill hook (no implementation) does not enter pluggy's call machinery.
    plugins = PluginManager(disabled=set())
    seen = Everything()
    plugins.register(seen, name="everything")
    called: list[str] = []
    for caller in vars(plugins.hooks.hook).values():  # each hook caller holds its own executor
        real = caller._hookexec

        def hookexec(hook_name: str, *args: Any, _real: Any = real) -> Any:
            called.append(hook_name)
            return _real(hook_name, *args)

        monkeypatch.setattr(caller, "_hookexec", hookexec)
    engine = ExecutionEngine(FakeBroker(), plugins=plugins, retry_policy=FAST_RETRY)
    async with engine:
        await engine.submit_order("BTCUSDT", "buy", D("1"))
    assert [name for name, _ in seen.calls].count("order_event") >= 2  # accepted, filled
    assert "autotrader_on_order_event" in called
    assert "autotrader_on_fill" not in called  # Everything does not implement it
