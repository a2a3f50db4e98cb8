"""pluggy registration: the ``ibkr`` adapter (entry point ``autotrader.adapters``).

Discovery imports this module for every installed adapter, so it stays cheap: the settings
class is registered by reference and :func:`make_adapter` imports the adapter when it first
builds one (neither the adapter, ib_async nor pydantic-settings is loaded by discovery).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from autotrader_core.capabilities import Capabilities
from autotrader_core.enums import AssetClass, OrderType, TimeInForce
from autotrader_core.hookspecs import AdapterInfo, hookimpl

from autotrader_ibkr import __version__
from autotrader_ibkr.parsing import BROKER

if TYPE_CHECKING:
    from autotrader_core.adapter import BrokerAdapter
    from autotrader_core.settings import BrokerSettings

__all__ = ["CAPABILITIES", "autotrader_adapters", "make_adapter"]

CAPABILITIES = Capabilities(
    order_types=frozenset(OrderType),
    time_in_force=frozenset({TimeInForce.GTC, TimeInForce.DAY, TimeInForce.IOC, TimeInForce.FOK}),
    asset_classes=frozenset({AssetClass.EQUITY, AssetClass.FX, AssetClass.FUTURE, AssetClass.OPTION}),
    native_modify=True,
    streaming_fills=True,
    broker_positions=True,
    fill_history=True,
    quotes=True,
    trades=True,
    test_environments=("paper",),
    notes=(
        "needs a running TWS or IB Gateway with the API socket enabled",
        "executions history covers the current day (TWS limit)",
        "instruments are the symbols qualified so far (settings.symbols preloads them)",
        "market data needs the account's market-data subscriptions (else delayed: stale by default)",
    ),
)
"""What the IBKR adapter supports (``IbkrAdapter.capabilities``)."""


def make_adapter(settings: BrokerSettings) -> BrokerAdapter:
    """Build an :class:`~autotrader_ibkr.adapter.IbkrAdapter` from :class:`~autotrader_ibkr.settings.IbkrSettings`.

    Raises:
        ConfigurationError: ``settings`` is not an ``IbkrSettings``.
    """
    from autotrader_core.errors import ConfigurationError

    from autotrader_ibkr.settings import IbkrSettings

    if not isinstance(settings, IbkrSettings):
        raise ConfigurationError(
            f"the ibkr adapter needs IbkrSettings, got {type(settings).__name__}", broker=BROKER
        )
    from autotrader_ibkr.adapter import IbkrAdapter

    return IbkrAdapter(settings)


@hookimpl
def autotrader_adapters() -> Iterable[AdapterInfo]:
    """Register the IBKR adapter."""
    return [
        AdapterInfo(
            name=BROKER,
            factory=make_adapter,
            settings_cls="autotrader_ibkr.settings:IbkrSettings",
            capabilities=CAPABILITIES,
            version=__version__,
            description="Interactive Brokers via TWS / IB Gateway (ib_async), paper by default",
        )
    ]
