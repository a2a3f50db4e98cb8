"""Fixtures: a real nats-server per test (loopback port, file storage), stopped by pid."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
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
