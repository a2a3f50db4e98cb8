"""pluggy registration: the ``paper`` adapter (entry point ``autotrader.adapters``).

Discovery imports this module for every installed adapter, so it stays cheap: the
adapter and its pydantic-settings class load when the adapter is built or its
settings/capabilities are read (:class:`~autotrader_core.hookspecs.LazyAdapterInfo`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from autotrader_core.hookspecs import AdapterInfo, LazyAdapterInfo, hookimpl

from autotrader_paper import __version__

if TYPE_CHECKING:
    from autotrader_core.adapter import BrokerAdapter
    from autotrader_core.settings import BrokerSettings

__all__ = ["autotrader_adapters", "make_adapter"]


def make_adapter(settings: BrokerSettings) -> BrokerAdapter:
    """Factory used by the plugin manager: ``PaperAdapter(settings)``.

    Raises:
        ConfigurationError: ``settings`` is not a :class:`~autotrader_paper.settings.PaperSettings`.
    """
    from autotrader_core.errors import ConfigurationError

    from autotrader_paper.adapter import PaperAdapter
    from autotrader_paper.settings import PaperSettings

    if not isinstance(settings, PaperSettings):
        raise ConfigurationError(f"the paper adapter needs PaperSettings, got {type(settings).__name__}")
    return PaperAdapter(settings)


build_adapter = make_adapter
"""The factory's former name, kept for code that imported it."""


@hookimpl
def autotrader_adapters() -> Iterable[AdapterInfo]:
    """Register the paper adapter."""
    return [
        LazyAdapterInfo(
            name="paper",
            factory=make_adapter,
            settings_cls="autotrader_paper.settings:PaperSettings",
            capabilities="autotrader_paper.adapter:PAPER_CAPABILITIES",
            version=__version__,
            description="Paper trading: deterministic simulated spot exchange (no network, no real money)",
        )
    ]
