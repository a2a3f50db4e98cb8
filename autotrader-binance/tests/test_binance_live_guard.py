"""A non-live environment never reaches Binance's live hosts through a URL override."""

from __future__ import annotations

import pytest
from autotrader_binance import BinanceSettings
from pydantic import ValidationError

SECRET = "fake-hmac-secret-NEVER-ECHOED-0123456789"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENVIRONMENT", "BASE_URL", "WS_URL", "API_KEY", "API_SECRET", "PRIVATE_KEY"):
        monkeypatch.delenv(f"AUTOTRADER_BINANCE_{name}", raising=False)


@pytest.mark.parametrize(
    ("environment", "overrides", "refused_field"),
    [
        # live host + non-live environment: refused
        ("testnet", {"base_url": "https://api.binance.com"}, "base_url"),
        ("demo", {"base_url": "https://API.Binance.com./"}, "base_url"),
        ("testnet", {"base_url": "https://api-gcp.binance.com"}, "base_url"),
        ("testnet", {"base_url": "https://api3.binance.com"}, "base_url"),
        ("testnet", {"ws_url": "wss://ws-api.binance.com:9443/ws-api/v3"}, "ws_url"),
        # live host + live environment: allowed
        (
            "live",
            {"base_url": "https://api.binance.com", "ws_url": "wss://ws-api.binance.com/ws-api/v3"},
            None,
        ),
        # loopback / proxies / the test hosts: allowed
        ("testnet", {"base_url": "http://127.0.0.1:8080", "ws_url": "ws://127.0.0.1:8081"}, None),
        ("testnet", {"base_url": "https://testnet.binance.vision"}, None),
        ("demo", {"base_url": "https://proxy.internal.example/binance"}, None),
    ],
)
def test_live_host_needs_live_environment(
    environment: str, overrides: dict[str, str], refused_field: str | None
) -> None:
    def build() -> BinanceSettings:
        return BinanceSettings(_env_file=None, environment=environment, **overrides)  # type: ignore[arg-type, call-arg]

    if refused_field is None:
        settings = build()
        assert settings.is_live == (environment == "live")
        return
    with pytest.raises(ValidationError, match=rf"{refused_field} points at Binance's live host") as caught:
        build()
    assert "environment='live'" in str(caught.value)


def test_secret_from_the_environment_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOTRADER_BINANCE_API_SECRET", SECRET)
    monkeypatch.setenv("AUTOTRADER_BINANCE_PRIVATE_KEY", f"-----BEGIN {SECRET}")  # two key types: malformed
    with pytest.raises(ValidationError, match="not both") as caught:
        BinanceSettings(_env_file=None)  # type: ignore[call-arg]
    assert SECRET not in str(caught.value)


def test_secret_is_not_echoed_by_the_live_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOTRADER_BINANCE_API_SECRET", SECRET)
    monkeypatch.setenv("AUTOTRADER_BINANCE_BASE_URL", "https://api.binance.com")
    with pytest.raises(ValidationError, match="live host") as caught:
        BinanceSettings(_env_file=None)  # type: ignore[call-arg]
    assert SECRET not in str(caught.value)
