"""A practice configuration never reaches OANDA's live (fxTrade) hosts through a URL override."""

from __future__ import annotations

import pytest
from autotrader_oanda.settings import OandaSettings
from oanda_helpers import make_settings
from pydantic import ValidationError

SECRET = "fake-token-NEVER-ECHOED-0123456789"


@pytest.mark.parametrize(
    ("environment", "overrides", "refused_field"),
    [
        # live host + practice: refused
        ("practice", {"base_url": "https://api-fxtrade.oanda.com"}, "base_url"),
        ("practice", {"base_url": "https://API-FXTRADE.oanda.com:443/"}, "base_url"),
        ("practice", {"ws_url": "https://stream-fxtrade.oanda.com"}, "ws_url"),
        # live host + live: allowed
        (
            "live",
            {"base_url": "https://api-fxtrade.oanda.com", "ws_url": "https://stream-fxtrade.oanda.com"},
            None,
        ),
        # loopback / the practice hosts: allowed
        ("practice", {"base_url": "http://127.0.0.1:8080", "ws_url": "http://127.0.0.1:8081"}, None),
        ("practice", {"base_url": "https://api-fxpractice.oanda.com"}, None),
    ],
)
def test_live_host_needs_live_environment(
    environment: str, overrides: dict[str, str], refused_field: str | None
) -> None:
    if refused_field is None:
        settings = make_settings(environment=environment, **overrides)
        assert settings.is_live == (environment == "live")
        return
    with pytest.raises(ValidationError, match=rf"{refused_field} points at OANDA's live host") as caught:
        make_settings(environment=environment, **overrides)
    assert "environment='live'" in str(caught.value)


def test_malformed_token_from_the_environment_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOTRADER_OANDA_ENVIRONMENT", raising=False)
    monkeypatch.setenv("AUTOTRADER_OANDA_TOKEN", f"{SECRET} with-a-space")
    monkeypatch.setenv("AUTOTRADER_OANDA_ACCOUNT_ID", "101-004-1435156-001")
    with pytest.raises(ValidationError, match="without spaces") as caught:
        OandaSettings(_env_file=None)  # type: ignore[call-arg]
    assert SECRET not in str(caught.value)


def test_token_is_not_echoed_by_the_live_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOTRADER_OANDA_ENVIRONMENT", raising=False)
    monkeypatch.setenv("AUTOTRADER_OANDA_TOKEN", SECRET)
    monkeypatch.setenv("AUTOTRADER_OANDA_ACCOUNT_ID", "101-004-1435156-001")
    monkeypatch.setenv("AUTOTRADER_OANDA_BASE_URL", "https://api-fxtrade.oanda.com")
    with pytest.raises(ValidationError, match="live host") as caught:
        OandaSettings(_env_file=None)  # type: ignore[call-arg]
    assert SECRET not in str(caught.value)
