"""TC-MD: the public market-data feed (``open_market_data``, ``get_quote``).

Every scenario opens ``adapter.open_market_data(...)`` (no ``connect`` needed: public
data), reads ``items()`` in the background and checks what a strategy would see:
exact Decimals, a typed error for an unknown symbol before anything is sent, a
:class:`~autotrader_core.market_data.Stale` marker before the first price of a new
connection (after a drop or a silence), and nothing more of an unsubscribed symbol.

Expected items are written ``{"kind": "quote", "symbol": ..., "bid": "...", ...}``
(``kind``: ``quote`` with ``bid``/``bid_size``/``ask``/``ask_size``; ``trade`` with
``price``/``size`` [``aggressor``, ``trade_id``]; ``mark`` with ``price``); only the
listed fields are compared, money as exact Decimals.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import anyio
import pytest
from autotrader_core.errors import InvalidOrder
from autotrader_core.market_data import MarketData, MarketDataFeed, MarkPrice, Quote, Stale, Trade

from autotrader_conformance.scenario import Scenario, to_decimal
from autotrader_conformance.scenarios._base import ScenarioBase, scenario

__all__ = ["MarketDataScenarios"]

_FIELDS = {
    "quote": (Quote, ("bid", "bid_size", "ask", "ask_size")),
    "trade": (Trade, ("price", "size")),
    "mark": (MarkPrice, ("price",)),
}


class _Reader:
    """Collects a feed's items in the background; waits for conditions on them."""

    def __init__(self, feed: MarketDataFeed, scenario_id: str) -> None:
        self.feed = feed
        self.items: list[MarketData] = []
        self.error: BaseException | None = None
        self._id = scenario_id
        self._changed = anyio.Event()

    async def run(self) -> None:
        try:
            async for item in self.feed.items():
                self.items.append(item)
                self._changed.set()
                self._changed = anyio.Event()
        except anyio.get_cancelled_exc_class():
            raise
        except Exception as exc:
            self.error = exc
            self._changed.set()

    async def wait_for(self, condition: Callable[[], bool], what: str, within: float = 5.0) -> None:
        with anyio.move_on_after(within):
            while not condition():
                if self.error is not None:
                    raise AssertionError(
                        f"{self._id}: the market-data feed failed while waiting for {what}: {self.error!r}"
                    ) from self.error
                with anyio.move_on_after(0.05):
                    await self._changed.wait()
            return
        raise AssertionError(
            f"{self._id}: {what} did not happen within {within}s; items so far: {self.items!r}"
        )


@asynccontextmanager
async def _reading(feed: MarketDataFeed, scenario_id: str) -> AsyncIterator[_Reader]:
    reader = _Reader(feed, scenario_id)
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(reader.run)
            yield reader
            group.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True), anyio.move_on_after(3), contextlib.suppress(Exception):
            await feed.aclose()


def _symbols(sc: Scenario, key: str = "symbols") -> list[str]:
    value = sc.value(key)
    assert isinstance(value, list) and value and all(isinstance(s, str) for s in value), (
        f"{sc.id}: input.{key} must be a non-empty list of symbols"
    )
    return value


def _matches(item: MarketData, want: Mapping[str, Any]) -> bool:
    kind = str(want.get("kind", "quote"))
    cls, _ = _FIELDS[kind]
    return isinstance(item, cls) and item.symbol == want.get("symbol", item.symbol)


def _assert_item(item: MarketData, want: Mapping[str, Any], sc: Scenario, where: str) -> None:
    kind = str(want.get("kind", "quote"))
    if kind not in _FIELDS:
        raise AssertionError(f"{sc.id}: {where}.kind must be one of {', '.join(_FIELDS)}, not {kind!r}")
    cls, fields = _FIELDS[kind]
    assert isinstance(item, cls), f"{sc.id}: {where}: expected a {cls.__name__}, got {item!r}"
    assert item.symbol == want["symbol"], f"{sc.id}: {where}: symbol {item.symbol!r} != {want['symbol']!r}"
    for name in (*fields, "trade_id", "aggressor"):
        if name not in want:
            continue
        got = getattr(item, name)
        if name in fields:
            assert isinstance(got, Decimal), f"{sc.id}: {where}.{name} is {type(got).__name__}, not Decimal"
            expected: Any = to_decimal(want[name], f"{sc.id}: {where}.{name}")
            assert got == expected, f"{sc.id}: {where}.{name}: got {got!r}, expected exactly {expected!r}"
        elif name == "aggressor":
            assert got is not None and got.value == want[name], f"{sc.id}: {where}.aggressor {got!r}"
        else:
            assert got == str(want[name]), f"{sc.id}: {where}.{name}: {got!r} != {want[name]!r}"


def _expected_items(sc: Scenario, key: str) -> list[Mapping[str, Any]]:
    value = sc.value(key)
    items = value if isinstance(value, list) else [value]
    assert items and all(isinstance(i, Mapping) for i in items), f"{sc.id}: expect.{key} must be item objects"
    return items


class MarketDataScenarios(ScenarioBase):
    """Public market-data scenarios (adapters declaring ``quotes``)."""

    @scenario("TC-MD-01")
    async def test_md_01_subscribe_and_parse(self, conformance_scenario: Scenario) -> None:
        """Subscribed symbols stream quotes (and trades) with exact Decimals; the REST snapshot too."""
        sc = conformance_scenario
        expected = _expected_items(sc, "items")
        async with self.session(sc) as session:
            feed = session.adapter.open_market_data(trades=bool(sc.value("trades", False)))
            async with _reading(feed, sc.id) as reader:
                await feed.subscribe(_symbols(sc))

                def fresh() -> list[MarketData]:
                    return [i for i in reader.items if not isinstance(i, Stale)]

                await reader.wait_for(lambda: len(fresh()) >= len(expected), f"{len(expected)} item(s)")
                for index, want in enumerate(expected):
                    _assert_item(fresh()[index], want, sc, f"items[{index}]")
            snapshot = sc.value("snapshot", None)
            if snapshot is not None:
                quote = await session.adapter.get_quote(str(snapshot["symbol"]))
                _assert_item(quote, {"kind": "quote", **snapshot}, sc, "snapshot")

    @scenario("TC-MD-02")
    async def test_md_02_unknown_symbol(self, conformance_scenario: Scenario) -> None:
        """An unknown symbol raises InvalidOrder at subscribe, before any subscription is sent."""
        sc = conformance_scenario
        symbol = sc.text("symbol")
        async with self.session(sc) as session:
            feed = session.adapter.open_market_data()
            try:
                with pytest.raises(InvalidOrder):
                    await feed.subscribe([symbol])
                assert symbol not in getattr(feed, "symbols", frozenset()), (
                    f"{sc.id}: {symbol} was registered"
                )
            finally:
                await feed.aclose()
            server = sc.stream_server
            if server is not None:
                sent = [frame for frames in getattr(server, "received", []) for frame in frames]
                assert not any(symbol in frame for frame in sent), f"{sc.id}: {symbol} was sent: {sent}"
            if sc.value("snapshot", False):
                with pytest.raises(InvalidOrder):
                    await session.adapter.get_quote(symbol)

    async def _stale_before_fresh(self, sc: Scenario) -> None:
        """TC-MD-03/04: after the first price, a Stale marker precedes the new connection's price."""
        before = _expected_items(sc, "before")[0]
        after = _expected_items(sc, "after")[0]
        async with self.session(sc) as session:
            feed = session.adapter.open_market_data(trades=bool(sc.value("trades", False)))
            async with _reading(feed, sc.id) as reader:
                await feed.subscribe(_symbols(sc))
                await reader.wait_for(
                    lambda: any(_matches(i, before) for i in reader.items), "the first price"
                )
                first = next(index for index, i in enumerate(reader.items) if _matches(i, before))
                _assert_item(reader.items[first], before, sc, "before")

                def after_index() -> int | None:
                    for index in range(first + 1, len(reader.items)):
                        item = reader.items[index]
                        if _matches(item, after) and all(
                            getattr(item, n) == to_decimal(after[n], n)
                            for n in _FIELDS[str(after.get("kind", "quote"))][1]
                            if n in after
                        ):
                            return index
                    return None

                await reader.wait_for(lambda: after_index() is not None, "the price after the reconnect")
                found = after_index()
                assert found is not None
                _assert_item(reader.items[found], after, sc, "after")
                between = reader.items[first + 1 : found]
                symbol = after["symbol"]
                stale = [i for i in between if isinstance(i, Stale) and i.symbol in (None, symbol)]
                assert stale, (
                    f"{sc.id}: no Stale marker for {symbol} between the old price and the new connection's "
                    f"price: the old price would have been served as fresh; items: {reader.items!r}"
                )
            server = sc.stream_server
            if server is not None:
                want = int(sc.value("connections", 2))
                assert server.connections_opened >= want, (
                    f"{sc.id}: {server.connections_opened} connection(s) opened; the feed must reconnect"
                )

    @scenario("TC-MD-03")
    async def test_md_03_reconnect_resubscribes_stale_first(self, conformance_scenario: Scenario) -> None:
        """The connection drops: the feed reconnects, resubscribes, and yields Stale before new prices."""
        await self._stale_before_fresh(conformance_scenario)

    @scenario("TC-MD-04")
    async def test_md_04_silence_is_stale(self, conformance_scenario: Scenario) -> None:
        """The venue goes silent past its heartbeat rule: Stale, then a new connection's prices."""
        await self._stale_before_fresh(conformance_scenario)

    @scenario("TC-MD-05")
    async def test_md_05_unsubscribe(self, conformance_scenario: Scenario) -> None:
        """Unsubscribed symbols get a Stale marker and no price after it; the others keep streaming."""
        sc = conformance_scenario
        symbols = _symbols(sc)
        dropped = _symbols(sc, "unsubscribe")
        after = _expected_items(sc, "after")[0]
        async with self.session(sc) as session:
            feed = session.adapter.open_market_data(trades=bool(sc.value("trades", False)))
            async with _reading(feed, sc.id) as reader:
                await feed.subscribe(symbols)
                await reader.wait_for(
                    lambda: {i.symbol for i in reader.items if isinstance(i, Quote)} >= set(symbols),
                    f"a quote of each of {symbols}",
                )
                mark = len(reader.items)
                await feed.unsubscribe(dropped)

                def done() -> bool:
                    return any(_matches(i, after) for i in reader.items[mark:])

                await reader.wait_for(done, f"a price of {after['symbol']} after the unsubscribe")
                await session.stream_played()
                tail = reader.items[mark:]
                for symbol in dropped:
                    stale = [
                        n for n, i in enumerate(tail) if isinstance(i, Stale) and i.symbol in (None, symbol)
                    ]
                    assert stale, f"{sc.id}: no Stale marker for unsubscribed {symbol}; items: {tail!r}"
                    late = [i for i in tail[stale[0] :] if not isinstance(i, Stale) and i.symbol == symbol]
                    assert not late, f"{sc.id}: {symbol} still yielded prices after unsubscribe: {late!r}"
                assert set(getattr(feed, "symbols", set(symbols) - set(dropped))) == set(symbols) - set(
                    dropped
                )
                found = next(i for i in tail if _matches(i, after))
                _assert_item(found, after, sc, "after")
