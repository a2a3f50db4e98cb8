"""OANDA pricing parsers and feed (lines from protocols-market-data.md §4.2, [DOC] unless noted)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from autotrader_core.errors import BrokerError, BrokerProtocolError, InvalidOrder
from autotrader_core.market_data import MarketData, Quote, Stale
from autotrader_oanda import OandaSettings
from autotrader_oanda.market_data import OandaMarketData, parse_price_line, quote_from_pricing
from pydantic import SecretStr

EUR_USD = (
    '{"asks":[{"liquidity":10000000,"price":"1.11704"},{"liquidity":10000000,"price":"1.11706"}],"bids":'
    '                        [{"liquidity":10000000,"price":"1.11690"},{"liquidity":10000000,"price":"1.11688"}],'
    '"closeoutAsk":"1.11708","closeoutBid":"1.11686","instrument":"EUR_USD","status":"tradeable",'
    '"time":"2016-09-20T15:05:47.960449532Z"}'
)
HEARTBEAT = '{"time":"2016-09-20T15:05:50.163791738Z","type":"HEARTBEAT"}'


def test_a_price_line_is_the_best_bucket_with_its_liquidity_exact() -> None:
    (quote,) = parse_price_line(EUR_USD, received_at=3.0)
    assert isinstance(quote, Quote)
    assert (quote.symbol, quote.bid, quote.bid_size, quote.ask, quote.ask_size) == (
        "EUR_USD",
        Decimal("1.11690"),
        Decimal("10000000"),
        Decimal("1.11704"),
        Decimal("10000000"),
    )
    assert str(quote.bid) == "1.11690"  # trailing zero kept: the instrument's precision
    assert quote.broker_time is not None and quote.broker_time.microsecond == 960449


def test_heartbeats_and_blank_lines_carry_nothing() -> None:
    assert parse_price_line(HEARTBEAT) == []
    assert parse_price_line("") == []


@pytest.mark.parametrize(
    "change",
    [{"tradeable": False}, {"status": "non-tradeable"}, {"bids": []}, {"asks": []}],
    ids=["tradeable-false", "status-non-tradeable", "no-bids", "no-asks"],
)
def test_a_price_that_is_not_tradeable_or_one_sided_is_stale_not_a_quote(change: dict[str, object]) -> None:
    # COMPOSED from the documented line: the flag/field changed.
    line = json.dumps({**json.loads(EUR_USD), **change})
    (item,) = parse_price_line(line)
    assert isinstance(item, Stale) and item.symbol == "EUR_USD"


def test_tradeable_true_wins_over_a_missing_status() -> None:
    line = json.loads(EUR_USD)
    del line["status"]
    (item,) = parse_price_line(json.dumps({**line, "tradeable": True, "type": "PRICE"}))
    assert isinstance(item, Quote)


def test_a_bad_line_is_reported_and_the_stream_goes_on() -> None:
    reported: list[BrokerProtocolError] = []

    def bad_item(error: BrokerProtocolError, symbol: str | None) -> list[MarketData]:
        reported.append(error)
        return [Stale(symbol, "unreadable")] if symbol else []

    broken = EUR_USD.replace('"price":"1.11690"', '"price":1.1169')  # a float is refused
    assert parse_price_line(broken, bad_item=bad_item) == [Stale("EUR_USD", "unreadable")]
    assert parse_price_line("{cut off", bad_item=bad_item) == []
    assert len(reported) == 2


def test_rest_pricing_not_tradeable_is_a_typed_error() -> None:
    body = {"prices": [{**json.loads(EUR_USD), "tradeable": False}]}
    with pytest.raises(BrokerError, match="not tradeable"):
        quote_from_pricing(body, "EUR_USD")
    assert quote_from_pricing({"prices": [json.loads(EUR_USD)]}, "EUR_USD").bid == Decimal("1.11690")


def _feed() -> OandaMarketData:
    async def listed() -> list[str]:
        return ["EUR_USD"]

    settings = OandaSettings(  # type: ignore[call-arg]
        _env_file=None,
        token=SecretStr("00000000000000000000000000000000-fake0000000000000000000000000000"),
        account_id="101-004-1435156-001",
        ws_url="http://127.0.0.1:9/unused",
    )
    return OandaMarketData(settings, instruments=listed)


@pytest.mark.anyio
async def test_unknown_instrument_is_refused_before_any_request() -> None:
    feed = _feed()
    with pytest.raises(InvalidOrder, match="NOPE_USD"):
        await feed.subscribe(["NOPE_USD"])
    assert feed.symbols == frozenset()
    await feed.aclose()


def test_the_stream_url_is_the_account_pricing_stream() -> None:
    assert _feed().url == "http://127.0.0.1:9/unused/v3/accounts/101-004-1435156-001/pricing/stream"
