"""Shared fixtures for the core's tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio (the loop ib_async and most users run)."""
    return "asyncio"
