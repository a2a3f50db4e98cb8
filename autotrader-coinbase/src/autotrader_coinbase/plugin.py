"""pluggy registration: the ``coinbase`` entry in ``autotrader.adapters``."""

from __future__ import annotations

from collections.abc import Iterable

from autotrader_core.adapter import BrokerAdapter
from autotrader_core.errors import ConfigurationError
from autotrader_core.hookspecs import AdapterInfo, hookimpl
from autotrader_core.settings import BrokerSettings

from autotrader_coinbase import __version__
from autotrader_coinbase.adapter import COINBASE_CAPABILITIES, CoinbaseAdapter
from autotrader_coinbase.settings import CoinbaseSettings

__all__ = ["autotrader_adapters", "build_adapter"]


def build_adapter(settings: BrokerSettings) -> BrokerAdapter:
    """Factory used by the plugin manager: ``CoinbaseSettings`` → ``CoinbaseAdapter``."""
    if not isinstance(settings, CoinbaseSettings):
        raise ConfigurationError(
            f"the coinbase adapter needs CoinbaseSettings, got {type(settings).__name__}", broker="coinbase"
        )
    return CoinbaseAdapter(settings)


@hookimpl
def autotrader_adapters() -> Iterable[AdapterInfo]:
    """Register the Coinbase Advanced Trade adapter."""
    return [
        AdapterInfo(
            name=CoinbaseAdapter.name,
            factory=build_adapter,
            settings_cls=CoinbaseSettings,
            capabilities=COINBASE_CAPABILITIES,
            version=__version__,
            description="Coinbase Advanced Trade (spot): ES256 JWT auth, REST orders, user-channel fills",
        )
    ]
