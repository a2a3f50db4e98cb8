"""Restart time of a long-lived journal: full replay vs snapshot + tail (issue 18).

    python benchmarks/journal_restart.py --records 100000 1000000

For each size N it writes a journal of N rows shaped like a busy session (per order: the
intent, the broker's acknowledgement and a fill, one order every 8 s so that 10⁶ rows span a
month; one order in 50 of the last 2% rests open), then times:

* **full replay** — open + ``replay_journal`` into a fresh OMS: a restart before compaction;
* **compaction** — ``compact_journal`` (fold in a worker thread, then one transaction);
* **restart after** — open + replay again: the snapshot, the compacted fill identities of
  the reconciliation window, and the tail after the snapshot (none, then ``--tail`` rows
  written after the compaction).

Each restart is checked to give the same positions and open orders as the full replay.
Figures, not a pass/fail test.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
from autotrader_core.enums import AssetClass, OrderSide, OrderStatus, OrderType
from autotrader_core.events import OrderAccepted, OrderFilled
from autotrader_core.journal import SqliteJournal, SqliteStorage, StoredRow, codec
from autotrader_core.models import Fill, Instrument, Order
from autotrader_core.oms import OrderManager
from autotrader_core.recovery import replay_journal
from autotrader_core.snapshots import compact_journal

INSTRUMENTS = [
    Instrument("BTCUSDT", AssetClass.CRYPTO_SPOT, "BTC", "USDT", Decimal("0.01"), Decimal("0.00001")),
    Instrument("ETHUSDT", AssetClass.CRYPTO_SPOT, "ETH", "USDT", Decimal("0.01"), Decimal("0.0001")),
]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SPACING_S = 8.0
"""Seconds between orders: 10⁶ rows (333,333 orders) span a month, like a busy gateway's."""


def _rows(first_order: int, orders: int, seq: int, rest_from: int) -> list[StoredRow]:
    rows: list[StoredRow] = []
    for n in range(first_order, first_order + orders):
        at = T0 + timedelta(seconds=SPACING_S * n)
        cid = f"atbench{n:09d}"
        symbol = INSTRUMENTS[n % 2].symbol
        side = OrderSide.BUY if n % 3 else OrderSide.SELL
        rests = n >= rest_from and n % 50 == 0
        order = Order(
            cid,
            symbol,
            side,
            OrderType.LIMIT if rests else OrderType.MARKET,
            Decimal("0.010"),
            limit_price=Decimal("1000.00") if rests else None,
            broker="paper",
            created_at=at,
            updated_at=at,
        )
        bodies: list[tuple[str, dict[str, Any]]] = [
            ("intent", codec.encode_order(order)),
            ("event", codec.encode_event(OrderAccepted(cid, f"b{n}", at))),
        ]
        if not rests:
            price = Decimal(65000 + n % 97) if n % 2 == 0 else Decimal(3400 + n % 13)
            fill = Fill(
                trade_id=f"t{n}",
                client_order_id=cid,
                symbol=symbol,
                side=side,
                quantity=Decimal("0.010"),
                price=price,
                fee=Decimal("0.01"),
                fee_currency="USDT",
                timestamp=at,
                broker_order_id=f"b{n}",
                broker="paper",
            )
            bodies.append(("event", codec.encode_event(OrderFilled(fill))))
        for kind, body in bodies:
            seq += 1
            rows.append(StoredRow(seq, kind, cid, at.isoformat(), codec.dumps(body)))
    return rows


def write_journal(path: Path, records: int, first_order: int = 0) -> tuple[int, int]:
    """Append ``records`` rows after the file's last seq; return (orders written, last seq)."""
    storage = SqliteStorage(path, fsync=False)
    last = first_seq = storage.open()
    orders = 0
    try:
        while last - first_seq < records:
            # Orders rest (stay open) only in the last 2% of the journal: a month-old open order
            # would make a restart load a month of fill identities (see FILL_KEY_MARGIN).
            batch = _rows(first_order + orders, 2000, last, first_order + int(records / 3 * 0.98))
            batch = batch[: records - (last - first_seq)]
            storage.write(batch)
            last = batch[-1].seq
            orders = int(batch[-1].client_order_id[7:]) + 1 - first_order  # type: ignore[index]
    finally:
        storage.close()
    return orders, last


async def restart(path: Path) -> tuple[float, dict[str, Any], int]:
    """Open + replay into a fresh OMS, as the engine does at start; (seconds, books, rows replayed)."""
    started = time.perf_counter()
    async with SqliteJournal(path, fsync=False) as journal:
        oms = OrderManager()
        oms.set_instruments(INSTRUMENTS)
        summary = await replay_journal(journal, oms)
    seconds = time.perf_counter() - started
    books = {
        "open": sorted(o.client_order_id for o in oms.open_orders() if o.status is not OrderStatus.FILLED),
        "positions": {s: [str(p.quantity), str(p.realized_pnl)] for s, p in oms.positions().items()},
        "fill_keys": len(summary.fill_keys),  # loaded at restart (a window of them after a compaction)
    }
    return seconds, books, summary.records


async def measure(records: int, tail: int) -> dict[str, Any]:
    """The figures for one journal size."""
    with tempfile.TemporaryDirectory(prefix="journal-restart-") as tmp:
        path = Path(tmp) / "journal.sqlite3"
        orders, _ = write_journal(path, records)
        size_before = path.stat().st_size
        full, books, replayed = await restart(path)
        async with SqliteJournal(path, fsync=False) as journal:
            result = await compact_journal(journal, instruments=INSTRUMENTS)
        after, books_after, replayed_after = await restart(path)
        size_after = path.stat().st_size
        loaded_after = books_after.pop("fill_keys")
        loaded_full = books.pop("fill_keys")
        assert books_after == books, "the snapshot restart differs from the full replay"
        write_journal(path, tail, first_order=orders)
        with_tail, _, replayed_tail = await restart(path)
        return {
            "records": records,
            "full_replay_s": round(full, 3),
            "replayed_rows": replayed,
            "rows_per_s": round(replayed / full),
            "compaction_s": round(result.seconds, 3),
            "restart_after_compaction_s": round(after, 3),
            "replayed_after": replayed_after,
            f"restart_with_{tail}_row_tail_s": round(with_tail, 3),
            "replayed_tail": replayed_tail,
            "open_orders": len(books["open"]),
            "fill_keys_full_replay": loaded_full,
            "fill_keys_loaded_after": loaded_after,
            "file_mb_before": round(size_before / 1e6, 1),
            "file_mb_after_compaction": round(size_after / 1e6, 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--records", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--tail", type=int, default=10_000, help="rows written after the compaction")
    args = parser.parse_args()
    for records in args.records:
        print(json.dumps(anyio.run(measure, records, args.tail)), flush=True)


if __name__ == "__main__":
    main()
