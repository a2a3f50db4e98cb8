"""SymbolFeed: the market-data base every venue's feed builds on (in-memory carriers, no network)."""

from __future__ import annotations

import json
from collections.abc import Collection
from decimal import Decimal

import anyio
import pytest
from autotrader_core.errors import BrokerProtocolError, InvalidOrder
from autotrader_core.market_data import MarketData, Quote, Stale
from autotrader_core.resiliency.retry import RetryPolicy
from autotrader_core.streaming import Heartbeat, StreamLost
from autotrader_core.streaming.feed import SymbolFeed

pytestmark = pytest.mark.anyio

FAST = RetryPolicy(max_attempts=1, base_delay=0.0, max_delay=0.0, jitter=0.0)


class MemoryCarrier:
    """One in-memory connection: the test pushes frames in, the feed's sends are recorded."""

    def __init__(self, symbols: frozenset[str]) -> None:
        self.symbols = symbols
        self.sent: list[str] = []
        self.send_in, self._out = anyio.create_memory_object_stream[str | None](100)

    async def open(self) -> None:
        pass

    async def recv(self) -> str:
        try:
            frame = await self._out.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            frame = None
        if frame is None:
            self.send_in.close()  # like a real socket: every later read fails too
            raise StreamLost("closed by the test")
        return frame

    async def send(self, frame: str) -> None:
        self.sent.append(frame)

    async def close(self) -> None:
        self.send_in.close()
        self._out.close()


class Feed(SymbolFeed[str]):
    """A venue whose frames are ``{"s": symbol, "b": bid, "a": ask}``."""

    def __init__(self, *, reopen: bool = False, silence: float = 5.0) -> None:
        async def listed() -> list[str]:
            self.listings += 1
            return ["AAA", "BBB"]

        self.listings = 0
        self.carriers: list[MemoryCarrier] = []
        self.reopen_on_change = reopen  # type: ignore[misc]
        super().__init__(
            name="memory", broker="memory", instruments=listed, heartbeat=Heartbeat(silence), policy=FAST
        )

    def make_carrier(self, symbols: frozenset[str]) -> MemoryCarrier:
        self.carriers.append(MemoryCarrier(symbols))
        return self.carriers[-1]

    def subscribe_frames(self, symbols: Collection[str]) -> list[str]:
        return [] if self.reopen_on_change else [f"sub {','.join(sorted(symbols))}"]

    def unsubscribe_frames(self, symbols: Collection[str]) -> list[str]:
        return [f"unsub {','.join(sorted(symbols))}"]

    def decode(self, frame: str) -> list[MarketData]:
        item = json.loads(frame)
        try:
            if "a" not in item:
                raise BrokerProtocolError("no ask", payload=item)
            one = Decimal(1)
            return [Quote(item["s"], Decimal(item["b"]), one, Decimal(item["a"]), one)]
        except BrokerProtocolError as exc:
            return self.bad_item(exc, item["s"])


def quote(symbol: str, bid: str) -> str:
    return json.dumps({"s": symbol, "b": bid, "a": str(Decimal(bid) + 1)})


class Reader:
    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self.items: list[MarketData] = []

    async def run(self) -> None:
        async for item in self.feed.items():
            self.items.append(item)

    async def until(self, count: int) -> list[MarketData]:
        with anyio.fail_after(3):
            while len(self.items) < count:
                await anyio.sleep(0.005)
        return self.items

    async def connection(self, number: int) -> MemoryCarrier:
        with anyio.fail_after(3):
            while len(self.feed.carriers) < number or (
                not self.feed.carriers[number - 1].sent and (not self.feed.reopen_on_change)
            ):
                await anyio.sleep(0.005)
        return self.feed.carriers[number - 1]


async def test_unknown_symbols_are_refused_before_anything_is_registered_or_sent() -> None:
    feed = Feed()
    with pytest.raises(InvalidOrder, match="'ZZZ'"):
        await feed.subscribe(["AAA", "ZZZ"])
    assert feed.symbols == frozenset() and feed.carriers == []
    await feed.subscribe("AAA")  # a bare string is one symbol
    await feed.subscribe(["BBB"])
    assert feed.symbols == {"AAA", "BBB"} and feed.listings == 1  # instruments read once
    await feed.aclose()


class OneByOneFeed(Feed):
    """A venue without a catalogue: each symbol is looked up on its own (IBKR's contract details)."""

    def __init__(self) -> None:
        super().__init__()
        self.looked_up: list[str] = []

    async def check_listed(self, symbols: Collection[str]) -> None:
        for symbol in sorted(symbols):
            self.looked_up.append(symbol)
            if symbol.startswith("Z"):
                raise InvalidOrder(f"no contract {symbol}")


async def test_a_venue_can_check_symbols_one_at_a_time_through_the_public_hook() -> None:
    feed = OneByOneFeed()
    with pytest.raises(InvalidOrder, match="ZZZ"):
        await feed.subscribe(["AAA", "ZZZ"])
    assert feed.symbols == frozenset() and feed.carriers == []  # nothing registered or sent
    await feed.subscribe(["CCC"])  # not in the catalogue, found by the venue's own lookup
    assert feed.symbols == {"CCC"} and feed.listings == 0  # the catalogue was never asked
    assert feed.looked_up == ["AAA", "ZZZ", "CCC"]
    await feed.aclose()


async def test_no_connection_until_a_symbol_then_resubscribe_all_and_stale_first_after_a_drop() -> None:
    feed = Feed()
    reader = Reader(feed)
    async with anyio.create_task_group() as group:
        group.start_soon(reader.run)
        await anyio.sleep(0.05)
        assert feed.carriers == []  # nothing to stream: no connection
        await feed.subscribe(["AAA"])
        first = await reader.connection(1)
        assert first.sent == ["sub AAA"]
        await feed.subscribe(["BBB"])  # live: sent on the open connection
        assert first.sent == ["sub AAA", "sub BBB"]
        await first.send_in.send(quote("AAA", "10"))
        await reader.until(1)
        await first.send_in.send(None)  # the connection drops
        second = await reader.connection(2)
        assert second.sent == ["sub AAA,BBB"]  # the whole registry, once
        await second.send_in.send(quote("AAA", "11"))
        items = await reader.until(4)
        await feed.aclose()
    assert [type(i).__name__ for i in items] == ["Quote", "Stale", "Stale", "Quote"]
    lost, reconnected = items[1], items[2]
    assert isinstance(lost, Stale) and lost.symbol is None and "connection lost" in lost.reason
    assert isinstance(reconnected, Stale) and "reconnected" in reconnected.reason


async def test_silence_reconnects_with_stale_before_the_new_prices() -> None:
    feed = Feed(silence=0.05)
    reader = Reader(feed)
    async with anyio.create_task_group() as group:
        group.start_soon(reader.run)
        await feed.subscribe(["AAA"])
        first = await reader.connection(1)
        await first.send_in.send(quote("AAA", "10"))
        second = await reader.connection(2)  # nothing more came: heartbeat timeout
        await second.send_in.send(quote("AAA", "12"))
        items = await reader.until(3)
        await feed.aclose()
    assert [type(i).__name__ for i in items] == ["Quote", "Stale", "Quote"]
    assert isinstance(items[1], Stale) and "heartbeat timeout" in items[1].reason


async def test_unsubscribe_marks_stale_and_drops_in_flight_items() -> None:
    feed = Feed()
    reader = Reader(feed)
    async with anyio.create_task_group() as group:
        group.start_soon(reader.run)
        await feed.subscribe(["AAA", "BBB"])
        conn = await reader.connection(1)
        await feed.unsubscribe(["BBB", "ZZZ"])  # an unknown one is ignored
        assert conn.sent[-1] == "unsub BBB"
        await conn.send_in.send(quote("BBB", "5"))  # in flight: must not refresh BBB
        await conn.send_in.send(quote("AAA", "10"))
        items = await reader.until(2)
        await feed.aclose()
    assert items == [Stale("BBB", "unsubscribed"), items[1]]
    assert isinstance(items[1], Quote) and items[1].symbol == "AAA"


async def test_a_venue_whose_subscription_is_the_request_reopens_on_change() -> None:
    feed = Feed(reopen=True)
    reader = Reader(feed)
    async with anyio.create_task_group() as group:
        group.start_soon(reader.run)
        await feed.subscribe(["AAA"])
        first = await reader.connection(1)
        assert first.symbols == {"AAA"}
        await first.send_in.send(quote("AAA", "10"))
        await reader.until(1)
        await feed.subscribe(["BBB"])
        second = await reader.connection(2)
        assert second.symbols == {"AAA", "BBB"}
        await second.send_in.send(quote("BBB", "20"))
        items = await reader.until(3)
        await feed.aclose()
    assert isinstance(items[1], Stale) and "subscription changed" in items[1].reason
    assert feed.stream.delays == []  # a planned reopen waits no backoff


async def test_a_bad_item_is_reported_and_marks_only_its_symbol_stale() -> None:
    feed = Feed()
    reader = Reader(feed)
    async with anyio.create_task_group() as group:
        group.start_soon(reader.run)
        await feed.subscribe(["AAA"])
        conn = await reader.connection(1)
        await conn.send_in.send(json.dumps({"s": "AAA", "b": "1"}))
        await conn.send_in.send(quote("AAA", "10"))
        items = await reader.until(2)
        await feed.aclose()
    assert isinstance(items[0], Stale) and items[0].symbol == "AAA" and "no ask" in items[0].reason
    assert isinstance(items[1], Quote) and feed.bad_items == 1
