"""Coinbase market-data parsers and feed (payloads from protocols-market-data.md §3, [DOC] unless noted)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from autotrader_coinbase import CoinbaseSettings
from autotrader_coinbase.market_data import (
    CoinbaseMarketData,
    SequenceTracker,
    parse_market_message,
    parse_product_book,
)
from autotrader_core.enums import OrderSide
from autotrader_core.errors import BrokerProtocolError, InvalidOrder
from autotrader_core.market_data import MarketData, Quote, Stale, Trade

TICKER = {
    "channel": "ticker",
    "timestamp": "2023-02-09T20:30:37.167359596Z",
    "sequence_num": 0,
    "events": [
        {
            "type": "snapshot",
            "tickers": [
                {
                    "type": "ticker",
                    "product_id": "BTC-USD",
                    "price": "21932.98",
                    "volume_24_h": "16038.28770938",
                    "low_24_h": "21835.29",
                    "high_24_h": "23011.18",
                    "low_52_w": "15460",
                    "high_52_w": "48240",
                    "price_percent_chg_24_h": "-4.15775596190603",
                    "best_bid": "21931.98",
                    "best_bid_quantity": "8000.21",
                    "best_ask": "21933.98",
                    "best_ask_quantity": "8038.07770938",
                }
            ],
        }
    ],
}
TRADES = {
    "channel": "market_trades",
    "timestamp": "2023-02-09T20:19:35.39625135Z",
    "sequence_num": 0,
    "events": [
        {
            "type": "snapshot",
            "trades": [
                {
                    "trade_id": "000000000",
                    "product_id": "ETH-USD",
                    "price": "1260.01",
                    "size": "0.3",
                    "side": "BUY",
                    "time": "2019-08-14T20:42:27.265Z",
                }
            ],
        }
    ],
}
HEARTBEAT = {
    "channel": "heartbeats",
    "timestamp": "2023-06-23T20:31:26.122969572Z",
    "sequence_num": 0,
    "events": [
        {
            "current_time": "2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105",
            "heartbeat_counter": 3049,
        }
    ],
}


def _with_seq(message: dict[str, object], seq: int) -> str:
    return json.dumps({**message, "sequence_num": seq})


def test_ticker_is_a_quote_with_exact_decimals_and_the_envelope_time() -> None:
    (quote,) = parse_market_message(json.dumps(TICKER), received_at=2.0)
    assert isinstance(quote, Quote)
    assert (quote.symbol, quote.bid, quote.bid_size, quote.ask, quote.ask_size) == (
        "BTC-USD",
        Decimal("21931.98"),
        Decimal("8000.21"),
        Decimal("21933.98"),
        Decimal("8038.07770938"),
    )
    assert quote.broker_time is not None and quote.broker_time.microsecond == 167359
    assert quote.received_at == 2.0


def test_market_trade_aggressor_is_the_opposite_of_the_maker_side() -> None:
    (trade,) = parse_market_message(json.dumps(TRADES))
    assert isinstance(trade, Trade)
    assert (trade.price, trade.size, trade.aggressor, trade.trade_id) == (
        Decimal("1260.01"),
        Decimal("0.3"),
        OrderSide.SELL,
        "000000000",
    )


def test_heartbeats_carry_no_item() -> None:
    assert parse_market_message(json.dumps(HEARTBEAT)) == []


def test_a_sequence_gap_is_stale_before_the_next_prices_and_old_messages_are_dropped() -> None:
    sequence = SequenceTracker()
    assert len(parse_market_message(_with_seq(TICKER, 5), sequence=sequence)) == 1
    assert parse_market_message(_with_seq(HEARTBEAT, 6), sequence=sequence) == []
    items = parse_market_message(_with_seq(TICKER, 9), sequence=sequence)  # 7 and 8 were lost
    assert [type(i) for i in items] == [Stale, Quote]
    assert isinstance(items[0], Stale) and items[0].symbol is None
    assert "2 message(s) missed" in items[0].reason
    assert parse_market_message(_with_seq(TICKER, 8), sequence=sequence) == []  # late: superseded


def test_one_bad_ticker_is_reported_and_the_others_kept() -> None:
    message = json.loads(json.dumps(TICKER))
    good = message["events"][0]["tickers"][0]
    message["events"][0]["tickers"] = [dict(good, product_id="ETH-USD", best_ask="n/a"), good]
    reported: list[BrokerProtocolError] = []

    def bad_item(error: BrokerProtocolError, symbol: str | None) -> list[MarketData]:
        reported.append(error)
        return [Stale(symbol, "unreadable")]

    items = parse_market_message(json.dumps(message), bad_item=bad_item)
    assert items[0] == Stale("ETH-USD", "unreadable") and isinstance(items[1], Quote)
    assert "best_ask" in str(reported[0])


def test_product_book_snapshot_composed_from_the_documented_template() -> None:
    # COMPOSED: §3.8 documents only a template; values taken from the ticker example.
    body = {
        "pricebook": {
            "product_id": "BTC-USD",
            "bids": [{"price": "21931.98", "size": "8000.21"}],
            "asks": [{"price": "21933.98", "size": "8038.07770938"}],
            "time": "2023-02-09T20:30:37.167359Z",
        },
        "last": "21932.98",
    }
    quote = parse_product_book(body)
    assert (quote.bid, quote.ask_size) == (Decimal("21931.98"), Decimal("8038.07770938"))
    empty = parse_product_book({"pricebook": {"product_id": "BTC-USD", "bids": [], "asks": [], "time": ""}})
    assert empty.problem() is not None  # no price, never a price of zero


def _feed(trades: bool = False) -> CoinbaseMarketData:
    async def listed() -> list[str]:
        return ["BTC-USD", "ETH-USD"]

    settings = CoinbaseSettings(_env_file=None, market_data_url="ws://127.0.0.1:9/unused")  # type: ignore[call-arg]
    return CoinbaseMarketData(settings, instruments=listed, trades=trades)


@pytest.mark.anyio
async def test_unknown_product_is_refused_before_anything_is_registered() -> None:
    feed = _feed()
    with pytest.raises(InvalidOrder, match="NOPE-USD"):
        await feed.subscribe(["NOPE-USD"])
    assert feed.symbols == frozenset()
    await feed.aclose()


def test_one_subscribe_message_per_channel_and_heartbeats_once_per_connection() -> None:
    feed = _feed(trades=True)
    assert [json.loads(f) for f in feed.connection_frames()] == [
        {"type": "subscribe", "channel": "heartbeats"}
    ]
    assert [json.loads(f) for f in feed.subscribe_frames({"ETH-USD", "BTC-USD"})] == [
        {"type": "subscribe", "product_ids": ["BTC-USD", "ETH-USD"], "channel": "ticker"},
        {"type": "subscribe", "product_ids": ["BTC-USD", "ETH-USD"], "channel": "market_trades"},
    ]
