"""pluggy registration: the ``autotrader.adapters`` entry point names this module."""

from __future__ import annotations

from collections.abc import Iterable

from autotrader_core.hookspecs import AdapterInfo, hookimpl
from autotrader_core.settings import BrokerSettings

from autotrader_okx import __version__
from autotrader_okx.adapter import OkxAdapter
from autotrader_okx.settings import OkxSettings

__all__ = ["autotrader_adapters", "make_adapter"]


def make_adapter(settings: BrokerSettings) -> OkxAdapter:
    """Build the adapter from its settings (``OkxSettings``; a base ``BrokerSettings`` is re-read as one)."""
    if not isinstance(settings, OkxSettings):
        settings = OkxSettings(**settings.model_dump(exclude_unset=True))
    return OkxAdapter(settings)


@hookimpl
def autotrader_adapters() -> Iterable[AdapterInfo]:
    """Register the ``okx`` adapter."""
    return [
        AdapterInfo(
            name=OkxAdapter.name,
            factory=make_adapter,
            settings_cls=OkxSettings,
            capabilities=OkxAdapter.capabilities,
            version=__version__,
            description="OKX v5 spot: REST orders with native amend, private WebSocket fills, demo trading",
        )
    ]
