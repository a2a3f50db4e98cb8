"""The control seam: what an operator sees and does, every action audited with its actor."""

from __future__ import annotations

import logging
from decimal import Decimal as D

import pytest
from autotrader_core.control import ControlAction, EngineControl
from autotrader_core.engine import ExecutionEngine
from autotrader_core.enums import OrderStatus, TradingState
from autotrader_core.errors import InvalidOrder, RiskRejected
from autotrader_core.hookspecs import hookimpl
from autotrader_core.plugins import PluginManager
from autotrader_core.settings import EngineSettings

from .fakes import FakeBroker
from .reads import trading_state
from .test_engine import FAST_RETRY

pytestmark = pytest.mark.anyio


class AuditRecorder:
    def __init__(self) -> None:
        self.actions: list[ControlAction] = []

    @hookimpl
    def autotrader_on_control_action(self, action: ControlAction) -> None:
        self.actions.append(action)


def make(broker: FakeBroker) -> tuple[ExecutionEngine, AuditRecorder]:
    recorder = AuditRecorder()
    plugins = PluginManager(disabled=set())
    plugins.register(recorder, name="audit")
    engine = ExecutionEngine(
        broker,
        plugins=plugins,
        retry_policy=FAST_RETRY,
        settings=EngineSettings(decision_interval=0.01, order_timeout=5),
    )
    return engine, recorder


async def test_reads_show_orders_fills_positions_newest_first() -> None:
    engine, _ = make(FakeBroker())
    async with engine:
        control = engine.control
        first = await engine.submit_order("BTCUSDT", "buy", D("0.5"))
        resting = await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="90")
        assert control.account.broker == "fake"
        assert [o.client_order_id for o in control.open_orders()] == [resting.client_order_id]
        assert [o.client_order_id for o in control.recent_orders(limit=1)] == [resting.client_order_id]
        assert {o.client_order_id for o in control.recent_orders()} == {
            first.client_order_id,
            resting.client_order_id,
        }
        assert [f.client_order_id for f in control.fills()] == [first.client_order_id]
        assert control.positions()["BTCUSDT"].quantity == D("0.5")
        assert control.order(first.client_order_id) is first
        assert control.order("nope") is None
        assert control.as_dict()["account"] == "fake/unknown/default"


async def test_halt_blocks_orders_and_resume_reopens_audited(caplog: pytest.LogCaptureFixture) -> None:
    engine, recorder = make(FakeBroker())
    async with engine:
        control = engine.control
        with caplog.at_level(logging.WARNING, logger="autotrader.audit"):
            await control.halt(actor="ops", reason="maintenance")
        assert control.trading_state is TradingState.HALTED
        with pytest.raises(RiskRejected):
            await engine.submit_order("BTCUSDT", "buy", D("0.1"))
        await control.resume(actor="ops")
        assert (await engine.submit_order("BTCUSDT", "buy", D("0.1"))).status is OrderStatus.FILLED
        await control.reducing_only(actor="ops")
        assert trading_state(control) is TradingState.REDUCING
    assert [(a.action, a.actor) for a in recorder.actions] == [
        ("halt", "ops"),
        ("resume", "ops"),
        ("reducing_only", "ops"),
    ]
    assert recorder.actions[0].detail == {"reason": "maintenance"}
    assert any("halt" in r.getMessage() and "ops" in r.getMessage() for r in caplog.records)


async def test_cancel_and_cancel_all_reach_the_broker() -> None:
    broker = FakeBroker()
    engine, _ = make(broker)
    async with engine:
        control = engine.control
        orders = [
            await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="90")
            for _ in range(3)
        ]
        await control.cancel(orders[0].client_order_id, actor="web:alice")
        assert orders[0].status is OrderStatus.CANCELED
        result = await control.cancel_all(actor="web:alice")
        assert sorted(result.requested) == sorted(o.client_order_id for o in orders[1:])
        assert not result.failures
        assert control.open_orders() == []
        with pytest.raises(InvalidOrder, match="unknown client order id"):
            await control.cancel("missing", actor="web:alice")


async def test_flatten_and_kill_and_no_resume_after_kill() -> None:
    broker = FakeBroker()
    engine, recorder = make(broker)
    async with engine:
        control = engine.control
        await engine.submit_order("BTCUSDT", "buy", D("0.5"))
        flattened = await control.flatten(actor="ops", symbol="BTCUSDT")
        assert len(flattened) == 1 and control.positions()["BTCUSDT"].is_flat
        await engine.submit_order("BTCUSDT", "buy", D("0.2"))
        report = await control.kill(actor="ops", reason="drill")
        assert report.reason == "drill (by ops)"
        assert control.kill_report is report
        assert control.trading_state is TradingState.HALTED
        with pytest.raises(InvalidOrder, match="kill switch"):
            await control.resume(actor="ops")
    assert [a.action for a in recorder.actions][-1] == "kill"


async def test_an_action_without_an_actor_is_refused() -> None:
    engine, recorder = make(FakeBroker())
    control = EngineControl(engine, account="main")
    assert str(control.account) == "fake/unknown/main"
    with pytest.raises(InvalidOrder, match="actor"):
        await control.halt(actor=" ")
    assert recorder.actions == []
    assert engine.risk.trading_state is TradingState.ACTIVE
