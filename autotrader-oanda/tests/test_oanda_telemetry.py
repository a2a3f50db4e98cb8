"""The adapter reports rate-limit waits and stream reconnects through ``adapter.telemetry``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from typing import Any

import anyio
import pytest
from autotrader_conformance.testing import RecordingTelemetry
from autotrader_core.events import OrderEvent
from autotrader_oanda import OandaAdapter
from oanda_helpers import events_of, load, make_settings, replay
from oanda_line_server import LineServer
from pytest_httpx import HTTPXMock

pytestmark = [
    pytest.mark.anyio,
    # The stream goes to the loopback server for real; only the REST host is mocked.
    pytest.mark.httpx_mock(should_mock=lambda request: request.url.host != "127.0.0.1"),
]


@asynccontextmanager
async def observed_adapter(
    connections: list[list[dict[str, Any]]], **settings: Any
) -> AsyncIterator[tuple[OandaAdapter, RecordingTelemetry, LineServer]]:
    async with LineServer(connections) as server:
        values: dict[str, Any] = {"heartbeat_timeout": 2.0, "reconnect_initial_delay": 0.01}
        values.update(settings)
        adapter = OandaAdapter(make_settings(ws_url=server.url, **values))
        adapter.telemetry = telemetry = RecordingTelemetry()
        try:
            yield adapter, telemetry, server
        finally:
            await adapter.disconnect()


async def take(adapter: OandaAdapter, count: int) -> list[OrderEvent]:
    events: list[OrderEvent] = []
    async with aclosing(events_of(adapter)) as stream:
        with anyio.fail_after(5):
            while len(events) < count:
                events.append(await anext(stream))
    return events


@pytest.mark.parametrize(
    ("torn_line", "expected"),
    # A torn line is reported as a bad item and skipped; the cut that tore it is the reconnect reason.
    [(True, "stream read failed (RemoteProtocolError)"), (False, "stream read failed (RemoteProtocolError)")],
)
async def test_a_dropped_stream_reports_one_reconnect(
    httpx_mock: HTTPXMock, torn_line: bool, expected: str
) -> None:
    connections = replay(httpx_mock, "edge/stream-drop-mid-fill")["stream"]["connections"]
    if not torn_line:  # the recording cuts the connection in the middle of a line; here between two
        connections[0] = [
            step for step in connections[0] if not str(step.get("line", "")).endswith("2026-11-")
        ]
    async with observed_adapter(connections) as (adapter, telemetry, server):
        await take(adapter, 2)  # the accept from the first connection, the fill from the catch-up
        assert len(server.requests) == 2
    assert telemetry.reconnects == [expected]  # once, and not for the first connection
    assert [bad.what for bad in adapter.bad_items] == (["stream line"] if torn_line else [])


async def test_a_silent_stream_is_reported_as_such(httpx_mock: HTTPXMock) -> None:
    connections = replay(httpx_mock, "edge/stream-silent")["stream"]["connections"]
    async with observed_adapter(connections, heartbeat_timeout=0.3) as (adapter, telemetry, _server):
        await take(adapter, 2)
    assert telemetry.reconnects == ["no heartbeat for 0.3s (silent stream)"]


async def test_a_retry_after_on_the_first_connect_is_a_wait_not_a_reconnect(httpx_mock: HTTPXMock) -> None:
    replay(httpx_mock, "edge/stream-heartbeat-gap")
    refused = [{"respond": {"status": 429, "headers": {"Retry-After": "0.2"}, "text": ""}}]
    connections = [refused, *load("edge/stream-heartbeat-gap")["stream"]["connections"]]
    async with observed_adapter(connections) as (adapter, telemetry, server):
        await take(adapter, 2)
        assert len(server.requests) == 2
    [(name, seconds)] = telemetry.waits
    assert name == "oanda-stream-connections"
    assert seconds >= 0.2
    assert telemetry.reconnects == []  # the stream never worked before: not a reconnect


async def test_an_exhausted_rest_limiter_reports_its_wait(httpx_mock: HTTPXMock) -> None:
    summary = load("edge/stream-drop-mid-fill")["http"][0]
    httpx_mock.add_response(method="GET", url=summary["request"]["url"], json=summary["response"]["json"])
    adapter = OandaAdapter(make_settings(max_requests_per_second=5))  # its HTTP client exists now
    adapter.telemetry = telemetry = RecordingTelemetry()  # ...and the engine's telemetry comes later
    limiter = adapter._http.rate_limiter
    for _ in range(5):
        await limiter.acquire()
    try:
        await adapter.connect()  # GET /summary: 5 per second, the next token comes after ~0.2 s
    finally:
        await adapter.disconnect()
    [(name, seconds)] = telemetry.waits
    assert name == "oanda-rest"
    assert 0.1 < seconds < 1.0
