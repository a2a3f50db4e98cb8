"""autotrader-binance: Binance Spot adapter for autotrader.

REST order entry on ``/api/v3`` and the user data stream over the WebSocket API,
with HMAC or Ed25519 keys. Spot testnet is the default environment::

    from autotrader_binance import BinanceAdapter, BinanceSettings

    adapter = BinanceAdapter(BinanceSettings(environment="testnet"))
"""

from __future__ import annotations

from importlib.metadata import version
from typing import TYPE_CHECKING

from autotrader_core.lazy import lazy_names

__version__ = version("autotrader-binance")

if TYPE_CHECKING:
    from autotrader_binance.adapter import BinanceAdapter
    from autotrader_binance.capabilities import CAPABILITIES
    from autotrader_binance.settings import BinanceSettings

__all__ = ["CAPABILITIES", "BinanceAdapter", "BinanceSettings", "__version__"]

# Names resolve on first use (PEP 562): plugin discovery imports this package on its way to
# `autotrader_binance.plugin`, and must not pay for pydantic-settings, httpx and the adapter.
_LAZY = {
    "CAPABILITIES": "autotrader_binance.capabilities",
    "BinanceAdapter": "autotrader_binance.adapter",
    "BinanceSettings": "autotrader_binance.settings",
}


__getattr__, __dir__ = lazy_names(globals(), _LAZY)
