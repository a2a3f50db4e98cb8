"""Fixtures: the anyio backend and adapters wired to the loopback fake TWS."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from autotrader_ibkr import IbkrAdapter
from ibkr_fake_tws import FakeTws, fake_tws
from ibkr_support import Session, settings_for


@pytest.fixture
def anyio_backend() -> str:
    """ib_async is asyncio-only."""
    return "asyncio"


@pytest.fixture
def session() -> Session:
    """``async with session("transcript") as (tws, adapter)``: a connected adapter on a fake TWS."""

    @asynccontextmanager
    async def open_session(name: str, **overrides: object) -> AsyncIterator[tuple[FakeTws, IbkrAdapter]]:
        async with fake_tws(name) as tws:
            adapter = IbkrAdapter(settings_for(tws, **overrides))
            await adapter.connect()
            try:
                yield tws, adapter
            finally:
                await adapter.disconnect()

    return open_session
