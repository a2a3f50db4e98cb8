"""OKX public market-data parsers and feed (payloads from protocols-market-data.md §2, [DOC] unless noted)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from autotrader_core.enums import OrderSide
from autotrader_core.errors import BrokerProtocolError, InvalidOrder
from autotrader_core.market_data import MarketData, MarkPrice, Quote, Stale, Trade
from autotrader_core.streaming import Reconnect
from autotrader_okx import OkxSettings
from autotrader_okx.market_data import OkxMarketData, parse_public_frame

TICKERS = json.dumps(
    {
        "arg": {"channel": "tickers", "instId": "BTC-USDT"},
        "data": [
            {
                "instType": "SPOT",
                "instId": "BTC-USDT",
                "last": "9999.99",
                "lastSz": "0.1",
                "askPx": "9999.99",
                "askSz": "11",
                "bidPx": "8888.88",
                "bidSz": "5",
                "open24h": "9000",
                "high24h": "10000",
                "low24h": "8888.88",
                "volCcy24h": "2222",
                "vol24h": "2222",
                "sodUtc0": "2222",
                "sodUtc8": "2222",
                "ts": "1597026383085",
            }
        ],
    }
)
TRADES = json.dumps(
    {
        "arg": {"channel": "trades", "instId": "BTC-USDT"},
        "data": [
            {
                "instId": "BTC-USDT",
                "tradeId": "130639474",
                "px": "42219.9",
                "sz": "0.12060306",
                "side": "buy",
                "ts": "1630048897897",
                "count": "3",
                "source": "0",
                "seqId": 1234,
            }
        ],
    }
)
MARK = json.dumps(
    {
        "arg": {"channel": "mark-price", "instId": "LTC-USD-190628"},
        "data": [{"instType": "FUTURES", "instId": "LTC-USD-190628", "markPx": "0.1", "ts": "1597026383085"}],
    }
)


def test_tickers_push_is_a_quote_with_exact_decimals() -> None:
    (quote,) = parse_public_frame(TICKERS, received_at=1.0)
    assert isinstance(quote, Quote)
    assert quote == Quote(
        "BTC-USDT",
        Decimal("8888.88"),
        Decimal("5"),
        Decimal("9999.99"),
        Decimal("11"),
        quote.broker_time,
        1.0,
    )
    assert quote.broker_time is not None and quote.broker_time.timestamp() == 1597026383.085


def test_trades_push_carries_the_taker_side() -> None:
    (trade,) = parse_public_frame(TRADES)
    assert isinstance(trade, Trade)
    assert (trade.price, trade.size, trade.aggressor, trade.trade_id) == (
        Decimal("42219.9"),
        Decimal("0.12060306"),
        OrderSide.BUY,
        "130639474",
    )


def test_mark_price_push() -> None:
    (mark,) = parse_public_frame(MARK)
    assert isinstance(mark, MarkPrice) and mark.price == Decimal("0.1")


def test_an_empty_book_side_is_zero_so_the_cache_refuses_it() -> None:
    frame = TICKERS.replace('"bidPx": "8888.88"', '"bidPx": ""').replace('"bidSz": "5"', '"bidSz": ""')
    (quote,) = parse_public_frame(frame)
    assert isinstance(quote, Quote) and quote.bid == 0 and quote.problem() is not None


def test_one_bad_item_is_reported_and_the_others_kept() -> None:
    message = json.loads(TICKERS)
    bad = dict(message["data"][0], askPx="9,999.99", instId="BTC-USDT")
    message["data"] = [bad, message["data"][0]]
    reported: list[BrokerProtocolError] = []

    def bad_item(error: BrokerProtocolError, symbol: str | None) -> list[MarketData]:
        reported.append(error)
        return [Stale(symbol, "unreadable")]

    items = parse_public_frame(json.dumps(message), bad_item=bad_item)
    assert [type(i) for i in items] == [Stale, Quote]
    assert len(reported) == 1 and "askPx" in str(reported[0])


def test_acks_and_pong_carry_nothing_and_the_maintenance_notice_reconnects() -> None:
    assert parse_public_frame("pong") == []
    ack = {"event": "subscribe", "arg": {"channel": "tickers", "instId": "BTC-USDT"}, "connId": "accb8e21"}
    assert parse_public_frame(json.dumps(ack)) == []
    notice = {
        "event": "notice",
        "code": "64008",
        "msg": "The connection will soon be closed for a service upgrade. Please reconnect.",
        "connId": "a4d3ae55",
    }
    with pytest.raises(Reconnect):
        parse_public_frame(json.dumps(notice))


def test_a_frame_that_is_not_json_is_a_typed_error() -> None:
    with pytest.raises(BrokerProtocolError):
        parse_public_frame("{not json")


def _feed(*, trades: bool = False) -> OkxMarketData:
    async def listed() -> list[str]:
        return ["BTC-USDT", "ETH-USDT"]

    settings = OkxSettings(public_ws_url="ws://127.0.0.1:9/unused", _env_file=None)  # type: ignore[call-arg]
    return OkxMarketData(settings, instruments=listed, trades=trades)


@pytest.mark.anyio
async def test_unknown_symbol_is_refused_before_anything_is_registered() -> None:
    feed = _feed()
    with pytest.raises(InvalidOrder, match="NOPE-USDT"):
        await feed.subscribe(["BTC-USDT", "NOPE-USDT"])
    assert feed.symbols == frozenset()
    await feed.aclose()


def test_subscribe_frames_cover_every_channel() -> None:
    frames = _feed(trades=True).subscribe_frames({"ETH-USDT", "BTC-USDT"})
    assert [json.loads(f) for f in frames] == [
        {
            "op": "subscribe",
            "args": [
                {"channel": "tickers", "instId": "BTC-USDT"},
                {"channel": "trades", "instId": "BTC-USDT"},
                {"channel": "tickers", "instId": "ETH-USDT"},
                {"channel": "trades", "instId": "ETH-USDT"},
            ],
        }
    ]


def test_the_public_host_follows_region_and_environment() -> None:
    settings = OkxSettings(environment="demo", region="eea", _env_file=None)  # type: ignore[call-arg]
    assert OkxMarketData(settings, instruments=_listed).url == "wss://wseeapap.okx.com:8443/ws/v5/public"


async def _listed() -> list[str]:
    return []
