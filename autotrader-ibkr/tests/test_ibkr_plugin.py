"""Registration: what plugin discovery loads, and the factory."""

from __future__ import annotations

import subprocess
import sys

import pytest
from autotrader_core.errors import ConfigurationError
from autotrader_core.settings import BrokerSettings
from autotrader_ibkr import IbkrAdapter, IbkrSettings, __version__
from autotrader_ibkr.plugin import CAPABILITIES, autotrader_adapters, make_adapter


def test_discovery_does_not_import_ib_async_or_the_adapter() -> None:
    code = "import sys, autotrader_ibkr.plugin; print('ib_async' in sys.modules, 'autotrader_ibkr.adapter' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_registration_and_factory() -> None:
    [info] = autotrader_adapters()
    assert (info.name, info.version, info.capabilities) == ("ibkr", __version__, CAPABILITIES)
    assert IbkrAdapter.capabilities is CAPABILITIES
    assert isinstance(make_adapter(IbkrSettings()), IbkrAdapter)
    with pytest.raises(ConfigurationError):
        make_adapter(BrokerSettings())
