"""Fixtures for the OANDA adapter's own tests (the conformance kit brings its own)."""

from __future__ import annotations

import pytest
from autotrader_oanda import OandaAdapter, OandaSettings
from oanda_helpers import make_settings


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _httpx_transport_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests replay through pytest-httpx, which sees only httpx's own transport.

    The default (``auto``) is the lean transport; tests of the other transports say
    ``http_transport=...`` explicitly (settings arguments win over the environment):
    ``test_oanda_transport.py`` and the loopback conformance classes in ``test_oanda_conformance.py``.
    """
    monkeypatch.setenv("AUTOTRADER_OANDA_HTTP_TRANSPORT", "httpx")


@pytest.fixture
def settings() -> OandaSettings:
    return make_settings()


@pytest.fixture
def adapter(settings: OandaSettings) -> OandaAdapter:
    return OandaAdapter(settings)
