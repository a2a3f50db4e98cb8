"""Fixtures: a real nats-server per test (loopback port, file storage), stopped by pid."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from autotrader_nats import AccountGateway
from nats_gateway_main import make_gateway, serving
from nats_kit import NatsServer, running


@pytest.fixture
def anyio_backend() -> str:
    """nats-py runs on asyncio."""
    return "asyncio"


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """``nats-server -js`` with file storage under ``tmp_path``."""
    with running(tmp_path) as server:
        yield server


@pytest.fixture
async def gateway(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[AccountGateway]:
    """The fault tests' gateway (``nats_gateway_main.make_gateway``), run in this process until the test ends."""
    async with serving(make_gateway(nats_server.url, tmp_path / "data")) as gw:
        yield gw
