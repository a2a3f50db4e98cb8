"""The README's example strategy on IBKR (issue 16): the real engine, the adapter built as the
example builds it (settings from the environment), the real ib_async client against the fake TWS
replaying ``recordings/readme/README-SESSION.json`` (composed by ``ibkr_compose_recordings.py``).

The transcript quotes AAPL (snapshot, then the stream): a steady quote, a dip, a rise; the
example buys 1 share on the dip and closes it on the rise, both MKT orders filled with their
commissions.
"""

from __future__ import annotations

import runpy
from decimal import Decimal
from pathlib import Path

import pytest
from autotrader_conformance.strategy_replay import trade_from_environment
from ibkr_fake_tws import fake_tws

pytestmark = pytest.mark.anyio

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mean_reversion.py"


async def test_the_readme_example_buys_the_dip_and_closes_on_ibkr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    example = runpy.run_path(str(EXAMPLE))
    symbol, size = example["MARKETS"]["ibkr"]
    strategy = example["MeanReversion"](symbol, Decimal(size))
    async with fake_tws("readme/README-SESSION") as tws:
        status = await trade_from_environment(  # the adapter built as the example builds it
            "ibkr",
            strategy,
            None,
            environment={
                "PORT": str(tws.port),
                "SYMBOLS": f'["{symbol}"]',
                "TWS_TIMEZONE": "US/Eastern",
                "CONNECT_TIMEOUT": "3",
                "RECONNECT_DELAY": "0.05",
            },
            monkeypatch=monkeypatch,
            data_dir=tmp_path,
            order_ids=("atreadme01", "atreadme02"),
            within=5.0,
        )
        assert tws.script_finished and tws.unexpected == []
    # TWS saw a MKT buy of 1 share, then a MKT sell of 1 closing it, each with our id as orderRef.
    buy, sell = (request.named for request in tws.requests("placeOrder"))
    assert (buy["action"], buy["orderType"], buy["totalQuantity"], buy["orderRef"]) == (
        "BUY",
        "MKT",
        "1",
        "atreadme01",
    )
    assert (sell["action"], sell["orderType"], sell["totalQuantity"], sell["orderRef"]) == (
        "SELL",
        "MKT",
        "1",
        "atreadme02",
    )
    # The engine booked both fills (each released with its commission) and is flat again.
    assert status.fills_total == 2 and status.orders_filled == 2
    assert status.positions.get("AAPL", Decimal(0)) == 0
    assert capsys.readouterr().out.splitlines() == [
        "buy 1 AAPL @ 150.26, position 1",
        "sell 1 AAPL @ 150.80, position 0",
    ]
