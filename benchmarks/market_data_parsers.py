"""Per-venue quote-parser micro-benchmark: raw frame text → :class:`Quote`, CPU µs per frame.

Prints figures; it is not a pass/fail test. Each venue's documented quote frame
(protocols-market-data.md: OKX §2.4 ``tickers``, Coinbase §3.5 ``ticker``, OANDA §4.2 price
line; IBKR §5.5 tickPrice/tickSize; paper's simulated quote for reference) goes through the adapter's own parser, the
one its feed runs, and every figure is checked to give the exact Decimals first.

Run with the adapters installed, e.g.::

    .nox/types/bin/python benchmarks/market_data_parsers.py [--frames 200000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import time
from collections.abc import Callable
from decimal import Decimal

from autotrader_coinbase.market_data import parse_market_message
from autotrader_core.market_data import Quote
from autotrader_ibkr.ticks import Book, parse_tick_price, parse_tick_size
from autotrader_oanda.market_data import parse_price_line
from autotrader_okx.market_data import parse_public_frame
from autotrader_paper import PaperAdapter, PaperSettings
from autotrader_paper.market_data import paper_quote

OKX_TICKERS = json.dumps(
    {
        "arg": {"channel": "tickers", "instId": "BTC-USDT"},
        "data": [
            {
                "instType": "SPOT",
                "instId": "BTC-USDT",
                "last": "9999.99",
                "lastSz": "0.1",
                "askPx": "9999.99",
                "askSz": "11",
                "bidPx": "8888.88",
                "bidSz": "5",
                "open24h": "9000",
                "high24h": "10000",
                "low24h": "8888.88",
                "volCcy24h": "2222",
                "vol24h": "2222",
                "sodUtc0": "2222",
                "sodUtc8": "2222",
                "ts": "1597026383085",
            }
        ],
    }
)
COINBASE_TICKER = json.dumps(
    {
        "channel": "ticker",
        "timestamp": "2023-02-09T20:30:37.167359596Z",
        "sequence_num": 0,
        "events": [
            {
                "type": "snapshot",
                "tickers": [
                    {
                        "type": "ticker",
                        "product_id": "BTC-USD",
                        "price": "21932.98",
                        "volume_24_h": "16038.28770938",
                        "low_24_h": "21835.29",
                        "high_24_h": "23011.18",
                        "low_52_w": "15460",
                        "high_52_w": "48240",
                        "price_percent_chg_24_h": "-4.15775596190603",
                        "best_bid": "21931.98",
                        "best_bid_quantity": "8000.21",
                        "best_ask": "21933.98",
                        "best_ask_quantity": "8038.07770938",
                    }
                ],
            }
        ],
    }
)
OANDA_PRICE = (
    '{"asks":[{"liquidity":10000000,"price":"1.11704"},{"liquidity":10000000,"price":"1.11706"}],"bids":'
    '                        [{"liquidity":10000000,"price":"1.11690"},{"liquidity":10000000,"price":"1.11688"}],'
    '"closeoutAsk":"1.11708","closeoutBid":"1.11686","instrument":"EUR_USD","status":"tradeable",'
    '"time":"2016-09-20T15:05:47.960449532Z"}'
)

# IBKR: one quote is four TWS messages (bid price+size, size again, ask price+size, size again),
# already split into fields by ib_async's socket reader (not counted here).
IBKR_TICKS = (
    ["1", "6", "7", "1", "185.25", "300", "1"],
    ["2", "6", "7", "0", "300"],
    ["1", "6", "7", "2", "185.27", "500", "1"],
    ["2", "6", "7", "3", "500"],
)


def _ibkr() -> object:
    book = Book()
    for fields in IBKR_TICKS:
        _ = (
            book.apply_price(parse_tick_price(fields))
            if fields[0] == "1"
            else book.apply_size(parse_tick_size(fields))
        )
    return book.state("AAPL", 0.0)


def _coinbase(frame: str) -> list[object]:
    # No sequence tracker: the same frame replayed must not count as an old message.
    return list(parse_market_message(frame, sequence=None, received_at=0.0))


def _cases() -> list[tuple[str, Callable[[], object], tuple[str, ...]]]:
    paper = PaperAdapter(PaperSettings(quote_source="static", slippage_bps=Decimal(0), tick_interval=3600.0))
    paper_symbol = "BTCUSDT"
    expected_paper = paper.simulator.touch_prices(paper_symbol)
    assert expected_paper is not None
    return [
        (
            "okx tickers",
            lambda: parse_public_frame(OKX_TICKERS, received_at=0.0)[0],
            ("BTC-USDT", "8888.88", "5", "9999.99", "11"),
        ),
        (
            "coinbase ticker",
            lambda: _coinbase(COINBASE_TICKER)[0],
            ("BTC-USD", "21931.98", "8000.21", "21933.98", "8038.07770938"),
        ),
        (
            "oanda price line",
            lambda: parse_price_line(OANDA_PRICE, received_at=0.0)[0],
            ("EUR_USD", "1.11690", "10000000", "1.11704", "10000000"),
        ),
        ("ibkr 4 tick messages -> quote", _ibkr, ("AAPL", "185.25", "300", "185.27", "500")),
        (
            "paper (simulated, no frame)",
            lambda: paper_quote(paper.simulator, paper_symbol),
            (paper_symbol, str(expected_paper[0]), "1000000", str(expected_paper[1]), "1000000"),
        ),
    ]


def _check(name: str, quote: object, want: tuple[str, ...]) -> None:
    assert isinstance(quote, Quote), f"{name}: {quote!r}"
    got = (quote.symbol, quote.bid, quote.bid_size, quote.ask, quote.ask_size)
    exact = (want[0], *(Decimal(v) for v in want[1:]))
    assert got == exact and all(type(v) is Decimal for v in got[1:]), f"{name}: {got} != {exact}"
    assert str(quote.bid) == want[1], f"{name}: bid {quote.bid} lost its digits"


def _measure(parse: Callable[[], object], frames: int, repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        try:
            start = time.process_time()
            for _ in range(frames):
                parse()
            samples.append((time.process_time() - start) / frames * 1e6)
        finally:
            gc.enable()
    return samples


def main() -> None:
    """Print µs per frame (CPU time, median of repeats) and frames/s per venue."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(
        f"python {platform.python_version()} on {platform.machine()}; {args.frames} frames x {args.repeats}"
    )
    print(f"{'venue':30} {'µs/frame (median)':>18} {'min':>8} {'frames/s':>12}")
    for name, parse, want in _cases():
        _check(name, parse(), want)
        samples = _measure(parse, args.frames, args.repeats)
        median = statistics.median(samples)
        print(f"{name:30} {median:18.2f} {min(samples):8.2f} {1e6 / median:12,.0f}")


if __name__ == "__main__":
    main()
