"""A strategy whose decide() raises: one traceback, back-off, alert, halt (issue 17 item 4)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal as D

import anyio
import pytest
from autotrader_core.enums import DecisionAction, TradingState
from autotrader_core.models import ExecutionDecision
from autotrader_core.settings import EngineSettings
from autotrader_core.strategy import Strategy, StrategyContext

from .fakes import FakeBroker
from .test_engine import make_engine

pytestmark = pytest.mark.anyio


class Broken(Strategy):
    name = "broken"

    def __init__(self, fail_times: int | None = None) -> None:
        self.calls: list[float] = []
        self.fail_times = fail_times

    async def decide(self, ctx: StrategyContext) -> Sequence[ExecutionDecision]:
        self.calls.append(anyio.current_time())
        if self.fail_times is None or len(self.calls) <= self.fail_times:
            raise ValueError("price feed is None")
        return []


async def test_a_failing_decide_backs_off_alerts_once_logs_one_traceback_and_halts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    strategy = Broken()
    settings = EngineSettings(decision_interval=0.01, order_timeout=0.05, max_decide_failures=5)
    engine, recorder = make_engine(FakeBroker(), strategy=strategy, settings=settings)
    with caplog.at_level(logging.INFO, logger="autotrader_core.engine"):
        async with engine:
            with anyio.fail_after(5):
                while engine.gate.state is not TradingState.HALTED:
                    await anyio.sleep(0.01)
            await anyio.sleep(0.5)  # the loop has stopped: no more calls
            assert len(strategy.calls) == 5
            # Exponential back-off: each wait about twice the last (0.02, 0.04, 0.08, 0.16 s).
            gaps = [b - a for a, b in zip(strategy.calls, strategy.calls[1:], strict=False)]
            assert gaps[-1] > 0.12 and gaps[-1] > 2.5 * gaps[0]
            # Orders are refused while halted.
            with pytest.raises(Exception, match="halted"):
                await engine.execute(ExecutionDecision(DecisionAction.BUY, "BTCUSDT", D("1")))
    records = [r for r in caplog.records if "decide() failed" in r.getMessage()]
    assert sum(r.exc_info is not None for r in records) == 1  # one traceback
    assert len(records) == 5  # then one line per failure (the last says halted)
    assert "price feed is None" in records[1].getMessage()
    assert "halted" in records[-1].getMessage()
    alerts = [c for c in recorder.calls if c == ("alert", "strategy")]
    assert len(alerts) == 2  # the first failure, and the halt
    assert "decide() failed 5 times" in engine.gate.reason


async def test_a_decide_that_recovers_resets_the_count() -> None:
    strategy = Broken(fail_times=3)
    settings = EngineSettings(decision_interval=0.01, order_timeout=0.05, max_decide_failures=4)
    engine, _ = make_engine(FakeBroker(), strategy=strategy, settings=settings)
    async with engine:
        with anyio.fail_after(5):
            while len(strategy.calls) < 10:
                await anyio.sleep(0.01)
    assert engine.gate.state is TradingState.ACTIVE
