"""The one request path: JWT per request, environments, error mapping, rate-limit headers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from autotrader_coinbase import CoinbaseSettings
from autotrader_coinbase.http import CoinbaseHttp
from autotrader_core.errors import AuthenticationError, ConfigurationError, InvalidOrder, RateLimited
from coinbase_payloads import API, KEY_NAME, load
from cryptography.hazmat.primitives.asymmetric import ec
from pytest_httpx import HTTPXMock

pytestmark = pytest.mark.anyio


def _claims(request: httpx.Request, key: ec.EllipticCurvePrivateKey) -> tuple[dict[str, Any], dict[str, Any]]:
    scheme, token = request.headers["Authorization"].split(" ", 1)
    assert scheme == "Bearer"
    claims = jwt.decode(
        token, key.public_key(), algorithms=["ES256"], options={"verify_nbf": False, "verify_exp": False}
    )
    return jwt.get_unverified_header(token), claims


async def test_every_private_request_gets_its_own_jwt_for_its_own_uri(
    httpx_mock: HTTPXMock, live_settings: CoinbaseSettings, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    httpx_mock.add_response(url=f"{API}/accounts?limit=250", json=load("accounts"))
    httpx_mock.add_response(url=f"{API}/orders", method="POST", json=load("create_order_success"))
    http = CoinbaseHttp(live_settings)
    await http.private("GET", "/accounts", params={"limit": 250})
    await http.private("POST", "/orders", json_body={"client_order_id": "x"})
    first, second = httpx_mock.get_requests()
    h1, c1 = _claims(first, ec_key)
    h2, c2 = _claims(second, ec_key)
    assert c1["uri"] == "GET api.coinbase.com/api/v3/brokerage/accounts"  # no query string
    assert c2["uri"] == "POST api.coinbase.com/api/v3/brokerage/orders"
    assert c1["sub"] == c2["sub"] == KEY_NAME
    assert c1["iss"] == "cdp"
    assert c1["exp"] - c1["nbf"] == 120
    assert h1["kid"] == KEY_NAME
    assert h1["nonce"] != h2["nonce"]
    assert second.headers["Content-Type"] == "application/json"
    assert second.content == b'{"client_order_id":"x"}'
    await http.aclose()


async def test_jwt_times_come_from_the_broker_clock(
    httpx_mock: HTTPXMock, live_settings: CoinbaseSettings, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    # Server clock one hour ahead of ours: nbf must follow the server, or Coinbase says 401.
    import time

    server_ms = int(time.time() * 1000) + 3_600_000
    httpx_mock.add_response(
        url=f"{API}/time",
        json={"iso": "x", "epochSeconds": str(server_ms // 1000), "epochMillis": str(server_ms)},
        is_reusable=True,
    )
    httpx_mock.add_response(url=f"{API}/accounts", json=load("accounts"))
    http = CoinbaseHttp(live_settings)
    offset = await http.sync_clock(samples=2)
    assert 3_590_000 < offset < 3_610_000
    await http.private("GET", "/accounts")
    _, claims = _claims(httpx_mock.get_requests()[-1], ec_key)
    assert abs(claims["nbf"] - server_ms // 1000) <= 2
    time_request = httpx_mock.get_requests()[0]
    assert "Authorization" not in time_request.headers  # /time is public
    assert time_request.headers["Cache-Control"] == "no-cache"  # public endpoints are cached 1 s otherwise
    await http.aclose()


async def test_sandbox_sends_no_auth_and_uses_the_sandbox_host(
    httpx_mock: HTTPXMock, make_settings: Callable[..., CoinbaseSettings]
) -> None:
    settings = CoinbaseSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.environment == "sandbox"  # the default: live must be asked for
    httpx_mock.add_response(
        url="https://api-sandbox.coinbase.com/api/v3/brokerage/accounts", json=load("accounts")
    )
    http = CoinbaseHttp(settings)
    assert http.signer is None
    await http.private("GET", "/accounts")
    assert "Authorization" not in httpx_mock.get_requests()[0].headers
    await http.aclose()


def test_live_without_credentials_is_a_configuration_error() -> None:
    settings = CoinbaseSettings(_env_file=None, environment="live")  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="AUTOTRADER_COINBASE_API_PRIVATE_KEY"):
        CoinbaseHttp(settings)


def test_settings_never_show_the_private_key(live_settings: CoinbaseSettings, ec_pem: str) -> None:
    body_line = ec_pem.splitlines()[1]
    assert body_line not in repr(live_settings)
    assert body_line not in str(live_settings.model_dump())


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, ec_pem: str) -> None:
    monkeypatch.setenv("AUTOTRADER_COINBASE_ENVIRONMENT", "live")
    monkeypatch.setenv("AUTOTRADER_COINBASE_API_KEY_NAME", KEY_NAME)
    monkeypatch.setenv("AUTOTRADER_COINBASE_API_PRIVATE_KEY", ec_pem.replace("\n", "\\n"))
    monkeypatch.setenv("AUTOTRADER_COINBASE_PRODUCT_IDS", '["BTC-USD","ETH-USD"]')
    settings = CoinbaseSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.is_live
    assert settings.product_ids == ("BTC-USD", "ETH-USD")
    assert CoinbaseHttp(settings).signer is not None


async def test_401_plain_text_unauthorized(
    httpx_mock: HTTPXMock, live_settings: CoinbaseSettings, ec_pem: str
) -> None:
    httpx_mock.add_response(url=f"{API}/accounts", status_code=401, text="Unauthorized")
    http = CoinbaseHttp(live_settings)
    with pytest.raises(AuthenticationError) as info:
        await http.private("GET", "/accounts")
    assert not info.value.retryable
    token = httpx_mock.get_requests()[0].headers["Authorization"].split()[1]
    for secret in (token, ec_pem.splitlines()[1]):
        assert secret not in str(info.value)
        assert secret not in repr(info.value)
    await http.aclose()


async def test_429_blocks_the_limiter_for_retry_after(
    httpx_mock: HTTPXMock, live_settings: CoinbaseSettings
) -> None:
    httpx_mock.add_response(url=f"{API}/accounts", status_code=429, headers={"Retry-After": "3"}, text="")
    http = CoinbaseHttp(live_settings)
    with pytest.raises(RateLimited) as info:
        await http.private("GET", "/accounts")
    assert info.value.retry_after == 3.0
    assert info.value.retryable
    assert 2.5 < http.private_limiter.blocked_for <= 3.0
    await http.aclose()


async def test_400_invalid_argument(httpx_mock: HTTPXMock, live_settings: CoinbaseSettings) -> None:
    httpx_mock.add_response(
        url=f"{API}/orders",
        method="POST",
        status_code=400,
        json={
            "error": "INVALID_ARGUMENT",
            "error_details": "invalid product_id",
            "message": "invalid product_id",
        },
    )
    http = CoinbaseHttp(live_settings)
    with pytest.raises(InvalidOrder) as info:
        await http.private("POST", "/orders", json_body={})
    assert info.value.code == "INVALID_ARGUMENT"
    assert info.value.broker_message == "invalid product_id"
    await http.aclose()


async def test_rate_limit_headers_drain_the_bucket(
    httpx_mock: HTTPXMock, live_settings: CoinbaseSettings
) -> None:
    httpx_mock.add_response(
        url=f"{API}/accounts",
        json=load("accounts"),
        headers={"x-ratelimit-limit": "30", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1"},
    )
    http = CoinbaseHttp(live_settings)
    await http.private("GET", "/accounts")
    assert http.private_limiter.available < 1  # Coinbase says the budget is spent: next caller waits
    await http.aclose()


async def test_sandbox_scenario_header_forces_a_canned_error(httpx_mock: HTTPXMock) -> None:
    # protocols.md §3.1: X-Sandbox: PostOrder_insufficient_fund makes the mock answer INSUFFICIENT_FUND
    settings = CoinbaseSettings(_env_file=None, sandbox_scenario="PostOrder_insufficient_fund")  # type: ignore[call-arg]
    httpx_mock.add_response(
        url="https://api-sandbox.coinbase.com/api/v3/brokerage/orders",
        method="POST",
        match_headers={"X-Sandbox": "PostOrder_insufficient_fund"},
        json=load("create_order_insufficient_fund"),
    )
    http = CoinbaseHttp(settings)
    reply = await http.private("POST", "/orders", json_body={})
    assert reply["error_response"]["error"] == "INSUFFICIENT_FUND"
    await http.aclose()
