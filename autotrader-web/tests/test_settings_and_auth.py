"""Tokens: named, read or control, long enough, compared in constant time, never shown."""

from __future__ import annotations

import pytest
from autotrader_web import TokenStore, WebSettings
from pydantic import SecretStr, ValidationError

LONG = "x" * 32


def test_defaults_bind_loopback_with_no_tokens() -> None:
    settings = WebSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.host == "127.0.0.1"
    assert settings.read_tokens == {} and settings.control_tokens == {}
    assert len(TokenStore.from_settings(settings)) == 0


def test_tokens_come_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOTRADER_WEB_CONTROL_TOKENS", f'{{"alice": "{LONG}"}}')
    monkeypatch.setenv("AUTOTRADER_WEB_READ_TOKENS", f'{{"wall": "{"r" * 20}"}}')
    settings = WebSettings(_env_file=None)  # type: ignore[call-arg]
    assert LONG not in repr(settings) and LONG not in str(settings.model_dump())
    store = TokenStore.from_settings(settings)
    alice = store.authenticate(f"Bearer {LONG}")
    assert alice is not None and alice.name == "alice" and alice.can_control and alice.actor == "web:alice"
    wall = store.authenticate("bearer " + "r" * 20)
    assert wall is not None and wall.role == "read" and not wall.can_control
    assert LONG not in repr(store)


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer ", f"Basic {LONG}", f"Bearer {LONG}x", f"Bearer {LONG[:-1]}", LONG]
)
def test_anything_but_the_exact_bearer_token_is_refused(header: str | None) -> None:
    store = TokenStore({}, {"alice": SecretStr(LONG)})
    assert store.authenticate(header) is None


def test_short_tokens_bad_names_and_shared_names_are_refused() -> None:
    with pytest.raises(ValidationError, match="shorter than 16"):
        WebSettings(control_tokens={"alice": SecretStr("short")}, _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="token name"):
        WebSettings(control_tokens={"al ice": SecretStr(LONG)}, _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="both read and control"):
        WebSettings(  # type: ignore[call-arg]
            control_tokens={"alice": SecretStr(LONG)}, read_tokens={"alice": SecretStr(LONG)}, _env_file=None
        )


def test_a_refused_token_is_not_echoed_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOTRADER_WEB_CONTROL_TOKENS", '{"alice": "tiny-secret"}')
    with pytest.raises(ValidationError) as info:
        WebSettings(_env_file=None)  # type: ignore[call-arg]
    assert "tiny-secret" not in str(info.value) and "alice" in str(info.value)
