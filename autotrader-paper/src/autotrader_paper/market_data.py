"""The paper broker's simulated quotes through the market-data contract.

A strategy that reads ``open_market_data()`` / ``get_quote()`` runs unchanged on paper
and on a live venue. The simulator has one price per symbol and no book depth, so:

* the bid is what a market sell would fill at now and the ask what a market buy would
  (the price moved by ``slippage_bps``, rounded against the trader); with no slippage the
  ask is one tick above the price, so a quote is never a locked, no-price book;
* sizes are nominal (:data:`PAPER_DEPTH`): the simulator fills any quantity at that price;
* the feed yields a quote of each subscribed symbol when its price moves (the prices move
  while ``stream_events()`` runs, or with ``advance()`` / ``set_price()``), and a snapshot
  of every subscribed symbol on each subscription change;
* the simulator never disconnects: no :class:`Stale` except ``unsubscribed``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Collection
from decimal import Decimal

import anyio
from autotrader_core.errors import InvalidOrder
from autotrader_core.market_data import MarketData, Quote, Stale

from autotrader_paper.simulator import BROKER_NAME, Simulator

__all__ = ["PAPER_DEPTH", "PaperMarketData", "paper_quote"]

PAPER_DEPTH = Decimal(1_000_000)
"""Nominal size at the simulated bid and ask (the simulator has no depth)."""


def paper_quote(simulator: Simulator, symbol: str) -> Quote:
    """The simulated quote of ``symbol`` now.

    Raises:
        InvalidOrder: the paper broker has no such instrument.
    """
    touch = simulator.touch_prices(symbol)
    if touch is None:
        raise InvalidOrder(f"paper broker has no instrument {symbol!r}", broker=BROKER_NAME)
    bid, ask = touch
    return Quote(symbol, bid, PAPER_DEPTH, ask, PAPER_DEPTH, simulator.clock())


class PaperMarketData:
    """Simulated quotes as a ``MarketDataFeed`` (``PaperAdapter.open_market_data``).

    Args:
        simulator: The paper broker's simulator.
        interval: Seconds between looks at the simulated prices.
    """

    def __init__(self, simulator: Simulator, *, interval: float = 0.05) -> None:
        self._simulator = simulator
        self._interval = interval if interval > 0 else 0.05
        self._symbols: set[str] = set()
        self._last: dict[str, Decimal | None] = {}
        self._pending: list[MarketData] = []
        self._snapshot_due = False
        self._wakeup = anyio.Event()
        self._closed = False

    @property
    def symbols(self) -> frozenset[str]:
        """The symbols subscribed now."""
        return frozenset(self._symbols)

    async def subscribe(self, symbols: Collection[str]) -> None:
        """Start quoting ``symbols``.

        Raises:
            InvalidOrder: a symbol the paper broker has no instrument for (nothing subscribed).
        """
        wanted = {symbols} if isinstance(symbols, str) else set(symbols)
        unknown = sorted(s for s in wanted if s not in self._simulator.instruments)
        if unknown:
            raise InvalidOrder(
                f"paper broker has no instrument {', '.join(map(repr, unknown))}; nothing was subscribed",
                broker=BROKER_NAME,
            )
        self._symbols |= wanted
        self._changed()

    async def unsubscribe(self, symbols: Collection[str]) -> None:
        """Stop quoting ``symbols``; each gets a ``Stale(symbol, "unsubscribed")`` item."""
        gone = ({symbols} if isinstance(symbols, str) else set(symbols)) & self._symbols
        self._symbols -= gone
        self._pending += [Stale(symbol, "unsubscribed") for symbol in sorted(gone)]
        self._changed()

    async def items(self) -> AsyncGenerator[MarketData, None]:
        """Quotes as the simulated prices move, until :meth:`aclose`."""
        while not self._closed:
            pending, self._pending = self._pending, []
            for item in pending:
                yield item
            snapshot, self._snapshot_due = self._snapshot_due, False
            for symbol in sorted(self._symbols):
                price = self._simulator.price(symbol)
                if snapshot or self._last.get(symbol) != price:
                    self._last[symbol] = price
                    yield paper_quote(self._simulator, symbol)
            if self._pending or self._snapshot_due:
                continue
            self._wakeup = anyio.Event()
            with anyio.move_on_after(self._interval):
                await self._wakeup.wait()

    async def aclose(self) -> None:
        """Stop :meth:`items`; safe to call twice."""
        self._closed = True
        self._wakeup.set()

    def _changed(self) -> None:
        self._snapshot_due = True
        self._wakeup.set()
