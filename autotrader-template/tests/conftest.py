"""Fixtures for the template adapter's tests (no network: pytest-httpx and loopback only)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run anyio tests on asyncio (the lean and aiohttp transports are asyncio only)."""
    return "asyncio"
