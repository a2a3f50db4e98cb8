import sys
from collections import deque
from decimal import Decimal

import anyio
from autotrader_core import (
    DecisionAction,
    ExecutionDecision,
    ExecutionEngine,
    Fill,
    PluginManager,
    Position,
    Strategy,
    StrategyContext,
)

# What to trade on each broker: its symbol format and an order size it accepts.
MARKETS = {
    "paper": ("BTCUSDT", "0.01"),
    "binance": ("BTCUSDT", "0.01"),
    "okx": ("BTC-USDT", "0.01"),
    "coinbase": ("BTC-USD", "0.01"),
    "oanda": ("EUR_USD", "1000"),  # units
    "ibkr": ("AAPL", "1"),  # shares
}


class MeanReversion(Strategy):
    """Buys when the price is below its recent average, sells when it is back above."""

    name = "mean-reversion"

    def __init__(self, symbol: str, size: Decimal) -> None:
        self.symbol, self.size = symbol, size
        self.symbols = (symbol,)  # its quotes are subscribed on any venue with market data
        self.prices: deque[Decimal] = deque(maxlen=20)  # the last 20 decision cycles (2 s)

    async def decide(self, ctx: StrategyContext) -> list[ExecutionDecision]:
        price = ctx.last_price(self.symbol)
        if price is None:
            return []
        self.prices.append(price)
        if len(self.prices) < 20 or ctx.open_orders(self.symbol):
            return []
        average = sum(self.prices) / len(self.prices)
        flat = ctx.position(self.symbol).is_flat
        if price < average and flat:
            return [ExecutionDecision(DecisionAction.BUY, self.symbol, self.size)]
        if price > average and not flat:
            return [ExecutionDecision(DecisionAction.CLOSE, self.symbol)]
        return []

    async def on_fill(self, fill: Fill, position: Position, ctx: StrategyContext) -> None:
        print(
            f"{fill.side.value} {fill.quantity} {fill.symbol} @ {fill.price}, position {position.quantity:f}"
        )


async def main(broker: str) -> None:
    symbol, size = MARKETS[broker]
    adapter = PluginManager().load_entry_points().create_adapter(broker)  # settings from the environment
    async with ExecutionEngine(adapter, strategy=MeanReversion(symbol, Decimal(size))) as engine:
        # Ctrl-C (or SIGTERM) stops the strategy, cancels this engine's open orders, leaves
        # positions as they are and prints what it did; `autotrader kill` also flattens them.
        await engine.run(duration=60)
    print(engine.status())


if __name__ == "__main__":
    anyio.run(main, sys.argv[1] if len(sys.argv) > 1 else "paper")  # python mean_reversion.py okx
