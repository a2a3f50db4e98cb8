"""autotrader-oanda: the OANDA v20 adapter (REST orders, chunked transaction stream).

Public face: :class:`OandaAdapter` and its :class:`OandaSettings`. Both are imported
on first use, so plugin discovery (which imports :mod:`autotrader_oanda.plugin`, and
with it this package) pays for neither httpx nor pydantic-settings.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from autotrader_core.lazy import lazy_names

if TYPE_CHECKING:
    from autotrader_oanda.adapter import OandaAdapter
    from autotrader_oanda.settings import OandaSettings

__all__ = ["OandaAdapter", "OandaSettings", "__version__"]

try:
    __version__ = version("autotrader-oanda")
except PackageNotFoundError:  # a source tree on sys.path, not installed
    __version__ = "0+unknown"

__getattr__, __dir__ = lazy_names(
    globals(),
    {"OandaAdapter": "autotrader_oanda.adapter", "OandaSettings": "autotrader_oanda.settings"},
)
