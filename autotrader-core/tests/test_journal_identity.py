"""A journal belongs to one broker in one environment and refuses to be replayed into another."""

from __future__ import annotations

import sqlite3
from decimal import Decimal as D
from pathlib import Path

import pytest
from autotrader_core.engine import ExecutionEngine
from autotrader_core.errors import BrokerUnavailable, ConfigurationError
from autotrader_core.journal import JournalIdentity, SqliteJournal
from autotrader_core.journal.identity import UNKNOWN_ENVIRONMENT
from autotrader_core.models import OrderReport
from autotrader_core.resiliency import RetryPolicy
from autotrader_core.settings import BrokerSettings

from .fakes import FakeBroker

pytestmark = pytest.mark.anyio

NO_RETRY = RetryPolicy(max_attempts=1, base_delay=0.0, max_delay=0.0, jitter=0.0)


class OtherBroker(FakeBroker):
    """The same fake under another adapter name."""

    name = "other"


class RecordingBroker(FakeBroker):
    """Remembers every call the engine makes, to prove a refused start touched nothing."""

    def __init__(self, environment: str | None) -> None:
        super().__init__()
        if environment is not None:
            self.settings = BrokerSettings(environment=environment)
        self.calls: list[str] = []

    async def connect(self) -> None:
        self.calls.append("connect")
        await super().connect()

    async def get_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        self.calls.append("get_open_orders")
        return await super().get_open_orders(symbol)


def engine_for(broker: FakeBroker, path: Path) -> ExecutionEngine:
    return ExecutionEngine(broker, journal=SqliteJournal(path, fsync=False), retry_policy=NO_RETRY)


def stored_identity(path: Path) -> str | None:
    row = sqlite3.connect(path).execute("SELECT value FROM journal_meta WHERE key = 'identity'").fetchone()
    return None if row is None else str(row[0])


async def trade_once(broker: FakeBroker, path: Path) -> str:
    async with engine_for(broker, path) as engine:
        placed = await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="90")
    return placed.client_order_id


def test_identity_comes_from_the_adapter_settings() -> None:
    assert JournalIdentity.for_adapter(RecordingBroker("testnet")) == JournalIdentity("fake", "testnet")
    assert JournalIdentity.for_adapter(FakeBroker()) == JournalIdentity("fake", UNKNOWN_ENVIRONMENT)


async def test_the_first_engine_records_its_identity_and_the_same_one_reopens(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    cid = await trade_once(RecordingBroker("testnet"), path)
    assert JournalIdentity.decode(stored_identity(path) or "") == JournalIdentity("fake", "testnet")
    broker = RecordingBroker("testnet")
    async with engine_for(broker, path) as engine:
        assert engine.oms.get(cid) is not None  # replayed
        assert engine.journal is not None
        assert engine.journal.identity == JournalIdentity("fake", "testnet")


@pytest.mark.parametrize(
    ("second", "asked"),
    [
        (RecordingBroker("live"), "environment 'live'"),
        (RecordingBroker(None), "environment 'unknown'"),
    ],
    ids=["other-environment", "no-environment"],
)
async def test_another_environment_is_refused_before_any_broker_call(
    tmp_path: Path, second: RecordingBroker, asked: str
) -> None:
    path = tmp_path / "j.sqlite3"
    await trade_once(RecordingBroker("testnet"), path)
    engine = engine_for(second, path)
    with pytest.raises(ConfigurationError) as caught:
        await engine.start()
    message = str(caught.value)
    assert str(path) in message
    assert "broker 'fake', environment 'testnet'" in message and asked in message
    assert "data_dir" in message  # how to fix it
    assert second.calls == [] and second.received == []  # nothing connected, listed or sent
    assert list(engine.oms) == []  # nothing replayed
    assert engine.journal is not None and not engine.journal.is_open
    assert not engine.running
    # The journal still belongs to the first session, untouched.
    assert JournalIdentity.decode(stored_identity(path) or "") == JournalIdentity("fake", "testnet")


async def test_another_broker_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    await trade_once(FakeBroker(), path)
    other = OtherBroker()
    with pytest.raises(ConfigurationError, match=r"broker 'fake'.*opened for broker 'other'"):
        await engine_for(other, path).start()
    assert other.received == [] and not other.connected


async def test_a_legacy_journal_without_identity_adopts_the_first_one(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    cid = await trade_once(RecordingBroker("testnet"), path)
    with sqlite3.connect(path) as conn:  # as written before journals had an identity
        conn.execute("DELETE FROM journal_meta WHERE key = 'identity'")
    async with engine_for(RecordingBroker("testnet"), path) as engine:
        assert engine.oms.get(cid) is not None  # its history is replayed as before
    assert JournalIdentity.decode(stored_identity(path) or "") == JournalIdentity("fake", "testnet")
    with pytest.raises(ConfigurationError):
        await engine_for(RecordingBroker("live"), path).start()


async def test_a_journal_opened_without_identity_is_claimed_by_the_engine(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    async with SqliteJournal(path) as journal:  # a tool reading the file claims nothing
        assert journal.identity is None
    assert stored_identity(path) is None
    journal = SqliteJournal(path)
    await journal.open()
    try:
        # The engine's identity is checked even when the journal was already open.
        await journal.open(identity=JournalIdentity("fake", "testnet"))
        with pytest.raises(ConfigurationError):
            await journal.open(identity=JournalIdentity("fake", "live"))
    finally:
        await journal.close()
    async with SqliteJournal(path) as journal:
        assert journal.identity == JournalIdentity("fake", "testnet")


async def test_a_journal_built_for_one_identity_refuses_another_even_when_new(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "j.sqlite3", identity=JournalIdentity("binance", "testnet"))
    with pytest.raises(ConfigurationError, match="opened for broker 'binance', environment 'live'"):
        await journal.open(identity=JournalIdentity("binance", "live"))
    assert not journal.is_open
    async with journal:  # opened on its own, it claims the identity it was built for
        assert journal.identity == JournalIdentity("binance", "testnet")


async def test_an_unreadable_stored_identity_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    async with SqliteJournal(path):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO journal_meta (key, value) VALUES ('identity', 'not json')")
    journal = SqliteJournal(path)
    with pytest.raises(ConfigurationError, match="unreadable"):
        await journal.open(identity=JournalIdentity("fake", "testnet"))
    assert not journal.is_open


async def test_a_failed_broker_start_closes_the_journal(tmp_path: Path) -> None:
    broker = FakeBroker()

    async def refuse() -> None:
        raise BrokerUnavailable("down")

    broker.connect = refuse  # type: ignore[method-assign]
    engine = engine_for(broker, tmp_path / "j.sqlite3")
    with pytest.raises(BrokerUnavailable):
        await engine.start()
    assert engine.journal is not None and not engine.journal.is_open
