"""Settings: demo by default, regional hosts, secrets hidden."""

from __future__ import annotations

from typing import Literal

import pytest
from autotrader_core.errors import ConfigurationError
from autotrader_okx import OkxSettings
from autotrader_okx.settings import Region
from pydantic import SecretStr


def test_demo_is_the_default_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENVIRONMENT", "REGION", "BASE_URL", "WS_URL"):
        monkeypatch.delenv(f"AUTOTRADER_OKX_{name}", raising=False)
    settings = OkxSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.environment == "demo"
    assert settings.is_demo
    assert not settings.is_live
    assert settings.private_ws_url == "wss://wspap.okx.com:8443/ws/v5/private"


@pytest.mark.parametrize(
    ("region", "environment", "rest", "ws"),
    [
        ("global", "demo", "https://openapi.okx.com", "wss://wspap.okx.com:8443/ws/v5/private"),
        ("global", "live", "https://openapi.okx.com", "wss://ws.okx.com:8443/ws/v5/private"),
        ("us", "demo", "https://us.okx.com", "wss://wsuspap.okx.com:8443/ws/v5/private"),
        ("us", "live", "https://us.okx.com", "wss://wsus.okx.com:8443/ws/v5/private"),
        ("eea", "demo", "https://eea.okx.com", "wss://wseeapap.okx.com:8443/ws/v5/private"),
        ("eea", "live", "https://eea.okx.com", "wss://wseea.okx.com:8443/ws/v5/private"),
    ],
)
def test_region_and_environment_pick_the_hosts(
    region: Region, environment: Literal["demo", "live"], rest: str, ws: str
) -> None:
    settings = OkxSettings(region=region, environment=environment, _env_file=None)  # type: ignore[call-arg]
    assert settings.rest_url == rest
    assert settings.private_ws_url == ws
    assert settings.is_live is (environment == "live")


def test_environment_variables_are_read_with_the_okx_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOTRADER_OKX_ENVIRONMENT", "LIVE")
    monkeypatch.setenv("AUTOTRADER_OKX_REGION", "eea")
    monkeypatch.setenv("AUTOTRADER_OKX_API_KEY", "env-key")
    settings = OkxSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.environment == "live"
    assert settings.rest_url == "https://eea.okx.com"
    assert settings.api_key.get_secret_value() == "env-key"


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(ValueError, match="environment"):
        OkxSettings(environment="testnet", _env_file=None)  # type: ignore[call-arg,arg-type]  # refused on purpose


def test_overrides_win_over_the_region_hosts() -> None:
    settings = OkxSettings(base_url="http://127.0.0.1:9/", ws_url="ws://127.0.0.1:9/ws", _env_file=None)  # type: ignore[call-arg]
    assert settings.rest_url == "http://127.0.0.1:9"
    assert settings.private_ws_url == "ws://127.0.0.1:9/ws"


def test_secrets_never_show_in_repr() -> None:
    settings = OkxSettings(  # type: ignore[call-arg]
        api_key="KEY-123456",  # type: ignore[arg-type]  # plain text, as the environment gives it
        api_secret="SECRET-654321",  # type: ignore[arg-type]
        passphrase="PHRASE-9",  # type: ignore[arg-type]
        _env_file=None,
    )
    shown = repr(settings) + str(settings) + str(settings.model_dump())
    for secret in ("KEY-123456", "SECRET-654321", "PHRASE-9"):
        assert secret not in shown


def test_missing_credentials_are_named_not_shown() -> None:
    settings = OkxSettings(api_key=SecretStr("KEY-123456"), _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError) as caught:
        settings.require_credentials()
    message = str(caught.value)
    assert "AUTOTRADER_OKX_API_SECRET" in message
    assert "AUTOTRADER_OKX_PASSPHRASE" in message
    assert "KEY-123456" not in message
