"""The README's example strategy trades on Binance (issue 16): the real engine, the adapter built
as the example builds it (settings from the environment), its default (lean) transport and its
WebSocket clients, against loopback servers replaying ``recordings/readme/`` (composed flows)."""

from __future__ import annotations

import runpy
from decimal import Decimal
from pathlib import Path

import pytest
from autotrader_conformance.strategy_replay import StrategyReplay, trade_from_environment

pytestmark = pytest.mark.anyio

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mean_reversion.py"
RECORDINGS = Path(__file__).parent / "recordings" / "readme"


async def test_the_readme_example_buys_the_dip_and_closes_on_binance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    example = runpy.run_path(str(EXAMPLE))
    symbol, size = example["MARKETS"]["binance"]
    strategy = example["MeanReversion"](symbol, Decimal(size))
    async with StrategyReplay(RECORDINGS / "README-TRADE.json", RECORDINGS / "README-QUOTES.json") as replay:
        status = await trade_from_environment(  # the adapter built as the example builds it
            "binance",
            strategy,
            replay,
            environment={
                "API_KEY": "test-key",
                "API_SECRET": "test-secret",
                "HTTP_TRANSPORT": "auto",  # what a user gets (conftest.py pins httpx for the unit tests)
                "BASE_URL": replay.base_url,
                "WS_URL": replay.private_url,
                "MARKET_DATA_URL": replay.market_url,
            },
            monkeypatch=monkeypatch,
            data_dir=tmp_path,
            order_ids=("atreadme01", "atreadme02"),
        )
    replay.check()
    # It saw the recorded book: the mids of the steady book and of the dip.
    assert {Decimal("64000.05"), Decimal("63900.05")} <= set(strategy.prices)
    # Binance saw a market buy, then a market sell closing it, each with our id and exact quantity.
    (buy,) = replay.requests("buy")
    (sell,) = replay.requests("sell")
    for request, side, coid in ((buy, "BUY", "atreadme01"), (sell, "SELL", "atreadme02")):
        form = dict(pair.split("=", 1) for pair in request.content.decode().split("&"))
        assert (form["side"], form["type"], Decimal(form["quantity"])) == (side, "MARKET", Decimal("0.01"))
        assert form["newClientOrderId"] == coid and form["symbol"] == "BTCUSDT"
    # The engine booked both fills (reply and stream de-duplicated on trade id) and is flat again.
    assert status.fills_total == 2 and status.orders_filled == 2
    assert status.positions.get("BTCUSDT", Decimal(0)) == 0
    assert capsys.readouterr().out.splitlines() == [
        "buy 0.01000000 BTCUSDT @ 63900.10000000, position 0.01000000",
        "sell 0.01000000 BTCUSDT @ 64100.00000000, position 0.00000000",
    ]
