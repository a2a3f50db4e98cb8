"""The loopback chunked JSON-lines replay (OANDA-style transaction stream)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from autotrader_conformance._monitor import ReplayMonitor
from autotrader_conformance.line_stream_replay import LineStreamReplayServer
from autotrader_conformance.recordings import StreamScript

pytestmark = pytest.mark.anyio
PATH = "/v3/accounts/101-004-1435156-001/transactions/stream"
HEARTBEAT = {"type": "HEARTBEAT", "lastTransactionID": "2311", "time": "2016-10-28T11:56:12.002855862Z"}


def _script(*connections: list[dict[str, Any]]) -> StreamScript:
    return StreamScript("lines", tuple(tuple(c) for c in connections))


async def _read_lines(client: httpx.AsyncClient, url: str, lines: list[str]) -> None:
    async with client.stream("GET", url, headers={"Authorization": "Bearer t"}) as reply:
        assert reply.status_code == 200
        async for line in reply.aiter_lines():
            lines.append(line)


async def test_lines_then_drop_then_reconnect() -> None:
    monitor = ReplayMonitor()
    script = _script(
        [
            {"request": {"method": "GET", "path": PATH, "headers": {"Authorization": "<ANY>"}}},
            {"line": HEARTBEAT},
            {"line": {"type": "ORDER_FILL", "units": "100", "price": "1.10"}},
            {"drop": True},
        ],
        [{"line": HEARTBEAT}, {"end": True}],
    )
    async with LineStreamReplayServer(script, monitor) as server, httpx.AsyncClient() as client:
        lines: list[str] = []
        with pytest.raises(httpx.RemoteProtocolError):
            await _read_lines(client, server.url + PATH, lines)
        assert [json.loads(line)["type"] for line in lines] == ["HEARTBEAT", "ORDER_FILL"]
        assert '"price":"1.10"' in lines[1]
        async with client.stream("GET", server.url + PATH) as reply:
            assert [json.loads(line)["type"] async for line in reply.aiter_lines()] == ["HEARTBEAT"]
        assert server.connections_opened == 2
        assert server.requests[0]["path"] == PATH
    assert monitor.failures == []
    assert server.unfinished() == []


async def test_plain_response_for_refusals() -> None:
    monitor = ReplayMonitor()
    script = _script([{"respond": {"status": 401, "json": {"errorMessage": "Insufficient authorization"}}}])
    async with LineStreamReplayServer(script, monitor) as server, httpx.AsyncClient() as client:
        reply = await client.get(server.url + PATH)
    assert reply.status_code == 401
    assert reply.json() == {"errorMessage": "Insufficient authorization"}


async def test_request_mismatch_fails() -> None:
    monitor = ReplayMonitor()
    script = _script(
        [{"request": {"path": PATH, "headers": {"Authorization": "<ANY>"}}}, {"line": HEARTBEAT}]
    )
    async with LineStreamReplayServer(script, monitor) as server, httpx.AsyncClient() as client:
        with pytest.raises(httpx.HTTPError):
            await client.get(server.url + "/v3/wrong")
    failure = monitor.failures[0]
    assert "path: expected" in failure
    assert "header 'Authorization': missing" in failure
