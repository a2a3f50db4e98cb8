"""The README's example strategy trades on OANDA (issue 16): the real engine, the adapter built as
the example builds it (settings from the environment), its default (lean) transport and its
streaming client, against loopback servers replaying ``recordings/readme/`` (composed flows); the
pricing and transaction streams share one stream host, as at OANDA."""

from __future__ import annotations

import json
import runpy
from decimal import Decimal
from pathlib import Path

import pytest
from autotrader_conformance.strategy_replay import StrategyReplay, trade_from_environment

pytestmark = pytest.mark.anyio

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mean_reversion.py"
RECORDINGS = Path(__file__).parent / "recordings" / "readme"
TOKEN = "00000000000000000000000000000000-fake0000000000000000000000000000"


async def test_the_readme_example_buys_the_dip_and_closes_on_oanda(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    example = runpy.run_path(str(EXAMPLE))
    symbol, size = example["MARKETS"]["oanda"]
    strategy = example["MeanReversion"](symbol, Decimal(size))
    async with StrategyReplay(RECORDINGS / "README-TRADE.json", RECORDINGS / "README-QUOTES.json") as replay:
        status = await trade_from_environment(  # the adapter built as the example builds it
            "oanda",
            strategy,
            replay,
            environment={
                "TOKEN": TOKEN,
                "ACCOUNT_ID": "101-004-1435156-001",
                "HTTP_TRANSPORT": "auto",  # what a user gets (conftest.py pins httpx for the unit tests)
                "BASE_URL": replay.base_url,
                "WS_URL": replay.stream_url,  # one stream host: pricing and transactions
            },
            monkeypatch=monkeypatch,
            data_dir=tmp_path,
            order_ids=("atreadme01", "atreadme02"),
        )
    replay.check()
    # It saw the recorded prices: the mids of the steady book and of the dip.
    assert {Decimal("1.08005"), Decimal("1.07905")} <= set(strategy.prices)
    # OANDA saw a market buy of 1000 units, then a market sell of 1000 closing it, each with our id.
    (buy,) = replay.requests("buy")
    (sell,) = replay.requests("sell")
    for request, units, fill_rule, coid in (
        (buy, "1000", "DEFAULT", "atreadme01"),
        (sell, "-1000", "REDUCE_ONLY", "atreadme02"),  # a CLOSE only reduces the position
    ):
        order = json.loads(request.content)["order"]
        assert (order["type"], order["instrument"], order["units"]) == ("MARKET", "EUR_USD", units)
        assert order["positionFill"] == fill_rule
        assert order["clientExtensions"] == {"id": coid}
    # The engine booked both fills (reply and stream de-duplicated) and is flat again.
    assert status.fills_total == 2 and status.orders_filled == 2
    assert status.positions.get("EUR_USD", Decimal(0)) == 0
    assert capsys.readouterr().out.splitlines() == [
        "buy 1000 EUR_USD @ 1.07910, position 1000",
        "sell 1000 EUR_USD @ 1.08100, position 0",
    ]
