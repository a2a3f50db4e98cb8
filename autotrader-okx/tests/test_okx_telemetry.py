"""The adapter reports rate-limit waits and stream reconnects through ``adapter.telemetry``."""

from __future__ import annotations

import re

import anyio
import okx_support as doc
import pytest
from autotrader_conformance.testing import RecordingTelemetry
from autotrader_core.events import OrderEvent, OrderFilled
from autotrader_okx import OkxAdapter, OkxSettings
from autotrader_okx.http import Paths
from okx_support import API_KEY, API_SECRET, PASSPHRASE, REST
from okx_ws_server import Session, okx_ws_server
from pydantic import SecretStr
from pytest_httpx import HTTPXMock

pytestmark = pytest.mark.anyio


def stream_adapter(url: str) -> OkxAdapter:
    return OkxAdapter(
        OkxSettings(  # type: ignore[call-arg]
            api_key=SecretStr(API_KEY),
            api_secret=SecretStr(API_SECRET),
            passphrase=SecretStr(PASSPHRASE),
            ws_url=url,
            reconnect_initial_delay=0.01,
            reconnect_max_delay=0.05,
            _env_file=None,
        )
    )


async def first_event(adapter: OkxAdapter) -> OrderEvent:
    with anyio.fail_after(5):
        async for event in adapter.stream_events():
            return event
    raise AssertionError("the stream ended without an event")


async def healthy(session: Session) -> None:
    await session.accept_login()
    await session.accept_subscribe()
    await session.send(doc.ORDERS_PUSH_FILLED)
    await session.hold()


async def test_a_dropped_stream_reports_one_reconnect(httpx_mock: HTTPXMock) -> None:
    # the catch-up query after the reconnect: no fill happened in the gap
    httpx_mock.add_response(
        url=re.compile(rf"{REST}/api/v5/trade/fills\?.*"), json={"code": "0", "msg": "", "data": []}
    )

    async def dropped(session: Session) -> None:
        await session.accept_login()
        await session.accept_subscribe()
        await session.ws.close()

    async with okx_ws_server([dropped, healthy]) as (url, sessions):
        adapter = stream_adapter(url)
        adapter.telemetry = telemetry = RecordingTelemetry()
        event = await first_event(adapter)
        await adapter.disconnect()
        assert len(sessions) == 2
    assert isinstance(event, OrderFilled)
    [reason] = telemetry.reconnects  # the first connection is not a reconnect
    assert reason.startswith("connection lost: ConnectionClosed")


async def test_maintenance_notice_is_the_reported_reason() -> None:
    async def notice(session: Session) -> None:
        await session.accept_login()
        await session.recv()  # subscribe, left unacknowledged: no gap to catch up
        await session.send(
            {"event": "notice", "code": "64008", "msg": "service upgrade", "connId": "a4d3ae55"}
        )
        await session.hold()

    async with okx_ws_server([notice, healthy]) as (url, _sessions):
        adapter = stream_adapter(url)
        adapter.telemetry = telemetry = RecordingTelemetry()
        await first_event(adapter)
        await adapter.disconnect()
    assert telemetry.reconnects == ["maintenance notice (64008)"]


async def test_no_reconnect_is_reported_for_a_healthy_stream() -> None:
    async with okx_ws_server([healthy]) as (url, _sessions):
        adapter = stream_adapter(url)
        adapter.telemetry = telemetry = RecordingTelemetry()
        await first_event(adapter)
        await adapter.disconnect()
    assert telemetry.reconnects == []


async def test_an_exhausted_limiter_reports_its_wait(adapter: OkxAdapter, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=f"{REST}{Paths.TIME}", text=doc.TIME)
    limiter = adapter.http.limiter_for("GET", Paths.TIME)  # the client exists before the engine's telemetry
    adapter.telemetry = telemetry = RecordingTelemetry()
    for _ in range(int(limiter.capacity)):
        await limiter.acquire()
    assert telemetry.waits == []  # tokens were there: nothing to report

    await adapter.http.server_time_ms()  # 10 requests per 2 s: the next token comes after ~0.2 s

    [(name, seconds)] = telemetry.waits
    assert name == "okx GET /api/v5/public/time"
    assert 0.1 < seconds < 1.0


async def test_a_missing_pong_is_reported_as_heartbeat_timeout_no_pong(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=re.compile(rf"{REST}/api/v5/trade/fills\?.*"), json={"code": "0", "msg": "", "data": []}
    )

    async def mute(session: Session) -> None:
        await session.accept_login()
        await session.accept_subscribe()
        assert await session.recv() == "ping"
        await session.hold()  # never answers

    async with okx_ws_server([mute, healthy]) as (url, _sessions):
        adapter = OkxAdapter(
            stream_adapter(url).settings.model_copy(update={"ping_interval": 0.1, "pong_timeout": 0.2})
        )
        adapter.telemetry = telemetry = RecordingTelemetry()
        await first_event(adapter)
        await adapter.disconnect()
    assert telemetry.reconnects == ["heartbeat timeout (no pong)"]
