"""pluggy registration: the ``autotrader.adapters`` entry point names this module.

Discovery imports this module for every installed adapter, so it stays cheap: the
adapter and its pydantic-settings class load when the adapter is built or its
settings/capabilities are read (:class:`~autotrader_core.hookspecs.LazyAdapterInfo`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from autotrader_core.hookspecs import AdapterInfo, LazyAdapterInfo, hookimpl

from autotrader_okx import __version__

if TYPE_CHECKING:
    from autotrader_core.settings import BrokerSettings

    from autotrader_okx.adapter import OkxAdapter

__all__ = ["autotrader_adapters", "make_adapter"]


def make_adapter(settings: BrokerSettings) -> OkxAdapter:
    """Build the adapter from its settings (``OkxSettings``; a base ``BrokerSettings`` is re-read as one)."""
    from autotrader_okx.adapter import OkxAdapter
    from autotrader_okx.settings import OkxSettings

    if not isinstance(settings, OkxSettings):
        settings = OkxSettings(**settings.model_dump(exclude_unset=True))
    return OkxAdapter(settings)


@hookimpl
def autotrader_adapters() -> Iterable[AdapterInfo]:
    """Register the ``okx`` adapter."""
    return [
        LazyAdapterInfo(
            name="okx",
            factory=make_adapter,
            settings_cls="autotrader_okx.settings:OkxSettings",
            capabilities="autotrader_okx.adapter:OkxAdapter.capabilities",
            version=__version__,
            description="OKX v5 spot: REST orders with native amend, private WebSocket fills, demo trading",
        )
    ]
