"""The engine on market data: strategies see fresh quotes, risk prices orders from them, a stale
price refuses an opening order (and says why) but never blocks getting out."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Collection, Sequence
from decimal import Decimal as D

import anyio
import pytest
from autotrader_core import ExecutionEngine, RiskChecks, RiskLimits, Strategy, StrategyContext
from autotrader_core.errors import InvalidOrder, RiskRejected, UnsupportedFeature
from autotrader_core.market_data import MarketData, Quote, Stale
from autotrader_core.models import ExecutionDecision
from autotrader_core.settings import EngineSettings

from .fakes import FakeBroker

pytestmark = pytest.mark.anyio


class Feed:
    """A market-data feed the test pushes items into."""

    def __init__(self) -> None:
        self.subscribed: list[str] = []
        self.send, self.receive = anyio.create_memory_object_stream[MarketData](100)

    async def subscribe(self, symbols: Collection[str]) -> None:
        if "NOPE" in symbols:
            raise InvalidOrder("fake lists no symbol NOPE")
        self.subscribed += [s for s in symbols if s not in self.subscribed]

    async def unsubscribe(self, symbols: Collection[str]) -> None:
        return None

    async def items(self) -> AsyncIterator[MarketData]:
        async for item in self.receive:
            yield item

    async def aclose(self) -> None:
        return None


class QuotingBroker(FakeBroker):
    capabilities = dataclasses.replace(FakeBroker.capabilities, quotes=True)

    def __init__(self) -> None:
        super().__init__()
        self.feed = Feed()
        self.snapshots: list[str] = []
        self.snapshot_bid: D | None = None
        self.snapshot_delayed = False

    async def get_quote(self, symbol: str) -> Quote:
        self.snapshots.append(symbol)
        bid = self.snapshot_bid if self.snapshot_bid is not None else D("99.00")
        return Quote(symbol, bid, D("1"), bid + D("0.02"), D("1"), delayed=self.snapshot_delayed)

    def open_market_data(self, *, trades: bool = False) -> Feed:
        return self.feed

    def last_price(self, symbol: str) -> D | None:
        return None  # a live venue knows no price without its market data


def quote(bid: str, ask: str) -> Quote:
    return Quote("BTCUSDT", D(bid), D("2"), D(ask), D("3"))


class Watcher(Strategy):
    name = "watcher"
    symbols = ("BTCUSDT",)

    def __init__(self) -> None:
        self.quotes: list[Quote] = []
        self.seen: list[tuple[D | None, Quote | None]] = []

    async def on_quote(self, quote: Quote, ctx: StrategyContext) -> None:
        self.quotes.append(quote)
        self.seen.append((ctx.last_price("BTCUSDT"), ctx.quote("BTCUSDT")))

    async def decide(self, ctx: StrategyContext) -> Sequence[ExecutionDecision]:
        return ()


async def wait_until(condition: object, seconds: float = 3.0) -> None:
    with anyio.fail_after(seconds):
        while not condition():  # type: ignore[operator]
            await anyio.sleep(0.01)


def make(
    broker: QuotingBroker, strategy: Strategy | None = None, *, accept_delayed: bool = False, **limits: object
) -> ExecutionEngine:
    return ExecutionEngine(
        broker,
        strategy=strategy,
        settings=EngineSettings(
            decision_interval=0.05,
            order_timeout=5,
            max_quote_age=0.5,
            accept_delayed_quotes=accept_delayed,
        ),
        risk=RiskChecks(RiskLimits(**limits)),  # type: ignore[arg-type]
    )


async def test_declared_symbols_are_subscribed_seeded_and_quoted_to_the_strategy() -> None:
    broker, strategy = QuotingBroker(), Watcher()
    async with make(broker, strategy) as engine:
        await wait_until(lambda: broker.feed.subscribed == ["BTCUSDT"])
        await wait_until(lambda: engine.prices.quote("BTCUSDT") is not None)
        assert broker.snapshots == ["BTCUSDT"]  # the REST snapshot: the first value
        await broker.feed.send.send(quote("100.00", "100.10"))
        await wait_until(lambda: strategy.quotes)
        price, seen = strategy.seen[-1]
        assert price == D("100.05")  # no trades streamed: the mid
        assert seen is not None and seen.ask == D("100.10")
        assert engine.context.price_age("BTCUSDT") is not None


async def test_a_buy_is_priced_at_the_ask_a_sell_at_the_bid() -> None:
    broker = QuotingBroker()
    async with make(broker, Watcher(), price_band=D("0.01")) as engine:
        await broker.feed.send.send(quote("100.00", "110.00"))
        await wait_until(lambda: getattr(engine.prices.quote("BTCUSDT"), "ask", None) == D("110.00"))
        # 109 is within 1 % of the ask (a buy's price) but not of the bid
        await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="109.00")
        with pytest.raises(RiskRejected, match=r"reference price 100\.00") as refused:
            await engine.submit_order("BTCUSDT", "sell", D("0.1"), order_type="limit", limit_price="109.00")
        assert refused.value.reason == RiskChecks.PRICE_BAND


@pytest.mark.parametrize("why", ["stale", "delayed"])
async def test_a_stale_or_delayed_price_refuses_an_opening_order_but_not_getting_out(why: str) -> None:
    broker = QuotingBroker()
    async with make(broker, Watcher(), max_order_notional=D("1000")) as engine:
        await engine.submit_order("BTCUSDT", "buy", D("0.5"))  # priced from the seeded snapshot
        if why == "stale":
            await broker.feed.send.send(Stale(None, "connection lost"))
            await wait_until(lambda: not engine.prices.is_fresh("BTCUSDT"))
            broker.snapshot_bid = D("0")  # the fallback snapshot is no price either (an empty book)
            expected = "empty book for BTCUSDT"
        else:  # a delayed quote (and snapshot) is fresh to watch but prices no opening order
            broker.snapshot_delayed = True
            await broker.feed.send.send(dataclasses.replace(quote("100.00", "100.10"), delayed=True))
            await wait_until(lambda: getattr(engine.prices.quote("BTCUSDT"), "delayed", False))
            expected = "BTCUSDT is delayed"
        with pytest.raises(RiskRejected, match=expected) as refused:
            await engine.submit_order("BTCUSDT", "buy", D("0.1"))
        assert refused.value.reason == RiskChecks.NO_PRICE
        closing = await engine.submit_order("BTCUSDT", "sell", D("0.5"))  # only reduces: allowed
        assert closing.filled_quantity == D("0.5")


async def test_a_delayed_quote_is_shown_to_the_strategy_but_refuses_an_opening_order() -> None:
    broker, strategy = QuotingBroker(), Watcher()
    broker.snapshot_delayed = True
    async with make(broker, strategy, price_band=D("0.01")) as engine:
        await broker.feed.send.send(dataclasses.replace(quote("100.00", "100.10"), delayed=True))
        await wait_until(lambda: strategy.quotes)
        _, seen = strategy.seen[-1]
        assert seen is not None and seen.delayed and seen.ask == D("100.10")  # ctx.quote says so
        with pytest.raises(RiskRejected, match=r"delayed.*accept_delayed_quotes") as refused:
            await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="100.10")
        assert refused.value.reason == RiskChecks.NO_PRICE
        assert broker.received == []  # nothing reached the broker
        await broker.feed.send.send(quote("100.00", "100.10"))  # live again: the same order passes
        await wait_until(lambda: not getattr(engine.prices.quote("BTCUSDT"), "delayed", True))
        await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="100.10")


async def test_accept_delayed_quotes_prices_orders_from_a_delayed_quote() -> None:
    broker = QuotingBroker()
    broker.snapshot_delayed = True
    async with make(broker, Watcher(), accept_delayed=True, price_band=D("0.01")) as engine:
        await broker.feed.send.send(dataclasses.replace(quote("100.00", "100.10"), delayed=True))
        await wait_until(lambda: getattr(engine.prices.quote("BTCUSDT"), "ask", None) == D("100.10"))
        await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="100.10")
        with pytest.raises(RiskRejected) as refused:  # and the band is anchored on it
            await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="90.00")
        assert refused.value.reason == RiskChecks.PRICE_BAND


async def test_an_unsubscribed_symbol_gets_a_snapshot_when_a_check_needs_a_price() -> None:
    broker = QuotingBroker()
    async with make(broker, None, max_order_notional=D("1000")) as engine:  # no strategy: nothing subscribed
        assert broker.snapshots == []
        await engine.submit_order("BTCUSDT", "buy", D("0.1"))
        assert broker.snapshots == ["BTCUSDT"]
        await wait_until(lambda: broker.feed.subscribed == ["BTCUSDT"])  # live from now on


async def test_an_adapter_without_market_data_keeps_its_own_price() -> None:
    broker = FakeBroker()  # no quotes capability: last_price comes from the adapter
    async with ExecutionEngine(broker, risk=RiskChecks(RiskLimits(max_order_notional=D("1000")))) as engine:
        order = await engine.submit_order("BTCUSDT", "buy", D("0.1"))
        assert order.filled_quantity == D("0.1")
        assert engine.context.last_price("BTCUSDT") == broker.last_price("BTCUSDT")
        await engine.subscribe(["BTCUSDT"])  # a no-op, not an error


class DeclaresButHasNone(QuotingBroker):
    def open_market_data(self, *, trades: bool = False) -> Feed:
        raise UnsupportedFeature("this connection offers no market data")


async def test_an_adapter_that_declares_quotes_but_has_no_feed_still_trades() -> None:
    broker = DeclaresButHasNone()
    async with make(broker, Watcher()) as engine:
        await anyio.sleep(0.05)  # the market-data task gave up quietly; the engine runs on
        order = await engine.submit_order("BTCUSDT", "buy", D("0.1"))
        assert order.filled_quantity == D("0.1") and engine.running
