"""Write a journal with round-1 autotrader (commit 44427ce) and the state it holds.

Run with round 1's core and paper installed:
    python make_round1_journal.py <out-dir>
Writes <out-dir>/round1-journal.sqlite3 and <out-dir>/round1-journal.expected.json.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path

import anyio
from autotrader_core.engine import ExecutionEngine
from autotrader_core.journal import SqliteJournal
from autotrader_core.settings import EngineSettings
from autotrader_paper import PaperAdapter, PaperSettings


async def main(out: Path) -> None:
    path = out / "round1-journal.sqlite3"
    adapter = PaperAdapter(PaperSettings(seed=7))
    journal = SqliteJournal(path, fsync=False)
    settings = EngineSettings(data_dir=out / "data", decision_interval=3600)
    async with ExecutionEngine(adapter, journal=journal, settings=settings) as engine:
        await engine.submit_order("BTCUSDT", "buy", "0.010")
        await engine.submit_order("BTCUSDT", "buy", "0.005")
        await engine.submit_order("ETHUSDT", "buy", "0.5")
        await engine.submit_order("ETHUSDT", "sell", "0.2")
        price = adapter.last_price("BTCUSDT")
        assert price is not None
        rest = await engine.submit_order(
            "BTCUSDT",
            "sell",
            "0.004",
            order_type="limit",
            limit_price=(price * Decimal("1.2")).quantize(Decimal("0.01")),
        )
        gone = await engine.submit_order(
            "BTCUSDT",
            "buy",
            "0.003",
            order_type="limit",
            limit_price=(price * Decimal("0.8")).quantize(Decimal("0.01")),
        )
        await engine.cancel_order(gone)
        moved = await engine.submit_order(
            "BTCUSDT",
            "buy",
            "0.002",
            order_type="limit",
            limit_price=(price * Decimal("0.7")).quantize(Decimal("0.01")),
        )
        await engine.modify_order(moved, limit_price=(price * Decimal("0.75")).quantize(Decimal("0.01")))
        await journal.flush()
        expected = {
            "orders": {
                o.client_order_id: {
                    "status": o.status.value,
                    "symbol": o.symbol,
                    "quantity": str(o.quantity),
                    "filled_quantity": str(o.filled_quantity),
                    "average_fill_price": None if o.average_fill_price is None else str(o.average_fill_price),
                    "limit_price": None if o.limit_price is None else str(o.limit_price),
                    "broker_order_id": o.broker_order_id,
                    "fees": str(o.fees),
                }
                for o in engine.oms
            },
            "open": sorted(o.client_order_id for o in engine.oms.open_orders()),
            "positions": {
                s: {
                    "quantity": str(p.quantity),
                    "average_price": str(p.average_price),
                    "realized_pnl": str(p.realized_pnl),
                    "fees_paid": str(p.fees_paid),
                }
                for s, p in engine.oms.positions().items()
            },
            "resting": [rest.client_order_id, moved.client_order_id],
        }
    (out / "round1-journal.expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    anyio.run(main, Path(sys.argv[1]))
