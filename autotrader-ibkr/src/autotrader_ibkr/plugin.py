"""pluggy registration: the ``ibkr`` adapter (entry point ``autotrader.adapters``)."""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version

from autotrader_core.adapter import BrokerAdapter
from autotrader_core.errors import ConfigurationError
from autotrader_core.hookspecs import AdapterInfo, hookimpl
from autotrader_core.settings import BrokerSettings

from autotrader_ibkr.adapter import IbkrAdapter
from autotrader_ibkr.settings import IbkrSettings

__all__ = ["autotrader_adapters"]


def _factory(settings: BrokerSettings) -> BrokerAdapter:
    if not isinstance(settings, IbkrSettings):
        raise ConfigurationError("the ibkr adapter needs IbkrSettings", broker="ibkr")
    return IbkrAdapter(settings)


def _version() -> str:
    try:
        return version("autotrader-ibkr")
    except PackageNotFoundError:
        return "0"


@hookimpl
def autotrader_adapters() -> Iterable[AdapterInfo]:
    """Register the IBKR adapter."""
    return [
        AdapterInfo(
            name=IbkrAdapter.name,
            factory=_factory,
            settings_cls=IbkrSettings,
            capabilities=IbkrAdapter.capabilities,
            version=_version(),
            description="Interactive Brokers via TWS / IB Gateway (ib_async), paper by default",
        )
    ]
