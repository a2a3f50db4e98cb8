"""The live stream over a real uvicorn server on 127.0.0.1, on the engine's own event loop."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal as D
from typing import Any

import anyio
import httpx
import pytest
from autotrader_core.engine import ExecutionEngine
from autotrader_core.plugins import PluginManager
from autotrader_core.settings import EngineSettings
from autotrader_web import ControlPlane
from web_support import CONTROL_TOKEN, READ_TOKEN, paper_adapter, web_settings

pytestmark = pytest.mark.anyio


async def states(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """Parse ``event: state`` messages from a server-sent event stream."""
    event, data = "", []
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "":
            if event == "state" and data:
                yield json.loads("\n".join(data))
            event, data = "", []


async def test_a_fill_is_pushed_to_the_stream_at_once() -> None:
    adapter = paper_adapter()
    plugins = PluginManager(disabled=set())
    engine = ExecutionEngine(adapter, plugins=plugins, settings=EngineSettings(order_timeout=5))
    plane = ControlPlane(engine.control, web_settings(), plugins=plugins)
    async with engine, anyio.create_task_group() as tg:
        url = await tg.start(plane.serve)
        assert url.startswith("http://127.0.0.1:")
        headers = {"Authorization": f"Bearer {READ_TOKEN}"}
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            refused = await client.get("/api/events")
            assert refused.status_code == 401
            async with client.stream("GET", "/api/events", headers=headers) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                stream = states(response)
                first = await anext(stream)
                assert first["fills"] == [] and first["you"]["role"] == "read"
                sent = time.monotonic()
                order = await engine.submit_order("BTCUSDT", "buy", D("0.01"))
                with anyio.fail_after(5):
                    async for state in stream:
                        if state["fills"]:
                            break
                delay = time.monotonic() - sent
                print(f"fill to stream: {delay * 1000:.1f} ms")
                assert state["fills"][0]["client_order_id"] == order.client_order_id
                assert state["fills"][0]["quantity"] == "0.01"
            # A control action through the real server, on the same loop as the engine.
            halted = await client.post(
                "/api/actions/halt",
                json={"reason": "x"},
                headers={"Authorization": f"Bearer {CONTROL_TOKEN}"},
            )
            assert halted.json()["trading_state"] == "halted"
        plane.stop()
        with anyio.fail_after(5):
            await plane.stopped.wait()


async def test_a_burst_of_fills_is_coalesced_not_a_snapshot_storm() -> None:
    plugins = PluginManager(disabled=set())
    engine = ExecutionEngine(paper_adapter(), plugins=plugins, settings=EngineSettings(order_timeout=5))
    plane = ControlPlane(engine.control, web_settings(), plugins=plugins)
    async with engine, anyio.create_task_group() as tg:
        url = await tg.start(plane.serve)
        received: list[dict[str, Any]] = []

        async def read() -> None:
            async with (
                httpx.AsyncClient(base_url=url, timeout=10) as client,
                client.stream(
                    "GET", "/api/events", headers={"Authorization": f"Bearer {READ_TOKEN}"}
                ) as response,
            ):
                async for state in states(response):
                    received.append(state)

        tg.start_soon(read)
        with anyio.fail_after(5):
            while not received:
                await anyio.sleep(0.01)
        started = time.monotonic()
        for _ in range(60):
            await engine.submit_order("BTCUSDT", "buy", D("0.001"))
        burst = time.monotonic() - started
        with anyio.fail_after(5):
            while received[-1]["status"]["fills_total"] < 60:
                await anyio.sleep(0.01)
        pushed = len(received) - 1
        print(f"60 fills in {burst * 1000:.0f} ms -> {pushed} snapshots pushed")
        # Each fill fires several hooks; the stream sends at most one snapshot per 50 ms window.
        assert pushed <= burst / 0.05 + 3
        assert received[-1]["status"]["fills_total"] == 60
        plane.stop()


async def test_an_open_stream_ends_when_the_server_stops() -> None:
    plugins = PluginManager(disabled=set())
    engine = ExecutionEngine(paper_adapter(), plugins=plugins)
    plane = ControlPlane(engine.control, web_settings(), plugins=plugins)
    async with engine, anyio.create_task_group() as tg:
        url = await tg.start(plane.serve)
        async with (
            httpx.AsyncClient(base_url=url, timeout=10) as client,
            client.stream(
                "GET", "/api/events", headers={"Authorization": f"Bearer {READ_TOKEN}"}
            ) as response,
        ):
            stream = states(response)
            await anext(stream)
            plane.stop()
            with anyio.fail_after(5):
                async for _ in stream:
                    pass
        with anyio.fail_after(5):
            await plane.stopped.wait()


async def test_serving_without_tokens_warns_that_everything_is_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = ExecutionEngine(paper_adapter(), plugins=PluginManager(disabled=set()))
    plane = ControlPlane(engine.control, web_settings(read_tokens={}, control_tokens={}))
    async with engine, anyio.create_task_group() as tg:
        url = await tg.start(plane.serve)
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/api/status")).status_code == 401
        plane.stop()
    assert "every API request will be refused" in caplog.text
