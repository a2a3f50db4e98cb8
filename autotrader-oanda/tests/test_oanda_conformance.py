"""The shared conformance suite (autotrader-conformance) against OANDA's recorded traffic.

Run once per transport users can get, so the path users run is the path we test:

* ``TestOandaConformanceLean``: the default (``http_transport="auto"`` → the core's
  lean HTTP/1.1 transport), over a real socket to the kit's loopback replay server;
* ``TestOandaConformance``: httpx's own transport (``auto`` behind a proxy), replayed by pytest-httpx;
* ``TestOandaConformanceAiohttp``: the optional aiohttp transport, over the loopback server.

The transaction stream runs on httpx in all three (the kit's line-stream replay server).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import pytest
from autotrader_conformance import AdapterConformance, Scenario
from autotrader_oanda import OandaAdapter, OandaSettings
from pydantic import SecretStr

# The same fake token TC-ERR-04 lists in input.secret_values (it must never show in an error).
FAKE_TOKEN = "00000000000000000000000000000000-fake0000000000000000000000000000"

SKIPPED = {
    "TC-RES-01": (
        "OANDA documents HTTP 429 without a Retry-After header (developer.oanda.com development guide "
        "and best practices); a recording carrying one would be invented. The 429 → RateLimited "
        "mapping and the retry after it are covered by tests/test_oanda_adapter.py (test_rate_limited*)"
    ),
    "TC-RES-04": "OANDA has no IP-ban reply (HTTP 418 is Binance's); its 429 is TC-RES-01's case",
}


def _settings(
    scenario: Scenario, transport: Literal["httpx", "aiohttp", "lean"], **extra: Any
) -> OandaSettings:
    return OandaSettings(  # type: ignore[call-arg]
        _env_file=None,
        token=SecretStr(FAKE_TOKEN),
        account_id="101-004-1435156-001",
        # Never the real stream host: an unrecorded stream must not leave the machine.
        ws_url=scenario.stream_url or "http://127.0.0.1:9/unused",
        # TC-MD-04 records a silence: a short timeout finds it within the scenario's time.
        heartbeat_timeout=0.3 if scenario.id == "TC-MD-04" else 2.0,
        reconnect_initial_delay=0.01,
        http_transport=transport,
        **extra,
    )


class TestOandaConformance(AdapterConformance):
    """Every scenario of the catalogue that OANDA's capabilities and documented behaviour allow (httpx)."""

    recordings = Path(__file__).parent / "recordings"
    skip_scenarios = SKIPPED

    def make_adapter(self, scenario: Scenario) -> OandaAdapter:
        return OandaAdapter(_settings(scenario, "httpx"))

    def secrets(self) -> list[str]:
        """The token ``make_adapter`` puts into the settings (TC-SEC-* check it never leaks)."""
        return [FAKE_TOKEN]


class TestOandaConformanceLean(AdapterConformance):
    """The same recordings through the default transport (lean) and a loopback replay server."""

    recordings = Path(__file__).parent / "recordings"
    skip_scenarios = SKIPPED
    http_transport: ClassVar[Literal["httpx", "loopback"]] = "loopback"

    def make_adapter(self, scenario: Scenario) -> OandaAdapter:
        # A recorded timeout is replayed as silence: keep the client's timeout short.
        return OandaAdapter(_settings(scenario, "lean", base_url=scenario.base_url, request_timeout=0.5))

    def secrets(self) -> list[str]:
        """The token ``make_adapter`` puts into the settings (TC-SEC-* check it never leaks)."""
        return [FAKE_TOKEN]


class TestOandaConformanceAiohttp(AdapterConformance):
    """The same recordings through the aiohttp transport and a loopback replay server."""

    recordings = Path(__file__).parent / "recordings"
    skip_scenarios = SKIPPED
    http_transport: ClassVar[Literal["httpx", "loopback"]] = "loopback"

    @pytest.fixture(autouse=True)
    def _needs_aiohttp(self) -> None:
        pytest.importorskip("aiohttp")

    def make_adapter(self, scenario: Scenario) -> OandaAdapter:
        # A recorded timeout is replayed as silence: keep the client's timeout short.
        return OandaAdapter(_settings(scenario, "aiohttp", base_url=scenario.base_url, request_timeout=0.5))

    def secrets(self) -> list[str]:
        """The token ``make_adapter`` puts into the settings (TC-SEC-* check it never leaks)."""
        return [FAKE_TOKEN]
