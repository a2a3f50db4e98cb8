"""After a journal write failure the engine halts, alerts once (source "journal") and says so (issue 17 item 3)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from autotrader_core.enums import TradingState
from autotrader_core.errors import RiskRejected
from autotrader_core.journal import Journal, JournalError

from .fakes import FakeBroker
from .reads import journal_failure
from .test_engine import make_engine
from .test_journal import BrokenStorage

pytestmark = pytest.mark.anyio


async def test_a_journal_write_failure_halts_trading_and_alerts_once() -> None:
    broker = FakeBroker()
    engine, recorder = make_engine(broker, journal=Journal(BrokenStorage()))
    async with engine:
        assert journal_failure(engine) is None
        with pytest.raises(JournalError):
            await engine.submit_order("BTCUSDT", "buy", D("0.1"))
        assert engine.gate.state is TradingState.HALTED
        assert "journal" in engine.gate.reason
        assert isinstance(engine.journal_failure, JournalError)
        # The next order is refused by the halted gate: one clear reason, nothing sent.
        with pytest.raises(RiskRejected, match="halted"):
            await engine.submit_order("BTCUSDT", "buy", D("0.1"))
    assert broker.received == []
    assert [c for c in recorder.calls if c[0] == "alert"] == [("alert", "journal")]
