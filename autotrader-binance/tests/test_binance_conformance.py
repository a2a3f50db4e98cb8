"""The shared conformance suite, replayed from ``recordings/`` (one file per scenario id).

Run once per transport users can get, so the path users run is the path we test:

* ``TestBinanceConformanceLean``: the default (``http_transport="auto"`` → the core's
  lean HTTP/1.1 transport), over a real socket to the kit's loopback replay server;
* ``TestBinanceConformance``: httpx's own transport (``auto`` behind a proxy), replayed by pytest-httpx;
* ``TestBinanceConformanceAiohttp``: the optional aiohttp transport, over the loopback server.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

import pytest
from autotrader_binance import BinanceAdapter, BinanceSettings
from autotrader_binance.stream import StreamConfig
from autotrader_conformance import AdapterConformance, Scenario
from pydantic import SecretStr

RECORDINGS = Path(__file__).parent / "recordings"


def _settings(
    scenario: Scenario, transport: Literal["httpx", "aiohttp", "lean"], **extra: object
) -> BinanceSettings:
    if scenario.id == "TC-MD-04":  # a recorded silence: a short silence limit finds it in time
        extra = {"market_data_silence": 0.3, **extra}
    return BinanceSettings(
        _env_file=None,  # type: ignore[call-arg]
        api_key=SecretStr("test-key"),
        api_secret=SecretStr("test-secret"),
        # No recorded stream: a dead loopback port, so a background stream never leaves the machine.
        ws_url=scenario.ws_url or "ws://127.0.0.1:9/no-stream-recorded",
        # The public market-data stream (TC-MD-*) replays on the same loopback server.
        market_data_url=scenario.ws_url or "ws://127.0.0.1:9/no-stream-recorded",
        http_transport=transport,
        **extra,  # type: ignore[arg-type]
    )


class TestBinanceConformance(AdapterConformance):
    """Binance Spot against recorded testnet-shaped traffic (protocols.md §1), httpx transport."""

    recordings = RECORDINGS

    def make_adapter(self, scenario: Scenario) -> BinanceAdapter:
        return BinanceAdapter(
            _settings(scenario, "httpx"), stream_config=StreamConfig(backoff_initial=0.01, backoff_max=0.05)
        )

    def secrets(self) -> list[str]:
        """The credentials ``make_adapter`` puts into the settings (TC-SEC-* check they never leak)."""
        return ["test-key", "test-secret"]


class TestBinanceConformanceLean(AdapterConformance):
    """The same recordings through the default transport (lean) and a loopback replay server."""

    recordings = RECORDINGS

    http_transport: ClassVar[Literal["httpx", "loopback"]] = "loopback"

    def make_adapter(self, scenario: Scenario) -> BinanceAdapter:
        # A recorded timeout is replayed as silence: keep the client's timeout short.
        settings = _settings(scenario, "lean", base_url=scenario.base_url, request_timeout=0.5)
        return BinanceAdapter(settings, stream_config=StreamConfig(backoff_initial=0.01, backoff_max=0.05))

    def secrets(self) -> list[str]:
        """The credentials ``make_adapter`` puts into the settings (TC-SEC-* check they never leak)."""
        return ["test-key", "test-secret"]


class TestBinanceConformanceAiohttp(AdapterConformance):
    """The same recordings through the aiohttp transport and a loopback replay server."""

    recordings = RECORDINGS

    http_transport: ClassVar[Literal["httpx", "loopback"]] = "loopback"

    @pytest.fixture(autouse=True)
    def _needs_aiohttp(self) -> None:
        pytest.importorskip("aiohttp")

    def make_adapter(self, scenario: Scenario) -> BinanceAdapter:
        # A recorded timeout is replayed as silence: keep the client's timeout short.
        settings = _settings(scenario, "aiohttp", base_url=scenario.base_url, request_timeout=0.5)
        return BinanceAdapter(settings, stream_config=StreamConfig(backoff_initial=0.01, backoff_max=0.05))

    def secrets(self) -> list[str]:
        """The credentials ``make_adapter`` puts into the settings (TC-SEC-* check they never leak)."""
        return ["test-key", "test-secret"]
