"""Entry-point registration: ``autotrader plugins`` finds the adapter with its capabilities."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import autotrader_coinbase
import pytest
from autotrader_coinbase import CoinbaseAdapter, CoinbaseSettings
from autotrader_coinbase.plugin import build_adapter, make_adapter
from autotrader_core.capabilities import Feature
from autotrader_core.errors import ConfigurationError
from autotrader_core.plugins import PluginManager
from autotrader_core.settings import BrokerSettings


def test_entry_point_registers_coinbase() -> None:
    manager = PluginManager()
    manager.load_entry_points()
    info = manager.adapter_info("coinbase")
    assert info.settings_cls is CoinbaseSettings
    assert info.capabilities is CoinbaseAdapter.capabilities
    caps = info.capabilities
    assert caps.supports(Feature.NATIVE_MODIFY) and caps.supports(Feature.STREAMING_FILLS)
    assert not caps.supports(Feature.STOP_ORDERS)  # no stop-market on Coinbase spot
    assert not caps.supports(Feature.BROKER_POSITIONS)
    assert caps.test_environments == ("sandbox",)


def test_factory_builds_a_sandbox_adapter_without_io() -> None:
    adapter = make_adapter(CoinbaseSettings(_env_file=None))  # type: ignore[call-arg]
    assert isinstance(adapter, CoinbaseAdapter)
    assert not adapter.is_connected


def test_factory_refuses_foreign_settings() -> None:
    with pytest.raises(ConfigurationError):
        make_adapter(BrokerSettings(_env_file=None))  # type: ignore[call-arg]


def test_former_factory_name_still_builds() -> None:
    assert build_adapter is make_adapter


def test_discovery_loads_neither_the_adapter_nor_pydantic_settings() -> None:
    """Plugin discovery imports ``autotrader_coinbase.plugin`` for every run: it must stay cheap."""
    code = (
        "import sys, autotrader_coinbase.plugin as p; "
        "[info] = p.autotrader_adapters(); "
        "print(sorted(m for m in ('autotrader_coinbase.adapter', 'autotrader_coinbase.settings', "
        "'pydantic_settings', 'httpx', 'jwt', 'cryptography') if m in sys.modules)); "
        "info.capabilities; print('autotrader_coinbase.adapter' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["[]", "True"]


def test_registered_name_and_version_are_the_adapters() -> None:
    info = PluginManager().load_entry_points().adapters()["coinbase"]
    assert info.name == CoinbaseAdapter.name
    assert info.version == version("autotrader-coinbase") == autotrader_coinbase.__version__
