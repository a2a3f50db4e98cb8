"""The loopback WebSocket replay: expectations, replies, echo, heartbeats, drops, unfinished scripts."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from autotrader_conformance._monitor import ReplayMonitor
from autotrader_conformance.recordings import StreamScript
from autotrader_conformance.ws_replay import WsReplayServer
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError

pytestmark = pytest.mark.anyio


def _script(*connections: list[dict[str, Any]], auto_reply: dict[str, str] | None = None) -> StreamScript:
    return StreamScript("websocket", tuple(tuple(c) for c in connections), auto_reply or {})


async def test_expect_reply_echo_and_push() -> None:
    monitor = ReplayMonitor()
    script = _script(
        [
            {
                "expect": {"method": "subscribe", "params": {"key": "<ANY>"}},
                "reply": [{"id": "<ECHO:id>", "result": {"n": 0}}],
            },
            {"push": {"e": "fill", "price": "1.10"}},
            {"push": "raw-text"},
        ]
    )
    async with WsReplayServer(script, monitor) as server, connect(server.url + "/ws-api/v3") as ws:
        await ws.send(json.dumps({"id": "abc", "method": "subscribe", "params": {"key": "k", "x": 1}}))
        assert json.loads(await ws.recv()) == {"id": "abc", "result": {"n": 0}}
        assert await ws.recv() == '{"e":"fill","price":"1.10"}'
        assert await ws.recv() == "raw-text"
    assert monitor.failures == []
    assert server.unfinished() == []
    assert server.paths == ["/ws-api/v3"]
    assert json.loads(server.received[0][0])["method"] == "subscribe"


async def test_mismatch_fails_with_a_diff_and_closes() -> None:
    monitor = ReplayMonitor()
    async with (
        WsReplayServer(_script([{"expect": {"op": "login"}}]), monitor) as server,
        connect(server.url) as ws,
    ):
        await ws.send(json.dumps({"op": "subscribe"}))
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    (failure,) = monitor.failures
    assert "websocket connection #1, step 0" in failure
    assert "$.op: expected 'login', was 'subscribe'" in failure
    assert "--- recorded (expected)" in failure


async def test_literal_frames_and_auto_reply() -> None:
    monitor = ReplayMonitor()
    script = _script([{"expect": "hello"}, {"push": "welcome"}], auto_reply={"ping": "pong"})
    async with WsReplayServer(script, monitor) as server, connect(server.url) as ws:
        await ws.send("ping")
        assert await ws.recv() == "pong"
        await ws.send("hello")
        assert await ws.recv() == "welcome"
        await ws.send("ping")  # after the script, heartbeats are still answered
        assert await ws.recv() == "pong"
    assert monitor.failures == []


async def test_drop_aborts_and_the_next_connection_plays_the_next_script() -> None:
    monitor = ReplayMonitor()
    script = _script([{"push": "one"}, {"drop": True}], [{"push": "two"}])
    async with WsReplayServer(script, monitor) as server:
        async with connect(server.url) as ws:
            assert await ws.recv() == "one"
            with pytest.raises(ConnectionClosedError) as caught:
                await ws.recv()
            assert caught.value.rcvd is None  # no close frame: an abrupt drop
        async with connect(server.url) as ws:
            assert await ws.recv() == "two"
        assert server.connections_opened == 2
    assert server.unfinished() == []


async def test_an_extra_connection_fails() -> None:
    monitor = ReplayMonitor()
    async with WsReplayServer(_script([{"push": "x"}]), monitor) as server:
        async with connect(server.url) as ws:
            await ws.recv()
        async with connect(server.url) as ws:
            with pytest.raises(ConnectionClosed):
                await ws.recv()
    assert "connection #2 but the recording has only 1" in monitor.failures[0]


async def test_after_http_waits_for_the_labelled_exchange() -> None:
    monitor = ReplayMonitor()
    script = _script([{"after_http": "submit"}, {"push": "fill"}])
    async with WsReplayServer(script, monitor) as server, connect(server.url) as ws:
        with anyio.move_on_after(0.1) as early:
            await ws.recv()
        assert early.cancelled_caught, "the push must wait for the submit"
        monitor.served("submit")
        assert await ws.recv() == "fill"


async def test_unfinished_scripts_are_reported_with_the_waiting_step() -> None:
    monitor = ReplayMonitor()
    async with WsReplayServer(_script([{"expect": {"op": "login"}}], [{"push": "x"}]), monitor) as server:
        async with connect(server.url):
            await anyio.sleep(0.05)
        problems = server.unfinished()
    assert any("connection #1 stopped at step 0" in p and '"op": "login"' in p for p in problems)
    assert any("connection #2 was never opened" in p for p in problems)
    assert "1 connection(s) opened" in server.status()


async def test_a_bad_echo_is_reported() -> None:
    monitor = ReplayMonitor()
    script = _script([{"expect": {"op": "x"}, "reply": [{"id": "<ECHO:id>"}]}])
    async with WsReplayServer(script, monitor) as server, connect(server.url) as ws:
        await ws.send('{"op": "x"}')
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert "has no 'id' to echo" in monitor.failures[0]
