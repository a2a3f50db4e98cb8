"""Settings refuse what would leak or mislead: keys with whitespace, URLs holding credentials."""

from __future__ import annotations

import pytest
from autotrader_core.settings import BrokerSettings, redact_url
from pydantic import SecretStr, ValidationError

KEY = "Q1w2E3r4T5y6U7i8O9p0AsDfGhJkL"


class KeyedSettings(BrokerSettings):
    """A broker with an API key and secret, as the adapters declare them."""

    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None


@pytest.mark.parametrize("field", ["api_key", "api_secret"])
@pytest.mark.parametrize("bad", [f"{KEY}\n", f" {KEY}", f"{KEY}\r\n", f"{KEY[:5]}\t{KEY[5:]}", f"{KEY}\x00"])
def test_a_key_with_whitespace_or_a_control_character_is_refused_without_showing_it(
    field: str, bad: str
) -> None:
    # Issue 14 (9): a trailing newline reached the HTTP header; httpx's error and logs then held the key.
    with pytest.raises(ValidationError, match=f"{field} holds whitespace or a control character") as caught:
        KeyedSettings(_env_file=None, **{field: bad})  # type: ignore[call-arg,arg-type]
    shown = str(caught.value) + repr(caught.value)
    assert KEY[:10] not in shown and KEY[-10:] not in shown


def test_a_clean_key_is_accepted() -> None:
    settings = KeyedSettings(_env_file=None, api_key=KEY, api_secret=KEY)  # type: ignore[call-arg,arg-type]
    assert settings.api_key is not None and settings.api_key.get_secret_value() == KEY


@pytest.mark.parametrize("field", ["base_url", "ws_url"])
@pytest.mark.parametrize(
    "url", ["https://trader:hunter2secret@proxy.example/api", "wss://hunter2secret@stream.example"]
)
def test_a_url_holding_credentials_is_refused_without_showing_them(field: str, url: str) -> None:
    # Issue 14 (11): base_url = "https://user:password@host" showed in reprs and logs.
    with pytest.raises(ValidationError, match=f"{field} holds credentials") as caught:
        KeyedSettings(_env_file=None, **{field: url})  # type: ignore[call-arg,arg-type]
    assert "hunter2secret" not in str(caught.value) + repr(caught.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://u:p@host.example/x?a=b@c", "https://***@host.example/x?a=b@c"),
        ("https://host.example/a@b", "https://host.example/a@b"),
        ("http://host.example?x=a@b", "http://host.example?x=a@b"),
        ("wss://a@b@host.example/ws", "wss://***@host.example/ws"),
        ("u:p@host.example:80", "***@host.example:80"),
    ],
)
def test_redact_url_hides_userinfo_only(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_the_reply_size_limit_is_a_setting_with_a_sane_default() -> None:
    assert KeyedSettings(_env_file=None).max_reply_bytes == 16 * 1024 * 1024  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        KeyedSettings(_env_file=None, max_reply_bytes=0)  # type: ignore[call-arg]
