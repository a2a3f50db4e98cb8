"""What a strategy looks like to the engine.

A strategy decides *what* to trade; the engine does the rest. Subclass
:class:`Strategy` and override what you need: every hook has a do-nothing default.

.. code-block:: python

    class Momentum(Strategy):
        name = "momentum"

        async def decide(self, ctx: StrategyContext) -> list[ExecutionDecision]:
            price = ctx.last_price("BTCUSDT")
            if price is not None and price > self.threshold and ctx.position("BTCUSDT").is_flat:
                return [ExecutionDecision(DecisionAction.BUY, "BTCUSDT", Decimal("0.01"))]
            return []

A strategy cancels and modifies its own orders through the context. This one rests a
limit order below the market, moves it further down once, then cancels it:

.. code-block:: python

    class PlaceModifyCancel(Strategy):
        name = "place-modify-cancel"

        def __init__(self) -> None:
            self.order: Order | None = None
            self.moved = False

        async def decide(self, ctx: StrategyContext) -> list[ExecutionDecision]:
            price = ctx.last_price("BTCUSDT")
            if price is None:
                return []
            if self.order is None:  # 1. place: a limit buy 1 % below the market
                limit = (price * Decimal("0.99")).quantize(Decimal("0.01"))
                return [ExecutionDecision(DecisionAction.BUY, "BTCUSDT", Decimal("0.01"),
                                          order_type=OrderType.LIMIT, limit_price=limit)]
            if self.order.is_open and not self.moved:  # 2. modify: 2 % below instead
                self.moved = True
                await ctx.modify(self.order, limit_price=(price * Decimal("0.98")).quantize(Decimal("0.01")))
            elif self.order.is_open:  # 3. cancel
                await ctx.cancel(self.order)
            return []

        async def on_order_update(self, order: Order, ctx: StrategyContext) -> None:
            if self.order is None:
                self.order = order  # the order our decision placed
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from autotrader_core.market_data import Quote
from autotrader_core.models import Balance, ExecutionDecision, Fill, Instrument, Order, Position

__all__ = ["Strategy", "StrategyContext", "strategy_symbols"]


class StrategyContext(Protocol):
    """The engine's state, handed to every strategy hook, and cancel / modify for its orders.

    New orders come from :meth:`Strategy.decide`'s decisions; an order already placed is
    cancelled or changed with ``await ctx.cancel(order)`` / ``await ctx.modify(order, ...)``.
    """

    @property
    def now(self) -> datetime:
        """Current UTC time."""
        ...

    def last_price(self, symbol: str) -> Decimal | None:
        """The price of ``symbol`` now, or ``None`` when none is fresh.

        On a venue with market data: the last public trade where the venue streams trades
        (and it is no older than ``max_quote_age``), else the mid of the best bid and ask;
        ``None`` once the quote is older than ``max_quote_age`` or the feed is reconnecting.
        On an adapter without market data: the adapter's own price (the paper broker's).
        """
        ...

    def quote(self, symbol: str) -> Quote | None:
        """The latest fresh best bid/ask of ``symbol`` (``None`` when stale or never quoted)."""
        ...

    def price_age(self, symbol: str) -> float | None:
        """Seconds since ``symbol``'s latest quote arrived (``None``: never quoted)."""
        ...

    def position(self, symbol: str) -> Position:
        """Net position in ``symbol`` as built from our fills."""
        ...

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Orders still working."""
        ...

    def instrument(self, symbol: str) -> Instrument | None:
        """Trading rules of ``symbol``."""
        ...

    def balances(self) -> list[Balance]:
        """Balances as last fetched from the broker."""
        ...

    async def cancel(self, order: Order | str) -> Order:
        """Ask the broker to cancel ``order`` (or its client order id); ``pending_cancel`` until confirmed.

        Raises:
            IllegalTransition: the order is already finished.
        """
        ...

    async def modify(
        self,
        order: Order | str,
        *,
        quantity: Decimal | int | str | None = None,
        limit_price: Decimal | int | str | None = None,
        stop_price: Decimal | int | str | None = None,
    ) -> Order:
        """Change a working order's quantity and/or prices (native modify or cancel/replace).

        Raises:
            UnsupportedFeature: the broker cannot modify orders (nothing sent).
            InvalidOrder: nothing to change, or bad values.
        """
        ...


class Strategy:
    """Base class for strategies; override any hook.

    ``symbols`` lists the symbols whose quotes the strategy wants: the engine subscribes
    them on the adapter's public market data before ``on_start`` and calls
    :meth:`on_quote` with every fresh quote (besides the regular :meth:`decide` cycle).
    """

    name: str = "strategy"
    symbols: Sequence[str] = ()

    async def on_start(self, ctx: StrategyContext) -> None:
        """Called once after the engine connected and loaded instruments."""

    async def decide(self, ctx: StrategyContext) -> Sequence[ExecutionDecision]:
        """Called every decision cycle; return what to do now (possibly nothing)."""
        return ()

    async def on_quote(self, quote: Quote, ctx: StrategyContext) -> None:
        """Called with every fresh quote of a subscribed symbol (keep it quick: quotes come fast)."""

    async def on_fill(self, fill: Fill, position: Position, ctx: StrategyContext) -> None:
        """Called once per new fill, with the updated position."""

    async def on_order_update(self, order: Order, ctx: StrategyContext) -> None:
        """Called when an order's state changed."""

    async def on_stop(self, ctx: StrategyContext) -> None:
        """Called once when the engine stops."""


def strategy_symbols(strategy: Strategy | None) -> list[str]:
    """The symbols ``strategy`` declares (none without a strategy), each once, in order."""
    if strategy is None:
        return []
    return list(dict.fromkeys(strategy.symbols))
