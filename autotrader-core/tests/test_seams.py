"""The engine's seams: account identity on hooks and records, one trading gate, risk owns every rule."""

from __future__ import annotations

import logging
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import anyio
import pytest
from autotrader_core.account import AccountId
from autotrader_core.adapter import OrderChange
from autotrader_core.broker_gateway import NEVER_ARRIVED_CODE
from autotrader_core.engine import ExecutionEngine
from autotrader_core.enums import OrderSide, OrderStatus, OrderType, TradingState
from autotrader_core.errors import InvalidOrder, RequestTimeout, RiskRejected
from autotrader_core.hookspecs import hookimpl
from autotrader_core.journal import SqliteJournal
from autotrader_core.models import Alert, Order
from autotrader_core.plugins import PluginManager
from autotrader_core.recovery import NEVER_SENT_CODE
from autotrader_core.resiliency import RetryPolicy
from autotrader_core.risk import RiskChecks
from autotrader_core.settings import EngineSettings
from autotrader_core.trading_gate import TradingGate

from .fakes import BTC, FakeBroker
from .venue import declare_expiry

pytestmark = pytest.mark.anyio


class WithAccount:
    """A new-style observer: names ``account``."""

    def __init__(self) -> None:
        self.fills: list[AccountId] = []
        self.alerts: list[tuple[str, AccountId]] = []

    @hookimpl
    def autotrader_on_fill(self, order: Order, fill: Any, position: Any, account: AccountId) -> None:
        self.fills.append(account)

    @hookimpl
    def autotrader_on_alert(self, alert: Alert, account: AccountId) -> None:
        self.alerts.append((alert.source, account))


class WithoutAccount:
    """An observer written before ``account`` existed keeps working."""

    def __init__(self) -> None:
        self.fills = 0

    @hookimpl
    def autotrader_on_fill(self, order: Order, fill: Any, position: Any) -> None:
        self.fills += 1


def engine_with(label: str, *observers: object) -> ExecutionEngine:
    plugins = PluginManager(disabled=set())
    for i, observer in enumerate(observers):
        plugins.register(observer, name=f"observer-{label}-{i}")
    return ExecutionEngine(FakeBroker(), plugins=plugins, settings=EngineSettings(account=label))


async def test_two_engines_in_one_process_tag_every_hook_call_with_their_account() -> None:
    main, hedge, legacy = WithAccount(), WithAccount(), WithoutAccount()
    async with engine_with("main", main, legacy) as a, engine_with("hedge", hedge) as b:
        await a.submit_order("BTCUSDT", "buy", D("0.1"))
        await b.submit_order("BTCUSDT", "buy", D("0.1"))
        await b.submit_order("BTCUSDT", "buy", D("0.1"))
        await b.kill("test")
    assert a.account == AccountId("fake", "unknown", "main") and str(b.account) == "fake/unknown/hedge"
    assert main.fills == [a.account]
    assert hedge.fills == [b.account] * 3  # two buys and the kill switch's flatten
    assert ("kill_switch", b.account) in hedge.alerts and main.alerts == []
    assert legacy.fills == 1


async def test_order_event_records_name_the_account(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="autotrader.orders")
    async with engine_with("desk-7") as engine:
        await engine.submit_order("BTCUSDT", "buy", D("0.1"))
        with pytest.raises(RiskRejected):
            await engine.submit_order("BTCUSDT", "buy", D("0.1005"))
    accounts = {getattr(r, "account", None) for r in caplog.records if r.name == "autotrader.orders"}
    assert accounts == {"fake/unknown/desk-7"}
    assert any(getattr(r, "event", None) == "refused" for r in caplog.records)


async def test_the_trading_gate_is_the_one_owner_of_the_trading_state() -> None:
    gate = TradingGate()
    risk = RiskChecks(gate=gate)
    engine = ExecutionEngine(FakeBroker(), risk=risk)
    assert engine.gate is gate is risk.gate
    async with engine:
        await engine.control.halt(actor="ops", reason="maintenance")
        assert gate.state is TradingState.HALTED and "ops" in gate.reason
        with pytest.raises(RiskRejected) as refused:
            await engine.submit_order("BTCUSDT", "buy", D("0.1"))
        assert refused.value.reason == RiskChecks.TRADING_HALTED
        engine.resume_trading()
        assert risk.trading_state is TradingState.ACTIVE
        await engine.submit_order("BTCUSDT", "buy", D("0.1"))
        await engine.kill("test")
    assert gate.state is TradingState.HALTED and gate.reason == "kill switch: test"


def test_risk_checks_a_modify_s_new_terms() -> None:
    risk = RiskChecks()
    risk.set_instruments([BTC])
    order = Order("c1", "BTCUSDT", OrderSide.BUY, OrderType.LIMIT, D("0.01"), limit_price=D("100"))
    risk.check_change(order, OrderChange(quantity=D("0.02"), limit_price=D("100.01")))  # fine
    with pytest.raises(RiskRejected) as tick:
        risk.check_change(order, OrderChange(limit_price=D("100.005")))
    assert tick.value.reason == RiskChecks.PRICE_TICK
    with pytest.raises(RiskRejected) as lot:
        risk.check_change(order, OrderChange(quantity=D("0.0105")))
    assert lot.value.reason == RiskChecks.QUANTITY_STEP
    with pytest.raises(RiskRejected) as small:
        risk.check_change(order, OrderChange(quantity=D("0")))
    assert small.value.reason == RiskChecks.MIN_QUANTITY
    with pytest.raises(InvalidOrder, match="out of range"):
        risk.check_change(order, OrderChange(quantity=D("1E+30")))
    risk.check_change(
        Order("c2", "ETHUSDT", OrderSide.BUY, OrderType.LIMIT, D("1"), limit_price=D("1")),
        OrderChange(limit_price=D("1.0000001")),
    )  # no rules known for the symbol: nothing to check here (the broker decides)


class Rejects:
    """Records the code of every reject hook call."""

    def __init__(self) -> None:
        self.codes: list[str | None] = []

    @hookimpl
    def autotrader_on_reject(self, order: Order, reason: str, code: str | None) -> None:
        self.codes.append(code)


async def test_one_look_up_then_settle_keeps_both_reject_codes(tmp_path: Path) -> None:
    # After order_timeout the engine closes an unknown submit as NEVER_ARRIVED; after a
    # restart recovery closes a journaled intent the broker never got as NEVER_SENT.
    broker = FakeBroker()
    # Issue 14: both codes close an order only once the venue's clock proves its request expired.
    declare_expiry(broker, 5.0, ahead=10.0)
    broker.fail_submit = [RequestTimeout("t")] * 10  # never reaches the book
    rejects = Rejects()
    plugins = PluginManager(disabled=set())
    plugins.register(rejects, name="rejects")
    no_retry = RetryPolicy(max_attempts=1, base_delay=0.0, max_delay=0.0, jitter=0.0)
    settings = EngineSettings(order_timeout=0.05, data_dir=tmp_path)
    async with ExecutionEngine(broker, plugins=plugins, settings=settings, retry_policy=no_retry) as engine:
        with pytest.raises(RequestTimeout):
            await engine.submit_order("BTCUSDT", "buy", D("0.2"), order_type="limit", limit_price="99")
        [timed_out] = engine.oms.open_orders()
        with anyio.fail_after(2):
            while timed_out.status is OrderStatus.PENDING_SUBMIT:
                await anyio.sleep(0.01)
    assert rejects.codes == [NEVER_ARRIVED_CODE]

    journal = tmp_path / "j.sqlite3"
    settings = EngineSettings(order_timeout=3600, data_dir=tmp_path)
    engine = ExecutionEngine(
        broker, settings=settings, retry_policy=no_retry, journal=SqliteJournal(journal, fsync=False)
    )
    async with engine:
        with pytest.raises(RequestTimeout):
            await engine.submit_order("BTCUSDT", "buy", D("0.2"), order_type="limit", limit_price="99")
        [unsent] = engine.oms.open_orders()
    plugins = PluginManager(disabled=set())
    plugins.register(rejects, name="rejects")
    restarted = ExecutionEngine(broker, plugins=plugins, journal=SqliteJournal(journal, fsync=False))
    async with restarted:
        assert restarted.reconciliation is not None and restarted.reconciliation.never_sent == [
            unsent.client_order_id
        ]
        order = restarted.oms.get(unsent.client_order_id)
        assert order is not None and order.status is OrderStatus.REJECTED
    assert rejects.codes == [NEVER_ARRIVED_CODE, NEVER_SENT_CODE]
    assert (NEVER_ARRIVED_CODE, NEVER_SENT_CODE) == ("NEVER_ARRIVED", "NEVER_SENT")
