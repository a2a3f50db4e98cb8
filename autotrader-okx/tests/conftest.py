"""Shared fixtures for the OKX adapter tests (no network: pytest-httpx and loopback servers only)."""

from __future__ import annotations

import pytest
from autotrader_okx import OkxAdapter, OkxSettings
from okx_support import API_KEY, API_SECRET, PASSPHRASE
from pydantic import SecretStr


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio only."""
    return "asyncio"


@pytest.fixture
def settings() -> OkxSettings:
    """Demo settings with fake credentials; explicit values, so no environment leaks in."""
    return OkxSettings(  # type: ignore[call-arg]
        api_key=SecretStr(API_KEY),
        api_secret=SecretStr(API_SECRET),
        passphrase=SecretStr(PASSPHRASE),
        environment="demo",
        region="global",
        _env_file=None,
    )


@pytest.fixture
def adapter(settings: OkxSettings) -> OkxAdapter:
    """An adapter on the demo environment (not connected: tests call what they need)."""
    return OkxAdapter(settings)


@pytest.fixture(autouse=True)
def _httpx_transport_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests replay through pytest-httpx, which sees only httpx's own transport.

    The default (``auto``) is the lean transport; tests of the other transports say
    ``http_transport=...`` explicitly (settings arguments win over the environment):
    the loopback conformance classes in ``test_okx_conformance.py``.
    """
    monkeypatch.setenv("AUTOTRADER_OKX_HTTP_TRANSPORT", "httpx")
