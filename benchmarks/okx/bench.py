"""OKX submit-path benchmark: autotrader-okx vs CCXT's async ``okx``, same loopback stand-in.

Measures, side by side in one run, against ``standin.py`` (its own process, so the CPU
figures are the client's alone):

* our full submit path: build the ``Order``, OMS ``add``, ``submit_order`` (build and
  validate the body, sign HMAC-SHA256 over the exact text, rate-limit, send, check
  ``code`` and ``sCode``, parse into events), OMS ``apply`` of every event;
* CCXT: ``create_order`` (sign, send, parse into its unified order);

as orders/s and client CPU µs per order, sequentially and with 16 in flight.

OKX's documented limits (60 orders / 2 s per instrument) would make both clients wait
on their rate limiters, and this measures client overhead, not OKX's limits: CCXT runs
with ``enableRateLimit=False``; our limiters keep running (their cost is counted) with
their buckets raised for the benchmark only.

Run: ``nox -f benchmarks/okx/noxfile.py`` or ``python bench.py [--orders N] [--repeats R] [--transports lean,aiohttp,httpx]``.
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

# OKX's documented example credentials (protocols.md §2.2); the stand-in checks nothing.
API_KEY, SECRET, PASSPHRASE = (
    "85d4e6f3-7e5b-4a1e-8f5c-0d1e2f3a4b5c",
    "22582BD0CFF14C41EDBF1AB98506286D",
    "pass",
)


async def ours(transport: str, base_url: str, kind: str) -> tuple[One, Close]:
    """Our adapter's full submit path on ``transport`` (lean / aiohttp / httpx), OMS update included."""
    import autotrader_okx.http as okx_http
    from autotrader_core.enums import OrderSide, OrderType
    from autotrader_core.ids import ClientOrderIdGenerator
    from autotrader_core.models import Order
    from autotrader_core.oms import OrderManager
    from autotrader_okx import OkxAdapter, OkxSettings
    from pydantic import SecretStr

    for endpoint in list(okx_http.ENDPOINT_LIMITS):
        okx_http.ENDPOINT_LIMITS[endpoint] = (10**9, 1.0)
    settings = OkxSettings(
        _env_file=None,  # type: ignore[call-arg]
        api_key=SecretStr(API_KEY),
        api_secret=SecretStr(SECRET),
        passphrase=SecretStr(PASSPHRASE),
        base_url=base_url,
        http_transport=transport,  # type: ignore[arg-type]
    )
    adapter = OkxAdapter(settings)
    await adapter.connect()
    adapter.http._order_limiter = okx_http.RateLimiter("okx sub-account orders", 10**9, 1.0)
    oms = OrderManager()
    oms.set_instruments(await adapter.get_instruments())
    ids = ClientOrderIdGenerator()
    quantity, price = Decimal("0.003"), Decimal("20000.0")

    async def one() -> None:
        order = Order(ids.next_id(), "BTC-USDT", OrderSide.BUY, OrderType.LIMIT, quantity, limit_price=price)
        oms.add(order)
        for event in await adapter.submit_order(order):
            oms.apply(event)

    return one, adapter.disconnect


async def ccxt_okx(base_url: str, kind: str) -> tuple[One, Close]:
    """CCXT async okx ``create_order`` against the same stand-in."""
    import ccxt.async_support as ccxt  # type: ignore[import-untyped]
    from autotrader_core.ids import ClientOrderIdGenerator

    exchange = ccxt.okx(
        {
            "apiKey": API_KEY,
            "secret": SECRET,
            "password": PASSPHRASE,
            "enableRateLimit": False,
            # The same endpoint as ours (CCXT's default is batch-orders, for its lower limit).
            "options": {
                "fetchMarkets": {"types": ["spot"]},
                "fetchCurrencies": False,
                "createOrder": "privatePostTradeOrder",
            },
        }
    )
    exchange.has["fetchCurrencies"] = False
    exchange.urls["api"] = {"rest": base_url}
    await exchange.load_markets()
    ids = ClientOrderIdGenerator()

    async def one() -> None:
        await exchange.create_order("BTC/USDT", "limit", "buy", 0.003, 20000, {"clOrdId": ids.next_id()})

    return one, exchange.close


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--transports", default="lean,aiohttp,httpx")
    parser.add_argument("--imports", action="store_true", help="also time the imports in fresh interpreters")
    args = parser.parse_args()
    import ccxt

    contenders = {f"autotrader-okx ({t})": partial(ours, t) for t in args.transports.split(",")}
    contenders["ccxt async okx"] = ccxt_okx
    proc, base_url = start(HERE / "standin.py")
    try:
        run_and_report(
            contenders,
            "ccxt async okx",
            base_url,
            kinds=["limit"],
            orders=args.orders,
            repeats=args.repeats,
            title=f"OKX submit path, ccxt {ccxt.__version__}",
        )
    finally:
        proc.terminate()
        proc.wait()
    if args.imports:
        ccxt_line = "import ccxt.async_support"
        theirs = import_time(ccxt_line)
        for line in ("import autotrader_okx", "from autotrader_okx import OkxAdapter, OkxSettings"):
            mine = import_time(line)
            print(
                f"{line}: {mine * 1000:.0f} ms vs {ccxt_line}: {theirs * 1000:.0f} ms, ratio {mine / theirs:.2f}"
            )


if __name__ == "__main__":
    main()
