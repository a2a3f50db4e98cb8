"""Shared fixtures for the Binance adapter tests (no network: loopback and pytest-httpx only)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run anyio tests on asyncio only."""
    return "asyncio"
