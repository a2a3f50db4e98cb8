"""The journal's schema version: created, checked, migrated in place (from a real round-1 file), refused when newer."""

from __future__ import annotations

import json
import shutil
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from autotrader_core.enums import AssetClass
from autotrader_core.errors import ConfigurationError
from autotrader_core.journal import JournalIdentity, JournalVersionError, SqliteJournal
from autotrader_core.journal import schema as journal_schema
from autotrader_core.journal.sqlite import SCHEMA_VERSION
from autotrader_core.models import Instrument
from autotrader_core.oms import OrderManager
from autotrader_core.recovery import replay_journal
from autotrader_core.snapshots import compact_journal

pytestmark = pytest.mark.anyio

DATA = Path(__file__).parent / "data"
PAPER = JournalIdentity("paper", "paper")


def paper_oms() -> OrderManager:
    """An OMS with the paper broker's instruments, as the engine sets them before replay (fees are valued by them)."""
    oms = OrderManager()
    oms.set_instruments(
        Instrument(symbol, AssetClass.CRYPTO_SPOT, base, "USDT", Decimal("0.01"), lot)
        for symbol, base, lot in (
            ("BTCUSDT", "BTC", Decimal("0.00001")),
            ("ETHUSDT", "ETH", Decimal("0.0001")),
        )
    )
    return oms


def version_of(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        (value,) = conn.execute("SELECT value FROM journal_meta WHERE key = 'schema_version'").fetchone()
    finally:
        conn.close()
    return str(value)


def round1_copy(tmp_path: Path) -> Path:
    path = tmp_path / "journal-paper-paper.sqlite3"
    shutil.copyfile(DATA / "round1-journal.sqlite3", path)
    return path


def state_of(oms: OrderManager) -> dict[str, Any]:
    """The same shape as round1-journal.expected.json (written by round 1's own OMS)."""
    return {
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
            for o in oms
        },
        "open": sorted(o.client_order_id for o in oms.open_orders()),
        "positions": {
            s: {
                "quantity": str(p.quantity),
                "average_price": str(p.average_price),
                "realized_pnl": str(p.realized_pnl),
                "fees_paid": str(p.fees_paid),
            }
            for s, p in oms.positions().items()
        },
    }


def expected_round1() -> dict[str, Any]:
    expected: dict[str, Any] = json.loads((DATA / "round1-journal.expected.json").read_text())
    expected.pop("resting")
    return expected


def test_the_fixture_is_a_round1_journal() -> None:
    assert version_of(DATA / "round1-journal.sqlite3") == "1"


async def test_a_new_journal_is_created_at_the_current_version(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    async with SqliteJournal(path):
        pass
    assert version_of(path) == str(SCHEMA_VERSION) == "2"
    assert not journal_schema.backup_path_for(path, 1).exists()


async def test_a_round1_journal_is_migrated_and_replays_to_round1s_own_state(tmp_path: Path) -> None:
    path = round1_copy(tmp_path)
    async with SqliteJournal(path, fsync=False) as journal:
        await journal.open(identity=PAPER)  # its identity, recorded by round 1, still holds
        oms = paper_oms()
        summary = await replay_journal(journal, oms)
    assert version_of(path) == "2"
    assert summary.records == 22 and summary.skipped == 0
    expected = expected_round1()
    assert state_of(oms) == expected
    assert len(expected["open"]) == 2 and set(expected["positions"]) == {"BTCUSDT", "ETHUSDT"}
    # The backup is the untouched round-1 file.
    backup = journal_schema.backup_path_for(path, 1)
    assert version_of(backup) == "1"
    conn = sqlite3.connect(backup)
    assert conn.execute("SELECT COUNT(*) FROM journal").fetchone() == (22,)
    conn.close()


async def test_a_migrated_round1_journal_opens_again_without_migrating_and_compacts(tmp_path: Path) -> None:
    path = round1_copy(tmp_path)
    async with SqliteJournal(path, fsync=False) as journal:
        await compact_journal(journal, instruments=paper_oms().instruments())
    backup = journal_schema.backup_path_for(path, 1)
    backup.unlink()
    async with SqliteJournal(path, fsync=False) as journal:
        oms = paper_oms()
        summary = await replay_journal(journal, oms)
        assert await journal.has_client_order_id("atmxbgzc9wosk96")  # a canceled, compacted order
    assert not backup.exists()  # already version 2: no second migration
    assert summary.snapshot_seq == 22 and summary.records == 0
    assert state_of(oms) == expected_round1()


async def journal_at_version(tmp_path: Path, version: str) -> Path:
    """A new journal whose stored version is then set to ``version`` (as a newer autotrader would)."""
    path = tmp_path / "j.sqlite3"
    async with SqliteJournal(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute("UPDATE journal_meta SET value = ? WHERE key = 'schema_version'", (version,))
    conn.commit()
    conn.close()
    return path


async def test_a_newer_journal_is_refused_naming_both_versions_and_left_untouched(tmp_path: Path) -> None:
    path = await journal_at_version(tmp_path, "3")
    journal = SqliteJournal(path)
    with pytest.raises(JournalVersionError) as caught:
        await journal.open()
    assert isinstance(caught.value, ConfigurationError)
    assert (caught.value.found, caught.value.supported) == ("3", 2)
    assert "schema version 3" in str(caught.value) and "up to 2" in str(caught.value)
    assert version_of(path) == "3"
    with pytest.raises(JournalVersionError):  # not "in use": the refused open released its lock
        await SqliteJournal(path).open()


async def test_an_unreadable_version_is_refused(tmp_path: Path) -> None:
    path = await journal_at_version(tmp_path, "two")
    with pytest.raises(JournalVersionError, match="schema version two"):
        await SqliteJournal(path).open()


async def test_a_migration_that_fails_midway_leaves_version_1_and_the_next_open_migrates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = round1_copy(tmp_path)

    def half_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute(journal_schema._V2[0])  # one table created, inside the transaction
        raise OSError("disk gone mid-migration")

    monkeypatch.setitem(journal_schema._MIGRATIONS, 1, half_then_fail)
    with pytest.raises(Exception, match="mid-migration"):
        await SqliteJournal(path).open()
    assert version_of(path) == "1"
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert "journal_snapshot" not in tables  # rolled back with the rest
    monkeypatch.undo()
    async with SqliteJournal(path, fsync=False) as journal:
        oms = paper_oms()
        await replay_journal(journal, oms)
    assert version_of(path) == "2"
    assert state_of(oms) == expected_round1()
