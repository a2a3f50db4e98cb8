"""pluggy registration: the ``autotrader.adapters`` entry point names this module."""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version

from autotrader_core.adapter import BrokerAdapter
from autotrader_core.errors import ConfigurationError
from autotrader_core.hookspecs import AdapterInfo, hookimpl
from autotrader_core.settings import BrokerSettings

from autotrader_oanda.adapter import OandaAdapter
from autotrader_oanda.settings import OandaSettings

__all__ = ["autotrader_adapters", "build_adapter"]


def build_adapter(settings: BrokerSettings) -> BrokerAdapter:
    """Factory registered with the plugin manager: ``OandaSettings`` → ``OandaAdapter``."""
    if not isinstance(settings, OandaSettings):
        raise ConfigurationError(f"the oanda adapter needs OandaSettings, got {type(settings).__name__}")
    return OandaAdapter(settings)


def _version() -> str:
    try:
        return version("autotrader-oanda")
    except PackageNotFoundError:  # running from a source tree
        return "0"


@hookimpl
def autotrader_adapters() -> Iterable[AdapterInfo]:
    """The OANDA v20 adapter."""
    return [
        AdapterInfo(
            name=OandaAdapter.name,
            factory=build_adapter,
            settings_cls=OandaSettings,
            capabilities=OandaAdapter.capabilities,
            version=_version(),
            description="OANDA v20: FX and CFDs, practice (default) or live, chunked transaction stream",
        )
    ]
