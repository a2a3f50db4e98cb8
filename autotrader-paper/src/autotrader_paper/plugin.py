"""pluggy registration: the ``autotrader.adapters`` entry point ``paper`` names this module."""

from __future__ import annotations

from autotrader_core.adapter import BrokerAdapter
from autotrader_core.errors import ConfigurationError
from autotrader_core.hookspecs import AdapterInfo, hookimpl
from autotrader_core.settings import BrokerSettings

from autotrader_paper import __version__
from autotrader_paper.adapter import PAPER_CAPABILITIES, PaperAdapter
from autotrader_paper.settings import PaperSettings

__all__ = ["autotrader_adapters", "build_adapter"]


def build_adapter(settings: BrokerSettings) -> BrokerAdapter:
    """Factory used by the plugin manager: ``PaperAdapter(settings)``.

    Raises:
        ConfigurationError: ``settings`` is not a :class:`PaperSettings`.
    """
    if not isinstance(settings, PaperSettings):
        raise ConfigurationError(f"the paper adapter needs PaperSettings, got {type(settings).__name__}")
    return PaperAdapter(settings)


@hookimpl
def autotrader_adapters() -> list[AdapterInfo]:
    """Register the paper adapter."""
    return [
        AdapterInfo(
            name="paper",
            factory=build_adapter,
            settings_cls=PaperSettings,
            capabilities=PAPER_CAPABILITIES,
            version=__version__,
            description="Paper trading: deterministic simulated spot exchange (no network, no real money)",
        )
    ]
