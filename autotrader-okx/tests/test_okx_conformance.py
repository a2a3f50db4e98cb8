"""The shared conformance suite against recorded OKX traffic (tests/recordings/<scenario id>.json).

Run once per transport users can get, so the path users run is the path we test:

* ``TestOkxConformanceLean``: the default (``http_transport="auto"`` → the core's lean
  HTTP/1.1 transport), over a real socket to the kit's loopback replay server;
* ``TestOkxConformance``: httpx's own transport (``auto`` behind a proxy), replayed by pytest-httpx;
* ``TestOkxConformanceAiohttp``: the optional aiohttp transport, over the loopback server.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

import pytest
from autotrader_conformance import AdapterConformance, Scenario
from autotrader_okx import OkxAdapter, OkxSettings
from okx_support import API_KEY, API_SECRET, PASSPHRASE
from pydantic import SecretStr

RECORDINGS = Path(__file__).parent / "recordings"
SKIPPED: dict[str, str] = {
    "TC-RES-04": "OKX documents no IP-ban reply (Binance's HTTP 418); its limits answer 50011/HTTP 429 "
    "(covered by TC-RES-01)",
}


def _settings(
    scenario: Scenario, transport: Literal["httpx", "aiohttp", "lean"], **extra: object
) -> OkxSettings:
    """A demo adapter's settings with fake credentials, its streams pointed at the kit's replay server."""
    if scenario.id == "TC-MD-04":  # a recorded silence: a short ping interval finds it in time
        extra = {"ping_interval": 0.3, "pong_timeout": 0.3, **extra}
    return OkxSettings(  # type: ignore[call-arg]
        api_key=SecretStr(API_KEY),
        api_secret=SecretStr(API_SECRET),
        passphrase=SecretStr(PASSPHRASE),
        environment="demo",
        ws_url=scenario.ws_url or "ws://127.0.0.1:9/unused",  # never the real host
        public_ws_url=scenario.ws_url or "ws://127.0.0.1:9/unused",
        reconnect_initial_delay=0.01,
        reconnect_max_delay=0.05,
        http_transport=transport,
        _env_file=None,
        **extra,  # type: ignore[arg-type]
    )


class TestOkxConformance(AdapterConformance):
    """Every catalogue scenario the OKX adapter's capabilities allow, httpx transport."""

    recordings = RECORDINGS
    skip_scenarios: ClassVar[dict[str, str]] = SKIPPED

    def make_adapter(self, scenario: Scenario) -> OkxAdapter:
        """A demo adapter with fake credentials, replayed by pytest-httpx."""
        return OkxAdapter(_settings(scenario, "httpx"))

    def secrets(self) -> list[str]:
        """The credentials ``make_adapter`` puts into the settings (TC-SEC-* check they never leak)."""
        return [API_KEY, API_SECRET, PASSPHRASE]


class TestOkxConformanceLean(AdapterConformance):
    """The same recordings through the default transport (lean) and a loopback replay server."""

    recordings = RECORDINGS
    skip_scenarios: ClassVar[dict[str, str]] = SKIPPED
    http_transport: ClassVar[Literal["httpx", "loopback"]] = "loopback"

    def make_adapter(self, scenario: Scenario) -> OkxAdapter:
        """A demo adapter on the lean transport, its REST host the replay server."""
        # A recorded timeout is replayed as silence: keep the client's timeout short.
        return OkxAdapter(_settings(scenario, "lean", base_url=scenario.base_url, request_timeout=0.5))

    def secrets(self) -> list[str]:
        """The credentials ``make_adapter`` puts into the settings (TC-SEC-* check they never leak)."""
        return [API_KEY, API_SECRET, PASSPHRASE]


class TestOkxConformanceAiohttp(AdapterConformance):
    """The same recordings through the aiohttp transport and a loopback replay server."""

    recordings = RECORDINGS
    skip_scenarios: ClassVar[dict[str, str]] = SKIPPED
    http_transport: ClassVar[Literal["httpx", "loopback"]] = "loopback"

    @pytest.fixture(autouse=True)
    def _needs_aiohttp(self) -> None:
        pytest.importorskip("aiohttp")

    def make_adapter(self, scenario: Scenario) -> OkxAdapter:
        """A demo adapter on the aiohttp transport, its REST host the replay server."""
        # A recorded timeout is replayed as silence: keep the client's timeout short.
        return OkxAdapter(_settings(scenario, "aiohttp", base_url=scenario.base_url, request_timeout=0.5))

    def secrets(self) -> list[str]:
        """The credentials ``make_adapter`` puts into the settings (TC-SEC-* check they never leak)."""
        return [API_KEY, API_SECRET, PASSPHRASE]
