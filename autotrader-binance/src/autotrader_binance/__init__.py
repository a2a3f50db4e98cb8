"""autotrader-binance: Binance Spot adapter for autotrader.

REST order entry on ``/api/v3`` and the user data stream over the WebSocket API,
with HMAC or Ed25519 keys. Spot testnet is the default environment.
"""

from __future__ import annotations

__version__ = "0.1.0"

from autotrader_binance.adapter import CAPABILITIES, BinanceAdapter
from autotrader_binance.settings import BinanceSettings

__all__ = ["CAPABILITIES", "BinanceAdapter", "BinanceSettings", "__version__"]
