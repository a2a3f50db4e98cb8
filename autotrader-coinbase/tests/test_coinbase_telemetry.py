"""The adapter reports rate-limit waits and stream reconnects through ``adapter.telemetry``."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import aclosing

import anyio
import pytest
from autotrader_coinbase import CoinbaseAdapter, CoinbaseSettings
from autotrader_conformance.testing import RecordingTelemetry
from autotrader_core.events import OrderAccepted, OrderEvent
from coinbase_payloads import API, load, subscriptions, user_message, user_order
from coinbase_ws_server import Step, scripted_server
from pytest_httpx import HTTPXMock

pytestmark = pytest.mark.anyio

FILLS_SINCE = re.compile(
    re.escape(f"{API}/orders/historical/fills?start_sequence_timestamp=") + r"[^&]+&limit=250$"
)
OPEN = user_order(
    order_id="b3f5a1c2-0000-4000-8000-000000000001",
    client_order_id="at1kz3m9qabc1",
    status="OPEN",
    cumulative_quantity="0",
    leaves_quantity="0.001",
    number_of_fills="0",
)
HEALTHY: list[Step] = [("expect", 2), ("send", subscriptions()), ("send", user_message(1, "snapshot", OPEN))]


async def first_event(adapter: CoinbaseAdapter) -> OrderEvent:
    with anyio.fail_after(5):
        async with aclosing(adapter.stream_events()) as stream:  # type: ignore[type-var]
            async for event in stream:
                return event
    raise AssertionError("the stream ended without an event")


async def test_a_dropped_stream_reports_one_reconnect(
    httpx_mock: HTTPXMock, make_settings: Callable[..., CoinbaseSettings]
) -> None:
    httpx_mock.add_response(url=FILLS_SINCE, json={"fills": [], "cursor": ""})  # the catch-up: nothing missed
    dropped: list[Step] = [("expect", 2), ("send", subscriptions()), ("sleep", 0.05), ("drop",)]
    async with scripted_server([dropped, HEALTHY]) as server:
        adapter = CoinbaseAdapter(make_settings(ws_url=server.url))
        adapter.telemetry = telemetry = RecordingTelemetry()
        event = await first_event(adapter)
        await adapter.disconnect()
    assert isinstance(event, OrderAccepted)
    # Once; the first connect is not one. The reason is in the core reconnecting stream's words,
    # the same in every adapter (it was "connection lost: ConnectionClosedError" before).
    assert telemetry.reconnects == ["connection lost: websocket closed (no close frame)"]


async def test_silence_is_reported_as_a_heartbeat_timeout(
    httpx_mock: HTTPXMock, make_settings: Callable[..., CoinbaseSettings]
) -> None:
    httpx_mock.add_response(url=FILLS_SINCE, json={"fills": [], "cursor": ""})
    silent: list[Step] = [("expect", 2), ("send", subscriptions())]
    async with scripted_server([silent, HEALTHY]) as server:
        adapter = CoinbaseAdapter(make_settings(ws_url=server.url, heartbeat_timeout=0.2))
        adapter.telemetry = telemetry = RecordingTelemetry()
        await first_event(adapter)
        await adapter.disconnect()
    # The core reconnecting stream's words (it was "... (no message for 0.2s)" before).
    assert telemetry.reconnects == ["heartbeat timeout (no frame for 0.2s)"]


async def test_no_reconnect_is_reported_for_a_healthy_stream(
    make_settings: Callable[..., CoinbaseSettings],
) -> None:
    async with scripted_server([HEALTHY]) as server:
        adapter = CoinbaseAdapter(make_settings(ws_url=server.url))
        adapter.telemetry = telemetry = RecordingTelemetry()
        await first_event(adapter)
        await adapter.disconnect()
    assert telemetry.reconnects == []


async def test_an_exhausted_limiter_reports_its_wait(
    httpx_mock: HTTPXMock, make_settings: Callable[..., CoinbaseSettings]
) -> None:
    httpx_mock.add_response(url=f"{API}/time", json=load("time"), is_reusable=True)
    adapter = CoinbaseAdapter(make_settings(public_requests_per_second=2))  # the HTTP client exists now
    adapter.telemetry = telemetry = RecordingTelemetry()  # ...and the engine's telemetry comes later
    await adapter.server_time()
    await adapter.server_time()
    assert telemetry.waits == []  # two tokens in the bucket: nothing to report

    await adapter.server_time()  # 2 per second: the next token comes after ~0.5 s

    [(name, seconds)] = telemetry.waits
    assert name == "coinbase-public"
    assert 0.3 < seconds < 1.5
    await adapter.disconnect()
