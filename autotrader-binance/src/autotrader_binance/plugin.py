"""pluggy registration: the ``binance`` adapter (entry point ``autotrader.adapters``).

Plugin discovery imports this module for every installed adapter, so it stays cheap:
the settings class is registered by reference and :func:`make_adapter` imports the
adapter when it first builds one (neither the adapter, httpx nor pydantic-settings
is loaded by discovery or by ``autotrader plugins``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from autotrader_core.hookspecs import AdapterInfo, hookimpl

from autotrader_binance import __version__
from autotrader_binance.capabilities import CAPABILITIES

if TYPE_CHECKING:
    from autotrader_core.adapter import BrokerAdapter
    from autotrader_core.settings import BrokerSettings

__all__ = ["autotrader_adapters", "make_adapter"]


def make_adapter(settings: BrokerSettings) -> BrokerAdapter:
    """Build a :class:`~autotrader_binance.BinanceAdapter` from :class:`~autotrader_binance.BinanceSettings`.

    Raises:
        ConfigurationError: ``settings`` is not a ``BinanceSettings``.
    """
    from autotrader_core.errors import ConfigurationError

    from autotrader_binance.adapter import BinanceAdapter
    from autotrader_binance.settings import BinanceSettings

    if not isinstance(settings, BinanceSettings):
        raise ConfigurationError(
            f"the binance adapter needs BinanceSettings, got {type(settings).__name__}", broker="binance"
        )
    return BinanceAdapter(settings)


@hookimpl
def autotrader_adapters() -> Iterable[AdapterInfo]:
    """The Binance Spot adapter."""
    return [
        AdapterInfo(
            name="binance",
            factory=make_adapter,
            settings_cls="autotrader_binance.settings:BinanceSettings",
            capabilities=CAPABILITIES,
            version=__version__,
            description="Binance Spot (REST + WebSocket-API user data; HMAC or Ed25519 keys)",
        )
    ]
