"""pluggy registration: the ``binance`` adapter (entry point ``autotrader.adapters``)."""

from __future__ import annotations

from collections.abc import Iterable

from autotrader_core.adapter import BrokerAdapter
from autotrader_core.errors import ConfigurationError
from autotrader_core.hookspecs import AdapterInfo, hookimpl
from autotrader_core.settings import BrokerSettings

from autotrader_binance import __version__
from autotrader_binance.adapter import CAPABILITIES, BinanceAdapter
from autotrader_binance.settings import BinanceSettings

__all__ = ["autotrader_adapters", "make_adapter"]


def make_adapter(settings: BrokerSettings) -> BrokerAdapter:
    """Build a :class:`BinanceAdapter` from :class:`BinanceSettings`."""
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
            settings_cls=BinanceSettings,
            capabilities=CAPABILITIES,
            version=__version__,
            description="Binance Spot (REST + WebSocket-API user data; HMAC or Ed25519 keys)",
        )
    ]
