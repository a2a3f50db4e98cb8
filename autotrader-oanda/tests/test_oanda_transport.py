"""The REST transport follows ``http_transport`` (the core's ``make_transport``), like every REST adapter."""

from __future__ import annotations

import pytest
from autotrader_core.lean_transport import LeanHttpTransport
from autotrader_oanda import OandaAdapter
from oanda_helpers import make_settings


def test_the_default_is_the_lean_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AUTOTRADER_OANDA_HTTP_TRANSPORT", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    settings = make_settings()
    assert settings.http_transport == "auto"
    assert isinstance(OandaAdapter(settings)._http.client.transport, LeanHttpTransport)


def test_behind_a_proxy_auto_means_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOTRADER_OANDA_HTTP_TRANSPORT", raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert OandaAdapter(make_settings())._http.client.transport is None  # httpx honours the proxy


def test_httpx_and_aiohttp_are_chosen_by_name() -> None:
    assert OandaAdapter(make_settings(http_transport="httpx"))._http.client.transport is None
    pytest.importorskip("aiohttp")
    from autotrader_core.aiohttp_transport import AiohttpTransport

    transport = OandaAdapter(make_settings(http_transport="aiohttp"))._http.client.transport
    assert isinstance(transport, AiohttpTransport)


def test_an_unknown_transport_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(ValueError, match="http_transport"):
        make_settings(http_transport="curl")
