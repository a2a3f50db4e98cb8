"""pluggy registration of the ``template`` adapter (entry point group ``autotrader.adapters``).

The entry point names this module: plugin discovery imports it and calls
:func:`autotrader_adapters`; :func:`make_adapter` is the factory it registers.
REPLACE: the name, the description and the class names.
"""

from __future__ import annotations

from collections.abc import Iterable

from autotrader_core.adapter import BrokerAdapter
from autotrader_core.errors import ConfigurationError
from autotrader_core.hookspecs import AdapterInfo, hookimpl
from autotrader_core.settings import BrokerSettings

from autotrader_template import __version__
from autotrader_template.adapter import CAPABILITIES, TemplateAdapter
from autotrader_template.errors import BROKER
from autotrader_template.settings import TemplateSettings

__all__ = ["autotrader_adapters", "make_adapter"]


def make_adapter(settings: BrokerSettings) -> BrokerAdapter:
    """Build a :class:`TemplateAdapter` from :class:`TemplateSettings` (no I/O)."""
    if not isinstance(settings, TemplateSettings):
        raise ConfigurationError(
            f"the template adapter needs TemplateSettings, got {type(settings).__name__}", broker=BROKER
        )
    return TemplateAdapter(settings)


@hookimpl
def autotrader_adapters() -> Iterable[AdapterInfo]:
    """The template adapter's registration record."""
    return [
        AdapterInfo(
            name=BROKER,
            factory=make_adapter,
            settings_cls=TemplateSettings,
            capabilities=CAPABILITIES,
            version=__version__,
            description="Template venue (imaginary; copy this package to write an adapter)",
        )
    ]
