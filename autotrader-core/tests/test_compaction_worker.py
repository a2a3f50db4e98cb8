"""A compaction in a separate process: the same snapshot as in a thread, and never a commit behind a dead parent."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from decimal import Decimal as D
from pathlib import Path

import anyio
import pytest
from autotrader_core import compaction_worker
from autotrader_core.enums import AssetClass
from autotrader_core.journal import Journal, JournalError, SqliteJournal
from autotrader_core.journal.codec import decode_instrument, encode_instrument
from autotrader_core.models import Instrument
from autotrader_core.snapshots import compact_journal

from .fakes import FakeBroker
from .test_journal_compaction import _RowsOnly, engine_for, journal_of, table_count, trade, traded
from .test_recovery import books

pytestmark = pytest.mark.anyio

SPOT = Instrument("BTCUSDT", AssetClass.CRYPTO_SPOT, "BTC", "USDT", D("0.01"), D("0.00001"))
FUTURE = Instrument(
    "ESZ6", AssetClass.FUTURE, "ES", "USD", D("0.25"), D("1"), D("1"), D("0"), D("50"), D("1000"), D("1")
)


def copy_of(path: Path, to: Path) -> Path:
    """A consistent copy of a live WAL journal (SQLite's online backup)."""
    src, dst = sqlite3.connect(path), sqlite3.connect(to)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return to


def stored_snapshot(path: Path) -> tuple[int, str, str] | None:
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT seq, recorded_at, body FROM journal_snapshot ORDER BY seq DESC").fetchone()
    finally:
        conn.close()
    return None if row is None else (int(row[0]), str(row[1]), str(row[2]))


@pytest.mark.parametrize("instrument", [SPOT, FUTURE])
def test_an_instrument_crosses_to_the_child_exactly(instrument: Instrument) -> None:
    assert decode_instrument(encode_instrument(instrument)) == instrument


async def test_the_child_stores_the_snapshot_a_fold_in_a_thread_stores(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    async with engine_for(broker, path) as engine:
        journal, written = await traded(engine, broker, 20)
        twin = copy_of(path, tmp_path / "twin.sqlite3")
        instruments = engine.oms.instruments()  # they value the positions' fees: they must cross too
        assert instruments
        result = await compact_journal(
            journal, instruments=instruments, keep_completed=10_000, separate_process=True
        )
        assert (result.snapshot_seq, result.rows_folded, result.rows_deleted) == (written, written, written)
        assert result.open_orders == 10
        await trade(engine, broker, 5, start=20)
        before = books(engine)
        tail = journal.last_seq - written
    async with SqliteJournal(twin, fsync=False) as copy:
        in_thread = await compact_journal(copy, instruments=instruments, keep_completed=10_000)
    assert in_thread.rows_folded == written
    assert stored_snapshot(path) == stored_snapshot(twin)  # byte for byte
    assert table_count(path, "journal_order_ids") == table_count(twin, "journal_order_ids") > 0
    async with engine_for(broker, path) as engine:  # the snapshot and the tail give the same books
        assert books(engine) == before
        report = engine.reconciliation
        assert report is not None and report.clean and report.fills_applied == []
        assert report.replay.snapshot_seq == written and report.replay.records == tail


async def test_a_child_whose_parent_is_gone_commits_nothing(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    async with engine_for(broker, path) as engine:
        await trade(engine, broker, 5)
        rows = journal_of(engine).last_seq
    request = {
        "path": str(path),
        "fsync": False,
        "parent_pid": os.getppid() + 1_000_000,  # not who started "this child"
        "keep_completed": 1_000,
        "trading_state": None,
        "instruments": [],
    }
    with pytest.raises(compaction_worker.ParentGone, match="is gone"):
        # folded, then refused inside the transaction (a thread: the fold runs its own event loop)
        await anyio.to_thread.run_sync(compaction_worker.compact, request)
    assert table_count(path, "journal") == rows and table_count(path, "journal_snapshot") == 0
    assert table_count(path, "journal_order_ids") == 0


async def test_a_failed_child_is_a_journal_error_and_the_journal_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    async with engine_for(broker, path) as engine:
        journal, rows = await traded(engine, broker, 3)
        conn = sqlite3.connect(path)  # one row the fold cannot decode
        conn.execute("UPDATE journal SET body = 'not json' WHERE seq = 2")
        conn.commit()
        conn.close()
        with pytest.raises(
            JournalError, match=r"compaction process failed \(exit 1: CorruptJournal.*unchanged"
        ):
            await compact_journal(journal, instruments=[], separate_process=True)
        assert not journal.compacting
    assert table_count(path, "journal") == rows and table_count(path, "journal_snapshot") == 0


async def test_only_a_sqlite_journal_compacts_in_a_separate_process() -> None:
    async with Journal(_RowsOnly()) as journal:
        with pytest.raises(JournalError, match="needs a SQLite journal, not _RowsOnly"):
            await compact_journal(journal, instruments=[], separate_process=True)
        assert not journal.compacting


_PARENT = """
import sys, anyio
from autotrader_core.journal import SqliteJournal
from autotrader_core.snapshots import compact_journal

async def main() -> None:
    async with SqliteJournal(sys.argv[1], fsync=False) as journal:
        print("compacting", flush=True)
        await compact_journal(journal, instruments=[], separate_process=True)
        print("compacted", flush=True)

anyio.run(main)
"""


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _kill_a_parent_mid_compaction(path: Path) -> None:
    """Start a process that compacts ``path`` in a child; SIGKILL it once the child exists; wait
    for the child to be gone."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    parent = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_PARENT), str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == "compacting"
        deadline = time.monotonic() + 10
        while not (children := _children(parent.pid)):  # the worker has started
            assert time.monotonic() < deadline, "no compaction process was started"
            time.sleep(0.001)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(_alive(c) for c in children):
            assert time.monotonic() < deadline, "the compaction process outlived its parent"
            time.sleep(0.01)
    finally:
        parent.kill()
        parent.wait()


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the process tree from Linux /proc")
async def test_a_parent_killed_mid_compaction_takes_its_child_with_it(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    async with engine_for(broker, path) as engine:
        await trade(engine, broker, 150)
        before = books(engine)
        rows = journal_of(engine).last_seq
    await anyio.to_thread.run_sync(_kill_a_parent_mid_compaction, path)
    assert table_count(path, "journal") == rows and table_count(path, "journal_snapshot") == 0
    async with engine_for(broker, path) as engine:
        assert books(engine) == before


def _own_children() -> list[int]:
    found: list[int] = []
    for task in Path("/proc/self/task").iterdir():
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the process tree from Linux /proc")
async def test_a_cancelled_compaction_kills_its_child_and_changes_nothing(tmp_path: Path) -> None:
    """A gateway that stops mid-fold (its compactor cancelled) must leave no child behind to
    commit later: once it has closed its journal, another gateway may open and replay it."""
    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    async with engine_for(broker, path) as engine:
        journal, rows = await traded(engine, broker, 20)
        before = set(_own_children())
        with anyio.move_on_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(
                    lambda: compact_journal(
                        journal, instruments=[], keep_completed=10_000, separate_process=True
                    )
                )
                while not (started := set(_own_children()) - before):
                    await anyio.sleep(0.001)
                tg.cancel_scope.cancel()
        assert started and not journal.compacting
        assert not any(_alive(c) for c in started), "the compaction process outlived its cancellation"
    assert table_count(path, "journal") == rows and table_count(path, "journal_snapshot") == 0
