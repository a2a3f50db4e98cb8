"""autotrader-binance: Binance Spot adapter for autotrader.

REST order entry on ``/api/v3`` and the user data stream over the WebSocket API,
with HMAC or Ed25519 keys. Spot testnet is the default environment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autotrader_core.lazy import lazy_names

__version__ = "0.1.0"

if TYPE_CHECKING:
    from autotrader_binance.adapter import CAPABILITIES, BinanceAdapter
    from autotrader_binance.settings import BinanceSettings

__all__ = ["CAPABILITIES", "BinanceAdapter", "BinanceSettings", "__version__"]

# Names resolve on first use (PEP 562), so `import autotrader_binance` (plugin discovery,
# version checks) does not load pydantic-settings, httpx and the adapter.
_LAZY = {
    "CAPABILITIES": "autotrader_binance.adapter",
    "BinanceAdapter": "autotrader_binance.adapter",
    "BinanceSettings": "autotrader_binance.settings",
}


__getattr__, __dir__ = lazy_names(globals(), _LAZY)
