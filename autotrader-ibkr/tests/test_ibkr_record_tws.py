"""The recorder: a session recorded through the proxy replays identically on the fake TWS."""

from __future__ import annotations

from decimal import Decimal

import pytest
from autotrader_core.enums import OrderSide, OrderType, TimeInForce
from autotrader_core.events import OrderAccepted, OrderCanceled
from autotrader_core.models import Order
from autotrader_ibkr import IbkrAdapter
from ibkr_fake_tws import FakeTws, Transcript, fake_tws
from ibkr_record_tws import Recorder, serve
from ibkr_support import settings_for

pytestmark = pytest.mark.anyio


async def _scenario(port: int, tws: FakeTws) -> list[type]:
    adapter = IbkrAdapter(settings_for(tws, port=port))
    await adapter.connect()
    try:
        order = Order(
            "at0limit01",
            "AAPL",
            OrderSide.BUY,
            OrderType.LIMIT,
            Decimal(10),
            TimeInForce.DAY,
            limit_price=Decimal("150.25"),
        )
        events = await adapter.submit_order(order)
        await adapter.get_open_orders()
        events += await adapter.cancel_order(order)
        return [type(e) for e in events]
    finally:
        await adapter.disconnect()


async def test_recorded_session_replays_to_the_same_result() -> None:
    recorder = Recorder(accounts=[])
    async with fake_tws("limit_place_cancel") as upstream:
        proxy = await serve(recorder, 0, "127.0.0.1", upstream.port)
        port = proxy.sockets[0].getsockname()[1]
        async with proxy:
            assert await _scenario(port, upstream) == [OrderAccepted, OrderCanceled]
    data = recorder.transcript("replay check", "test")
    assert data["server_version"] == 178
    assert ["15", "1", "DU1234567"] in data["on_connect"]
    requests = [step["expect"]["request"] for step in data["script"] if "expect" in step]
    assert requests[:1] == ["reqPositions"] and "placeOrder" in requests and "cancelOrder" in requests
    async with FakeTws(Transcript.from_dict("recorded", data)) as replay:
        assert await _scenario(replay.port, replay) == [OrderAccepted, OrderCanceled]
        assert replay.unexpected == []


def test_account_codes_are_redacted() -> None:
    recorder = Recorder(accounts=[])
    recorder.client_message(["71", "2", "1", ""])
    recorder.server_message(["15", "1", "U7654321"])
    recorder.client_message(["61", "1"])
    recorder.server_message(["61", "3", "U7654321", "265598", "AAPL"])
    data = recorder.transcript("d", "s")
    assert data["on_connect"] == [["15", "1", "DU1234567"]]
    assert data["script"][0]["reply"] == [["61", "3", "DU1234567", "265598", "AAPL"]]
