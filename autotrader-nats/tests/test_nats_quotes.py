"""Remote strategies on a venue whose adapter knows no price without its market feed.

A live adapter's ``last_price()`` is ``None``: the price a remote strategy reads must come
from the gateway engine's market feed (the symbols the strategy declares), quote by
quote, and a stale marker must reach it so it never takes an old price as fresh.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Sequence
from decimal import Decimal
from pathlib import Path

import anyio
import pytest
from autotrader_core import DecisionAction, ExecutionDecision
from autotrader_core.enums import OrderStatus
from autotrader_core.errors import InvalidOrder
from autotrader_core.market_data import MarketData, Quote, Stale
from autotrader_core.models import Fill, Position
from autotrader_core.settings import EngineSettings
from autotrader_core.strategy import Strategy, StrategyContext
from autotrader_nats import AccountGateway, NatsSettings, RemoteEngine, connect_gateway
from autotrader_paper import PaperAdapter, PaperSettings
from nats_gateway_main import serving
from nats_kit import NatsServer

pytestmark = pytest.mark.anyio


class Feed:
    """A market-data feed the test pushes items into."""

    def __init__(self) -> None:
        self.subscribed: list[str] = []
        self.send, self.receive = anyio.create_memory_object_stream[MarketData](100)

    async def subscribe(self, symbols: Collection[str]) -> None:
        if "NOPE" in symbols:
            raise InvalidOrder("this venue lists no symbol NOPE")
        self.subscribed += [s for s in symbols if s not in self.subscribed]

    async def unsubscribe(self, symbols: Collection[str]) -> None:
        return None

    async def items(self) -> AsyncIterator[MarketData]:
        async for item in self.receive:
            yield item

    async def aclose(self) -> None:
        return None


class LiveLikePaper(PaperAdapter):
    """Paper fills, but prices only from a market feed, as on Binance/OKX/Coinbase/OANDA."""

    def __init__(self) -> None:
        super().__init__(
            PaperSettings(
                quote_source="static",
                initial_balances={"USDT": Decimal(10**9), "BTC": Decimal(1000)},
            )
        )
        self.feed = Feed()

    def last_price(self, symbol: str) -> Decimal | None:
        return None  # a live venue's adapter knows no price without its market data

    async def get_quote(self, symbol: str) -> Quote:
        return Quote(symbol, Decimal("65000.00"), Decimal("1"), Decimal("65000.20"), Decimal("1"))

    def open_market_data(self, *, trades: bool = False) -> Feed:
        return self.feed


class QuoteTrader(Strategy):
    """Buys once when the ask is below 64,100; records what each quote callback saw."""

    name = "quote-trader"
    symbols = ("BTCUSDT",)

    def __init__(self) -> None:
        self.quotes: list[tuple[Quote, Decimal | None, Quote | None]] = []
        self.fills: list[Fill] = []

    async def on_quote(self, quote: Quote, ctx: StrategyContext) -> None:
        self.quotes.append((quote, ctx.last_price("BTCUSDT"), ctx.quote("BTCUSDT")))

    async def decide(self, ctx: StrategyContext) -> Sequence[ExecutionDecision]:
        quote = ctx.quote("BTCUSDT")  # what a buy would pay now: the fresh ask
        if quote is None or quote.ask >= Decimal("64100") or self.fills:
            return []
        return [ExecutionDecision(DecisionAction.BUY, "BTCUSDT", Decimal("0.01"))]

    async def on_fill(self, fill: Fill, position: Position, ctx: StrategyContext) -> None:
        self.fills.append(fill)


@pytest.fixture
async def live_gateway(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[AccountGateway]:
    gw = AccountGateway(
        LiveLikePaper(),
        nats_settings=NatsSettings(servers=[nats_server.url]),
        settings=EngineSettings(data_dir=tmp_path / "data", journal_fsync=False, reconcile_interval=0),
        quote_interval=0.05,
    )
    async with serving(gw):
        yield gw


def remote(server: NatsServer, strategy: Strategy) -> RemoteEngine:
    return connect_gateway(
        "paper",
        "paper",
        strategy=strategy,
        nats_settings=NatsSettings(servers=[server.url], request_timeout=5),
    )


async def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    with anyio.fail_after(seconds):
        while not condition():
            await anyio.sleep(0.01)


def feed_of(gateway: AccountGateway) -> Feed:
    adapter = gateway.engine.adapter
    assert isinstance(adapter, LiveLikePaper)
    return adapter.feed


async def test_a_remote_strategy_sees_the_feed_price_and_trades_and_a_stale_reaches_it(
    live_gateway: AccountGateway, nats_server: NatsServer
) -> None:
    strategy = QuoteTrader()
    feed = feed_of(live_gateway)
    async with remote(nats_server, strategy) as engine:
        ctx = engine.context
        assert feed.subscribed == ["BTCUSDT"]  # declared at connect, subscribed by the gateway
        # the REST snapshot the engine took on subscribing is there before any stream quote
        assert ctx.last_price("BTCUSDT") == Decimal("65000.10")
        await anyio.sleep(0.3)  # decision cycles at the snapshot price: too high, nothing bought
        assert strategy.fills == []
        await feed.send.send(
            Quote("BTCUSDT", Decimal("64000.00"), Decimal("0.5"), Decimal("64000.20"), Decimal("2"))
        )
        await wait_until(lambda: bool(strategy.quotes) and bool(strategy.fills))
        seen, last, fresh = strategy.quotes[0]
        assert (seen.bid, seen.bid_size, seen.ask, seen.ask_size) == (
            Decimal("64000.00"),
            Decimal("0.5"),
            Decimal("64000.20"),
            Decimal("2"),
        )
        assert last == Decimal("64000.10") and fresh == seen
        age = ctx.price_age("BTCUSDT")
        assert age is not None and age < 2.0
        (fill,) = strategy.fills
        assert live_gateway.control.order(fill.client_order_id).status is OrderStatus.FILLED  # type: ignore[union-attr]

        await feed.send.send(Stale("BTCUSDT", "market data connection dropped"))
        await wait_until(lambda: ctx.last_price("BTCUSDT") is None)
        assert ctx.quote("BTCUSDT") is None  # never the old price as fresh
        assert engine.market.stale_reason("BTCUSDT") == "market data connection dropped"

        await feed.send.send(
            Quote("BTCUSDT", Decimal("64100.00"), Decimal("1"), Decimal("64100.20"), Decimal("1"))
        )
        await wait_until(lambda: ctx.last_price("BTCUSDT") == Decimal("64100.10"))
        assert len(strategy.fills) == 1  # bought once, on the quote that came through the feed


async def test_a_stale_from_before_the_connect_arrives_with_the_snapshot(
    live_gateway: AccountGateway, nats_server: NatsServer
) -> None:
    feed = feed_of(live_gateway)
    await live_gateway.engine.subscribe(["BTCUSDT"])
    await feed.send.send(Stale(None, "market data connection dropped"))
    await wait_until(lambda: not live_gateway.engine.prices.is_fresh("BTCUSDT"))
    async with remote(nats_server, QuoteTrader()) as engine:
        assert engine.context.last_price("BTCUSDT") is None
        assert engine.context.quote("BTCUSDT") is None


async def test_a_symbol_the_venue_does_not_list_is_refused_at_connect(
    live_gateway: AccountGateway, nats_server: NatsServer
) -> None:
    class Nope(QuoteTrader):
        symbols = ("NOPE",)

    with pytest.raises(InvalidOrder, match="NOPE"):
        async with remote(nats_server, Nope()):
            pass
