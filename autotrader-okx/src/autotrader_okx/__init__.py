"""autotrader-okx: the OKX v5 adapter for autotrader (spot, demo trading by default).

>>> from autotrader_okx import OkxAdapter, OkxSettings
>>> adapter = OkxAdapter(OkxSettings())  # reads AUTOTRADER_OKX_* from the environment

The adapter and its settings resolve on first use: plugin discovery imports
:mod:`autotrader_okx.plugin`, which must not pay for the adapter or pydantic-settings.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import TYPE_CHECKING

from autotrader_core.lazy import lazy_names

if TYPE_CHECKING:
    from autotrader_okx.adapter import OkxAdapter
    from autotrader_okx.settings import OkxSettings

__version__ = version("autotrader-okx")

__all__ = ["OkxAdapter", "OkxSettings", "__version__"]

__getattr__, __dir__ = lazy_names(
    globals(), {"OkxAdapter": "autotrader_okx.adapter", "OkxSettings": "autotrader_okx.settings"}
)
