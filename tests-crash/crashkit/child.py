"""The engine process the crash test kills: ``python -m crashkit.child --port P --journal F --seed S``.

It recovers from the journal (replay + reconcile), then works through a seeded plan
of orders (with ``--modify``, moving about half the resting limits one tick away),
skipping plan items it already sent (recognised by their tag), cancels what still
rests, and prints its final books as one JSON line (``{"final": ...}``).

With ``--wait-go`` it starts (imports, nothing else) and waits for a line on stdin
before it touches the journal or the broker, and for a second one after recovery,
before the plan: the harness keeps the next engine warm, so a restart can come while a
request of the killed one is still held at the broker.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import os
import random
import sys
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import anyio
from autotrader_core.engine import ExecutionEngine
from autotrader_core.enums import OrderStatus, OrderType
from autotrader_core.errors import AutotraderError
from autotrader_core.journal import SqliteJournal
from autotrader_core.journal.sqlite import SqliteStorage
from autotrader_core.models import Order
from autotrader_core.recovery import NEVER_SENT_CODE, NEVER_SENT_REASON
from autotrader_core.settings import EngineSettings
from autotrader_core.snapshots import CompactionResult, compact_journal

from crashkit.holds import guarantee_from_text
from crashkit.remote import KillPoints, RemotePaperAdapter

__all__ = ["PlanItem", "cli", "make_plan"]

_SETTLE_WAIT = 10.0
"""Seconds a restarted child waits for unknown outcomes to settle before it sends what it still owes."""
_TICK = {"BTCUSDT": Decimal("0.01"), "ETHUSDT": Decimal("0.01")}


@dataclass(frozen=True)
class PlanItem:
    """One order the strategy wants placed exactly once."""

    tag: str
    symbol: str
    side: str
    quantity: Decimal
    limit_offset_ticks: int | None
    """``None``: market order; else a limit this many ticks from the quote (+ = away from crossing)."""
    cancel: bool
    """Cancel it right after it is accepted (if it still rests)."""


def make_plan(seed: int, size: int) -> list[PlanItem]:
    """The same plan for the same seed, in every run of the scenario."""
    rng = random.Random(f"plan:{seed}")
    plan = []
    for i in range(size):
        symbol = rng.choice(["BTCUSDT", "ETHUSDT"])
        quantity = Decimal(rng.randint(1, 6)) * (
            Decimal("0.001") if symbol == "BTCUSDT" else Decimal("0.002")
        )
        kind = rng.random()
        offset = None if kind < 0.6 else rng.randint(-3, 12)
        plan.append(
            PlanItem(f"p{i}", symbol, rng.choice(["buy", "sell"]), quantity, offset, rng.random() < 0.25)
        )
    return plan


def _emit(**fields: object) -> None:
    print(json.dumps(fields, default=str), flush=True)


def _watchdog(seconds: float) -> None:
    """A run that hangs prints every thread's and task's stack, then exits 4 (a test failure)."""

    def fire() -> None:
        faulthandler.dump_traceback(file=sys.stderr)
        loop = _LOOP[0]
        if loop is not None:
            for task in asyncio.all_tasks(loop):
                print(f"task {task.get_name()}:", file=sys.stderr)
                coro: Any = task.get_coro()
                while coro is not None:
                    frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
                    if frame is not None:
                        print(
                            f"    {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}",
                            file=sys.stderr,
                        )
                    coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
        sys.stderr.flush()
        os._exit(4)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()


_LOOP: list[asyncio.AbstractEventLoop | None] = [None]


async def main(args: argparse.Namespace) -> int:
    _LOOP[0] = asyncio.get_running_loop()
    _watchdog(args.watchdog)
    kills = KillPoints(os.environ.get("CRASH_POINT"))
    adapter = RemotePaperAdapter(args.port, args.seed, kills, guarantee_from_text(args.guarantee))
    journal = SqliteJournal(args.journal, sync=args.sync, fsync=False)
    engine = ExecutionEngine(
        adapter,
        journal=journal,
        settings=EngineSettings(order_timeout=1.0, data_dir=os.path.dirname(args.journal)),
    )
    async with engine:
        report = engine.reconciliation
        assert report is not None
        _emit(
            phase="recovered",
            summary=report.summary(),
            unresolved=[str(u) for u in report.unresolved],
            never_sent=report.never_sent,
            rejected=[o.client_order_id for o in engine.oms if o.status is OrderStatus.REJECTED],
            unknown=[o.client_order_id for o in engine.oms if _unknown(o)],
        )
        if not report.clean:
            return 3
        folding: asyncio.Future[CompactionResult] | None = None
        if os.environ.get("CRASH_COMPACT") == "process":
            # Folded in a child process while this run trades: a kill of this process lands
            # mid-fold (the child must then commit nothing) or after its commit.
            folding = asyncio.ensure_future(
                compact_journal(journal, instruments=engine.oms.instruments(), separate_process=True)
            )
        elif os.environ.get("CRASH_COMPACT"):  # fold what the last runs wrote into a snapshot (issue 18)
            storage = journal.storage
            assert isinstance(storage, SqliteStorage)  # the hook is the SQLite storage's
            storage.compaction_hook = lambda step: kills.reach(f"compaction.{step}")
            await compact_journal(journal, instruments=engine.oms.instruments())
        if args.wait_go:  # the harness lets the plan run once the next engine is warm
            await anyio.to_thread.run_sync(sys.stdin.readline)
        # A careful strategy lets the resolver settle what was in flight before deciding what
        # it still owes (an expiry venue settles once the window has passed by its clock).
        with anyio.move_on_after(_SETTLE_WAIT):
            while engine.unknown_outcomes():  # noqa: ASYNC110 (no event says "nothing left unknown")
                await anyio.sleep(0.05)
        # A plan item is owed again when its order was closed as never placed (NEVER_SENT /
        # NEVER_ARRIVED, once the venue's window provably passed). The broker refuses nothing in these
        # plans, so a rejected order without fills is one the engine believes never placed
        # (if the broker has it after all, the checks report it).
        sent = {
            o.tag
            for o in engine.oms
            if o.tag and not (o.status is OrderStatus.REJECTED and o.filled_quantity == 0)
        }
        modifies = random.Random(f"modify:{args.seed}")  # its own stream: the plan stays the same
        for item in make_plan(args.seed, args.orders):
            modify = args.modify and modifies.random() < 0.5
            if item.tag in sent:
                continue
            order_type, price = OrderType.MARKET, None
            if item.limit_offset_ticks is not None:
                quote = await adapter.price(item.symbol)
                away = item.limit_offset_ticks * _TICK[item.symbol]
                order_type, price = OrderType.LIMIT, quote - away if item.side == "buy" else quote + away
            try:
                order = await engine.submit_order(
                    item.symbol,
                    item.side,
                    item.quantity,
                    order_type=order_type,
                    limit_price=price,
                    tag=item.tag,
                )
            except AutotraderError as exc:
                _emit(phase="submit_error", tag=item.tag, error=repr(exc))
                continue
            working = order.status in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)
            if modify and working and not item.cancel and order.limit_price is not None:
                # One tick further from crossing: it keeps resting, on new terms.
                tick = _TICK[item.symbol] if item.side == "sell" else -_TICK[item.symbol]
                try:
                    await engine.modify_order(order, limit_price=order.limit_price + tick)
                except AutotraderError as exc:
                    _emit(phase="modify_error", tag=item.tag, error=repr(exc))
            if item.cancel and working:
                try:
                    await engine.cancel_order(order)
                except AutotraderError as exc:
                    _emit(phase="cancel_error", tag=item.tag, error=repr(exc))
            await anyio.sleep(0.005)
        # Wind down: let chunked fills land, then cancel whatever still rests.
        with anyio.move_on_after(20):
            await anyio.sleep(0.2)
            while engine.oms.open_order_count():
                for order in engine.oms.open_orders():
                    if order.status in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED):
                        try:
                            await engine.cancel_order(order)
                        except AutotraderError as exc:
                            _emit(phase="cancel_error", tag=order.tag, error=repr(exc))
                await anyio.sleep(0.05)
        if folding is not None:
            await folding  # a failed compaction fails the run
        orders = [
            {
                "client_order_id": o.client_order_id,
                "tag": o.tag,
                "status": o.status.value,
                "filled": str(o.filled_quantity),
                "never_sent": o.status is OrderStatus.REJECTED and o.reject_reason == NEVER_SENT_REASON,
                "unknown": _unknown(o),
                "limit_price": None if o.limit_price is None else str(o.limit_price),
                "fills": [f.trade_id for f in engine.oms.fills_for(o.client_order_id)],
            }
            for o in engine.oms
        ]
        positions = {s: str(p.quantity) for s, p in engine.oms.positions().items()}
        _emit(
            final={
                "orders": orders,
                "positions": positions,
                "orphans": [f.trade_id for f in engine.oms.orphan_fills()],
                "fills_total": engine.oms.metrics.fills_total,
                "open": engine.oms.open_order_count(),
                "code": NEVER_SENT_CODE,
            }
        )
    return 0


def _unknown(order: Order) -> bool:
    """Whether the engine reports this order's outcome as not known yet.

    Today that is an order never acknowledged and not closed; the resolver of issue 14
    adds an explicit unknown state, which counts here too once it exists.
    """
    return order.status is OrderStatus.PENDING_SUBMIT or "unknown" in order.status.value


def cli(argv: list[str] | None = None) -> int:
    """Parse the command line and run the engine (also the entry of :mod:`crashkit.zygote`'s forks)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--journal", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--orders", type=int, default=16)
    parser.add_argument("--sync", default="intent")
    parser.add_argument(
        "--guarantee", default="expiry", help="the broker's re-send guarantee (crashkit.holds)"
    )
    parser.add_argument("--wait-go", action="store_true", help="start, then wait for a line on stdin")
    parser.add_argument("--modify", action="store_true", help="modify about half the resting limit orders")
    parser.add_argument(
        "--watchdog", type=float, default=45.0, help="seconds before a hung run dumps its stacks"
    )
    parsed = parser.parse_args(argv)
    if parsed.wait_go:
        _emit(phase="ready")
        sys.stdin.readline()
    code: int = anyio.run(main, parsed)
    return code


if __name__ == "__main__":
    sys.exit(cli())
