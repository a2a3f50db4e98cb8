"""Coinbase Advanced Trade adapter for autotrader.

Public face: :class:`CoinbaseAdapter` and :class:`CoinbaseSettings`.

The adapter and its settings resolve on first use: plugin discovery imports
:mod:`autotrader_coinbase.plugin`, which must not pay for the adapter or pydantic-settings.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import TYPE_CHECKING

from autotrader_core.lazy import lazy_names

if TYPE_CHECKING:
    from autotrader_coinbase.adapter import COINBASE_CAPABILITIES, CoinbaseAdapter
    from autotrader_coinbase.settings import CoinbaseSettings

__version__ = version("autotrader-coinbase")

__all__ = ["COINBASE_CAPABILITIES", "CoinbaseAdapter", "CoinbaseSettings", "__version__"]

__getattr__, __dir__ = lazy_names(
    globals(),
    {
        "COINBASE_CAPABILITIES": "autotrader_coinbase.adapter",
        "CoinbaseAdapter": "autotrader_coinbase.adapter",
        "CoinbaseSettings": "autotrader_coinbase.settings",
    },
)
