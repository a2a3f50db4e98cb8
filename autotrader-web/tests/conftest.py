"""Shared fixtures: a real engine on the paper broker, the API in process, tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from autotrader_core.engine import ExecutionEngine
from autotrader_core.plugins import PluginManager
from autotrader_core.settings import EngineSettings
from autotrader_web import ControlPlane
from web_support import Session, paper_adapter, web_settings


@pytest.fixture
def anyio_backend() -> str:
    """uvicorn and the page's server run on asyncio."""
    return "asyncio"


@pytest.fixture
async def session() -> AsyncIterator[Session]:
    """A started paper engine (no strategy: the test places orders) and an in-process API client."""
    adapter = paper_adapter()
    plugins = PluginManager(disabled=set())
    engine = ExecutionEngine(
        adapter, plugins=plugins, settings=EngineSettings(decision_interval=0.05, order_timeout=5)
    )
    plane = ControlPlane(engine.control, web_settings(), plugins=plugins)
    transport = httpx.ASGITransport(app=plane.app, raise_app_exceptions=False)
    async with engine, httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Session(engine, adapter, plane, client)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop running on the main
    thread for the rest of the session, where anyio's tests could no longer start theirs."""
    items.sort(key=lambda item: item.path.name == "test_browser.py")
