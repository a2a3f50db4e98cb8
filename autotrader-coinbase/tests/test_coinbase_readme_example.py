"""The README's example strategy trades on Coinbase (issue 16): the real engine, the adapter built
as the example builds it (settings from the environment), its default (lean) transport and its
WebSocket clients, against loopback servers replaying ``recordings/readme/`` (composed flows)."""

from __future__ import annotations

import json
import runpy
from decimal import Decimal
from pathlib import Path

import pytest
from autotrader_conformance.strategy_replay import StrategyReplay, trade_from_environment
from coinbase_payloads import KEY_NAME
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

pytestmark = pytest.mark.anyio

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mean_reversion.py"
RECORDINGS = Path(__file__).parent / "recordings" / "readme"


def _throwaway_key() -> str:
    """A key made for this run (the recordings match the JWT as "<ANY>")."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem.decode()


async def test_the_readme_example_buys_the_dip_and_closes_on_coinbase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    example = runpy.run_path(str(EXAMPLE))
    symbol, size = example["MARKETS"]["coinbase"]
    strategy = example["MeanReversion"](symbol, Decimal(size))
    async with StrategyReplay(RECORDINGS / "README-TRADE.json", RECORDINGS / "README-QUOTES.json") as replay:
        status = await trade_from_environment(  # the adapter built as the example builds it
            "coinbase",
            strategy,
            replay,
            environment={
                "ENVIRONMENT": "live",  # the sandbox is a static mock without WebSocket: nothing to trade on
                "API_KEY_NAME": KEY_NAME,
                "API_PRIVATE_KEY": _throwaway_key(),
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
    # Coinbase saw a market buy, then a market sell closing it, each with our id and exact base size.
    (buy,) = replay.requests("buy")
    (sell,) = replay.requests("sell")
    for request, side, coid in ((buy, "BUY", "atreadme01"), (sell, "SELL", "atreadme02")):
        body = json.loads(request.content)
        assert (body["side"], body["order_configuration"]) == (
            side,
            {"market_market_ioc": {"base_size": "0.01"}},
        )
        assert body["client_order_id"] == coid and body["product_id"] == "BTC-USD"
    # The engine booked both fills (the user channel's FILLED, completed from the fills endpoint), flat again.
    assert status.fills_total == 2 and status.orders_filled == 2
    assert status.positions.get("BTC-USD", Decimal(0)) == 0
    assert capsys.readouterr().out.splitlines() == [
        "buy 0.01 BTC-USD @ 63900.10, position 0.01",
        "sell 0.01 BTC-USD @ 64100.00, position 0.00",
    ]
