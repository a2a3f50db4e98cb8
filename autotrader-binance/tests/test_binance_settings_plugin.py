"""Settings (testnet by default, secrets hidden) and plugin registration."""

from __future__ import annotations

import pytest
from autotrader_binance import CAPABILITIES, BinanceAdapter, BinanceSettings
from autotrader_binance.plugin import autotrader_adapters, make_adapter
from autotrader_binance.settings import BinanceEnvironment
from autotrader_core.errors import ConfigurationError
from autotrader_core.plugins import PluginManager
from binance_support import DOC_API_KEY, DOC_SECRET
from pydantic import SecretStr, ValidationError


def test_testnet_is_the_default_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOTRADER_BINANCE_ENVIRONMENT", raising=False)
    s = BinanceSettings(_env_file=None)  # type: ignore[call-arg]
    assert s.environment == "testnet"
    assert not s.is_live
    assert s.rest_url == "https://testnet.binance.vision"
    assert s.stream_url == "wss://ws-api.testnet.binance.vision/ws-api/v3"


@pytest.mark.parametrize(
    ("environment", "rest", "ws"),
    [
        ("live", "https://api.binance.com", "wss://ws-api.binance.com:443/ws-api/v3"),
        ("demo", "https://demo-api.binance.com", "wss://demo-ws-api.binance.com/ws-api/v3"),
    ],
)
def test_documented_urls_per_environment(environment: BinanceEnvironment, rest: str, ws: str) -> None:
    s = BinanceSettings(_env_file=None, environment=environment)  # type: ignore[call-arg]
    assert (s.rest_url, s.stream_url) == (rest, ws)
    assert s.is_live == (environment == "live")


def test_unknown_environment_refused() -> None:
    with pytest.raises(ValidationError):
        BinanceSettings(_env_file=None, environment="mainnet")  # type: ignore[call-arg,arg-type]  # refused on purpose


def test_read_from_env_with_prefix_and_secrets_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOTRADER_BINANCE_API_KEY", DOC_API_KEY)
    monkeypatch.setenv("AUTOTRADER_BINANCE_API_SECRET", DOC_SECRET)
    s = BinanceSettings(_env_file=None)  # type: ignore[call-arg]
    assert s.key_type == "hmac"
    assert DOC_SECRET not in repr(s)
    assert DOC_API_KEY not in repr(s)
    assert DOC_SECRET not in repr(BinanceAdapter(s))


def test_both_key_types_at_once_refused() -> None:
    with pytest.raises(ValidationError, match="not both"):
        BinanceSettings(  # type: ignore[call-arg]
            _env_file=None, api_key=SecretStr("k"), api_secret=SecretStr("s"), private_key=SecretStr("pem")
        )


def test_missing_credentials_is_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        BinanceSettings(_env_file=None, api_key=SecretStr("k")).require_credentials()  # type: ignore[call-arg]


def test_plugin_registers_binance_with_its_capabilities() -> None:
    (info,) = autotrader_adapters()
    assert info.name == "binance"
    assert info.capabilities is CAPABILITIES
    assert info.settings_cls is BinanceSettings
    adapter = info.factory(BinanceSettings(_env_file=None))  # type: ignore[call-arg]
    assert isinstance(adapter, BinanceAdapter)
    assert not adapter.is_connected


def test_factory_refuses_other_settings() -> None:
    from autotrader_core.settings import BrokerSettings

    with pytest.raises(ConfigurationError):
        make_adapter(BrokerSettings())


def test_entry_point_is_discovered_by_the_plugin_manager() -> None:
    manager = PluginManager().load_entry_points()
    info = manager.adapters()["binance"]
    assert info.capabilities is CAPABILITIES


def test_entry_point_declared() -> None:
    from importlib.metadata import entry_points

    (ep,) = [ep for ep in entry_points(group="autotrader.adapters") if ep.name == "binance"]
    assert ep.value == "autotrader_binance.plugin"


def test_capabilities_are_honest() -> None:
    assert not CAPABILITIES.broker_positions
    assert CAPABILITIES.emulated_modify
    assert not CAPABILITIES.native_modify
    assert set(CAPABILITIES.test_environments) == {"testnet", "demo"}


def test_default_transport_is_lean_unless_a_proxy_carries_the_rest_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from autotrader_core.lean_transport import LeanHttpTransport

    monkeypatch.delenv("AUTOTRADER_BINANCE_HTTP_TRANSPORT")  # conftest pins httpx for pytest-httpx
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    def transport() -> object:
        settings = BinanceSettings(_env_file=None, api_key=SecretStr("k"), api_secret=SecretStr("s"))  # type: ignore[call-arg]
        return BinanceAdapter(settings).http.rest.transport

    assert isinstance(transport(), LeanHttpTransport)
    monkeypatch.setenv("https_proxy", "http://proxy.internal:3128")
    assert transport() is None  # httpx's stock transport, which honours the proxy
    monkeypatch.setenv("no_proxy", "testnet.binance.vision")
    assert isinstance(transport(), LeanHttpTransport)


def test_safe_submit_waits_out_the_recv_window_before_trusting_not_found() -> None:
    adapter = BinanceAdapter(
        BinanceSettings(api_key=SecretStr("k"), api_secret=SecretStr("s"), recv_window_ms=3000)
    )
    assert adapter.unknown_outcome_settle_delay == 3.0


@pytest.mark.parametrize("field", ["api_key", "api_secret"])
def test_a_key_with_a_trailing_newline_is_refused_without_showing_it(field: str) -> None:
    # Issue 14 (9): the key reached X-MBX-APIKEY; httpx's error and debug log then held it,
    # and aiohttp raised an untyped ValueError out of engine.start().
    key = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
    values = {"api_key": key, "api_secret": key, field: key + "\n"}
    with pytest.raises(ValidationError, match=f"{field} holds whitespace") as caught:
        BinanceSettings(_env_file=None, **values)  # type: ignore[call-arg,arg-type]
    assert key[:16] not in str(caught.value) + repr(caught.value)


def test_a_multi_line_pem_key_is_still_accepted() -> None:
    pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"
    settings = BinanceSettings(_env_file=None, api_key="k", private_key=pem)  # type: ignore[call-arg,arg-type]
    assert settings.key_type == "ed25519"


def test_a_base_url_with_user_and_password_is_refused_without_showing_them() -> None:
    # Issue 14 (11): the password showed in reprs and logs.
    with pytest.raises(ValidationError, match="base_url holds credentials") as caught:
        BinanceSettings(_env_file=None, base_url="http://trader:hunter2secret@127.0.0.1:8080")  # type: ignore[call-arg]
    assert "hunter2secret" not in str(caught.value) + repr(caught.value)


def test_capabilities_name_every_environment_but_live_as_a_test_environment() -> None:
    from autotrader_binance.settings import ENVIRONMENTS

    assert CAPABILITIES.test_environments == tuple(name for name in ENVIRONMENTS if name != "live")
    assert BinanceAdapter.capabilities is CAPABILITIES


def test_plugin_discovery_loads_neither_the_adapter_nor_pydantic_settings() -> None:
    """Registration is what discovery imports for every installed adapter: it must stay cheap."""
    import subprocess
    import sys

    code = (
        "import sys; from autotrader_core.plugins import PluginManager; "
        "info = PluginManager(disabled=set()).load_entry_points().adapters()['binance']; "
        "heavy = [m for m in ('autotrader_binance.adapter', 'autotrader_binance.settings', "
        "'pydantic_settings', 'httpx', 'websockets') if m in sys.modules]; "
        "print(info.version, info.capabilities.streaming_fills, heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    from autotrader_binance import __version__

    assert out.split() == [__version__, "True", "[]"]


def test_version_comes_from_the_installed_distribution() -> None:
    from importlib.metadata import version

    from autotrader_binance import __version__

    assert __version__ == version("autotrader-binance")
