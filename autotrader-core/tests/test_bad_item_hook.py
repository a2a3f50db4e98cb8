"""A payload item an adapter skipped reaches observers; one that may hold a fill alerts (issue 15 rule 11)."""

from __future__ import annotations

from typing import Any

import pytest
from autotrader_core.account import AccountId
from autotrader_core.errors import BrokerProtocolError
from autotrader_core.hookspecs import hookimpl

from .fakes import FakeBroker
from .test_engine import make_engine

pytestmark = pytest.mark.anyio


class BadItems:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    @hookimpl
    def autotrader_on_bad_item(
        self, broker: str, what: str, error: BrokerProtocolError, may_hold_fill: bool, account: AccountId
    ) -> None:
        self.items.append({"broker": broker, "what": what, "error": str(error), "fill": may_hold_fill})


async def test_a_skipped_item_reaches_the_bad_item_hook_and_a_possible_fill_alerts() -> None:
    broker = FakeBroker()
    engine, recorder = make_engine(broker)
    observer = BadItems()
    assert engine.plugins is not None
    engine.plugins.register(observer, name="bad-items")
    async with engine:
        broker.telemetry.bad_item("open order", BrokerProtocolError("price: not a number"))
        assert [c for c in recorder.calls if c[0] == "alert"] == []  # an order listing: no alert
        broker.telemetry.bad_item("fill", BrokerProtocolError("qty missing"), may_hold_fill=True)
    assert observer.items == [
        {"broker": "fake", "what": "open order", "error": "price: not a number", "fill": False},
        {"broker": "fake", "what": "fill", "error": "qty missing", "fill": True},
    ]
    assert [c for c in recorder.calls if c[0] == "alert"] == [("alert", "adapter")]
