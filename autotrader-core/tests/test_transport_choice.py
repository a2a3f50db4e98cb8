"""The one transport choice every REST adapter uses (``http_transport`` setting)."""

from __future__ import annotations

import builtins
from typing import Any

import pytest
from autotrader_core.errors import ConfigurationError
from autotrader_core.lean_transport import LeanHttpTransport
from autotrader_core.transport_choice import TRANSPORT_CHOICES, make_transport, proxy_configured

URL = "https://api.broker.example"
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (*PROXY_VARIABLES, "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_choices() -> None:
    assert TRANSPORT_CHOICES == ("auto", "httpx", "aiohttp", "lean")


def test_lean_and_httpx(no_proxy_env: pytest.MonkeyPatch) -> None:
    assert isinstance(make_transport("lean", url=URL), LeanHttpTransport)
    assert make_transport("httpx", url=URL) is None  # httpx's own transport


def test_aiohttp_when_installed() -> None:
    pytest.importorskip("aiohttp")
    from autotrader_core.aiohttp_transport import AiohttpTransport

    assert isinstance(make_transport("aiohttp", url=URL), AiohttpTransport)


def test_aiohttp_missing_is_a_configuration_error_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_aiohttp(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "aiohttp" or name.startswith("aiohttp."):
            raise ImportError("No module named 'aiohttp'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(__import__("sys").modules, "autotrader_core.aiohttp_transport", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_aiohttp)
    with pytest.raises(ConfigurationError, match=r"pip install 'autotrader-okx\[aiohttp\]'") as raised:
        make_transport("aiohttp", url=URL, broker="okx", extra="autotrader-okx[aiohttp]")
    assert raised.value.broker == "okx"


def test_an_unknown_choice_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="http_transport must be one of"):
        make_transport("requests", url=URL)


def test_auto_is_lean_unless_a_proxy_carries_the_url(no_proxy_env: pytest.MonkeyPatch) -> None:
    assert isinstance(make_transport("auto", url=URL), LeanHttpTransport)
    assert not proxy_configured(URL)
    no_proxy_env.setenv("https_proxy", "http://proxy.internal:3128")
    assert proxy_configured(URL)
    assert make_transport("auto", url=URL) is None  # httpx, which honours the proxy
    assert not proxy_configured("http://plain.example")  # an https proxy does not carry http
    no_proxy_env.setenv("no_proxy", "api.broker.example")
    assert isinstance(make_transport("auto", url=URL), LeanHttpTransport)


def test_all_proxy_counts_for_every_scheme(no_proxy_env: pytest.MonkeyPatch) -> None:
    no_proxy_env.setenv("ALL_PROXY", "http://proxy.internal:3128")
    assert proxy_configured(URL) and proxy_configured("http://plain.example")
