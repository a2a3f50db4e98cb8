"""The price cache: fresh prices with ages, stale on a gap or silence, never a price of zero."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from autotrader_core.capabilities import Capabilities, Feature
from autotrader_core.enums import AssetClass, OrderSide, OrderType, TimeInForce
from autotrader_core.market_data import MarkPrice, PriceCache, Quote, Stale, Trade


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def quote(
    bid: str = "100.1", ask: str = "100.2", bid_size: str = "1", ask_size: str = "2", at: float = 1000.0
) -> Quote:
    return Quote("BTCUSDT", D(bid), D(bid_size), D(ask), D(ask_size), received_at=at)


def make() -> tuple[PriceCache, Clock, list[str]]:
    clock, alerts = Clock(), list[str]()
    return PriceCache(max_age=5.0, on_alert=alerts.append, clock=clock), clock, alerts


def test_a_buy_is_valued_at_the_ask_a_sell_at_the_bid() -> None:
    cache, _, _ = make()
    assert cache.update(quote())
    assert cache.reference_price("BTCUSDT", OrderSide.BUY) == D("100.2")
    assert cache.reference_price("BTCUSDT", OrderSide.SELL) == D("100.1")
    reading = cache.last_price("BTCUSDT")
    assert reading is not None and reading.price == D("100.15") and reading.source == "mid"


def test_last_price_is_the_last_trade_while_it_is_fresh_then_the_mid() -> None:
    cache, clock, _ = make()
    cache.update(quote())
    cache.update(Trade("BTCUSDT", D("100.17"), D("0.5"), OrderSide.BUY, "7", received_at=1000.0))
    reading = cache.last_price("BTCUSDT")
    assert reading is not None and (reading.price, reading.source) == (D("100.17"), "trade")
    clock.now = 1004.0
    cache.update(quote(at=1004.0))  # the book moves on, no trade prints
    clock.now = 1005.5
    reading = cache.last_price("BTCUSDT")
    assert reading is not None and (reading.price, reading.source) == (D("100.15"), "mid")
    assert reading.age == pytest.approx(1.5)


def test_an_old_quote_is_no_price_and_says_why() -> None:
    cache, clock, _ = make()
    cache.update(quote())
    clock.now = 1006.0
    assert cache.reference_price("BTCUSDT", OrderSide.BUY) is None
    assert cache.last_price("BTCUSDT") is None
    assert cache.stale_reason("BTCUSDT") == "the last quote for BTCUSDT is 6.0s old (max 5s)"
    assert cache.is_fresh("BTCUSDT", max_age=10)
    assert cache.stale_reason("ETHUSDT") == "no quote for ETHUSDT yet"


@pytest.mark.parametrize(
    ("bid", "ask", "bid_size", "ask_size", "why"),
    [
        ("100.3", "100.2", "1", "1", "crossed book"),
        ("100.2", "100.2", "1", "1", "crossed book"),
        ("0.00000000", "100.2", "1", "1", "empty book"),
        ("100.1", "100.2", "0.00000000", "1", "zero size"),
        ("100.1", "100.2", "1", "0.00000000", "zero size"),
    ],
)
def test_a_crossed_empty_or_zero_size_book_is_no_price(
    bid: str, ask: str, bid_size: str, ask_size: str, why: str
) -> None:
    cache, _, alerts = make()
    cache.update(quote())
    assert not cache.update(quote(bid, ask, bid_size, ask_size))
    assert cache.reference_price("BTCUSDT", OrderSide.BUY) is None
    assert cache.quote("BTCUSDT") is None  # never a price of zero, nor the old one
    assert why in (cache.stale_reason("BTCUSDT") or "")
    assert not cache.update(quote(bid, ask, bid_size, ask_size))
    assert len(alerts) == 1 and why in alerts[0]  # one alert per bad spell, not per frame
    assert cache.update(quote())
    assert cache.is_fresh("BTCUSDT")


def test_a_stale_marker_holds_until_the_next_quote() -> None:
    cache, _, _ = make()
    cache.update(quote())
    cache.update(Trade("BTCUSDT", D("100.17"), D("0.5"), None, "8", received_at=1000.0))
    cache.update(Stale(None, "stream reconnecting"))
    assert cache.last_price("BTCUSDT") is None
    assert cache.stale_reason("BTCUSDT") == "stream reconnecting"
    cache.update(quote())
    assert cache.last_price("BTCUSDT") is not None


def test_zero_trades_and_marks_are_ignored() -> None:
    cache, _, _ = make()
    cache.update(quote())
    assert not cache.update(Trade("BTCUSDT", D("0"), D("1"), OrderSide.SELL, "9", received_at=1000.0))
    cache.update(MarkPrice("BTCUSDT", D("0")))
    assert cache.trade("BTCUSDT") is None and cache.mark_price("BTCUSDT") is None
    cache.update(MarkPrice("BTCUSDT", D("100.16")))
    mark = cache.mark_price("BTCUSDT")
    assert mark is not None and mark.price == D("100.16")


def test_ages_for_status_pages() -> None:
    cache, clock, _ = make()
    cache.update(quote())
    clock.now = 1002.5
    assert cache.ages() == {"BTCUSDT": 2.5}


def test_market_data_capabilities_are_features() -> None:
    caps = Capabilities(
        order_types=frozenset({OrderType.MARKET}),
        time_in_force=frozenset({TimeInForce.GTC}),
        asset_classes=frozenset({AssetClass.CRYPTO_SPOT}),
        quotes=True,
        trades=True,
    )
    assert caps.supports(Feature.QUOTES) and caps.supports(Feature.TRADES)
    assert not caps.supports(Feature.MARK_PRICE)
    assert "quotes" in caps.summary()


# -- delayed quotes (IBKR's reqMarketDataType 3) ------------------------------------------
def test_a_quote_is_live_unless_marked_delayed() -> None:
    assert Quote("X", D("1"), D("1"), D("2"), D("1")).delayed is False


def test_a_delayed_quote_is_shown_but_prices_no_order_unless_accepted() -> None:
    now = [10.0]
    cache = PriceCache(max_age=5, clock=lambda: now[0])
    cache.update(Quote("X", D("1"), D("1"), D("2"), D("1"), None, 10.0, delayed=True))
    quote = cache.quote("X")
    assert quote is not None and quote.delayed  # the strategy sees it, flagged
    assert cache.is_fresh("X")  # young: a price to watch
    assert cache.reference_price("X", OrderSide.BUY) is None  # but no price to open an order on
    assert cache.delayed_symbols() == ["X"]  # for the status (Prometheus quote_delayed)
    reason = cache.delayed_reason("X")
    assert reason is not None and "delayed" in reason and "accept_delayed_quotes" in reason
    cache.update(Quote("X", D("1"), D("1"), D("2"), D("1"), None, 10.0))  # live again
    assert cache.reference_price("X", OrderSide.BUY) == D("2") and cache.delayed_reason("X") is None

    accepting = PriceCache(max_age=5, clock=lambda: now[0], accept_delayed=True)
    accepting.update(Quote("X", D("1"), D("1"), D("2"), D("1"), None, 10.0, delayed=True))
    assert accepting.reference_price("X", OrderSide.SELL) == D("1")
    assert accepting.delayed_reason("X") is None
