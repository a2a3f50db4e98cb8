"""The adapter reports throttling waits and reconnects through ``adapter.telemetry``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import pytest
from autotrader_conformance.testing import RecordingTelemetry
from autotrader_core.events import OrderFilled
from autotrader_ibkr import IbkrAdapter
from ibkr_fake_tws import FakeTws, fake_tws
from ibkr_support import settings_for

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def observed(transcript: str) -> AsyncIterator[tuple[FakeTws, IbkrAdapter, RecordingTelemetry]]:
    async with fake_tws(transcript) as tws:
        adapter = IbkrAdapter(settings_for(tws))
        adapter.telemetry = telemetry = RecordingTelemetry()
        await adapter.connect()
        try:
            yield tws, adapter, telemetry
        finally:
            await adapter.disconnect()


async def wait_for(condition: Callable[[], object]) -> None:
    with anyio.fail_after(3):
        while not condition():
            await anyio.sleep(0.01)


async def test_a_dropped_socket_reports_one_reconnect() -> None:
    async with observed("connect") as (tws, adapter, telemetry):
        assert telemetry.reconnects == []  # the first connect is not a reconnect

        async def consume() -> None:
            async for _ in adapter.stream_events():
                pass

        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            tws.drop()  # TWS restarts
            await wait_for(lambda: telemetry.reconnects)
            await anyio.sleep(0.05)  # nothing more is reported
            tg.cancel_scope.cancel()
        assert adapter.is_connected
        assert tws.connections == 2
    assert telemetry.reconnects == ["connection lost: TWS socket closed"]


async def test_connectivity_restored_is_reported_as_a_reconnect() -> None:
    async with observed("connectivity_restored") as (_tws, _adapter, telemetry):
        await wait_for(lambda: telemetry.reconnects)  # 1100 then 1102, pushed after connecting
    assert telemetry.reconnects == ["TWS connectivity to IBKR restored (1102)"]


async def test_throttled_messages_report_their_wait() -> None:
    async with observed("connect") as (_tws, adapter, telemetry):
        client = adapter._session.ib.client  # type: ignore[union-attr]
        client.MaxRequests, client.RequestsInterval = 2, 0.2  # a tiny budget instead of 45/s
        await anyio.sleep(0.25)  # the startup sync's messages leave the window
        for _ in range(3):
            client.reqCurrentTime()  # the third one waits for the window to move
        await wait_for(lambda: telemetry.waits)
    [(name, seconds)] = telemetry.waits
    assert name == "ibkr-tws-messages"
    assert 0.1 < seconds < 1.0


async def test_326_on_reconnect_backs_off_and_is_reported_as_one_reconnect() -> None:
    """The stream retries 326 with the same id after a backoff (0.05 s, then 0.1 s) and reports once."""
    from ibkr_support import collect, fills, make_order

    async with observed("reconnect_client_id_in_use") as (tws, adapter, telemetry):
        await adapter.submit_order(make_order("at0cid01"))
        started = anyio.current_time()
        [fill] = fills(await collect(adapter, 1, OrderFilled, seconds=5))
        waited = anyio.current_time() - started
        assert tws.connections == 3  # dropped, refused with 326, then back
    assert fill.client_order_id == "at0cid01"
    assert waited >= 0.05 + 0.1  # reconnect_delay, doubled after the 326
    assert telemetry.reconnects == ["connection lost: TWS socket closed"]


async def test_disconnect_ends_a_running_stream_without_error() -> None:
    async with observed("connect") as (_tws, adapter, _telemetry):
        ended = anyio.Event()

        async def consume() -> None:
            async for _ in adapter.stream_events():
                pass
            ended.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await anyio.sleep(0.05)
            await adapter.disconnect()
            with anyio.fail_after(1):
                await ended.wait()
        assert not adapter.is_connected
