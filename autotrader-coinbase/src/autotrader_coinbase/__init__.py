"""Coinbase Advanced Trade adapter for autotrader.

Public face: :class:`CoinbaseAdapter` and :class:`CoinbaseSettings`.
"""

from __future__ import annotations

__version__ = "0.1.0"

from autotrader_coinbase.adapter import COINBASE_CAPABILITIES, CoinbaseAdapter
from autotrader_coinbase.settings import CoinbaseSettings

__all__ = ["COINBASE_CAPABILITIES", "CoinbaseAdapter", "CoinbaseSettings", "__version__"]
