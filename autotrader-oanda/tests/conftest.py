"""Fixtures for the OANDA adapter's own tests (the conformance kit brings its own)."""

from __future__ import annotations

import pytest
from autotrader_oanda import OandaAdapter, OandaSettings
from oanda_helpers import make_settings


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings() -> OandaSettings:
    return make_settings()


@pytest.fixture
def adapter(settings: OandaSettings) -> OandaAdapter:
    return OandaAdapter(settings)
