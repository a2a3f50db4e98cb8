"""Settings (environments, account ids, secrets) and the bearer-token headers."""

from __future__ import annotations

import pytest
from autotrader_oanda.auth import auth_headers, redact
from autotrader_oanda.settings import OandaSettings
from oanda_helpers import FAKE_TOKEN, make_settings
from pydantic import SecretStr, ValidationError


def test_practice_is_the_default_environment() -> None:
    settings = make_settings()
    assert settings.environment == "practice"
    assert not settings.is_live
    assert settings.rest_url == "https://api-fxpractice.oanda.com"
    assert settings.stream_url == "https://stream-fxpractice.oanda.com"


def test_live_must_be_asked_for_and_uses_the_fxtrade_hosts() -> None:
    settings = make_settings(environment="live")
    assert settings.is_live
    assert settings.rest_url == "https://api-fxtrade.oanda.com"
    assert settings.stream_url == "https://stream-fxtrade.oanda.com"


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(ValidationError):
        make_settings(environment="testnet")


def test_overrides_point_rest_and_stream_at_a_loopback_server() -> None:
    settings = make_settings(base_url="http://127.0.0.1:8080/", ws_url="http://127.0.0.1:8081")
    assert settings.rest_url == "http://127.0.0.1:8080"
    assert settings.stream_url == "http://127.0.0.1:8081"


def test_settings_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOTRADER_OANDA_TOKEN", FAKE_TOKEN)
    monkeypatch.setenv("AUTOTRADER_OANDA_ACCOUNT_ID", "101-004-1435156-001")
    settings = OandaSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.token.get_secret_value() == FAKE_TOKEN
    assert settings.account_id == "101-004-1435156-001"


@pytest.mark.parametrize("account", ["12345678", "abc", "101-004-1435156", ""])
def test_bad_account_ids_are_refused_with_a_hint(account: str) -> None:
    with pytest.raises(ValidationError, match="101-004-1435156-001"):
        make_settings(account_id=account)


def test_token_never_shows_in_repr_or_str() -> None:
    settings = make_settings()
    assert FAKE_TOKEN not in repr(settings)
    assert FAKE_TOKEN not in str(settings)
    assert FAKE_TOKEN not in str(settings.model_dump())


def test_headers_carry_bearer_token_and_rfc3339() -> None:
    headers = auth_headers(SecretStr("abc-123"))
    assert headers == {"Authorization": "Bearer abc-123", "Accept-Datetime-Format": "RFC3339"}
    assert redact(headers)["Authorization"] == "Bearer ***"


@pytest.mark.parametrize("token", ["", "abc 123", "abc\n"])
def test_empty_or_whitespace_tokens_are_refused(token: str) -> None:
    with pytest.raises(ValueError, match="whitespace"):
        auth_headers(SecretStr(token))


@pytest.mark.parametrize("token", ["", "abc 123", "abc123\n"])
def test_bad_tokens_are_refused_at_settings_time_without_echoing_them(token: str) -> None:
    with pytest.raises(ValidationError) as caught:
        make_settings(token=SecretStr(token))
    assert "without spaces" in str(caught.value)
    if token:
        assert token.strip() not in str(caught.value)


def test_a_refused_plain_text_token_is_not_echoed() -> None:
    with pytest.raises(ValidationError) as caught:
        OandaSettings(  # type: ignore[call-arg]
            _env_file=None,
            token="abc 123secret",  # type: ignore[arg-type]  # plain text, as the environment gives it
            account_id="101-004-1435156-001",
        )
    assert "123secret" not in str(caught.value)
    assert "123secret" not in repr(caught.value)
