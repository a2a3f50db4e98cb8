"""Soak: a million paper orders through the whole engine in bounded memory.

Prints, every ``--report-every`` orders, the throughput of that stretch and the
resident memory; at the end the overall orders/s, the peak RSS and whether memory
stopped growing (the second half may not grow by more than ``--max-growth`` MB).
Not a pass/fail unit test: run it with ``nox -s soak`` (the lead's session) or::

    python benchmarks/soak.py --orders 1000000
    python benchmarks/soak.py --orders 200000 --journal intent --concurrency 64   # journal figures

``--journal`` none (default) | off | intent | every: run with a SQLite journal in a
temporary folder and that sync policy; ``--no-fsync`` hands commits to the OS only.
``--concurrency`` submitters run at once (group commit shares one fsync among them).
Exit status 1 when memory kept growing.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import anyio
from autotrader_core.engine import ExecutionEngine
from autotrader_core.journal import SqliteJournal
from autotrader_core.settings import EngineSettings
from autotrader_paper import PaperAdapter, PaperSettings

PRICE = Decimal("50000")
QUANTITY = Decimal("0.001")


def paper() -> PaperAdapter:
    """Static price, deep pockets, no background ticks: every market order fills in the reply."""
    return PaperAdapter(
        PaperSettings(
            quote_source="static",
            static_price=PRICE,
            initial_balances={"USDT": Decimal("1e15"), "BTC": Decimal("1e9")},
            slippage_bps=Decimal(0),
            tick_interval=3600.0,
        )
    )


def rss_mb() -> float:
    """Current resident set size in MB (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


def peak_rss_mb() -> float:
    """Peak resident set size in MB (ru_maxrss is KB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def soak(args: argparse.Namespace, folder: Path) -> int:
    journal = None
    if args.journal != "none":
        journal = SqliteJournal(folder / "journal.sqlite3", sync=args.journal, fsync=not args.no_fsync)
    engine = ExecutionEngine(paper(), settings=EngineSettings(order_timeout=3600), journal=journal)
    done = 0
    samples: list[tuple[int, float]] = []
    async with engine:
        started = last_time = time.perf_counter()
        last_done = 0

        async def submitter(count: int) -> None:
            nonlocal done, last_time, last_done
            for i in range(count):
                await engine.submit_order("BTCUSDT", "buy" if i % 2 == 0 else "sell", QUANTITY)
                done += 1
                if done % args.report_every == 0:
                    now = time.perf_counter()
                    rate = (done - last_done) / (now - last_time)
                    last_time, last_done = now, done
                    samples.append((done, rss_mb()))
                    print(
                        f"{done:>10,} orders  {rate:>9,.0f} orders/s  rss {samples[-1][1]:>7.1f} MB",
                        flush=True,
                    )

        per_task, extra = divmod(args.orders, args.concurrency)
        async with anyio.create_task_group() as tg:
            for n in range(args.concurrency):
                tg.start_soon(submitter, per_task + (1 if n < extra else 0))
        elapsed = time.perf_counter() - started
        filled = engine.oms.metrics.orders_filled
        if journal is not None:
            await journal.flush()
            print(
                f"journal: {journal.records_written:,} rows in {journal.commits:,} commits "
                f"({journal.records_written / max(journal.commits, 1):.1f} rows/commit)"
            )
    gc.collect()
    print(
        f"\n{done:,} orders, {filled:,} filled, {done / elapsed:,.0f} orders/s overall, "
        f"peak RSS {peak_rss_mb():.1f} MB, journal={args.journal}"
        f"{'' if args.journal == 'none' else (' fsync=off' if args.no_fsync else ' fsync=on')}, "
        f"concurrency={args.concurrency}"
    )
    if filled != done:
        print(f"ERROR: {done - filled} orders did not fill")
        return 1
    # The OMS and the paper broker keep the last 100,000 finished orders: judge growth only after that.
    if done >= 400_000 and len(samples) >= 4:
        mid_done, mid_rss = samples[len(samples) // 2]
        growth = samples[-1][1] - mid_rss
        per_order = growth * 2**20 / max(samples[-1][0] - mid_done, 1)
        print(
            f"RSS growth over the second half: {growth:+.1f} MB ({per_order:.0f} bytes/order; "
            f"limit {args.max_growth} MB)"
        )
        if growth > args.max_growth:
            print("ERROR: memory kept growing")
            return 1
    else:
        print("(too short to judge memory growth: run at least 400,000 orders)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--report-every", type=int, default=50_000)
    parser.add_argument("--journal", choices=["none", "off", "intent", "every"], default="none")
    parser.add_argument("--no-fsync", action="store_true")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--max-growth", type=float, default=64.0, help="MB allowed over the second half")
    args = parser.parse_args()
    if args.orders < 1 or args.concurrency < 1 or args.report_every < 1:
        parser.error("--orders, --concurrency and --report-every must be positive")
    with tempfile.TemporaryDirectory(prefix="autotrader-soak-") as folder:
        return anyio.run(soak, args, Path(folder))


if __name__ == "__main__":
    sys.exit(main())
