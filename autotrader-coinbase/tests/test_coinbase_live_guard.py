"""A sandbox configuration never reaches Coinbase's live hosts through a URL override."""

from __future__ import annotations

import pytest
from autotrader_coinbase import CoinbaseSettings
from pydantic import ValidationError

SECRET = "fake-ec-private-key-NEVER-ECHOED-0123456789"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENVIRONMENT", "BASE_URL", "WS_URL", "API_KEY_NAME", "API_PRIVATE_KEY", "PRODUCT_IDS"):
        monkeypatch.delenv(f"AUTOTRADER_COINBASE_{name}", raising=False)


@pytest.mark.parametrize(
    ("environment", "overrides", "refused_field"),
    [
        # live host + sandbox: refused
        ("sandbox", {"base_url": "https://api.coinbase.com"}, "base_url"),
        ("sandbox", {"base_url": "https://api.coinbase.com/api/v3/brokerage"}, "base_url"),
        ("sandbox", {"base_url": "https://Api.Coinbase.com:443"}, "base_url"),
        ("sandbox", {"ws_url": "wss://advanced-trade-ws-user.coinbase.com"}, "ws_url"),
        # live host + live: allowed
        (
            "live",
            {"base_url": "https://api.coinbase.com", "ws_url": "wss://advanced-trade-ws-user.coinbase.com"},
            None,
        ),
        # loopback / the sandbox host: allowed
        ("sandbox", {"base_url": "http://127.0.0.1:8080", "ws_url": "ws://127.0.0.1:8081"}, None),
        ("sandbox", {"base_url": "https://api-sandbox.coinbase.com"}, None),
    ],
)
def test_live_host_needs_live_environment(
    environment: str, overrides: dict[str, str], refused_field: str | None
) -> None:
    def build() -> CoinbaseSettings:
        return CoinbaseSettings(_env_file=None, environment=environment, **overrides)  # type: ignore[arg-type, call-arg]

    if refused_field is None:
        settings = build()
        assert settings.is_live == (environment == "live")
        return
    with pytest.raises(ValidationError, match=rf"{refused_field} points at Coinbase's live host") as caught:
        build()
    assert "environment='live'" in str(caught.value)


def test_secret_from_the_environment_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOTRADER_COINBASE_API_PRIVATE_KEY", f"-----BEGIN EC PRIVATE KEY-----{SECRET}")
    monkeypatch.setenv("AUTOTRADER_COINBASE_BASE_URL", "https://api.coinbase.com")
    with pytest.raises(ValidationError, match="live host") as caught:
        CoinbaseSettings(_env_file=None)  # type: ignore[call-arg]
    assert SECRET not in str(caught.value)


def test_malformed_value_from_the_environment_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOTRADER_COINBASE_API_PRIVATE_KEY", SECRET)
    monkeypatch.setenv("AUTOTRADER_COINBASE_ENVIRONMENT", f"live-{SECRET}")  # not an environment
    with pytest.raises(ValidationError, match="environment") as caught:
        CoinbaseSettings(_env_file=None)  # type: ignore[call-arg]
    assert SECRET not in str(caught.value)
