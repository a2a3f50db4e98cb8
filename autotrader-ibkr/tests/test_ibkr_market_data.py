"""IBKR market data against the fake TWS: what a strategy and the price cache see.

The kit's TC-MD scenarios (test_ibkr_conformance.py) cover subscribe/parse, unknown
symbols, reconnect, silence and unsubscribe; these cover what is IBKR's own: "no value"
ticks, delayed data, missing permissions, TWS's 1100/1101, and the tick parsers.
"""

from __future__ import annotations

import io
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import TypeVar

import anyio
import pytest
from autotrader_core.enums import OrderSide
from autotrader_core.errors import BrokerProtocolError, InvalidOrder
from autotrader_core.market_data import MarketData, PriceCache, Quote, Stale, Trade
from autotrader_core.quotes_cli import stream_quotes
from autotrader_ibkr import IbkrAdapter
from autotrader_ibkr.errors import NoMarketDataPermission
from autotrader_ibkr.market_data import IbkrMarketData
from autotrader_ibkr.ticks import (
    Book,
    PriceTick,
    SizeTick,
    parse_tick_by_tick_last,
    parse_tick_price,
    parse_tick_size,
)
from ibkr_fake_tws import fake_tws
from ibkr_support import Session, settings_for

pytestmark = pytest.mark.anyio

D = Decimal
T = TypeVar("T")


# ---------------------------------------------------------------------------- parsers
def test_tick_price_is_the_wire_text_as_decimal() -> None:
    tick = parse_tick_price(["1", "6", "7", "1", "185.25", "300", "1"])
    assert tick == PriceTick(7, 1, D("185.25"), D("300"))
    assert str(tick.price) == "185.25"  # not 185.250000000000005684... as a float would give
    fx = parse_tick_price(["1", "6", "8", "2", "1.08525", "2000000", "1"])
    assert fx.price == D("1.08525")


@pytest.mark.parametrize(("price", "size"), [("-1", "0"), ("0", "0"), ("-1", "100"), ("", "")])
def test_no_value_ticks_are_none_never_zero(price: str, size: str) -> None:
    tick = parse_tick_price(["1", "6", "7", "1", price, size, "0"])
    assert tick.price is None


def test_an_unreadable_tick_is_a_protocol_error() -> None:
    with pytest.raises(BrokerProtocolError):
        parse_tick_price(["1", "6", "7", "1", "18S.25", "300", "0"])
    with pytest.raises(BrokerProtocolError):
        parse_tick_size(["2", "6", "7"])


def test_tick_by_tick_trade_carries_the_exchange_time() -> None:
    tick = parse_tick_by_tick_last(["99", "9", "2", "1764009005", "185.27", "100", "0", "ISLAND", ""])
    assert tick is not None
    assert (tick.price, tick.size, tick.exchange) == (D("185.27"), D("100"), "ISLAND")
    assert tick.time.isoformat() == "2025-11-24T18:30:05+00:00"
    midpoint = parse_tick_by_tick_last(["99", "9", "4", "1764009005", "185.26"])
    assert midpoint is None


def test_book_quotes_once_both_sides_are_known_and_never_at_zero() -> None:
    book = Book()
    assert book.apply_price(PriceTick(1, 1, D("185.25"), D("300")))
    assert book.state("AAPL", 0.0) is None  # no ask heard yet: no quote, no stale either
    assert not book.apply_size(SizeTick(1, 0, D("300")))  # TWS repeats the size: no change
    assert book.apply_price(PriceTick(1, 2, D("185.27"), D("500")))
    quote = book.state("AAPL", 0.0)
    assert isinstance(quote, Quote) and (quote.bid, quote.ask_size) == (D("185.25"), D("500"))
    assert book.apply_size(SizeTick(1, 3, None))  # the ask side empties
    stale = book.state("AAPL", 0.0)
    assert isinstance(stale, Stale) and "no ask" in stale.reason
    assert not book.apply_price(PriceTick(1, 4, D("185.26"), D("100")))  # last: not the book


# ---------------------------------------------------------------------------- feed helpers
class Items:
    """A feed's items, read in the background."""

    def __init__(self) -> None:
        self.items: list[MarketData] = []

    async def until(self, condition: Callable[[list[MarketData]], bool], seconds: float = 4.0) -> None:
        with anyio.fail_after(seconds):
            while not condition(self.items):
                await anyio.sleep(0.01)

    def of(self, kind: type[T]) -> list[T]:
        return [item for item in self.items if isinstance(item, kind)]


@asynccontextmanager
async def reading(feed: IbkrMarketData) -> AsyncIterator[Items]:
    items = Items()

    async def run() -> None:
        async for item in feed.items():
            items.items.append(item)

    async with anyio.create_task_group() as group:
        group.start_soon(run)
        try:
            yield items
        finally:
            await feed.aclose()


def _quotes(items: Items) -> list[tuple[Decimal, Decimal, Decimal, Decimal]]:
    return [(q.bid, q.bid_size, q.ask, q.ask_size) for q in items.of(Quote)]


# ---------------------------------------------------------------------------- behaviour
async def test_no_value_ticks_make_the_symbol_stale_never_a_zero_price(session: Session) -> None:
    alerts: list[str] = []
    cache = PriceCache(max_age=60, on_alert=alerts.append)
    async with session("market_data_no_value") as (tws, adapter):
        feed = adapter.open_market_data()
        async with reading(feed) as items:
            await feed.subscribe(["AAPL"])
            await items.until(lambda seen: len([i for i in seen if isinstance(i, Stale)]) >= 2)
            await tws.wait_script()
            await anyio.sleep(0.1)
        for item in items.items:
            cache.update(item)
    first, quote, last = items.items[0], items.items[1], items.items[-1]
    assert isinstance(first, Stale) and first.symbol == "AAPL" and "no bid" in first.reason
    assert isinstance(quote, Quote) and (quote.bid, quote.ask) == (D("185.25"), D("185.27"))
    assert isinstance(last, Stale) and "no ask" in last.reason
    assert cache.reference_price("AAPL", OrderSide.BUY) is None  # stale: never a price of zero
    assert alerts == []  # the feed said "stale" itself; the cache never saw a zero to refuse


async def test_delayed_data_is_stale_by_default(session: Session) -> None:
    async with session("market_data_delayed") as (_tws, adapter):
        feed = adapter.open_market_data()
        async with reading(feed) as items:
            await feed.subscribe(["AAPL"])
            await items.until(lambda seen: bool(seen))
        with pytest.raises(NoMarketDataPermission, match="delayed"):
            await adapter.get_quote("AAPL")
    assert items.of(Quote) == []
    (stale,) = items.items
    assert isinstance(stale, Stale) and stale.symbol == "AAPL"
    assert "delayed" in stale.reason and "not a live price" in stale.reason


async def test_delayed_quotes_when_asked_for(session: Session) -> None:
    async with session("market_data_delayed", delayed_data="quotes") as (_tws, adapter):
        feed = adapter.open_market_data()
        async with reading(feed) as items:
            await feed.subscribe(["AAPL"])
            await items.until(lambda seen: bool(seen))
        snapshot = await adapter.get_quote("AAPL")
    assert _quotes(items) == [(D("185.05"), D("300"), D("185.07"), D("500"))]
    assert (snapshot.bid, snapshot.ask) == (D("185.05"), D("185.07"))


async def test_a_refused_symbol_is_stale_and_the_others_go_on(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    async with session(
        "market_data_no_permission", delayed_data="off", symbols=["AAPL", "FUT:ES:202512:CME"]
    ) as (
        tws,
        adapter,
    ):
        feed = adapter.open_market_data()
        async with reading(feed) as items:
            await feed.subscribe(["AAPL", "FUT:ES:202512:CME"])
            await items.until(lambda seen: len(_quotes(items)) >= 2)
        with pytest.raises(NoMarketDataPermission) as refused:
            await adapter.get_quote("FUT:ES:202512:CME")
    assert refused.value.code == "10089"
    stale = [i for i in items.of(Stale) if i.symbol == "FUT:ES:202512:CME"]
    assert len(stale) == 1 and "TWS error 354" in stale[0].reason
    assert _quotes(items)[-1] == (D("185.26"), D("200"), D("185.27"), D("500"))
    assert tws.requests("reqMarketDataType") == []  # delayed_data=off: live only
    assert any("market data of FUT:ES:202512:CME refused" in r.getMessage() for r in caplog.records)


async def test_1100_is_stale_and_1101_resubscribes_on_the_same_socket(session: Session) -> None:
    async with session("market_data_restored") as (tws, adapter):
        feed = adapter.open_market_data()
        async with reading(feed) as items:
            await feed.subscribe(["AAPL"])
            await items.until(lambda seen: len(_quotes(items)) >= 2)
    first = items.items.index(items.of(Quote)[0])
    second = items.items.index(items.of(Quote)[1])
    between = [i for i in items.items[first + 1 : second] if isinstance(i, Stale)]
    assert any("1100" in i.reason for i in between)  # prices stop being trusted at once
    assert any("1101" in i.reason for i in between)
    assert all(i.symbol is None for i in between)
    assert _quotes(items)[1] == (D("185.31"), D("400"), D("185.33"), D("600"))
    assert tws.connections == 1 and len(tws.requests("reqMktData")) == 2


async def test_unknown_symbol_sends_nothing(session: Session) -> None:
    async with session("conformance/TC-MD-02") as (tws, adapter):
        feed = adapter.open_market_data()
        with pytest.raises(InvalidOrder):
            await feed.subscribe(["AAPL", "NOPE"])
        await feed.aclose()
        assert feed.symbols == frozenset()
        assert tws.requests("reqMktData") == [] and tws.requests("reqMarketDataType") == []


async def test_market_data_connects_by_itself_and_disconnect_ends_the_feed() -> None:
    async with fake_tws("conformance/TC-MD-03") as tws:
        adapter = IbkrAdapter(settings_for(tws))
        feed = adapter.open_market_data()  # no connect(): the first subscribe connects
        ended = anyio.Event()
        seen: list[MarketData] = []

        async def run() -> None:
            async for item in feed.items():
                seen.append(item)
            ended.set()

        async with anyio.create_task_group() as group:
            group.start_soon(run)
            await feed.subscribe(["AAPL"])
            with anyio.fail_after(4):
                while not seen:
                    await anyio.sleep(0.01)
            assert adapter.is_connected
            await adapter.disconnect()
            with anyio.fail_after(2):
                await ended.wait()
        assert isinstance(seen[0], Quote)


async def test_trades_come_from_the_last_ticks_by_default(session: Session) -> None:
    async with session("conformance/TC-MD-01") as (tws, adapter):
        feed = adapter.open_market_data(trades=True)
        async with reading(feed) as items:
            await feed.subscribe(["AAPL"])
            await items.until(lambda seen: bool([i for i in seen if isinstance(i, Trade)]))
        await adapter.get_quote("AAPL")
        assert tws.requests("reqTickByTickData") == []  # no extra market-data line
    (trade,) = items.of(Trade)  # the last trade from before the subscription is no news
    assert (trade.price, trade.size, trade.aggressor, trade.trade_id) == (D("185.27"), D("100"), None, "1")
    assert items.items.index(trade) == len(items.items) - 1  # after the quotes read before it


async def test_trades_come_from_tick_by_tick_all_last_when_asked(session: Session) -> None:
    async with session("market_data_tick_by_tick", trades_source="tick_by_tick") as (tws, adapter):
        feed = adapter.open_market_data(trades=True)
        async with reading(feed) as items:
            await feed.subscribe(["AAPL"])
            await items.until(lambda seen: bool([i for i in seen if isinstance(i, Trade)]))
        (trade,) = items.of(Trade)
        assert len(tws.requests("cancelMktData")) == 1 and len(tws.requests("cancelTickByTickData")) == 1
    assert (trade.price, trade.size, trade.aggressor) == (D("185.27"), D("100"), None)
    assert trade.broker_time is not None and trade.broker_time.isoformat() == "2025-11-24T18:30:05+00:00"
    (request,) = tws.requests("reqTickByTickData")
    assert request.named["tickType"] == "AllLast"
    assert _quotes(items) == [
        (D("185.25"), D("300"), D("185.27"), D("500")),
        (D("185.26"), D("200"), D("185.27"), D("500")),
    ]


async def test_autotrader_quotes_ibkr_prints_the_snapshot_then_quotes() -> None:
    async with fake_tws("quotes_cli") as tws:
        adapter = IbkrAdapter(settings_for(tws))
        out = io.StringIO()
        code = await stream_quotes(adapter, ["AAPL"], out=out, seconds=0.6, every=0.01)
        assert tws.script_finished and tws.unexpected == []
    lines = out.getvalue().splitlines()
    assert code == 0
    assert lines[0] == "snapshot AAPL  bid 185.25 x 300  ask 185.27 x 500  spread 0.02"
    assert "quote    AAPL  bid 185.25 x 300  ask 185.27 x 500  spread 0.02" in lines
    assert "quote    AAPL  bid 185.26 x 200  ask 185.27 x 500  spread 0.01" in lines


async def test_an_unreadable_tick_costs_only_itself(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    async with session("market_data_bad_tick", symbols=["AAPL", "EUR.USD"]) as (tws, adapter):
        feed = adapter.open_market_data()
        async with reading(feed) as items:
            await feed.subscribe(["AAPL", "EUR.USD"])
            await items.until(lambda seen: len(items.of(Quote)) >= 4)
            assert tws.script_finished
    stale = [i for i in items.of(Stale) if i.symbol == "AAPL"]
    assert len(stale) == 1 and "unreadable" in stale[0].reason
    eur = [(q.bid, q.ask) for q in items.of(Quote) if q.symbol == "EUR.USD"]
    assert eur == [(D("1.08525"), D("1.0853")), (D("1.08525"), D("1.08535"))]  # the neighbour went on
    aapl = [(q.bid, q.bid_size) for q in items.of(Quote) if q.symbol == "AAPL"]
    assert aapl == [(D("185.25"), D("300")), (D("185.26"), D("200"))]  # and AAPL with its next tick
    assert any("cannot read" in r.getMessage() and "Infinity" in r.getMessage() for r in caplog.records)


async def test_a_quiet_market_is_checked_not_resubscribed(session: Session) -> None:
    async with session("market_data_quiet", market_data_silence=0.15, request_timeout=1.0) as (tws, adapter):
        feed = adapter.open_market_data()
        async with reading(feed) as items:
            await feed.subscribe(["AAPL"])
            await items.until(lambda seen: bool(seen))
            await anyio.sleep(0.6)
        assert len(tws.requests("reqCurrentTime")) >= 2  # TWS answered each ping: the socket is alive
        assert len(tws.requests("reqMktData")) == 1
    assert items.of(Stale) == []  # silence alone is not staleness (the price cache ages quotes itself)


async def test_orders_and_market_data_share_the_socket_across_a_drop(session: Session) -> None:
    async with session("conformance/TC-MD-03") as (tws, adapter):
        feed = adapter.open_market_data()
        async with anyio.create_task_group() as group:

            async def orders() -> None:
                async for _ in adapter.stream_events():
                    pass

            group.start_soon(orders)
            async with reading(feed) as items:
                await feed.subscribe(["AAPL"])
                await items.until(lambda seen: len(items.of(Quote)) >= 2, seconds=6)
            assert adapter.is_connected
            group.cancel_scope.cancel()
        assert tws.connections == 2  # one reconnect, shared by the order stream and the feed
        assert len(tws.requests("reqMarketDataType")) == 2 and tws.unexpected == []
    assert _quotes(items)[-1] == (D("185.31"), D("400"), D("185.33"), D("600"))


async def test_the_autotrader_quotes_command_reaches_tws() -> None:
    """The real command line (plugin discovery, settings from the environment) against the fake TWS."""
    async with fake_tws("quotes_cli") as tws:
        env = {**os.environ, "AUTOTRADER_IBKR_PORT": str(tws.port), "AUTOTRADER_IBKR_CONNECT_TIMEOUT": "5"}
        command = [
            sys.executable,
            "-m",
            "autotrader_core.cli",
            "quotes",
            "ibkr",
            "AAPL",
            "--seconds",
            "1",
            "--every",
            "0.01",
        ]
        result = await anyio.run_process(command, env=env, check=False)
        assert tws.script_finished
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert out.splitlines()[0] == "snapshot AAPL  bid 185.25 x 300  ask 185.27 x 500  spread 0.02"
    assert "quote    AAPL  bid 185.26 x 200  ask 185.27 x 500  spread 0.01" in out


async def test_a_refused_tick_by_tick_line_leaves_the_quotes_alone(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    async with session("market_data_tick_by_tick_refused", trades_source="tick_by_tick") as (_tws, adapter):
        feed = adapter.open_market_data(trades=True)
        async with reading(feed) as items:
            await feed.subscribe(["AAPL"])
            await items.until(lambda seen: len(_quotes(items)) >= 2)
    assert items.of(Stale) == []  # the quotes are as good as before
    assert any(
        "tick-by-tick trades of AAPL refused: TWS error 10189" in r.getMessage() for r in caplog.records
    )


@pytest.mark.parametrize(("mode", "quoted"), [("stale", False), ("quotes", True)])
async def test_10089_makes_the_symbol_stale_and_keeps_the_line(
    session: Session, mode: str, quoted: bool
) -> None:
    async with session("market_data_not_for_api", delayed_data=mode) as (_tws, adapter):
        feed = adapter.open_market_data()
        async with reading(feed) as items:
            await feed.subscribe(["AAPL"])
            await items.until(lambda seen: len(seen) >= 2)
            await anyio.sleep(0.1)
    first = items.items[0]
    assert isinstance(first, Stale) and "TWS error 10089" in first.reason
    assert _quotes(items) == ([(D("185.05"), D("300"), D("185.07"), D("500"))] if quoted else [])
    if not quoted:
        assert "delayed" in items.items[1].reason  # type: ignore[union-attr]
