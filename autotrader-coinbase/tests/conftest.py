"""Shared fixtures: a throwaway EC key made per test session, settings and adapters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from autotrader_coinbase import CoinbaseAdapter, CoinbaseSettings
from coinbase_payloads import KEY_NAME
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr
from pytest_httpx import HTTPXMock


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    """Generated here, never a real key."""
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def ec_pem(ec_key: ec.EllipticCurvePrivateKey) -> str:
    return ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture
def make_settings(ec_pem: str) -> Callable[..., CoinbaseSettings]:
    def make(**overrides: Any) -> CoinbaseSettings:
        values: dict[str, Any] = {
            "environment": "live",
            "api_key_name": KEY_NAME,
            "api_private_key": SecretStr(ec_pem),
            "reconnect_initial_delay": 0.01,
            "reconnect_max_delay": 0.05,
            "heartbeat_timeout": 2.0,
        }
        values.update(overrides)
        return CoinbaseSettings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture
def live_settings(make_settings: Callable[..., CoinbaseSettings]) -> CoinbaseSettings:
    return make_settings()


@pytest.fixture
async def adapter(live_settings: CoinbaseSettings) -> Any:
    """A live-environment adapter (requests are intercepted by pytest-httpx; nothing leaves)."""
    instance = CoinbaseAdapter(live_settings)
    yield instance
    await instance.disconnect()


@pytest.fixture(autouse=True)
def _no_network(httpx_mock: HTTPXMock) -> HTTPXMock:
    """Every test runs with pytest-httpx active: an unregistered request fails, nothing leaves."""
    return httpx_mock


@pytest.fixture(autouse=True)
def _httpx_transport_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests replay through pytest-httpx, which sees only httpx's own transport.

    The default (``auto``) is the lean transport; tests of the other transports say
    ``http_transport=...`` explicitly (settings arguments win over the environment):
    the loopback conformance classes in ``test_coinbase_conformance.py``.
    """
    monkeypatch.setenv("AUTOTRADER_COINBASE_HTTP_TRANSPORT", "httpx")
