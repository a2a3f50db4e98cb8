"""Registration: what plugin discovery loads, and the factory."""

from __future__ import annotations

import subprocess
import sys

import pytest
from autotrader_core.errors import ConfigurationError
from autotrader_core.settings import BrokerSettings
from autotrader_ibkr import IbkrAdapter, IbkrSettings, __version__
from autotrader_ibkr.plugin import CAPABILITIES, autotrader_adapters, make_adapter


def test_discovery_loads_neither_the_adapter_nor_pydantic_settings() -> None:
    """Discovery imports every installed adapter's registration: it must stay cheap."""
    code = (
        "import sys; from autotrader_core.plugins import PluginManager; "
        "info = PluginManager(disabled=set()).load_entry_points().adapters()['ibkr']; "
        "heavy = [m for m in ('autotrader_ibkr.adapter', 'autotrader_ibkr.settings', "
        "'pydantic_settings', 'ib_async') if m in sys.modules]; "
        "print(info.version, info.capabilities.streaming_fills, heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == [__version__, "True", "[]"]


def test_registration_and_factory() -> None:
    [info] = autotrader_adapters()
    assert (info.name, info.version, info.capabilities) == ("ibkr", __version__, CAPABILITIES)
    assert info.settings_cls is IbkrSettings
    assert IbkrAdapter.capabilities is CAPABILITIES
    assert isinstance(make_adapter(IbkrSettings()), IbkrAdapter)
    with pytest.raises(ConfigurationError):
        make_adapter(BrokerSettings())
