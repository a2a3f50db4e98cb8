"""Binance submit-path benchmark: autotrader-binance vs CCXT's async ``binance``, same stand-in.

Measures, side by side in one run, against the loopback stand-in (``standin.py``,
run in its own process so its CPU is not counted):

* our full submit path: build the ``Order``, OMS ``add``, ``submit_order`` (build the
  parameters, sign HMAC, rate-limit, send, parse the FULL reply into events), OMS
  ``apply`` of every event (for a market order: the acceptance and three fills, booked
  to the position);
* CCXT: ``create_order`` (sign, send, parse into its unified order, its fills into trades);

for two kinds of order: a LIMIT order that rests (the reply has no fills) and a MARKET
order whose FULL reply carries three fills (what a real taker order returns);

as orders/s and client CPU µs per order (``time.process_time`` of this process),
sequentially and with 16 orders in flight, for each REST transport of ours (``lean``,
the default; ``aiohttp``; ``httpx``). Also ``import`` times of both libraries.

Run: ``python bench.py [--orders N] [--repeats R]`` (in the benchmark's own venv: see
``noxfile.py``; CCXT is never a dependency of autotrader-binance).
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
from venue_bench import Close, One, import_time, run_and_report  # noqa: E402

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"  # Binance's documented example
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
KINDS = ("limit", "market")
PEER = "ccxt async binance"
WARM_UP = 300  # venue_bench's warm-up: orders placed before the measured ones


async def ours(transport: str, base_url: str, kind: str) -> tuple[One, Close]:
    """Our adapter's full submit path, OMS update included (a market order books three fills)."""
    from autotrader_binance import BinanceAdapter, BinanceSettings
    from autotrader_core.enums import OrderSide, OrderType
    from autotrader_core.ids import ClientOrderIdGenerator
    from autotrader_core.models import Order
    from autotrader_core.oms import OrderManager
    from pydantic import SecretStr

    settings = BinanceSettings(
        _env_file=None,  # type: ignore[call-arg]
        api_key=SecretStr(API_KEY),
        api_secret=SecretStr(SECRET),
        base_url=base_url,
        http_transport=transport,  # type: ignore[arg-type]
    )
    adapter = BinanceAdapter(settings)
    await adapter.connect()
    oms = OrderManager()
    ids = ClientOrderIdGenerator()
    quantity, price = Decimal("0.00300"), Decimal("20000.00")
    market = kind == "market"
    placed = 0

    async def one() -> None:
        nonlocal placed
        if market:
            order = Order(ids.next_id(), "BTCUSDT", OrderSide.BUY, OrderType.MARKET, quantity)
        else:
            order = Order(
                ids.next_id(), "BTCUSDT", OrderSide.BUY, OrderType.LIMIT, quantity, limit_price=price
            )
        oms.add(order)
        for event in await adapter.submit_order(order):
            oms.apply(event)
        placed += 1

    async def close() -> None:
        await adapter.disconnect()
        if market:  # every fill was booked: the position is the sum of every order's quantity
            assert oms.position("BTCUSDT").quantity == quantity * placed, oms.position("BTCUSDT")

    return one, close


async def ccxt_binance(base_url: str, kind: str) -> tuple[One, Close]:
    """CCXT async binance ``create_order`` against the same stand-in (it parses the fills too)."""
    import ccxt.async_support as ccxt  # type: ignore[import-untyped]
    from autotrader_core.ids import ClientOrderIdGenerator

    exchange = ccxt.binance(
        {
            "apiKey": API_KEY,
            "secret": SECRET,
            "enableRateLimit": False,  # the stand-in's limits are huge; ours are not throttling either
            "options": {
                "fetchMarkets": ["spot"],
                "fetchMargins": False,
                "fetchCurrencies": False,
                "adjustForTimeDifference": False,
            },
        }
    )
    for key in ("public", "private", "v3"):
        if key in exchange.urls["api"]:
            exchange.urls["api"][key] = f"{base_url}/api/v3"
    await exchange.load_markets()
    ids = ClientOrderIdGenerator()
    market = kind == "market"

    async def one() -> None:
        if market:
            placed = await exchange.create_order(
                "BTC/USDT", "market", "buy", 0.003, None, {"newClientOrderId": ids.next_id()}
            )
            assert len(placed["trades"]) == 3  # CCXT parsed the fills: the same work as ours
        else:
            await exchange.create_order(
                "BTC/USDT", "limit", "buy", 0.003, 20000, {"newClientOrderId": ids.next_id()}
            )

    return one, exchange.close


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--transports", default="lean,aiohttp,httpx")
    parser.add_argument(
        "--kinds", default=",".join(KINDS), help="order kinds: limit (rests), market (FULL reply with fills)"
    )
    parser.add_argument("--imports-only", action="store_true", help="only the import-time figures")
    args = parser.parse_args()
    if args.imports_only:
        report_imports()
        return
    import ccxt

    contenders = {f"autotrader ({t})": partial(ours, t) for t in args.transports.split(",")}
    contenders[PEER] = ccxt_binance
    proc, base_url = start(HERE / "standin.py")
    try:
        run_and_report(
            contenders,
            PEER,
            base_url,
            kinds=args.kinds.split(","),
            orders=args.orders,
            repeats=args.repeats,
            title=f"Binance submit path, ccxt {ccxt.__version__}",
        )
    finally:
        proc.terminate()
        proc.wait()
    report_imports()


# What each line costs, timed in a fresh interpreter against CCXT's own line.
IMPORTS = {
    "import autotrader_binance": "import ccxt.async_support",
    "from autotrader_binance import BinanceAdapter, BinanceSettings": "import ccxt.async_support",
    # A client ready to send (keys set, nothing sent): what a script pays before its first order.
    (
        "from autotrader_binance import BinanceAdapter, BinanceSettings; from pydantic import SecretStr; "
        "BinanceAdapter(BinanceSettings(api_key=SecretStr('k' * 64), api_secret=SecretStr('s' * 64)))"
    ): "import ccxt.async_support as ccxt; ccxt.binance({'apiKey': 'k' * 64, 'secret': 's' * 64})",
    # The floor under the two lines above: the chosen settings library on its own.
    "from pydantic_settings import BaseSettings": "import ccxt.async_support",
}


def report_imports() -> None:
    """Print each statement's median time in a fresh interpreter and its ratio to CCXT's."""
    cache: dict[str, float] = {}
    for ours, theirs in IMPORTS.items():
        if theirs not in cache:
            cache[theirs] = import_time(theirs)
        mine = import_time(ours)
        print(
            f"{ours}\n    {mine * 1000:.0f} ms vs {theirs}: {cache[theirs] * 1000:.0f} ms, ratio {mine / cache[theirs]:.2f}"
        )


if __name__ == "__main__":
    main()
