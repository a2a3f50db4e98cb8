"""Entry-point registration: ``autotrader plugins`` finds the adapter with its capabilities."""

from __future__ import annotations

import pytest
from autotrader_coinbase import CoinbaseAdapter, CoinbaseSettings
from autotrader_coinbase.plugin import build_adapter
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
    adapter = build_adapter(CoinbaseSettings(_env_file=None))  # type: ignore[call-arg]
    assert isinstance(adapter, CoinbaseAdapter)
    assert not adapter.is_connected


def test_factory_refuses_foreign_settings() -> None:
    with pytest.raises(ConfigurationError):
        build_adapter(BrokerSettings(_env_file=None))  # type: ignore[call-arg]
