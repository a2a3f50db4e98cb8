"""autotrader-okx: the OKX v5 adapter for autotrader (spot, demo trading by default).

>>> from autotrader_okx import OkxAdapter, OkxSettings
>>> adapter = OkxAdapter(OkxSettings())  # reads AUTOTRADER_OKX_* from the environment
"""

from __future__ import annotations

__version__ = "0.1.0"

from autotrader_okx.adapter import OkxAdapter
from autotrader_okx.settings import OkxSettings

__all__ = ["OkxAdapter", "OkxSettings", "__version__"]
