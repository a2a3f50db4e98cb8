"""Entry-point registration: the core's plugin manager finds and builds the okx adapter."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import autotrader_okx
from autotrader_core.capabilities import Feature
from autotrader_core.plugins import PluginManager
from autotrader_core.settings import BrokerSettings
from autotrader_okx import OkxAdapter, OkxSettings


def test_entry_point_registers_okx_with_its_capabilities() -> None:
    manager = PluginManager().load_entry_points()
    info = manager.adapters()["okx"]
    assert info.settings_cls is OkxSettings
    assert info.capabilities is OkxAdapter.capabilities
    features = info.capabilities.features
    assert {Feature.LIMIT_ORDERS, Feature.MARKET_ORDERS, Feature.NATIVE_MODIFY, Feature.POST_ONLY} <= features
    assert Feature.STOP_ORDERS not in features
    assert Feature.STOP_LIMIT_ORDERS not in features


def test_factory_builds_a_demo_adapter_from_settings() -> None:
    manager = PluginManager().load_entry_points()
    adapter = manager.create_adapter("okx", OkxSettings(_env_file=None))  # type: ignore[call-arg]
    assert isinstance(adapter, OkxAdapter)
    assert adapter.settings.is_demo
    assert not adapter.is_connected


def test_factory_accepts_base_settings() -> None:
    info = PluginManager().load_entry_points().adapters()["okx"]
    adapter = info.factory(BrokerSettings(base_url="http://127.0.0.1:9", _env_file=None))  # type: ignore[call-arg]
    assert isinstance(adapter, OkxAdapter)
    assert adapter.settings.rest_url == "http://127.0.0.1:9"


def test_discovery_loads_neither_the_adapter_nor_pydantic_settings() -> None:
    """Plugin discovery imports ``autotrader_okx.plugin`` for every run: it adds nothing heavy.

    Measured on top of the core's hook specifications (what discovery loads anyway): no
    adapter module, no settings class, no HTTP or WebSocket library; the adapter loads
    when the registration's capabilities are read.
    """
    code = (
        "import sys, autotrader_core.hookspecs; before = set(sys.modules); "
        "import autotrader_okx.plugin as p; [info] = p.autotrader_adapters(); "
        "heavy = ('autotrader_okx.adapter', 'autotrader_okx.settings', 'pydantic_settings', 'httpx', "
        "'websockets'); print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in heavy "
        "or m in heavy)); info.capabilities; print('autotrader_okx.adapter' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["[]", "True"]


def test_registered_name_and_version_are_the_adapters() -> None:
    info = PluginManager().load_entry_points().adapters()["okx"]
    assert info.name == OkxAdapter.name
    assert info.version == version("autotrader-okx") == autotrader_okx.__version__
