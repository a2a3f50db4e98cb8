"""pluggy registration: the ``coinbase`` entry in ``autotrader.adapters``.

Discovery imports this module for every installed adapter, so it stays cheap: the
adapter and its pydantic-settings class load when the adapter is built or its
settings/capabilities are read (:class:`~autotrader_core.hookspecs.LazyAdapterInfo`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from autotrader_core.errors import ConfigurationError
from autotrader_core.hookspecs import AdapterInfo, LazyAdapterInfo, hookimpl

from autotrader_coinbase import __version__

if TYPE_CHECKING:
    from autotrader_core.settings import BrokerSettings

    from autotrader_coinbase.adapter import CoinbaseAdapter

__all__ = ["autotrader_adapters", "make_adapter"]


def make_adapter(settings: BrokerSettings) -> CoinbaseAdapter:
    """Factory used by the plugin manager: ``CoinbaseSettings`` → ``CoinbaseAdapter``.

    Raises:
        ConfigurationError: ``settings`` is not a ``CoinbaseSettings``.
    """
    from autotrader_coinbase.adapter import CoinbaseAdapter
    from autotrader_coinbase.settings import CoinbaseSettings

    if not isinstance(settings, CoinbaseSettings):
        raise ConfigurationError(
            f"the coinbase adapter needs CoinbaseSettings, got {type(settings).__name__}", broker="coinbase"
        )
    return CoinbaseAdapter(settings)


build_adapter = make_adapter
"""The factory's former name, kept for code that imported it."""


@hookimpl
def autotrader_adapters() -> Iterable[AdapterInfo]:
    """Register the Coinbase Advanced Trade adapter."""
    return [
        LazyAdapterInfo(
            name="coinbase",
            factory=make_adapter,
            settings_cls="autotrader_coinbase.settings:CoinbaseSettings",
            capabilities="autotrader_coinbase.adapter:COINBASE_CAPABILITIES",
            version=__version__,
            description="Coinbase Advanced Trade (spot): ES256 JWT auth, REST orders, user-channel fills",
        )
    ]
