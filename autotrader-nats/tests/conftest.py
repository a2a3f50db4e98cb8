"""Fixtures: a real nats-server per test (loopback port, file storage), stopped by pid."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest
from autotrader_nats import AccountGateway
from nats_gateway_main import make_gateway
from nats_kit import NatsServer


@pytest.fixture
def anyio_backend() -> str:
    """nats-py runs on asyncio."""
    return "asyncio"


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """``nats-server -js`` with file storage under ``tmp_path``."""
    store = tmp_path / "jetstream"
    store.mkdir()
    server = NatsServer(store)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def gateway(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[AccountGateway]:
    """The fault tests' gateway (``nats_gateway_main.make_gateway``), run in this process until the test ends."""
    gw = make_gateway(nats_server.url, tmp_path / "data")
    async with anyio.create_task_group() as tg:
        ready = anyio.Event()
        tg.start_soon(lambda: gw.run(ready=ready.set))
        with anyio.fail_after(20):
            await ready.wait()
        yield gw
        await gw.stop()
