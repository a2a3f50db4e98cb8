"""autotrader-core: the execution layer's models, contracts and engine.

Strategies import only this package. Adapters import only its public face
(this module and its documented submodules) and never each other.
"""

from __future__ import annotations

from autotrader_core.adapter import BrokerAdapter, OrderChange
from autotrader_core.capabilities import Capabilities, Feature
from autotrader_core.enums import (
    AssetClass,
    DecisionAction,
    Liquidity,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
    TradingState,
)
from autotrader_core.errors import (
    AuthenticationError,
    AutotraderError,
    BrokerError,
    BrokerProtocolError,
    BrokerUnavailable,
    CircuitOpen,
    ConfigurationError,
    DuplicateClientOrderId,
    IllegalTransition,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    PluginError,
    RateLimited,
    RequestTimeout,
    RiskRejected,
    TransientError,
    UnsupportedFeature,
)
from autotrader_core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModified,
    OrderModifyRejected,
    OrderRejected,
)
from autotrader_core.hookspecs import AdapterInfo, hookimpl
from autotrader_core.models import (
    Alert,
    Balance,
    ExecutionDecision,
    Fill,
    Instrument,
    Order,
    OrderReport,
    Position,
)
from autotrader_core.plugins import PluginManager
from autotrader_core.settings import BrokerSettings, EngineSettings

__version__ = "0.1.0"

__all__ = [
    "AdapterInfo",
    "Alert",
    "AssetClass",
    "AuthenticationError",
    "AutotraderError",
    "Balance",
    "BrokerAdapter",
    "BrokerError",
    "BrokerProtocolError",
    "BrokerSettings",
    "BrokerUnavailable",
    "Capabilities",
    "CircuitOpen",
    "ConfigurationError",
    "DecisionAction",
    "DuplicateClientOrderId",
    "EngineSettings",
    "ExecutionDecision",
    "Feature",
    "Fill",
    "IllegalTransition",
    "Instrument",
    "InsufficientFunds",
    "InvalidOrder",
    "Liquidity",
    "Order",
    "OrderAccepted",
    "OrderCancelRejected",
    "OrderCanceled",
    "OrderChange",
    "OrderEvent",
    "OrderExpired",
    "OrderFilled",
    "OrderModified",
    "OrderModifyRejected",
    "OrderNotFound",
    "OrderRejected",
    "OrderReport",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "PluginError",
    "PluginManager",
    "Position",
    "RateLimited",
    "RequestTimeout",
    "RiskRejected",
    "TimeInForce",
    "TradingState",
    "TransientError",
    "UnsupportedFeature",
    "__version__",
    "hookimpl",
]
