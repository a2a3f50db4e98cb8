"""Registration through the ``autotrader.adapters`` entry point, and the documented rate limits."""

from __future__ import annotations

import pytest
from autotrader_core.capabilities import Feature
from autotrader_core.errors import ConfigurationError
from autotrader_core.plugins import PluginManager
from autotrader_core.settings import BrokerSettings
from autotrader_oanda import OandaAdapter, OandaSettings
from autotrader_oanda.http import OandaHttp
from autotrader_oanda.parsing import TransactionTranslator
from autotrader_oanda.plugin import make_adapter
from autotrader_oanda.stream import TransactionStream
from oanda_helpers import make_settings


def test_entry_point_registers_the_oanda_adapter() -> None:
    manager = PluginManager().load_entry_points()
    info = manager.adapter_info("oanda")
    assert info.settings_cls is OandaSettings
    assert info.capabilities is OandaAdapter.capabilities
    adapter = info.factory(make_settings())
    assert isinstance(adapter, OandaAdapter)
    assert not adapter.is_connected  # no I/O in the factory


def test_factory_refuses_other_settings() -> None:
    with pytest.raises(ConfigurationError, match="OandaSettings"):
        make_adapter(BrokerSettings(_env_file=None))  # type: ignore[call-arg]


def test_capabilities_are_declared_honestly() -> None:
    features = OandaAdapter.capabilities.features
    assert {Feature.MARKET_ORDERS, Feature.LIMIT_ORDERS, Feature.STOP_ORDERS} <= features
    assert Feature.NATIVE_MODIFY in features
    assert Feature.STREAMING_FILLS in features
    assert Feature.BROKER_POSITIONS in features
    assert Feature.FILL_HISTORY in features
    assert Feature.STOP_LIMIT_ORDERS not in features
    assert Feature.POST_ONLY not in features
    assert OandaAdapter.capabilities.test_environments == ("practice",)
    assert any("NEW broker order id" in note for note in OandaAdapter.capabilities.notes)


def test_rest_budget_follows_the_documented_limits() -> None:
    http = OandaHttp(make_settings())
    assert (http.rate_limiter.capacity, http.rate_limiter.per_seconds) == (100, 1)
    with pytest.raises(ValueError, match="120"):
        make_settings(max_requests_per_second=150)


def test_stream_reconnects_are_paced_to_two_new_connections_per_second() -> None:
    settings = make_settings(reconnect_initial_delay=0.5, reconnect_max_delay=30)
    stream = TransactionStream(settings, OandaHttp(settings), TransactionTranslator(), last_transaction_id=1)
    assert (stream.connect_limiter.capacity, stream.connect_limiter.per_seconds) == (2, 1)
    delays = [stream.reconnect_delay(attempt) for attempt in range(12)]
    assert 0.25 <= delays[0] <= 0.5
    assert all(delay <= 30 for delay in delays)
    assert delays[-1] >= 15  # capped at 30 s, jitter keeps at least half


def test_version_comes_from_the_package_metadata() -> None:
    from importlib.metadata import version

    import autotrader_oanda

    assert autotrader_oanda.__version__ == version("autotrader-oanda")
    info = PluginManager().load_entry_points().adapter_info("oanda")
    assert info.version == autotrader_oanda.__version__


def test_plugin_discovery_imports_neither_the_adapter_nor_pydantic_settings() -> None:
    """Discovery loads ``autotrader_oanda.plugin`` for every installed adapter: it must stay cheap."""
    import subprocess
    import sys

    code = (
        "import sys, autotrader_oanda.plugin\n"
        "heavy = ('autotrader_oanda.adapter', 'autotrader_oanda.settings', 'pydantic_settings', 'httpx')\n"
        "print(','.join(name for name in heavy if name in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == ""
