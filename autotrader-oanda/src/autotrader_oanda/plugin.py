"""pluggy registration: the ``autotrader.adapters`` entry point names this module.

Discovery imports this module for every installed adapter, so it stays cheap: the
adapter (httpx, the REST client) and its settings (pydantic-settings) are imported
when an adapter is asked for, not when plugins are found.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from autotrader_core.hookspecs import AdapterInfo, hookimpl

if TYPE_CHECKING:
    from autotrader_core.adapter import BrokerAdapter
    from autotrader_core.settings import BrokerSettings

__all__ = ["autotrader_adapters", "make_adapter"]


def make_adapter(settings: BrokerSettings) -> BrokerAdapter:
    """Factory registered with the plugin manager: ``OandaSettings`` → ``OandaAdapter``.

    Raises:
        ConfigurationError: ``settings`` are not :class:`~autotrader_oanda.OandaSettings`.
    """
    from autotrader_core.errors import ConfigurationError

    from autotrader_oanda.adapter import OandaAdapter
    from autotrader_oanda.settings import OandaSettings

    if not isinstance(settings, OandaSettings):
        raise ConfigurationError(f"the oanda adapter needs OandaSettings, got {type(settings).__name__}")
    return OandaAdapter(settings)


@hookimpl
def autotrader_adapters() -> Iterable[AdapterInfo]:
    """The OANDA v20 adapter."""
    from autotrader_oanda import __version__
    from autotrader_oanda.adapter import OandaAdapter
    from autotrader_oanda.settings import OandaSettings

    return [
        AdapterInfo(
            name=OandaAdapter.name,
            factory=make_adapter,
            settings_cls=OandaSettings,
            capabilities=OandaAdapter.capabilities,
            version=__version__,
            description="OANDA v20: FX and CFDs, practice (default) or live, chunked transaction stream",
        )
    ]
