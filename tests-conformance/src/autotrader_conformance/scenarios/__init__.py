"""The scenario tests, one module per group.

:class:`~autotrader_conformance.AdapterConformance` mixes them all in.
"""

from __future__ import annotations

from autotrader_conformance.scenarios.account import AccountScenarios
from autotrader_conformance.scenarios.connection import ConnectionScenarios
from autotrader_conformance.scenarios.errors import ErrorScenarios
from autotrader_conformance.scenarios.instruments import InstrumentScenarios
from autotrader_conformance.scenarios.market_data import MarketDataScenarios
from autotrader_conformance.scenarios.orders import OrderScenarios
from autotrader_conformance.scenarios.resiliency import ResiliencyScenarios
from autotrader_conformance.scenarios.stream import StreamScenarios

__all__ = [
    "AccountScenarios",
    "ConnectionScenarios",
    "ErrorScenarios",
    "InstrumentScenarios",
    "MarketDataScenarios",
    "OrderScenarios",
    "ResiliencyScenarios",
    "StreamScenarios",
]
