"""autotrader-binance: Binance Spot adapter for autotrader.

REST order entry on ``/api/v3`` and the user data stream over the WebSocket API,
with HMAC or Ed25519 keys. Spot testnet is the default environment.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    """Import a public name's module on first access."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'autotrader_binance' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
