"""The paper broker's simulated quotes through the market-data contract."""

from __future__ import annotations

from contextlib import aclosing
from decimal import Decimal

import pytest
from autotrader_core.enums import OrderSide
from autotrader_core.errors import InvalidOrder
from autotrader_core.market_data import PriceCache, Quote, Stale
from autotrader_paper import PaperAdapter, PaperSettings

pytestmark = pytest.mark.anyio


def _adapter(slippage_bps: str = "0") -> PaperAdapter:
    return PaperAdapter(
        PaperSettings(quote_source="random_walk", slippage_bps=Decimal(slippage_bps), tick_interval=0.01)
    )


async def test_the_quote_is_what_a_market_order_would_fill_at_and_the_cache_takes_it() -> None:
    adapter = _adapter("10")
    quote = await adapter.get_quote("BTCUSDT")
    price = adapter.last_price("BTCUSDT")
    assert price is not None and quote.bid < price < quote.ask
    tick = adapter.simulator.instruments["BTCUSDT"].tick_size
    assert quote.bid % tick == 0 and quote.ask % tick == 0
    cache = PriceCache()
    assert cache.update(quote)
    assert cache.reference_price("BTCUSDT", OrderSide.BUY) == quote.ask


async def test_without_slippage_the_ask_is_one_tick_above_so_the_book_is_never_locked() -> None:
    adapter = _adapter()
    quote = await adapter.get_quote("BTCUSDT")
    tick = adapter.simulator.instruments["BTCUSDT"].tick_size
    assert quote.bid == adapter.last_price("BTCUSDT") and quote.ask == quote.bid + tick
    assert quote.problem() is None


async def test_unknown_symbol_is_a_typed_error() -> None:
    adapter = _adapter()
    with pytest.raises(InvalidOrder):
        await adapter.get_quote("NOPEUSDT")
    feed = adapter.open_market_data()
    with pytest.raises(InvalidOrder, match="NOPEUSDT"):
        await feed.subscribe(["BTCUSDT", "NOPEUSDT"])
    await feed.aclose()


async def test_the_feed_quotes_each_price_move_and_stops_after_unsubscribe() -> None:
    adapter = _adapter()
    feed = adapter.open_market_data()
    await feed.subscribe(["BTCUSDT", "ETHUSDT"])
    seen: list[object] = []
    async with aclosing(feed.items()) as items:  # type: ignore[type-var]
        async for item in items:
            seen.append(item)
            quotes = [i for i in seen if isinstance(i, Quote)]
            if len(quotes) == 2:  # the snapshot of both
                adapter.set_price("BTCUSDT", (adapter.last_price("BTCUSDT") or Decimal(1)) * 2)
            if len(quotes) == 3:
                assert quotes[-1].symbol == "BTCUSDT"
                await feed.unsubscribe(["ETHUSDT"])
            if isinstance(item, Stale):
                assert item.symbol == "ETHUSDT"
                break
    await feed.aclose()
    assert [type(i).__name__ for i in seen] == ["Quote", "Quote", "Quote", "Stale"]
