"""What the Binance Spot adapter supports, declared once.

The adapter class, the OMS and the risk checks read this set, and so does plugin
discovery: this module imports only the core's enums, so registering the adapter
loads neither the adapter nor pydantic-settings.
"""

from __future__ import annotations

from autotrader_core.capabilities import Capabilities
from autotrader_core.enums import AssetClass, OrderType, TimeInForce

__all__ = ["CAPABILITIES"]

CAPABILITIES = Capabilities(
    order_types=frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT}),
    time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK}),
    asset_classes=frozenset({AssetClass.CRYPTO_SPOT}),
    post_only=True,
    native_modify=False,
    emulated_modify=True,
    streaming_fills=True,
    broker_positions=False,
    fill_history=True,
    quotes=True,
    trades=True,
    # Every environment of settings.ENVIRONMENTS but "live" (a test keeps the two in step).
    test_environments=("testnet", "demo"),
    notes=(
        "spot has no positions: they come from the OMS and balances",
        "modify: quantity decrease = native amend (keeps priority); price change = cancelReplace "
        "(STOP_ON_FAILURE, only while the order has no fill)",
        "no DAY time in force, no reduce-only; market orders cannot be FOK",
        "fill history (myTrades) is per symbol",
    ),
)
"""The adapter's capabilities (``BinanceAdapter.capabilities`` is this object)."""
