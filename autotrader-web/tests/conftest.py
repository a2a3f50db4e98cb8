"""Shared fixtures: a real engine on the paper broker, the API in process, tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest
from autotrader_core.engine import ExecutionEngine
from autotrader_core.plugins import PluginManager
from autotrader_core.settings import EngineSettings
from autotrader_paper import PaperAdapter, PaperSettings
from autotrader_web import ControlPlane, WebSettings
from pydantic import SecretStr

CONTROL_TOKEN = "control-token-alice-0123456789"
READ_TOKEN = "read-token-wallboard-0123456789"
PRICE = Decimal("65000.00")


@pytest.fixture
def anyio_backend() -> str:
    """uvicorn and the page's server run on asyncio."""
    return "asyncio"


def web_settings(**overrides: object) -> WebSettings:
    """Loopback, a free port, one control token (alice) and one read token (wallboard)."""
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 0,
        "control_tokens": {"alice": SecretStr(CONTROL_TOKEN)},
        "read_tokens": {"wallboard": SecretStr(READ_TOKEN)},
        "heartbeat_seconds": 1.0,
        **overrides,
    }
    return WebSettings(**values)  # type: ignore[arg-type]


def paper_adapter() -> PaperAdapter:
    """The paper broker at a fixed price: market orders fill at once, far limits rest."""
    return PaperAdapter(PaperSettings(quote_source="static", static_price=PRICE, slippage_bps=Decimal(0)))


@dataclass
class Session:
    """A running engine with the control plane's app and a client for it."""

    engine: ExecutionEngine
    adapter: PaperAdapter
    plane: ControlPlane
    client: httpx.AsyncClient

    def headers(self, token: str = CONTROL_TOKEN) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


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
