"""The kill switch cancels everything, flattens, halts, disconnects and alerts, once."""

from __future__ import annotations

import os
import signal
from decimal import Decimal as D

import anyio
import pytest
from autotrader_core.enums import OrderStatus, TradingState
from autotrader_core.errors import RiskRejected
from autotrader_core.kill_switch import kill_on_signals

from .fakes import FakeBroker
from .test_engine import make_engine

pytestmark = pytest.mark.anyio


async def test_kill_cancels_all_flattens_halts_and_alerts() -> None:
    broker = FakeBroker()
    engine, recorder = make_engine(broker)
    async with engine:
        await engine.submit_order("BTCUSDT", "buy", D("0.5"))
        resting = [
            await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="90")
            for _ in range(20)
        ]
        report = await engine.kill("test drill")
        again = await engine.kill("second press")
    assert report is again  # idempotent
    assert report.canceled == 20 and report.clean
    assert all(o.status is OrderStatus.CANCELED for o in resting)
    assert engine.oms.position("BTCUSDT").quantity == 0
    assert engine.risk.trading_state is TradingState.HALTED
    assert not broker.connected
    assert ("alert", "kill_switch") in recorder.calls


async def test_nothing_new_is_accepted_after_kill() -> None:
    broker = FakeBroker()
    engine, _ = make_engine(broker)
    async with engine:
        await engine.kill("halt")
        with pytest.raises(RiskRejected, match="halted"):
            await engine.submit_order("BTCUSDT", "buy", D("0.1"))


async def test_sigterm_engages_the_kill_switch() -> None:
    broker = FakeBroker()
    engine, _ = make_engine(broker)
    async with engine, anyio.create_task_group() as tg:
        await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="90")
        tg.start_soon(kill_on_signals, engine.kill_switch)
        await anyio.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)
        with anyio.fail_after(2):
            while not engine.kill_switch.engaged:
                await anyio.sleep(0.01)
    report = engine.kill_switch.report
    assert report is not None and report.reason == "signal SIGTERM" and report.canceled == 1
