"""``autotrader quotes``: snapshot, throttled live lines, stale markers, JSON, clear refusals."""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import AsyncIterator, Collection
from decimal import Decimal as D

import anyio
import pytest
from autotrader_core.cli import main
from autotrader_core.enums import OrderSide
from autotrader_core.errors import ConfigurationError, InvalidOrder
from autotrader_core.market_data import MarketData, Quote, Stale, Trade
from autotrader_core.quotes_cli import format_item, stream_quotes

from .fakes import FakeBroker

pytestmark = pytest.mark.anyio


def quote(bid: str, received_at: float = 0.0) -> Quote:
    return Quote("BTCUSDT", D(bid), D("0.5"), D(bid) + D("0.1"), D("1.5"), None, received_at)


class FakeFeed:
    def __init__(self, items: list[MarketData]) -> None:
        self.script = items
        self.subscribed: list[str] = []
        self.closed = False

    async def subscribe(self, symbols: Collection[str]) -> None:
        unknown = [s for s in symbols if s != "BTCUSDT"]
        if unknown:
            raise InvalidOrder(f"fake lists no symbol {', '.join(unknown)}")
        self.subscribed += list(symbols)

    async def unsubscribe(self, symbols: Collection[str]) -> None:
        return None

    async def items(self) -> AsyncIterator[MarketData]:
        for item in self.script:
            yield item
        await anyio.sleep_forever()

    async def aclose(self) -> None:
        self.closed = True


class QuotingBroker(FakeBroker):
    capabilities = dataclasses.replace(FakeBroker.capabilities, quotes=True, trades=True)

    def __init__(self, items: list[MarketData]) -> None:
        super().__init__()
        self.feed = FakeFeed(items)

    async def get_quote(self, symbol: str) -> Quote:
        return quote("99.0")

    def open_market_data(self, *, trades: bool = False) -> FakeFeed:
        return self.feed


async def test_prints_the_snapshot_then_throttled_quotes_trades_and_stale() -> None:
    items: list[MarketData] = [
        quote("100.0"),
        quote("100.5"),  # within --every of the first: not printed
        Trade("BTCUSDT", D("100.2"), D("0.01"), OrderSide.BUY, "42"),
        Stale(None, "connection lost"),
    ]
    broker = QuotingBroker(items)
    out = io.StringIO()
    code = await stream_quotes(broker, ["BTCUSDT"], out=out, trades=True, seconds=0.2, every=10)
    lines = out.getvalue().splitlines()
    assert code == 0
    assert lines == [
        "snapshot BTCUSDT  bid 99.0 x 0.5  ask 99.1 x 1.5  spread 0.1",
        "quote    BTCUSDT  bid 100.0 x 0.5  ask 100.1 x 1.5  spread 0.1",
        "trade    BTCUSDT  buy 0.01 @ 100.2  (id 42)",
        "stale    all symbols: connection lost",
    ]
    assert broker.feed.subscribed == ["BTCUSDT"] and broker.feed.closed


async def test_json_lines_keep_decimals_exact() -> None:
    broker = QuotingBroker([quote("100.00000001")])
    out = io.StringIO()
    await stream_quotes(broker, ["BTCUSDT"], out=out, seconds=0.1, as_json=True)
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["kind"] == "snapshot"
    assert second == {
        "kind": "quote",
        "symbol": "BTCUSDT",
        "bid": "100.00000001",
        "bid_size": "0.5",
        "ask": "100.10000001",
        "ask_size": "1.5",
        "broker_time": None,
        "delayed": False,
    }


def test_a_delayed_quote_says_so_on_its_line() -> None:
    delayed = dataclasses.replace(quote("100.00"), delayed=True)
    assert format_item(delayed).endswith("  delayed")
    assert "delayed" not in format_item(quote("100.00"))


async def test_an_unknown_symbol_is_a_typed_error_and_the_feed_is_closed() -> None:
    broker = QuotingBroker([])
    with pytest.raises(InvalidOrder, match="NOPE"):
        await stream_quotes(broker, ["NOPE"], out=io.StringIO(), seconds=0.1)
    assert broker.feed.closed


async def test_an_adapter_without_market_data_is_refused_with_what_to_do() -> None:
    with pytest.raises(ConfigurationError, match=r"no market data.*autotrader plugins"):
        await stream_quotes(FakeBroker(), ["BTCUSDT"], out=io.StringIO(), seconds=0.1)


def test_bad_arguments_say_what_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["quotes", "paper", "BTCUSDT", "--every", "0"])
    assert exit_info.value.code == 2
    assert "give a number of seconds above 0" in capsys.readouterr().err
