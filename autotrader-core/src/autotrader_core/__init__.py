"""autotrader-core: the execution layer's models, contracts and engine.

The one import a strategy author needs::

    from autotrader_core import ExecutionEngine, Strategy, StrategyContext, ExecutionDecision

Adapters import only this public face (this module and its documented submodules) and
never each other. Names resolve on first use (PEP 562): plugin discovery and every
adapter import ``autotrader_core.<module>``, which runs this package first, and must not
pay for the engine and pydantic-settings. The names are listed once, as the imports
below (what type checkers read) and ``__all__``; at run time a name is looked up in
``_MODULES`` in order (``tests/test_public_face.py`` checks the three agree).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autotrader_core.lazy import lazy_public_face

if TYPE_CHECKING:
    __version__: str
    from autotrader_core.account import AccountId
    from autotrader_core.adapter import AdapterTelemetry, BrokerAdapter, OrderChange
    from autotrader_core.audit import ControlAction
    from autotrader_core.capabilities import Capabilities, Feature
    from autotrader_core.control import CancelAllResult, EngineControl
    from autotrader_core.engine import ExecutionEngine
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
        OutcomeResolved,
        OutcomeUnknown,
    )
    from autotrader_core.hookspecs import AdapterInfo, hookimpl
    from autotrader_core.ids import ClientOrderIdGenerator
    from autotrader_core.kill_switch import KillReport
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
    from autotrader_core.recovery import ReconciliationReport
    from autotrader_core.resend import ResendGuarantee, ResendRule
    from autotrader_core.resiliency import CircuitBreaker, RetryPolicy
    from autotrader_core.resolver import OutcomeResolver, SettleAs, UnknownOutcome, note_replacement
    from autotrader_core.risk import RiskChecks, RiskLimits
    from autotrader_core.settings import BrokerSettings, EngineSettings
    from autotrader_core.status import EngineStatus
    from autotrader_core.strategy import Strategy, StrategyContext
    from autotrader_core.trading_gate import TradingGate


__all__ = [
    "AccountId",
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
    "CancelAllResult",
    "Capabilities",
    "CircuitBreaker",
    "CircuitOpen",
    "ClientOrderIdGenerator",
    "ConfigurationError",
    "ControlAction",
    "DecisionAction",
    "DuplicateClientOrderId",
    "EngineControl",
    "EngineSettings",
    "EngineStatus",
    "ExecutionDecision",
    "ExecutionEngine",
    "Feature",
    "Fill",
    "IllegalTransition",
    "Instrument",
    "InsufficientFunds",
    "InvalidOrder",
    "KillReport",
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
    "OutcomeResolved",
    "OutcomeResolver",
    "OutcomeUnknown",
    "PluginError",
    "PluginManager",
    "Position",
    "RateLimited",
    "ReconciliationReport",
    "RequestTimeout",
    "ResendGuarantee",
    "ResendRule",
    "RetryPolicy",
    "RiskChecks",
    "RiskLimits",
    "RiskRejected",
    "SettleAs",
    "Strategy",
    "StrategyContext",
    "TimeInForce",
    "TradingGate",
    "TradingState",
    "TransientError",
    "UnknownOutcome",
    "UnsupportedFeature",
    "__version__",
    "hookimpl",
    "note_replacement",
]

_MODULES = (
    "autotrader_core.account",
    "autotrader_core.adapter",
    "autotrader_core.audit",
    "autotrader_core.capabilities",
    "autotrader_core.control",
    "autotrader_core.engine",
    "autotrader_core.enums",
    "autotrader_core.errors",
    "autotrader_core.events",
    "autotrader_core.hookspecs",
    "autotrader_core.ids",
    "autotrader_core.kill_switch",
    "autotrader_core.models",
    "autotrader_core.plugins",
    "autotrader_core.recovery",
    "autotrader_core.resend",
    "autotrader_core.resiliency",
    "autotrader_core.resolver",
    "autotrader_core.risk",
    "autotrader_core.settings",
    "autotrader_core.status",
    "autotrader_core.strategy",
    "autotrader_core.trading_gate",
)
"""Where the names above come from, searched in order on first use."""

__getattr__, __dir__ = lazy_public_face(globals(), _MODULES, distribution="autotrader-core")
