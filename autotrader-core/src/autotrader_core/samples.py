"""A sample strategy used by ``autotrader paper`` / ``autotrader demo``.

It is deliberately simple and *not* a trading recommendation: it shows the
engine's data path (market and limit orders, cancels, fills, positions, PnL).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from decimal import Decimal

from autotrader_core.enums import DecisionAction, OrderSide, OrderType
from autotrader_core.models import ExecutionDecision, Fill, Position
from autotrader_core.strategy import Strategy, StrategyContext

__all__ = ["MeanReversionDemo"]


class MeanReversionDemo(Strategy):
    """Buys dips below a moving average, sells rallies above it, with a position cap.

    Args:
        symbol: Instrument to trade.
        size: Quantity per order.
        window: Number of decision cycles in the moving average.
        band: Relative distance from the average that triggers a trade.
        max_position: Largest absolute position it builds.
    """

    name = "mean-reversion-demo"

    def __init__(
        self,
        symbol: str = "BTCUSDT",
        *,
        size: Decimal = Decimal("0.01"),
        window: int = 20,
        band: Decimal = Decimal("0.0005"),
        max_position: Decimal = Decimal("0.05"),
    ) -> None:
        self.symbol = symbol
        self.symbols = (symbol,)  # its quotes are subscribed on venues with market data
        self.size = size
        self.band = band
        self.max_position = max_position
        self._prices: deque[Decimal] = deque(maxlen=window)
        self.fills: list[Fill] = []

    async def decide(self, ctx: StrategyContext) -> Sequence[ExecutionDecision]:
        """Compare the price with its moving average and trade back towards it."""
        price = ctx.last_price(self.symbol)
        if price is None:
            return ()
        self._prices.append(price)
        if len(self._prices) < self._prices.maxlen:  # type: ignore[operator]
            return ()
        average = sum(self._prices, Decimal(0)) / len(self._prices)
        position = ctx.position(self.symbol).quantity
        if ctx.open_orders(self.symbol):
            return ()
        instrument = ctx.instrument(self.symbol)
        tick = instrument.tick_size if instrument is not None else Decimal("0.01")
        if price < average * (1 - self.band) and position + self.size <= self.max_position:
            return [ExecutionDecision(DecisionAction.BUY, self.symbol, self.size, tag="dip")]
        if price > average * (1 + self.band) and position > 0:
            # Offer slightly above the market: a resting limit order that fills as the price moves.
            limit = (price + 2 * tick).quantize(tick)
            return [
                ExecutionDecision(
                    DecisionAction.SELL,
                    self.symbol,
                    min(self.size, position),
                    order_type=OrderType.LIMIT,
                    limit_price=limit,
                    tag="rally",
                )
            ]
        return ()

    async def on_fill(self, fill: Fill, position: Position, ctx: StrategyContext) -> None:
        """Keep the fills for the end-of-session summary."""
        self.fills.append(fill)

    @staticmethod
    def describe_side(side: OrderSide) -> str:
        """Human word for a side (used by the demo display)."""
        return "bought" if side is OrderSide.BUY else "sold"
