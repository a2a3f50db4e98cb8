"""A demo configuration never streams from OKX's live hosts through a URL override.

OKX serves live and demo on the same REST hosts (demo requests carry
``x-simulated-trading: 1``, chosen by ``environment``), so only the private
WebSocket hosts are live-only.
"""

from __future__ import annotations

import pytest
from autotrader_okx import OkxSettings
from pydantic import ValidationError

SECRET = "fake-okx-secret-NEVER-ECHOED-0123456789"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENVIRONMENT", "REGION", "BASE_URL", "WS_URL", "API_KEY", "API_SECRET", "PASSPHRASE"):
        monkeypatch.delenv(f"AUTOTRADER_OKX_{name}", raising=False)


@pytest.mark.parametrize(
    ("environment", "overrides", "refused"),
    [
        # live stream host + demo environment: refused, whatever the region
        ("demo", {"ws_url": "wss://ws.okx.com:8443/ws/v5/private"}, True),
        ("demo", {"ws_url": "wss://WSUS.okx.com:8443/ws/v5/private"}, True),
        ("demo", {"ws_url": "wss://wseea.okx.com:8443/ws/v5/business"}, True),
        # live stream host + live environment: allowed
        ("live", {"ws_url": "wss://ws.okx.com:8443/ws/v5/private"}, False),
        # loopback and the demo stream hosts: allowed
        ("demo", {"base_url": "http://127.0.0.1:8080", "ws_url": "ws://127.0.0.1:8081"}, False),
        ("demo", {"ws_url": "wss://wspap.okx.com:8443/ws/v5/private"}, False),
        # the shared REST host is demo when the environment says so (header), so allowed
        ("demo", {"base_url": "https://openapi.okx.com"}, False),
    ],
)
def test_live_stream_host_needs_live_environment(
    environment: str, overrides: dict[str, str], refused: bool
) -> None:
    def build() -> OkxSettings:
        return OkxSettings(_env_file=None, environment=environment, **overrides)  # type: ignore[arg-type, call-arg]

    if not refused:
        settings = build()
        assert settings.is_live == (environment == "live")
        assert settings.is_demo == (environment == "demo")
        return
    with pytest.raises(ValidationError, match="ws_url points at OKX's live host") as caught:
        build()
    assert "environment='live'" in str(caught.value)


def test_secret_from_the_environment_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOTRADER_OKX_API_SECRET", SECRET)
    monkeypatch.setenv("AUTOTRADER_OKX_PASSPHRASE", SECRET)
    monkeypatch.setenv("AUTOTRADER_OKX_WS_URL", "wss://ws.okx.com:8443/ws/v5/private")
    with pytest.raises(ValidationError, match="live host") as caught:
        OkxSettings(_env_file=None)  # type: ignore[call-arg]
    assert SECRET not in str(caught.value)


def test_malformed_value_from_the_environment_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOTRADER_OKX_API_SECRET", SECRET)
    monkeypatch.setenv("AUTOTRADER_OKX_TD_MODE", f"cash-{SECRET}")  # not a trade mode
    with pytest.raises(ValidationError, match="td_mode") as caught:
        OkxSettings(_env_file=None)  # type: ignore[call-arg]
    assert SECRET not in str(caught.value)
