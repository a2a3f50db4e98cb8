"""Binance book ticker: frame → quote in the price cache, ours vs CCXT pro, CPU per frame.

Both sides get the same frames (the documented ``<symbol>@bookTicker`` shape, BTCUSDT,
bid and ask moving every frame), no network:

* ``autotrader, raw text``: what the feed does per WebSocket message — ``json.loads``,
  the out-of-order check on ``u``, the exact-Decimal :class:`Quote`, then
  ``PriceCache.update`` (the crossed/empty-book check included);
* ``autotrader, decoded``: the same from an already decoded dict (CCXT's input);
* ``ccxt pro``: ``binance.handle_message(client, decoded)``, which parses the frame into
  its unified bid/ask ticker and stores it (markets loaded from the loopback stand-in).

Run: ``python3 dev.py -- -f benchmarks/noxfile.py -s bench-binance-md`` (CCXT pinned there).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from standin_http import start  # noqa: E402


def frames(count: int) -> list[str]:
    """``count`` documented-shape book-ticker frames with moving prices."""
    out = []
    for i in range(count):
        bid = Decimal("64000.00") + Decimal(i % 500) / 100
        out.append(
            json.dumps(
                {
                    "u": 400900217 + i,
                    "s": "BTCUSDT",
                    "b": f"{bid:.8f}",
                    "B": f"{Decimal(1 + i % 7) / 10:.8f}",
                    "a": f"{bid + Decimal('0.01'):.8f}",
                    "A": f"{Decimal(2 + i % 5) / 10:.8f}",
                },
                separators=(",", ":"),
            )
        )
    return out


def ours_raw() -> Callable[[str], object]:
    """The feed's per-message path (its decode) plus the cache update."""
    from autotrader_binance.market_data import BinanceMarketData
    from autotrader_core.market_data import PriceCache

    feed = BinanceMarketData("ws://127.0.0.1:9/ws", symbols={"BTCUSDT"})
    feed._symbols.add("BTCUSDT")  # subscribed without a connection: only decode is measured
    decode = feed._decode_frame  # the exact function the stream calls per frame (SymbolFeed's)
    update = PriceCache().update

    def one(frame: str) -> object:
        items = decode(frame)
        assert items, "every frame is a new book: none may be dropped"
        for item in items:
            update(item)
        return None

    return one


def ours_decoded() -> Callable[[dict[str, Any]], object]:
    """Parse an already decoded frame and update the cache."""
    from autotrader_binance.market_data import parse_book_ticker
    from autotrader_core.market_data import PriceCache

    update = PriceCache().update
    now = time.monotonic

    def one(message: dict[str, Any]) -> object:
        return update(parse_book_ticker(message, now()))

    return one


class _Client:
    """What CCXT pro's handlers touch on a client: the URL, subscriptions, resolve."""

    url = "wss://stream.binance.com:9443/ws"
    subscriptions: dict[str, Any] = {}  # noqa: RUF012 - a stand-in for CCXT's attribute
    futures: dict[str, Any] = {}  # noqa: RUF012

    def resolve(self, result: Any, message_hash: Any = None) -> None:
        return None


def ccxt_pro(base_url: str) -> Callable[[dict[str, Any]], object]:
    """CCXT pro's handle_message, markets loaded from the REST stand-in."""
    import ccxt.pro as ccxtpro  # type: ignore[import-untyped]

    async def load() -> Any:
        exchange = ccxtpro.binance({"options": {"fetchMarkets": ["spot"], "fetchCurrencies": False}})
        for key in ("public", "private", "v3"):
            if key in exchange.urls["api"]:
                exchange.urls["api"][key] = f"{base_url}/api/v3"
        await exchange.load_markets()
        await exchange.close()
        return exchange

    exchange = asyncio.run(load())
    client = _Client()
    handle = exchange.handle_message

    def one(message: dict[str, Any]) -> object:
        return handle(client, message)

    return one


def measure(fn: Callable[[Any], object], inputs: list[Any]) -> float:
    """CPU µs per call over ``inputs``."""
    cpu0 = time.process_time()
    for item in inputs:
        fn(item)
    return (time.process_time() - cpu0) / len(inputs) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import ccxt

    texts = frames(args.frames)
    decoded = [json.loads(t) for t in texts]
    proc, base_url = start(HERE / "standin.py")
    try:
        ccxt_handle = ccxt_pro(base_url)
    finally:
        proc.terminate()
        proc.wait()
    # A fresh feed and cache each round: the feed drops a book update id it has seen (``u``).
    contenders: dict[str, tuple[Callable[[], Callable[[Any], object]], list[Any]]] = {
        "autotrader, raw text -> cache": (ours_raw, texts),
        "autotrader, decoded -> cache": (ours_decoded, decoded),
        "ccxt pro handle_message (decoded)": (lambda: ccxt_handle, decoded),
    }
    for make, inputs in contenders.values():  # warm-up
        fn = make()
        for item in inputs[:2000]:
            fn(item)
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.repeats):  # interleaved
        for name, (make, inputs) in contenders.items():
            samples[name].append(measure(make(), inputs))
    import os

    print(
        f"Binance bookTicker frame -> cache; ccxt {ccxt.__version__}; python {sys.version.split()[0]}, "
        f"load {os.getloadavg()[0]:.1f}; {args.frames} frames x {args.repeats} rounds (median)"
    )
    medians = {name: statistics.median(values) for name, values in samples.items()}
    theirs = medians["ccxt pro handle_message (decoded)"]
    for name, us in medians.items():
        print(
            f"  {name:36} {us:7.2f} µs/frame  {1e6 / us:>10,.0f} frames/s  {theirs / us:5.2f}x CCXT pro's frames/s"
        )


if __name__ == "__main__":
    main()
