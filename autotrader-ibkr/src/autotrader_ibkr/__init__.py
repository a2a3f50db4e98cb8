"""autotrader adapter for Interactive Brokers (TWS / IB Gateway) on ib_async.

Names resolve on first use (PEP 562), so ``import autotrader_ibkr.plugin`` (plugin
discovery, version checks) does not load ib_async and the adapter.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import TYPE_CHECKING

from autotrader_core.lazy import lazy_names

__version__ = version("autotrader-ibkr")

if TYPE_CHECKING:
    from autotrader_ibkr.adapter import IbkrAdapter
    from autotrader_ibkr.contracts import ContractSpec, parse_symbol
    from autotrader_ibkr.plugin import CAPABILITIES
    from autotrader_ibkr.settings import IbkrSettings

__all__ = ["CAPABILITIES", "ContractSpec", "IbkrAdapter", "IbkrSettings", "__version__", "parse_symbol"]

_LAZY = {
    "CAPABILITIES": "autotrader_ibkr.plugin",
    "ContractSpec": "autotrader_ibkr.contracts",
    "IbkrAdapter": "autotrader_ibkr.adapter",
    "IbkrSettings": "autotrader_ibkr.settings",
    "parse_symbol": "autotrader_ibkr.contracts",
}

__getattr__, __dir__ = lazy_names(globals(), _LAZY)
