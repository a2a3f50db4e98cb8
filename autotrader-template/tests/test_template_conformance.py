"""The shared conformance suite, replayed from ``recordings/`` (one file per scenario id).

Run on each transport a user can get, so the path users run is the path tested:
httpx's own (replayed by pytest-httpx) and the default lean transport (over a real
socket to the kit's loopback replay server).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

import pytest
from autotrader_conformance import AdapterConformance, Scenario
from autotrader_core.errors import BrokerUnavailable, ConfigurationError
from autotrader_template import TemplateAdapter, TemplateSettings
from pytest_httpx import HTTPXMock

RECORDINGS = Path(__file__).parent / "recordings"
SECRETS = ["test-key-0001", "test-secret-0001"]


def make_settings(
    scenario: Scenario, transport: Literal["httpx", "lean"], **extra: object
) -> TemplateSettings:
    """Test credentials, the scenario's loopback stream, short reconnect backoff."""
    return TemplateSettings(
        _env_file=None,  # type: ignore[call-arg]  # never read a developer's .env in tests
        api_key=SECRETS[0],  # type: ignore[arg-type]  # pydantic turns str into SecretStr
        api_secret=SECRETS[1],  # type: ignore[arg-type]
        # No recorded stream: a dead loopback port, so a stream never leaves the machine.
        ws_url=scenario.ws_url or "ws://127.0.0.1:9/no-stream-recorded",
        http_transport=transport,
        reconnect_backoff=0.01,
        **extra,  # type: ignore[arg-type]
    )


class TestTemplateConformance(AdapterConformance):
    """httpx's transport: the recordings are replayed by pytest-httpx."""

    recordings = RECORDINGS

    def make_adapter(self, scenario: Scenario) -> TemplateAdapter:
        """A fresh, unconnected adapter for ``scenario``."""
        return TemplateAdapter(make_settings(scenario, "httpx"))

    def secrets(self) -> list[str]:
        """The credentials ``make_adapter`` uses (TC-SEC-* check they never leak)."""
        return SECRETS


class TestTemplateConformanceLean(AdapterConformance):
    """The default transport (lean) against the kit's loopback HTTP replay server."""

    recordings = RECORDINGS
    http_transport: ClassVar[Literal["httpx", "loopback"]] = "loopback"

    def make_adapter(self, scenario: Scenario) -> TemplateAdapter:
        """A fresh adapter pointed at the loopback server (a replayed timeout is silence: keep it short)."""
        return TemplateAdapter(
            make_settings(scenario, "lean", base_url=scenario.base_url, request_timeout=0.5)
        )

    def secrets(self) -> list[str]:
        """The credentials ``make_adapter`` uses (TC-SEC-* check they never leak)."""
        return SECRETS


@pytest.mark.anyio
async def test_a_failed_connect_leaves_the_adapter_disconnected(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url="https://api.testnet.template.invalid/v1/time", status_code=503)
    settings = TemplateSettings(
        _env_file=None,  # type: ignore[call-arg]
        api_key=SECRETS[0],  # type: ignore[arg-type]
        api_secret=SECRETS[1],  # type: ignore[arg-type]
        http_transport="httpx",
    )
    adapter = TemplateAdapter(settings)
    with pytest.raises(BrokerUnavailable):
        await adapter.connect()
    assert not adapter.is_connected
    with pytest.raises(ConfigurationError, match="not connected"):
        await adapter.get_balances()
