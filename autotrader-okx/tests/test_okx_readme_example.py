"""The README's example strategy trades on OKX (issue 16): the real engine, the adapter built as
the example builds it (settings from the environment), its default (lean) transport and its
WebSocket clients, against loopback servers replaying ``recordings/readme/`` (composed flows)."""

from __future__ import annotations

import json
import runpy
from decimal import Decimal
from pathlib import Path

import pytest
from autotrader_conformance.strategy_replay import StrategyReplay, trade_from_environment
from okx_support import API_KEY, API_SECRET, PASSPHRASE

pytestmark = pytest.mark.anyio

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mean_reversion.py"
RECORDINGS = Path(__file__).parent / "recordings" / "readme"


async def test_the_readme_example_buys_the_dip_and_closes_on_okx(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    example = runpy.run_path(str(EXAMPLE))
    symbol, size = example["MARKETS"]["okx"]
    strategy = example["MeanReversion"](symbol, Decimal(size))
    async with StrategyReplay(RECORDINGS / "README-TRADE.json", RECORDINGS / "README-QUOTES.json") as replay:
        status = await trade_from_environment(  # the adapter built as the example builds it
            "okx",
            strategy,
            replay,
            environment={
                "API_KEY": API_KEY,
                "API_SECRET": API_SECRET,
                "PASSPHRASE": PASSPHRASE,
                "HTTP_TRANSPORT": "auto",  # what a user gets (conftest.py pins httpx for the unit tests)
                "BASE_URL": replay.base_url,
                "WS_URL": replay.private_url,
                "PUBLIC_WS_URL": replay.market_url,
            },
            monkeypatch=monkeypatch,
            data_dir=tmp_path,
            order_ids=("atreadme01", "atreadme02"),
        )
    replay.check()
    # It saw the recorded book: the mids of the steady book and of the dip.
    assert {Decimal("64000.05"), Decimal("63900.05")} <= set(strategy.prices)
    # OKX saw a market buy, then a market sell closing it, each with our id and an exact base quantity.
    (buy,) = replay.requests("buy")
    (sell,) = replay.requests("sell")
    for request, side, coid in ((buy, "buy", "atreadme01"), (sell, "sell", "atreadme02")):
        body = json.loads(request.content)
        assert (body["side"], body["ordType"], body["tgtCcy"], body["sz"]) == (
            side,
            "market",
            "base_ccy",
            "0.01",
        )
        assert body["clOrdId"] == coid and body["instId"] == "BTC-USDT"
    # The engine booked both fills from the orders channel and is flat again.
    assert status.fills_total == 2 and status.orders_filled == 2
    assert status.positions.get("BTC-USDT", Decimal(0)) == 0
    assert capsys.readouterr().out.splitlines() == [
        "buy 0.01 BTC-USDT @ 63900.1, position 0.01",
        "sell 0.01 BTC-USDT @ 64100, position 0.00",
    ]
