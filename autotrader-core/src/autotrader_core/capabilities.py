"""What an adapter can do, declared once as data.

The risk checks read it (an order the adapter cannot take is refused before
send) and the conformance suite reads it (a scenario that needs a missing
feature is skipped with the reason shown).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from autotrader_core.enums import AssetClass, OrderType, TimeInForce

__all__ = ["Capabilities", "Feature"]


class Feature(StrEnum):
    """A single capability, as named by the conformance suite's ``requires`` marks."""

    MARKET_ORDERS = "market_orders"
    LIMIT_ORDERS = "limit_orders"
    STOP_ORDERS = "stop_orders"
    STOP_LIMIT_ORDERS = "stop_limit_orders"
    IOC = "ioc"
    FOK = "fok"
    DAY = "day"
    POST_ONLY = "post_only"
    MODIFY = "modify"
    """Modify in any form (native or cancel/replace)."""
    NATIVE_MODIFY = "native_modify"
    STREAMING_FILLS = "streaming_fills"
    BROKER_POSITIONS = "broker_positions"
    """The broker reports positions itself (spot crypto has none)."""
    FILL_HISTORY = "fill_history"
    """Past fills can be queried (needed for catch-up after a reconnect)."""
    REDUCE_ONLY = "reduce_only"
    """The broker enforces reduce-only orders itself."""
    QUOTES = "quotes"
    """Best bid/ask on a public stream, with a REST snapshot (``open_market_data``, ``get_quote``)."""
    TRADES = "trades"
    """Public trades on the market-data stream."""
    MARK_PRICE = "mark_price"
    """The venue's mark price on the market-data stream."""


_ORDER_TYPE_FEATURES = {
    OrderType.MARKET: Feature.MARKET_ORDERS,
    OrderType.LIMIT: Feature.LIMIT_ORDERS,
    OrderType.STOP: Feature.STOP_ORDERS,
    OrderType.STOP_LIMIT: Feature.STOP_LIMIT_ORDERS,
}
_TIF_FEATURES = {TimeInForce.IOC: Feature.IOC, TimeInForce.FOK: Feature.FOK, TimeInForce.DAY: Feature.DAY}


@dataclass(frozen=True, slots=True)
class Capabilities:
    """Declaration of what one adapter supports."""

    order_types: frozenset[OrderType]
    time_in_force: frozenset[TimeInForce]
    asset_classes: frozenset[AssetClass]
    post_only: bool = False
    native_modify: bool = False
    emulated_modify: bool = False
    """Modify by cancel/replace, with the same guarantees (declared honestly)."""
    streaming_fills: bool = False
    broker_positions: bool = False
    fill_history: bool = False
    reduce_only: bool = False
    """The broker enforces ``Order.reduce_only`` (others refuse such orders before send)."""
    quotes: bool = False
    """Public best bid/ask stream and REST snapshot (see :mod:`autotrader_core.market_data`)."""
    trades: bool = False
    """Public trades on the market-data stream."""
    mark_price: bool = False
    """The venue's mark price on the market-data stream."""
    test_environments: tuple[str, ...] = ()
    """Names accepted by the settings' ``environment`` switch besides ``live``."""
    notes: tuple[str, ...] = field(default=())
    """Known limits worth showing in ``autotrader plugins``."""

    @property
    def features(self) -> frozenset[Feature]:
        """The declared capabilities as a set of :class:`Feature`."""
        found = {_ORDER_TYPE_FEATURES[t] for t in self.order_types}
        found |= {_TIF_FEATURES[t] for t in self.time_in_force if t in _TIF_FEATURES}
        flags = {
            Feature.POST_ONLY: self.post_only,
            Feature.NATIVE_MODIFY: self.native_modify,
            Feature.MODIFY: self.native_modify or self.emulated_modify,
            Feature.STREAMING_FILLS: self.streaming_fills,
            Feature.BROKER_POSITIONS: self.broker_positions,
            Feature.FILL_HISTORY: self.fill_history,
            Feature.REDUCE_ONLY: self.reduce_only,
            Feature.QUOTES: self.quotes,
            Feature.TRADES: self.trades,
            Feature.MARK_PRICE: self.mark_price,
        }
        found |= {feature for feature, on in flags.items() if on}
        return frozenset(found)

    def supports(self, feature: Feature) -> bool:
        """Whether ``feature`` is declared."""
        return feature in self.features

    def summary(self) -> str:
        """One-line human summary for ``autotrader plugins``."""
        types = ",".join(sorted(t.value for t in self.order_types))
        tifs = ",".join(sorted(t.value for t in self.time_in_force))
        extras = sorted(
            f.value
            for f in self.features
            if f not in _ORDER_TYPE_FEATURES.values() and f not in _TIF_FEATURES.values()
        )
        return f"types={types} tif={tifs} " + (" ".join(extras) if extras else "")
