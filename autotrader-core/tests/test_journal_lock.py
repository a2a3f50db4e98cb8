"""One writer per journal: a second opener is refused, naming the holder; kill -9 leaves no stale lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import pytest
from autotrader_core.errors import ConfigurationError
from autotrader_core.journal import JournalLock, SqliteJournal

pytestmark = pytest.mark.anyio

_HOLDER = textwrap.dedent(
    """
    import sys, time, anyio
    from autotrader_core.journal import SqliteJournal

    async def main():
        journal = SqliteJournal(sys.argv[1])
        await journal.open()
        print("open", flush=True)
        await anyio.sleep(60)

    anyio.run(main)
    """
)


async def test_a_second_open_in_the_same_process_is_refused_naming_the_pid(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    first, second = SqliteJournal(path), SqliteJournal(path)
    await first.open()
    try:
        with pytest.raises(ConfigurationError, match=rf"in use by another process \(pid {os.getpid()}\)"):
            await second.open()
        assert not second.is_open
    finally:
        await first.close()
    await second.open()  # released on close: the next opener gets it
    await second.close()


def test_a_journal_held_by_another_process_is_refused_until_it_dies(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"

    async def open_and_close() -> None:
        async with SqliteJournal(path):
            assert JournalLock(path).path.read_text().strip() == str(os.getpid())

    child = subprocess.Popen([sys.executable, "-c", _HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "open"
        with pytest.raises(ConfigurationError, match=rf"pid {child.pid}\b"):
            anyio.run(open_and_close)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        anyio.run(open_and_close)  # the lock died with the process: no stale lock to clean up
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)


async def test_a_refused_open_leaves_the_holders_lock_and_pid_alone(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    async with SqliteJournal(path):
        with pytest.raises(ConfigurationError):
            await SqliteJournal(path).open()
        with pytest.raises(ConfigurationError):  # still held after the refused attempt
            await SqliteJournal(path).open()
        assert (tmp_path / "journal.sqlite3.lock").read_text().strip() == str(os.getpid())


async def test_two_engines_on_one_journal_the_second_refuses_before_any_broker_call(tmp_path: Path) -> None:
    from autotrader_core.engine import ExecutionEngine

    from .fakes import FakeBroker

    path = tmp_path / "journal.sqlite3"
    second_broker = FakeBroker()
    async with ExecutionEngine(FakeBroker(), journal=SqliteJournal(path)):
        with pytest.raises(ConfigurationError, match=rf"pid {os.getpid()}"):
            await ExecutionEngine(second_broker, journal=SqliteJournal(path)).start()
    assert second_broker.received == []


async def test_submit_takes_a_caller_generated_client_order_id_once(tmp_path: Path) -> None:
    from decimal import Decimal

    from autotrader_core.engine import ExecutionEngine
    from autotrader_core.errors import InvalidOrder

    from .fakes import FakeBroker

    broker = FakeBroker()
    async with ExecutionEngine(broker, journal=SqliteJournal(tmp_path / "j.sqlite3")) as engine:
        order = await engine.submit_order("BTCUSDT", "buy", Decimal("0.1"), client_order_id="atremote1")
        assert order.client_order_id == "atremote1"
        with pytest.raises(InvalidOrder, match="already used"):
            await engine.submit_order("BTCUSDT", "buy", Decimal("0.1"), client_order_id="atremote1")
    assert broker.received == ["atremote1"]
