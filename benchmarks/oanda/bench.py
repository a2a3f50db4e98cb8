"""OANDA submit-path benchmark: autotrader-oanda on each REST transport vs OANDA's own ``v20`` client.

CCXT has no OANDA exchange, so the peer is OANDA's official Python client ``v20`` (PyPI;
benchmark-only, never a dependency) when it installs, and the figure that stands on its
own is client CPU µs per order. Measured against ``standin.py`` (its own process, so the
CPU figures are the client's alone), a MARKET order whose reply carries the fill
(``orderCreateTransaction`` + ``orderFillTransaction``, protocols.md §4.3):

* ours: build the ``Order``, OMS ``add``, ``submit_order`` (check it against the
  instrument's rules, build the body, rate-limit, send, map errors, parse both
  transactions into events, exact Decimals), OMS ``apply`` of every event; on ``lean``
  (the default), ``aiohttp`` and ``httpx``;
* v20: ``ctx.order.market(...)`` (send, parse the reply into its transaction objects)
  and ``get("orderFillTransaction")``. v20 is synchronous (requests): its "16 in flight"
  still runs one order at a time, so compare its sequential figure.

OANDA's REST budget (100 requests/s advised) would make our client wait on its limiter,
and this measures client overhead, not OANDA's limits: our limiter keeps running (its
cost is counted) with its bucket raised for the benchmark only.

Run: ``nox -f benchmarks/noxfile.py -s bench-oanda`` or ``python bench.py [--orders N] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal
from functools import partial
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from standin_http import start  # noqa: E402
from venue_bench import Close, Contender, One, import_time, run_and_report  # noqa: E402

ACCOUNT = "101-004-1435156-001"
TOKEN = "f4ke0000000000000000000000000000-f4ke0000000000000000000000000000"  # the stand-in checks nothing
PEER = "oanda v20 (official, sync)"


async def ours(transport: str, base_url: str, kind: str) -> tuple[One, Close]:
    """Our adapter's full submit path, OMS update included."""
    from autotrader_core.enums import OrderSide, OrderType
    from autotrader_core.ids import ClientOrderIdGenerator
    from autotrader_core.models import Order
    from autotrader_core.oms import OrderManager
    from autotrader_core.resiliency.rate_limit import RateLimiter
    from autotrader_oanda import OandaAdapter, OandaSettings
    from pydantic import SecretStr

    settings = OandaSettings(
        _env_file=None,  # type: ignore[call-arg]
        token=SecretStr(TOKEN),
        account_id=ACCOUNT,
        base_url=base_url,
        ws_url="http://127.0.0.1:9",  # never opened: the stream is not measured
        http_transport=transport,  # type: ignore[arg-type]
    )
    adapter = OandaAdapter(settings)
    # Benchmark only: measure the client, not OANDA's budget (the limiter still runs).
    adapter._http.client.rate_limiter = RateLimiter("oanda-rest", 10**9, 1.0)
    await adapter.connect()
    oms = OrderManager()
    oms.set_instruments(await adapter.get_instruments())
    ids = ClientOrderIdGenerator()
    units = Decimal(100)

    async def one() -> None:
        order = Order(ids.next_id(), "EUR_USD", OrderSide.BUY, OrderType.MARKET, units)
        oms.add(order)
        for event in await adapter.submit_order(order):
            oms.apply(event)

    return one, adapter.disconnect


async def v20_client(base_url: str, kind: str) -> tuple[One, Close]:
    """OANDA's v20 client: ``order.market`` against the same stand-in."""
    import v20  # type: ignore[import-not-found]
    from autotrader_core.ids import ClientOrderIdGenerator

    where = urlsplit(base_url)
    ctx = v20.Context(where.hostname, where.port, ssl=False, token=TOKEN)
    ids = ClientOrderIdGenerator()

    async def one() -> None:
        response = ctx.order.market(
            ACCOUNT, instrument="EUR_USD", units=100, clientExtensions={"id": ids.next_id()}
        )
        response.get("orderFillTransaction", 201)

    async def close() -> None:
        return None

    return one, close


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--imports", action="store_true", help="also time the imports in fresh interpreters")
    args = parser.parse_args()
    contenders: dict[str, Contender] = {
        f"autotrader-oanda ({t})": partial(ours, t) for t in ("lean", "aiohttp", "httpx")
    }
    try:
        import v20  # noqa: F401
    except ImportError:  # no peer: µs per order stands on its own; ratios against httpx
        peer, title = "autotrader-oanda (httpx)", "OANDA submit path (MARKET, fill in the reply), no v20"
    else:
        contenders[PEER] = v20_client
        peer, title = PEER, f"OANDA submit path (MARKET, fill in the reply), v20 {version('v20')}"
    proc, base_url = start(HERE / "standin.py")
    try:
        run_and_report(
            contenders,
            peer,
            base_url,
            kinds=["market"],
            orders=args.orders,
            repeats=args.repeats,
            title=title,
        )
    finally:
        proc.terminate()
        proc.wait()
    if args.imports:
        for line in (
            "import autotrader_oanda.plugin",
            "from autotrader_oanda import OandaAdapter, OandaSettings",
        ):
            print(f"{line}: {import_time(line) * 1000:.0f} ms")
        if peer == PEER:
            print(f"import v20: {import_time('import v20') * 1000:.0f} ms")


if __name__ == "__main__":
    main()
