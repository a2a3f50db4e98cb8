"""Coinbase submit-path benchmark: autotrader-coinbase vs CCXT's async ``coinbase``, same stand-in.

Measures, side by side in one run, against ``standin.py`` (its own process, so the CPU
figures are the client's alone):

* our full submit path: build the ``Order``, OMS ``add``, ``submit_order`` (build the
  body, mint a fresh ES256 JWT, rate-limit, send, check ``success``, parse into events),
  OMS ``apply`` of every event;
* CCXT: ``create_order`` (a fresh ES256 JWT too, send, parse into its unified order);

as orders/s and client CPU µs per order, sequentially and with 16 in flight. Both sign
with a fresh EC P-256 key made for the run. CCXT runs with ``enableRateLimit=False``;
our limiter keeps running (its cost is counted) with its rate raised for the benchmark.

Run: ``nox -f benchmarks/noxfile.py -s bench-coinbase`` or
``python bench.py [--orders N] [--repeats R] [--transports lean,aiohttp,httpx]``.
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from standin_http import start  # noqa: E402
from venue_bench import Close, One, run_and_report  # noqa: E402

KEY_NAME = "organizations/0000-0000/apiKeys/1111-1111"


def _pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


PEM = _pem()


async def ours(transport: str, base_url: str, kind: str) -> tuple[One, Close]:
    """Our adapter's full submit path on ``transport``, OMS update included."""
    from autotrader_coinbase import CoinbaseAdapter, CoinbaseSettings
    from autotrader_core.enums import OrderSide, OrderType
    from autotrader_core.ids import ClientOrderIdGenerator
    from autotrader_core.models import Order
    from autotrader_core.oms import OrderManager
    from pydantic import SecretStr

    settings = CoinbaseSettings(
        _env_file=None,  # type: ignore[call-arg]
        environment="live",
        api_key_name=KEY_NAME,
        api_private_key=SecretStr(PEM),
        base_url=base_url,
        rest_requests_per_second=1e9,
        public_requests_per_second=1e9,
        http_transport=transport,  # type: ignore[arg-type]  # a --transports value
    )
    adapter = CoinbaseAdapter(settings)
    await adapter.connect()
    oms = OrderManager()
    oms.set_instruments(await adapter.get_instruments())
    ids = ClientOrderIdGenerator()
    quantity, price = Decimal("0.003"), Decimal("20000.00")

    async def one() -> None:
        order = Order(ids.next_id(), "BTC-USD", OrderSide.BUY, OrderType.LIMIT, quantity, limit_price=price)
        oms.add(order)
        for event in await adapter.submit_order(order):
            oms.apply(event)

    return one, adapter.disconnect


async def ccxt_coinbase(base_url: str, kind: str) -> tuple[One, Close]:
    """CCXT async coinbase ``create_order`` against the same stand-in."""
    import ccxt.async_support as ccxt  # type: ignore[import-untyped]
    from autotrader_core.ids import ClientOrderIdGenerator

    exchange = ccxt.coinbase(
        {
            "apiKey": KEY_NAME,
            "secret": PEM,
            "enableRateLimit": False,
            "options": {"fetchMarkets": "fetchMarketsV3", "fetchCurrencies": False},
        }
    )
    exchange.has["fetchCurrencies"] = False
    exchange.urls["api"]["rest"] = base_url
    await exchange.load_markets()
    ids = ClientOrderIdGenerator()

    async def one() -> None:
        await exchange.create_order("BTC/USD", "limit", "buy", 0.003, 20000, {"clientOrderId": ids.next_id()})

    return one, exchange.close


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--transports", default="lean,aiohttp,httpx")
    args = parser.parse_args()
    import ccxt

    contenders = {f"autotrader-coinbase ({t})": partial(ours, t) for t in args.transports.split(",")}
    contenders["ccxt async coinbase"] = ccxt_coinbase
    proc, base_url = start(HERE / "standin.py")
    try:
        run_and_report(
            contenders,
            "ccxt async coinbase",
            base_url,
            kinds=["limit"],
            orders=args.orders,
            repeats=args.repeats,
            title=f"Coinbase submit path, ccxt {ccxt.__version__}",
        )
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
