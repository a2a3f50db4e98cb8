"""Binance public market data: documented frames → exact quotes and trades, and a feed that never
serves an old price as fresh (loopback WebSocket server, no network)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal as D
from typing import Any

import anyio
import pytest
from autotrader_binance import BinanceAdapter, BinanceSettings
from autotrader_binance.market_data import (
    BinanceMarketData,
    parse_book_ticker,
    parse_rest_book_ticker,
    parse_trade,
)
from autotrader_core.enums import OrderSide
from autotrader_core.errors import BrokerProtocolError, InvalidOrder
from autotrader_core.market_data import MarketData, Quote, Stale, Trade
from binance_support import raw_payload
from pytest_httpx import HTTPXMock
from websockets.asyncio.server import ServerConnection, serve

pytestmark = pytest.mark.anyio

BOOK = raw_payload("md_book_ticker.json")  # BNBUSDT, documented
TRADE = raw_payload("md_trade.json")  # BNBBTC, documented


def book(update: int, bid: str = "25.35190000", symbol: str = "BNBUSDT") -> str:
    return json.dumps({**BOOK, "u": update, "s": symbol, "b": bid})


# -- parsers -----------------------------------------------------------------------------
def test_book_ticker_parses_to_exact_decimals_with_receive_time_only() -> None:
    quote = parse_book_ticker(BOOK, received_at=12.5)
    assert quote == Quote(
        "BNBUSDT", D("25.35190000"), D("31.21000000"), D("25.36520000"), D("40.66000000"), None, 12.5
    )
    assert str(quote.bid) == "25.35190000"  # the wire's digits, not a float's


def test_trade_parses_aggressor_from_the_maker_flag() -> None:
    trade = parse_trade(TRADE, received_at=1.0)
    assert (trade.symbol, trade.price, trade.size, trade.trade_id) == (
        "BNBBTC",
        D("0.001"),
        D("100"),
        "12345",
    )
    assert trade.aggressor is OrderSide.SELL  # m: the buyer was the maker, so the taker sold
    assert trade.broker_time is not None and trade.broker_time.year == 2022
    assert parse_trade({**TRADE, "m": False}).aggressor is OrderSide.BUY


def test_rest_book_ticker_parses() -> None:
    quote = parse_rest_book_ticker(raw_payload("md_rest_book_ticker.json"))
    assert (quote.symbol, quote.bid, quote.ask, quote.bid_size, quote.ask_size) == (
        "LTCBTC",
        D("4.00000000"),
        D("4.00000200"),
        D("431.00000000"),
        D("9.00000000"),
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("b", 25.3519), ("b", "25,35"), ("A", None), ("a", "NaN"), ("B", "1_000"), ("s", "")],
)
def test_a_bad_book_ticker_field_is_a_typed_error_naming_it(field: str, value: Any) -> None:
    with pytest.raises(BrokerProtocolError, match=repr(field)):
        parse_book_ticker({**BOOK, field: value})


# -- the feed, against a loopback stream ------------------------------------------------
class Venue:
    """A loopback Binance public stream: records every client frame, plays scripted pushes."""

    def __init__(self) -> None:
        self.requests: list[list[Any]] = []  # per connection: decoded client frames
        self.connections: list[ServerConnection] = []
        self.url = ""

    async def handler(self, ws: ServerConnection) -> None:
        self.connections.append(ws)
        frames: list[Any] = []
        self.requests.append(frames)
        async for message in ws:
            request = json.loads(message)
            frames.append(request)
            await ws.send(json.dumps({"result": None, "id": request["id"]}))

    async def push(self, *frames: str, connection: int = -1) -> None:
        ws = self.connections[connection]
        for frame in frames:
            await ws.send(frame)

    async def wait_for(self, connections: int, frames: int = 1) -> None:
        with anyio.fail_after(5):
            while len(self.requests) < connections or len(self.requests[connections - 1]) < frames:
                await anyio.sleep(0.01)


@asynccontextmanager
async def venue_and_feed(
    **kwargs: Any,
) -> AsyncIterator[tuple[Venue, BinanceMarketData, anyio.abc.ObjectReceiveStream[MarketData]]]:
    venue = Venue()
    async with serve(venue.handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        feed = BinanceMarketData(f"ws://127.0.0.1:{port}/ws", symbols={"BNBUSDT", "BTCUSDT"}, **kwargs)
        send, receive = anyio.create_memory_object_stream[MarketData](100)

        async def read() -> None:
            async for item in feed.items():
                await send.send(item)

        async with anyio.create_task_group() as tg:
            tg.start_soon(read)
            try:
                yield venue, feed, receive
            finally:
                await feed.aclose()
                tg.cancel_scope.cancel()


async def next_item(receive: anyio.abc.ObjectReceiveStream[MarketData]) -> MarketData:
    with anyio.fail_after(5):
        return await receive.receive()


async def test_subscribe_then_quotes_with_exact_decimals_newest_book_only() -> None:
    async with venue_and_feed() as (venue, feed, items):
        await feed.subscribe(["BNBUSDT"])
        await venue.wait_for(1)
        assert venue.requests[0][0]["method"] == "SUBSCRIBE"
        assert venue.requests[0][0]["params"] == ["bnbusdt@bookTicker"]
        await venue.push(book(10, "25.1"), book(9, "24.0"), book(10, "24.5"), book(11, "25.2"))
        first, second = await next_item(items), await next_item(items)
        assert isinstance(first, Quote) and first.bid == D("25.1")
        assert isinstance(second, Quote) and second.bid == D("25.2")  # u 9 and the repeated 10 dropped


async def test_a_garbage_frame_between_quotes_is_skipped_and_reported() -> None:
    bad: list[str] = []
    async with venue_and_feed(on_bad_frame=lambda frame, error: bad.append(frame)) as (venue, feed, items):
        await feed.subscribe(["BNBUSDT"])
        await venue.wait_for(1)
        await venue.push(
            book(1, "25.1"), "{not json", json.dumps({**BOOK, "u": 2, "b": 25.3}), book(3, "25.4")
        )
        assert (await next_item(items)).bid == D("25.1")  # type: ignore[union-attr]
        assert (await next_item(items)).bid == D("25.4")  # type: ignore[union-attr]
    assert len(bad) == 2


async def test_unknown_symbol_is_refused_before_anything_is_sent() -> None:
    async with venue_and_feed() as (venue, feed, _):
        await feed.subscribe(["BNBUSDT"])
        await venue.wait_for(1)
        with pytest.raises(InvalidOrder, match="NOPE"):
            await feed.subscribe(["NOPE", "BTCUSDT"])
        await anyio.sleep(0.05)
        assert len(venue.requests[0]) == 1
        assert feed.subscribed == {"BNBUSDT"}


async def test_a_lost_connection_is_stale_first_then_resubscribed_and_fresh() -> None:
    async with venue_and_feed(trades=True) as (venue, feed, items):
        await feed.subscribe(["BNBUSDT", "BTCUSDT"])
        await venue.wait_for(1)
        await venue.push(book(5))
        assert isinstance(await next_item(items), Quote)
        await venue.connections[0].close(code=1011)
        stale = await next_item(items)
        assert isinstance(stale, Stale) and stale.symbol is None  # at once, before any reconnect
        await venue.wait_for(2)
        assert sorted(venue.requests[1][0]["params"]) == sorted(
            ["bnbusdt@bookTicker", "bnbusdt@trade", "btcusdt@bookTicker", "btcusdt@trade"]
        )
        await venue.push(book(1, "26.0"), connection=1)  # update ids restart: a new connection
        after = [await next_item(items) for _ in range(2)]
        assert isinstance(after[0], Stale)  # the reconnect says it again, ahead of the first quote
        assert isinstance(after[1], Quote) and after[1].bid == D("26.0")
        assert feed.reconnects == 1


async def test_server_shutdown_reconnects_at_once() -> None:
    async with venue_and_feed() as (venue, feed, items):
        await feed.subscribe(["BNBUSDT"])
        await venue.wait_for(1)
        await venue.push(json.dumps(raw_payload("md_server_shutdown.json")))
        await venue.wait_for(2)
        assert isinstance(await next_item(items), Stale)


async def test_trades_and_unsubscribe() -> None:
    async with venue_and_feed(trades=True) as (venue, feed, items):
        await feed.subscribe(["BNBUSDT"])
        await venue.wait_for(1)
        await venue.push(json.dumps({**TRADE, "s": "BNBUSDT"}))
        trade = await next_item(items)
        assert isinstance(trade, Trade) and trade.price == D("0.001")
        await feed.unsubscribe(["BNBUSDT"])
        await venue.wait_for(1, frames=2)
        assert venue.requests[0][1] == {
            "method": "UNSUBSCRIBE",
            "params": ["bnbusdt@bookTicker", "bnbusdt@trade"],
            "id": venue.requests[0][1]["id"],
        }
        await venue.push(book(7), json.dumps({**TRADE, "s": "BNBUSDT"}))  # in flight: dropped
        await feed.subscribe(["BTCUSDT"])
        await venue.wait_for(1, frames=3)
        await venue.push(book(8, symbol="BTCUSDT"))
        gone = await next_item(items)
        assert gone == Stale("BNBUSDT", "unsubscribed")  # its last price is no price any more
        item = await next_item(items)
        assert isinstance(item, Quote) and item.symbol == "BTCUSDT"  # nothing of the unsubscribed one


# -- the adapter -------------------------------------------------------------------------
async def test_get_quote_needs_no_key_and_maps_an_unknown_symbol(httpx_mock: HTTPXMock) -> None:
    adapter = BinanceAdapter(BinanceSettings(_env_file=None))  # type: ignore[call-arg]
    base = "https://testnet.binance.vision/api/v3/ticker/bookTicker"
    httpx_mock.add_response(url=f"{base}?symbol=LTCBTC", json=raw_payload("md_rest_book_ticker.json"))
    httpx_mock.add_response(
        url=f"{base}?symbol=NOPE", status_code=400, json=raw_payload("md_bad_symbol.json")
    )
    quote = await adapter.get_quote("LTCBTC")
    assert quote.ask == D("4.00000200")
    with pytest.raises(InvalidOrder):
        await adapter.get_quote("NOPE")
    assert "X-MBX-APIKEY" not in httpx_mock.get_requests()[0].headers
    await adapter.disconnect()


def test_the_adapter_declares_quotes_and_trades() -> None:
    caps = BinanceAdapter.capabilities
    assert caps.quotes and caps.trades and not caps.mark_price
