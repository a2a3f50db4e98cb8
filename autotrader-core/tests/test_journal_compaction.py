"""Snapshots and compaction: a restart replays a bounded tail and gets the books a full replay gives."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import timedelta, timezone
from decimal import Decimal as D
from pathlib import Path

import anyio
import pytest
from autotrader_core.engine import ExecutionEngine
from autotrader_core.enums import OrderSide, OrderStatus, OrderType
from autotrader_core.errors import RequestTimeout
from autotrader_core.events import OrderFilled
from autotrader_core.journal import (
    CorruptJournal,
    FillKey,
    Journal,
    JournalError,
    JournalStorage,
    SqliteJournal,
    StoredRow,
    StoredSnapshot,
    codec,
)
from autotrader_core.models import Fill, Order, Position, utc_now
from autotrader_core.oms import OrderManager
from autotrader_core.recovery import replay_journal
from autotrader_core.resiliency import DeadLetter, RetryPolicy
from autotrader_core.snapshots import CompactionPolicy, compact_journal, run_compactor

from .fakes import FakeBroker
from .test_recovery import books

pytestmark = pytest.mark.anyio

NO_RETRY = RetryPolicy(max_attempts=1, base_delay=0.0, max_delay=0.0, jitter=0.0)


def engine_for(broker: FakeBroker, path: Path) -> ExecutionEngine:
    return ExecutionEngine(broker, journal=SqliteJournal(path, fsync=False), retry_policy=NO_RETRY)


async def trade(engine: ExecutionEngine, broker: FakeBroker, rounds: int, start: int = 0) -> None:
    """Market orders both ways, resting limits (some canceled, some partly filled by the stream)."""
    for i in range(start, start + rounds):
        broker.price = D(100 + i % 7)
        await engine.submit_order("BTCUSDT", "buy" if i % 3 else "sell", D("0.1") * (1 + i % 4))
        resting = await engine.submit_order(
            "BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price=str(90 - i % 5)
        )
        if i % 2:
            await engine.cancel_order(resting)
        else:
            broker.push(OrderFilled(broker.make_fill(resting, D("0.04"), D(90 - i % 5))))
    await anyio.sleep(0.05)  # the stream's fills land


def journal_of(engine: ExecutionEngine) -> Journal:
    assert engine.journal is not None
    return engine.journal


async def traded(engine: ExecutionEngine, broker: FakeBroker, rounds: int) -> tuple[Journal, int]:
    """:func:`trade` ``rounds`` rounds, then flush the journal: it, and the rows it holds."""
    await trade(engine, broker, rounds)
    journal = journal_of(engine)
    await journal.flush()
    return journal, journal.last_seq


def table_count(path: Path, table: str) -> int:
    conn = sqlite3.connect(path)
    try:
        (count,) = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
    finally:
        conn.close()
    return int(count)


async def test_a_restart_after_compaction_replays_only_the_tail_and_has_the_same_books(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    async with engine_for(broker, path) as engine:
        journal, written = await traded(engine, broker, 20)
        result = await compact_journal(journal, instruments=engine.oms.instruments(), keep_completed=10_000)
        assert result.snapshot_seq == written and result.rows_folded == written
        assert result.open_orders == 10 and result.rows_deleted == written
        await trade(engine, broker, 5, start=20)
        before = books(engine)
        tail = journal.last_seq - written
    async with engine_for(broker, path) as engine:
        assert books(engine) == before
        report = engine.reconciliation
        assert report is not None and report.clean
        assert report.fills_applied == []  # every broker fill was already in the books
        assert report.replay.snapshot_seq == written and report.replay.records == tail


@pytest.mark.parametrize("separate_process", [False, True], ids=["in-a-thread", "in-a-child-process"])
async def test_compaction_while_the_engine_trades_loses_nothing(
    tmp_path: Path, separate_process: bool
) -> None:
    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    async with engine_for(broker, path) as engine:
        await trade(engine, broker, 10)
        async with anyio.create_task_group() as tg:
            tg.start_soon(trade, engine, broker, 30, 10)
            for _ in range(2 if separate_process else 5):
                await compact_journal(
                    journal_of(engine),
                    instruments=engine.oms.instruments(),
                    keep_completed=10_000,
                    separate_process=separate_process,
                )
                await anyio.sleep(0.01)
        before = books(engine)
    async with engine_for(broker, path) as engine:
        assert books(engine) == before
        assert engine.reconciliation is not None and engine.reconciliation.fills_applied == []


@pytest.mark.parametrize("separate_process", [False, True], ids=["in-a-thread", "in-a-child-process"])
async def test_a_compaction_told_where_to_stop_leaves_every_later_row_in_the_tail(
    tmp_path: Path, separate_process: bool
) -> None:
    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    async with engine_for(broker, path) as engine:
        journal, written = await traded(engine, broker, 10)
        ceiling = written // 2
        later = [entry.seq async for entry in journal.entries(after_seq=ceiling)]
        result = await compact_journal(
            journal,
            instruments=engine.oms.instruments(),
            keep_completed=10_000,
            separate_process=separate_process,
            up_to_seq=ceiling,
        )
        assert result.snapshot_seq == ceiling and result.rows_deleted == ceiling
        assert [entry.seq async for entry in journal.entries(after_seq=ceiling)] == later  # all still there
        assert len(later) == written - ceiling
        before = books(engine)
    async with engine_for(broker, path) as engine:
        assert books(engine) == before
        report = engine.reconciliation
        assert report is not None and report.replay.snapshot_seq == ceiling
        assert report.replay.records == written - ceiling


async def test_compaction_keeps_every_client_order_id_and_fill_identity(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    async with engine_for(broker, path) as engine:
        await trade(engine, broker, 12)
        finished = engine.oms.completed_orders()[0]
        first = finished.client_order_id
        await journal_of(engine).flush()
        await compact_journal(journal_of(engine), instruments=engine.oms.instruments(), keep_completed=0)
        positions = books(engine)["positions"]
        open_before = sorted(o.client_order_id for o in engine.oms.open_orders())
    assert table_count(path, "journal") == 0 and table_count(path, "journal_fill_keys") == len(broker.fills)
    async with engine_for(broker, path) as engine:
        # Finished orders live on as ids only; open ones and positions are whole.
        assert engine.oms.get(first) is None and engine.oms.completed_orders() == []
        assert sorted(o.client_order_id for o in engine.oms.open_orders()) == open_before
        assert books(engine)["positions"] == positions
        journal = journal_of(engine)
        assert await journal.has_client_order_id(first)
        assert not await journal.has_client_order_id("at-never-used")
        assert await journal.compacted_order(first) == finished  # its final state, readable by id
        assert await journal.compacted_order(open_before[0]) is None  # open: in the snapshot instead
        # The broker lists every fill ever made: none is applied a second time.
        report = engine.reconciliation
        assert report is not None and report.clean and report.fills_applied == [] and report.adopted == []


async def test_numbering_goes_on_after_a_compaction_that_left_no_tail(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    async with engine_for(broker, path) as engine:
        await trade(engine, broker, 3)
        await journal_of(engine).flush()
        result = await compact_journal(journal_of(engine), instruments=engine.oms.instruments())
    assert table_count(path, "journal") == 0
    async with engine_for(broker, path) as engine:
        assert (
            journal_of(engine).last_seq >= result.snapshot_seq
        )  # not back to 1: rows stay after the snapshot
        order = await engine.submit_order("BTCUSDT", "buy", D("0.1"))
        before = books(engine)
    async with engine_for(broker, path) as engine:
        assert books(engine) == before
        assert engine.oms.get(order.client_order_id) is not None
        again = engine.reconciliation
        assert again is not None and again.replay.snapshot_seq == result.snapshot_seq


async def test_nothing_to_fold_changes_nothing_and_dead_letters_stay(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    async with SqliteJournal(path, fsync=False) as journal:
        result = await compact_journal(journal, instruments=[])
        assert (result.snapshot_seq, result.rows_folded, result.rows_deleted) == (0, 0, 0)
        broker = FakeBroker()
    async with engine_for(broker, path) as engine:
        order = await engine.submit_order("BTCUSDT", "buy", D("0.1"))
        letter = DeadLetter.from_error("submit", order, RequestTimeout("lost"), timestamp=utc_now())
        journal_of(engine).append(letter)
        await journal_of(engine).flush()
        await compact_journal(journal_of(engine), instruments=engine.oms.instruments())
        assert await journal_of(engine).dead_letters() == [letter]
        again = await compact_journal(journal_of(engine), instruments=engine.oms.instruments())
        assert again.rows_folded == 0 and again.rows_deleted == 0


async def test_the_fold_uses_the_sessions_instruments_for_fees(tmp_path: Path) -> None:
    """Positions value fees by the instruments: a fold without them would book other PnL than the engine."""
    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    async with engine_for(broker, path) as engine:
        await trade(engine, broker, 4)
        assert engine.oms.position("BTCUSDT").fees_paid > 0
        await journal_of(engine).flush()
        await compact_journal(journal_of(engine), instruments=engine.oms.instruments())
        before = books(engine)["positions"]
    async with SqliteJournal(path) as journal:
        oms = OrderManager()
        await replay_journal(journal, oms)  # the snapshot's positions, whatever this OMS's instruments
    assert {
        s: (p.quantity, p.average_price, p.realized_pnl, p.fees_paid) for s, p in oms.positions().items()
    } == before


async def test_two_compactions_at_once_are_refused(tmp_path: Path) -> None:
    broker = FakeBroker()
    async with engine_for(broker, tmp_path / "j.sqlite3") as engine:
        await trade(engine, broker, 3)
        journal = journal_of(engine)
        journal.compacting = True
        with pytest.raises(JournalError, match="already running"):
            await compact_journal(journal, instruments=[])
        journal.compacting = False
        await compact_journal(journal, instruments=[])
    with pytest.raises(JournalError, match="not open"):
        await compact_journal(journal, instruments=[])


async def test_a_failed_compaction_leaves_the_journal_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    async with engine_for(broker, path) as engine:
        journal, rows = await traded(engine, broker, 5)

        def fail(step: str) -> None:
            raise OSError(f"disk full at {step}")

        journal.storage.compaction_hook = fail  # type: ignore[attr-defined]
        with pytest.raises(JournalError, match=r"unchanged.*disk full at before_commit"):
            await compact_journal(journal, instruments=engine.oms.instruments())
        before = books(engine)
    assert table_count(path, "journal") == rows and table_count(path, "journal_snapshot") == 0
    assert table_count(path, "journal_order_ids") == 0
    async with engine_for(broker, path) as engine:
        assert books(engine) == before


async def test_a_corrupt_snapshot_is_refused_not_guessed(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    async with engine_for(broker, path) as engine:
        await trade(engine, broker, 2)
        await journal_of(engine).flush()
        await compact_journal(journal_of(engine), instruments=engine.oms.instruments())
    conn = sqlite3.connect(path)
    conn.execute("UPDATE journal_snapshot SET body = '{\"format\": 99}'")
    conn.commit()
    conn.close()
    async with SqliteJournal(path) as journal:
        with pytest.raises(CorruptJournal, match="snapshot format 99"):
            await replay_journal(journal, OrderManager())


async def test_the_policy_is_due_by_tail_length_or_age(tmp_path: Path) -> None:
    broker = FakeBroker()
    async with engine_for(broker, tmp_path / "j.sqlite3") as engine:
        journal = journal_of(engine)
        policy = CompactionPolicy(max_records=10, max_age=timedelta(hours=1))
        assert not await policy.due(journal)  # empty
        await trade(engine, broker, 1)
        await journal.flush()
        assert await journal.tail_length() < 10 and not await policy.due(journal)
        assert await policy.due(journal, now=utc_now() + timedelta(hours=2))
        assert not await CompactionPolicy(max_records=10, max_age=None).due(
            journal, now=utc_now() + timedelta(days=9)
        )
        await trade(engine, broker, 3, start=1)
        await journal.flush()
        assert await policy.due(journal)
        await compact_journal(journal, instruments=engine.oms.instruments())
        assert await journal.tail_length() == 0 and not await policy.due(journal)
    with pytest.raises(ValueError, match="max_records"):
        CompactionPolicy(max_records=0)


class _RowsOnly(JournalStorage):
    """A storage without snapshots: it replays every row and cannot compact."""

    def __init__(self) -> None:
        self.rows: list[StoredRow] = []

    def open(self) -> int:
        return self.rows[-1].seq if self.rows else 0

    def write(self, rows: Sequence[StoredRow]) -> None:
        self.rows.extend(rows)

    def read(self, after_seq: int, limit: int, kinds: Sequence[str] | None = None) -> list[StoredRow]:
        found = [r for r in self.rows if r.seq > after_seq and (not kinds or r.kind in kinds)]
        return found[:limit]

    def identity(self, claim: str | None = None) -> str | None:
        return claim

    def close(self) -> None:
        pass


async def test_a_storage_without_compaction_says_so_and_still_replays() -> None:
    storage = _RowsOnly()
    broker = FakeBroker()
    journal = Journal(storage)
    async with ExecutionEngine(broker, journal=journal, retry_policy=NO_RETRY) as engine:
        order = await engine.submit_order("BTCUSDT", "buy", D("0.1"))
        await journal.flush()
        assert await journal.has_client_order_id(order.client_order_id)
        assert await journal.tail_length() == len(storage.rows) > 0
        with pytest.raises(JournalError, match="does not support compaction"):
            await compact_journal(journal, instruments=[])
    fresh = OrderManager()
    async with Journal(storage) as again:
        await replay_journal(again, fresh)
    got = fresh.get(order.client_order_id)
    assert got is not None and got.status is OrderStatus.FILLED


def test_stored_snapshot_is_plain_data() -> None:
    snap = StoredSnapshot(3, "2026-01-01T00:00:00+00:00", "{}")
    key: FillKey = ("paper", "BTCUSDT", "T1")
    assert (snap.seq, snap.body, key[2]) == (3, "{}", "T1")


async def test_the_compactor_compacts_when_due_and_survives_a_failure(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    policy = CompactionPolicy(max_records=5, max_age=None, check_interval=0.01)
    async with engine_for(broker, path) as engine:
        journal = journal_of(engine)
        failures = [OSError("disk full")]

        def fail_once(step: str) -> None:
            if failures:
                raise failures.pop()

        journal.storage.compaction_hook = fail_once  # type: ignore[attr-defined]
        async with anyio.create_task_group() as tg:
            tg.start_soon(
                lambda: run_compactor(
                    journal, policy, instruments=engine.oms.instruments, trading_state=lambda: "active"
                )
            )
            await trade(engine, broker, 3)
            await journal.flush()
            with anyio.fail_after(10):
                while table_count(path, "journal_snapshot") == 0:
                    await anyio.sleep(0.01)
            tg.cancel_scope.cancel()
        before = books(engine)
    assert "journal compaction failed" in caplog.text and "disk full" in caplog.text
    async with SqliteJournal(path) as reopened:
        stored = await reopened.snapshot()
    assert stored is not None and '"trading_state":"active"' in stored.body
    async with engine_for(broker, path) as engine:
        assert books(engine) == before


async def test_a_restart_loads_the_compacted_fill_identities_reconciliation_can_meet_not_all_of_them(
    tmp_path: Path,
) -> None:
    """Reconciliation asks the broker for fills from shortly before the oldest open order (or the
    last row): identities of older fills are never needed, so a restart's cost does not grow with age."""
    now = utc_now()
    path = tmp_path / "j.sqlite3"

    def order_at(cid: str, days: float, kind: OrderType = OrderType.MARKET) -> Order:
        at = now - timedelta(days=days)
        return Order(
            cid,
            "BTCUSDT",
            OrderSide.BUY,
            kind,
            D("0.1"),
            limit_price=D("90") if kind is OrderType.LIMIT else None,
            created_at=at,
            updated_at=at,
        )

    def fill_at(cid: str, days: float) -> OrderFilled:
        stamp = (now - timedelta(days=days)).astimezone(timezone(timedelta(hours=-5)))  # any offset
        return OrderFilled(
            Fill(
                f"T-{cid}",
                cid,
                "BTCUSDT",
                OrderSide.BUY,
                D("0.1"),
                D("100"),
                D("0"),
                "USDT",
                timestamp=stamp,
                broker="fake",
            )
        )

    async with SqliteJournal(path, fsync=False) as journal:
        for cid, days in (("atold", 40.0), ("atmid", 25.0), ("atnew", 0.01)):
            await journal.record_intent(order_at(cid, days))
            await journal.record_event(fill_at(cid, days))
        await journal.record_intent(
            order_at("atopen", 20.0, OrderType.LIMIT)
        )  # still open: the horizon is 27 days
        await journal.flush()
        await compact_journal(journal, instruments=[], keep_completed=0)
    assert table_count(path, "journal_fill_keys") == 3
    async with SqliteJournal(path) as journal:
        oms = OrderManager()
        summary = await replay_journal(journal, oms)
        assert {k[2] for k in summary.fill_keys} == {"T-atmid", "T-atnew"}
        assert {k[2] for k in await journal.compacted_fill_keys()} == {"T-atold", "T-atmid", "T-atnew"}
    assert [o.client_order_id for o in oms.open_orders()] == ["atopen"]
    assert oms.position("BTCUSDT").quantity == D("0.3")


def test_a_position_round_trips_exactly_and_old_bodies_without_the_newer_fields_decode() -> None:
    position = Position(
        "BTCUSDT",
        D("-0.0300"),
        D("65000.10"),
        D("-1.5E+1"),
        D("0.65"),
        {"BNB": D("0.001")},
        "paper",
        D("2.50"),
    )
    body = codec.encode_position(position)
    assert codec.decode_position(codec.loads(codec.dumps(body))) == position
    old = {k: v for k, v in body.items() if k not in ("other_fees", "unrealized_pnl")}
    assert codec.decode_position(old) == Position(
        "BTCUSDT", D("-0.0300"), D("65000.10"), D("-15"), D("0.65"), broker="paper"
    )
    with pytest.raises(CorruptJournal):
        codec.decode_position({**body, "quantity": 0.03})
