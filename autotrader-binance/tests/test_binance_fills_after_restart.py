"""Fills listed without a symbol after a restart (issue 14, item 10).

With ``journal_sync="off"`` a filled market order can be lost from the journal's tail; recovery
then asks ``get_fills(since=...)`` without a symbol. Binance lists trades per symbol only, and
a restarted adapter has seen no order yet: it used to query nothing, so the fill was never
recovered, reconciliation reported clean and the position was wrong.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any
from urllib.parse import parse_qsl

import pytest
from autotrader_binance import BinanceAdapter, BinanceSettings
from binance_support import DOC_API_KEY, DOC_SECRET, raw_payload
from pytest_httpx import HTTPXMock

BASE = "https://testnet.binance.vision"
pytestmark = pytest.mark.anyio


def settings(**overrides: Any) -> BinanceSettings:
    values: dict[str, Any] = {"api_key": DOC_API_KEY, "api_secret": DOC_SECRET}
    values.update(overrides)
    return BinanceSettings(_env_file=None, **values)  # type: ignore[call-arg]


def endpoint(path: str) -> re.Pattern[str]:
    return re.compile(rf"{re.escape(BASE + path)}(\?.*)?$")


def exchange_info(*pairs: tuple[str, str]) -> dict[str, Any]:
    """The documented exchangeInfo with one symbol per ``(base, quote)`` (rules as ETHBTC's)."""
    info: dict[str, Any] = copy.deepcopy(raw_payload("exchange_info.json"))
    template = info["symbols"][0]
    info["symbols"] = [
        dict(copy.deepcopy(template), symbol=base + quote, baseAsset=base, quoteAsset=quote)
        for base, quote in pairs
    ]
    return info


def account(**held: str) -> dict[str, Any]:
    reply: dict[str, Any] = copy.deepcopy(raw_payload("account.json"))
    reply["balances"] = [{"asset": asset, "free": free, "locked": "0"} for asset, free in held.items()]
    return reply


def lost_trade() -> list[dict[str, Any]]:
    """The market buy whose fill the journal lost: BTCUSDT order 7001, our id at-lost."""
    (trade,) = copy.deepcopy(raw_payload("my_trades.json"))
    trade.update(symbol="BTCUSDT", orderId=7001, qty="0.50000000", price="40000.00", commissionAsset="BTC")
    return [trade]


def order_row() -> dict[str, Any]:
    return dict(
        raw_payload("query_order.json"),
        symbol="BTCUSDT",
        orderId=7001,
        clientOrderId="at-lost",
        status="FILLED",
    )


def queried_symbols(httpx_mock: HTTPXMock) -> list[str]:
    return [
        dict(parse_qsl(r.url.query.decode()))["symbol"]
        for r in httpx_mock.get_requests()
        if r.url.path == "/api/v3/myTrades"
    ]


async def test_a_restarted_adapter_finds_a_fill_of_a_symbol_it_never_saw(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=endpoint("/api/v3/openOrders"), json=[])
    httpx_mock.add_response(url=endpoint("/api/v3/account"), json=account(BTC="0.5", USDT="100"))
    httpx_mock.add_response(
        url=endpoint("/api/v3/exchangeInfo"),
        json=exchange_info(("BTC", "USDT"), ("ETH", "USDT"), ("ETH", "BTC")),
    )
    httpx_mock.add_response(url=endpoint("/api/v3/myTrades"), json=lost_trade())
    httpx_mock.add_response(url=endpoint("/api/v3/order"), json=order_row())
    adapter = BinanceAdapter(settings())
    (fill,) = await adapter.get_fills()
    assert (fill.client_order_id, fill.symbol, str(fill.quantity)) == ("at-lost", "BTCUSDT", "0.50000000")
    # ETHUSDT / ETHBTC: no ETH held, so no fill there can have been ours since; not queried.
    assert queried_symbols(httpx_mock) == ["BTCUSDT"]
    await adapter.disconnect()


async def test_named_known_and_open_symbols_come_first_and_guesses_are_bounded(
    httpx_mock: HTTPXMock, caplog: pytest.LogCaptureFixture
) -> None:
    open_order = dict(raw_payload("query_order.json"), symbol="LTCBTC", clientOrderId="at-open")
    httpx_mock.add_response(url=endpoint("/api/v3/openOrders"), json=[open_order])
    httpx_mock.add_response(url=endpoint("/api/v3/account"), json=account(BTC="1", ETH="2", BNB="3"))
    httpx_mock.add_response(
        url=endpoint("/api/v3/exchangeInfo"),
        json=exchange_info(("ETH", "BTC"), ("BNB", "BTC"), ("BNB", "USDT"), ("ETH", "USDT"), ("BTC", "EUR")),
    )
    httpx_mock.add_response(url=endpoint("/api/v3/myTrades"), json=[], is_reusable=True)
    adapter = BinanceAdapter(settings(fill_symbols="XRPUSDT, SOLUSDT", max_fill_symbols=5))
    with caplog.at_level(logging.WARNING, logger="autotrader_binance.adapter"):
        assert await adapter.get_fills() == []
    # named, then open, then both assets held (BNBBTC, ETHBTC), then base held; 5 in all
    assert queried_symbols(httpx_mock) == ["XRPUSDT", "SOLUSDT", "LTCBTC", "BNBBTC", "ETHBTC"]
    assert "3 symbols with held assets not queried" in caplog.text
    await adapter.disconnect()


async def test_with_a_symbol_only_that_symbol_is_queried(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=endpoint("/api/v3/myTrades"), json=[])
    adapter = BinanceAdapter(settings())
    assert await adapter.get_fills(symbol="BTCUSDT") == []
    assert [r.url.path for r in httpx_mock.get_requests()] == ["/api/v3/myTrades"]
    await adapter.disconnect()
