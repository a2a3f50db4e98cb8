"""Shared fixtures for the core's tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio (the loop ib_async and most users run)."""
    return "asyncio"


def pytest_configure(config: pytest.Config) -> None:
    """Register the kit's markers when its plugin is off (the core session measures coverage without it)."""
    if not config.pluginmanager.has_plugin("autotrader_conformance"):
        from autotrader_conformance.plugin import pytest_configure as register_kit_markers

        register_kit_markers(config)
