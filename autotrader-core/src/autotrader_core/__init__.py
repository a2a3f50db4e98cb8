"""autotrader-core: the execution layer's models, contracts and engine.

Strategies import only this package. Adapters import only its public face
(this module and its documented submodules) and never each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autotrader_core.lazy import lazy_names

if TYPE_CHECKING:
    from autotrader_core.adapter import AdapterTelemetry, BrokerAdapter, OrderChange
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

# Names resolve on first use (PEP 562): `import autotrader_core` stays cheap, and importing
# one adapter does not pay for pydantic-settings, pluggy and the engine unless it uses them.
_LAZY: dict[str, str] = {
    "AdapterTelemetry": "autotrader_core.adapter",
    "BrokerAdapter": "autotrader_core.adapter",
    "OrderChange": "autotrader_core.adapter",
    "Capabilities": "autotrader_core.capabilities",
    "Feature": "autotrader_core.capabilities",
    "AssetClass": "autotrader_core.enums",
    "DecisionAction": "autotrader_core.enums",
    "Liquidity": "autotrader_core.enums",
    "OrderSide": "autotrader_core.enums",
    "OrderStatus": "autotrader_core.enums",
    "OrderType": "autotrader_core.enums",
    "TimeInForce": "autotrader_core.enums",
    "TradingState": "autotrader_core.enums",
    "AuthenticationError": "autotrader_core.errors",
    "AutotraderError": "autotrader_core.errors",
    "BrokerError": "autotrader_core.errors",
    "BrokerProtocolError": "autotrader_core.errors",
    "BrokerUnavailable": "autotrader_core.errors",
    "CircuitOpen": "autotrader_core.errors",
    "ConfigurationError": "autotrader_core.errors",
    "DuplicateClientOrderId": "autotrader_core.errors",
    "IllegalTransition": "autotrader_core.errors",
    "InsufficientFunds": "autotrader_core.errors",
    "InvalidOrder": "autotrader_core.errors",
    "OrderNotFound": "autotrader_core.errors",
    "PluginError": "autotrader_core.errors",
    "RateLimited": "autotrader_core.errors",
    "RequestTimeout": "autotrader_core.errors",
    "RiskRejected": "autotrader_core.errors",
    "TransientError": "autotrader_core.errors",
    "UnsupportedFeature": "autotrader_core.errors",
    "OrderAccepted": "autotrader_core.events",
    "OrderCanceled": "autotrader_core.events",
    "OrderCancelRejected": "autotrader_core.events",
    "OrderEvent": "autotrader_core.events",
    "OrderExpired": "autotrader_core.events",
    "OrderFilled": "autotrader_core.events",
    "OrderModified": "autotrader_core.events",
    "OrderModifyRejected": "autotrader_core.events",
    "OrderRejected": "autotrader_core.events",
    "AdapterInfo": "autotrader_core.hookspecs",
    "hookimpl": "autotrader_core.hookspecs",
    "Alert": "autotrader_core.models",
    "Balance": "autotrader_core.models",
    "ExecutionDecision": "autotrader_core.models",
    "Fill": "autotrader_core.models",
    "Instrument": "autotrader_core.models",
    "Order": "autotrader_core.models",
    "OrderReport": "autotrader_core.models",
    "Position": "autotrader_core.models",
    "PluginManager": "autotrader_core.plugins",
    "BrokerSettings": "autotrader_core.settings",
    "EngineSettings": "autotrader_core.settings",
}

__version__ = "0.1.0"

__all__ = [
    "AdapterInfo",
    "AdapterTelemetry",
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


__getattr__, __dir__ = lazy_names(globals(), _LAZY)
