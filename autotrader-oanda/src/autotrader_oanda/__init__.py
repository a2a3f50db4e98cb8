"""autotrader-oanda: the OANDA v20 adapter (REST orders, chunked transaction stream).

Public face: :class:`OandaAdapter` and its :class:`OandaSettings`.
"""

from __future__ import annotations

from autotrader_oanda.adapter import OandaAdapter
from autotrader_oanda.settings import OandaSettings

__all__ = ["OandaAdapter", "OandaSettings"]
