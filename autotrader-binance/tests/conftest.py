"""Shared fixtures for the Binance adapter tests (no network: loopback and pytest-httpx only)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run anyio tests on asyncio only."""
    return "asyncio"


@pytest.fixture(autouse=True)
def _httpx_transport_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests replay through pytest-httpx, which sees only httpx's own transport.

    The default (``auto``) is the lean transport; tests of the other transports say
    ``http_transport=...`` explicitly (settings arguments win over the environment):
    ``test_binance_transport_wire.py`` and the loopback conformance classes in ``test_binance_conformance.py``.
    """
    monkeypatch.setenv("AUTOTRADER_BINANCE_HTTP_TRANSPORT", "httpx")
