"""The shared conformance suite, replayed from ``tests/recordings/TC-*.json``.

Run once per transport users can get, so the path users run is the path we test:

* ``TestCoinbaseConformance``: httpx's own transport (``auto`` behind a proxy), replayed by pytest-httpx;
* ``TestCoinbaseConformanceLean``: the default (``http_transport="auto"`` → the core's
  lean HTTP/1.1 transport), over a real socket to the kit's loopback replay server;
* ``TestCoinbaseConformanceAiohttp``: the optional aiohttp transport, over the loopback server.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

import pytest
from autotrader_coinbase import CoinbaseAdapter, CoinbaseSettings
from autotrader_conformance import AdapterConformance, Scenario
from coinbase_payloads import KEY_NAME
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr

# A throwaway key made for this test run: recordings match the JWT as "<ANY>"
# (ES256 signatures are randomised); test_coinbase_auth.py verifies the tokens themselves.
_TEST_KEY_PEM = (
    ec.generate_private_key(ec.SECP256R1())
    .private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    .decode()
)


_SKIPS: Mapping[str, str] = {
    "TC-RES-01": (
        "Coinbase documents HTTP 429 but no Retry-After header (only x-ratelimit-*), so a recording with "
        "a Retry-After would be invented; 429 mapping is covered by test_coinbase_http.py"
    ),
    "TC-RES-04": "Coinbase has no IP-ban reply (HTTP 418 is Binance's)",
}


def _settings(
    scenario: Scenario, transport: Literal["httpx", "aiohttp", "lean"], **extra: Any
) -> CoinbaseSettings:
    """Live-environment settings (recorded URLs are api.coinbase.com) with a made-up key."""
    # TC-MD-04 records a silence: a short heartbeat timeout finds it within the scenario's time.
    extra.setdefault("heartbeat_timeout", 0.3 if scenario.id == "TC-MD-04" else 10.0)
    return CoinbaseSettings(
        _env_file=None,  # type: ignore[call-arg]
        environment="live",
        api_key_name=KEY_NAME,
        api_private_key=SecretStr(_TEST_KEY_PEM),
        ws_url=scenario.ws_url or "ws://127.0.0.1:9/unused",  # never the real host
        market_data_url=scenario.ws_url or "ws://127.0.0.1:9/unused",
        reconnect_initial_delay=0.01,
        reconnect_max_delay=0.05,
        fill_retry_interval=0.05,
        http_transport=transport,
        **extra,
    )


def _secrets() -> list[str]:
    return [_TEST_KEY_PEM, _TEST_KEY_PEM.splitlines()[1]]


class TestCoinbaseConformance(AdapterConformance):
    """Coinbase Advanced Trade against recorded traffic (protocols.md §3), httpx transport."""

    recordings = Path(__file__).parent / "recordings"
    skip_scenarios: ClassVar[Mapping[str, str]] = _SKIPS

    def make_adapter(self, scenario: Scenario) -> CoinbaseAdapter:
        """Live-environment settings with a made-up key, httpx's transport (pytest-httpx replays)."""
        return CoinbaseAdapter(_settings(scenario, "httpx"))

    def secrets(self) -> list[str]:
        """The private key ``make_adapter`` puts into the settings, whole and as its first base64 line."""
        return _secrets()


class TestCoinbaseConformanceLean(AdapterConformance):
    """The same recordings through the default transport (lean) and the kit's loopback replay server."""

    recordings = Path(__file__).parent / "recordings"
    skip_scenarios: ClassVar[Mapping[str, str]] = _SKIPS
    http_transport: ClassVar[Literal["httpx", "loopback"]] = "loopback"

    def make_adapter(self, scenario: Scenario) -> CoinbaseAdapter:
        """A recorded timeout is replayed as silence: keep the client's timeout short."""
        return CoinbaseAdapter(_settings(scenario, "lean", base_url=scenario.base_url, request_timeout=0.5))

    def secrets(self) -> list[str]:
        """The private key ``make_adapter`` puts into the settings, whole and as its first base64 line."""
        return _secrets()


class TestCoinbaseConformanceAiohttp(AdapterConformance):
    """The same recordings through the aiohttp transport and the kit's loopback replay server."""

    recordings = Path(__file__).parent / "recordings"
    skip_scenarios: ClassVar[Mapping[str, str]] = _SKIPS
    http_transport: ClassVar[Literal["httpx", "loopback"]] = "loopback"

    @pytest.fixture(autouse=True)
    def _needs_aiohttp(self) -> None:
        pytest.importorskip("aiohttp")

    def make_adapter(self, scenario: Scenario) -> CoinbaseAdapter:
        """A recorded timeout is replayed as silence: keep the client's timeout short."""
        return CoinbaseAdapter(
            _settings(scenario, "aiohttp", base_url=scenario.base_url, request_timeout=0.5)
        )

    def secrets(self) -> list[str]:
        """The private key ``make_adapter`` puts into the settings, whole and as its first base64 line."""
        return _secrets()
