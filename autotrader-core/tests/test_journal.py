"""The journal: exact round trips, ordering, write-ahead, sync policies, failures, dead letters."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import anyio
import pytest
from autotrader_core.adapter import OrderChange
from autotrader_core.engine import ExecutionEngine
from autotrader_core.enums import Liquidity, OrderSide, OrderStatus, OrderType, TimeInForce
from autotrader_core.errors import RequestTimeout
from autotrader_core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModified,
    OrderModifyRejected,
    OrderRejected,
)
from autotrader_core.journal import (
    CorruptJournal,
    Journal,
    JournalError,
    JournalIdentity,
    JournalStorage,
    SqliteJournal,
    StoredRow,
    codec,
    journal_from_settings,
)
from autotrader_core.journal import base as journal_base
from autotrader_core.journal.base import decode_row
from autotrader_core.models import Fill, Order, OrderReport
from autotrader_core.resiliency import DeadLetter, RetryPolicy
from autotrader_core.settings import EngineSettings

from .fakes import FakeBroker

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 11, 24, 20, 0, 0, 123456, tzinfo=UTC)
NO_RETRY = RetryPolicy(max_attempts=1, base_delay=0.0, max_delay=0.0, jitter=0.0)


def order(cid: str = "at1", **kw: object) -> Order:
    fields: dict[str, object] = {
        "client_order_id": cid,
        "symbol": "BTCUSDT",
        "side": OrderSide.BUY,
        "order_type": OrderType.LIMIT,
        "quantity": D("0.00100"),
        "limit_price": D("65000.10"),
        "created_at": T0,
        "updated_at": T0,
    }
    fields.update(kw)
    return Order(**fields)  # type: ignore[arg-type]


def fill(trade: str = "t1", cid: str = "at1", qty: str = "0.0005") -> Fill:
    return Fill(
        trade,
        cid,
        "BTCUSDT",
        OrderSide.BUY,
        D(qty),
        D("65000.10"),
        D("0.0325005"),
        "USDT",
        Liquidity.MAKER,
        T0,
        "b1",
        "fake",
    )


ALL_EVENTS: list[OrderEvent] = [
    OrderAccepted("at1", "b1", T0),
    OrderAccepted("at1", None, T0),
    OrderRejected("at1", "no funds ☃", "-2010", T0),
    OrderRejected("at1", "x", None, T0),
    OrderFilled(fill()),
    OrderCanceled("at1", None, T0),
    OrderCanceled("at1", "user", T0.astimezone(timezone(timedelta(hours=2)))),
    OrderExpired("at1", T0),
    OrderModified("at1", D("0.002"), D("64000.00"), None, "b2", T0),
    OrderModified("at1", None, None, D("1E+2"), None, T0),
    OrderCancelRejected("at1", "too late", T0),
    OrderModifyRejected("at1", "nope", T0),
]


# -- codec -------------------------------------------------------------------------------------
@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: type(e).__name__)
def test_every_event_round_trips_exactly(event: OrderEvent) -> None:
    back = codec.decode_event(codec.loads(codec.dumps(codec.encode_event(event))))
    assert back == event
    assert type(back) is type(event)


def test_order_round_trip_keeps_decimal_scale_and_every_field() -> None:
    original = order(
        status=OrderStatus.PARTIALLY_FILLED,
        filled_quantity=D("0.00050"),
        average_fill_price=D("65000.1000"),
        fees=D("0E-8"),
        tag="grid ☃",
        broker_order_id="b1",
        accepted_at=T0,
        first_fill_at=T0,
        time_in_force=TimeInForce.IOC,
        reduce_only=True,
        stop_price=D("1.0E-7"),
    )
    back = codec.decode_order(codec.loads(codec.dumps(codec.encode_order(original))))
    assert back == original
    assert str(back.quantity) == "0.00100" and str(back.average_fill_price) == "65000.1000"
    assert str(back.stop_price) == "1.0E-7"


def test_report_change_and_dead_letter_round_trip() -> None:
    report = OrderReport(
        "at1",
        "b1",
        "BTCUSDT",
        OrderSide.SELL,
        OrderType.LIMIT,
        D("1.10"),
        OrderStatus.CANCELED,
        D("0.50"),
        D("3.3"),
        D("3.30"),
        None,
        TimeInForce.DAY,
        T0,
        "fake",
    )
    assert codec.decode_report(codec.loads(codec.dumps(codec.encode_report(report)))) == report
    change = OrderChange(quantity=D("2.50"), limit_price=None, stop_price=D("9"))
    assert codec.decode_change(codec.encode_change(change)) == change
    letter = DeadLetter.from_error("submit", order(), RequestTimeout("lost"), timestamp=T0)
    assert codec.decode_dead_letter(codec.loads(codec.dumps(codec.encode_dead_letter(letter)))) == letter


def test_bodies_hold_no_floats() -> None:
    text = codec.dumps(codec.encode_event(OrderFilled(fill())))
    assert '"quantity":"0.0005"' in text and '"price":"65000.10"' in text


@pytest.mark.parametrize(
    "body",
    [
        {"type": "OrderTeleported", "client_order_id": "x"},
        {"type": "OrderAccepted", "client_order_id": "x"},  # no timestamp
        {"type": "OrderFilled", "fill": {"trade_id": "t"}},
        {"type": "OrderFilled", "fill": {**codec.encode_fill(fill()), "quantity": 0.5}},  # a float
        {"type": "OrderFilled", "fill": {**codec.encode_fill(fill()), "price": "abc"}},
        {"type": "OrderFilled", "fill": {**codec.encode_fill(fill()), "side": "sideways"}},
    ],
)
def test_corrupt_rows_raise_corrupt_journal(body: dict[str, object]) -> None:
    with pytest.raises(CorruptJournal):
        codec.decode_event(body)


def test_unknown_kind_and_non_json_are_corrupt() -> None:
    with pytest.raises(CorruptJournal):
        decode_row(StoredRow(1, "teleport", None, T0.isoformat(), "{}"))
    with pytest.raises(CorruptJournal):
        codec.loads("{not json")


# -- sqlite journal ------------------------------------------------------------------------------
async def test_records_come_back_in_order_after_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    async with SqliteJournal(path) as journal:
        assert not journal.has_history
        await journal.record_intent(order())
        for event in ALL_EVENTS[:5]:
            await journal.record_event(event)
        await journal.record_request("modify", order(), OrderChange(quantity=D("3")))
        await journal.record_request("cancel", order())
    async with SqliteJournal(path) as journal:
        assert journal.has_history and journal.last_seq == 8
        entries = [e async for e in journal.entries()]
        await journal.record_event(ALL_EVENTS[5])
        assert journal.last_seq == 9
    assert [e.seq for e in entries] == list(range(1, 9))
    assert [e.kind for e in entries] == ["intent", *["event"] * 5, "modify_request", "cancel_request"]
    assert entries[0].payload == order()
    assert [e.payload for e in entries[1:6]] == ALL_EVENTS[:5]
    assert entries[6].payload == OrderChange(quantity=D("3"))


async def test_intent_is_a_snapshot_not_a_live_reference(tmp_path: Path) -> None:
    live = order()
    async with SqliteJournal(tmp_path / "j.sqlite3", sync="off") as journal:
        await journal.record_intent(live)
        live.status = OrderStatus.FILLED  # the OMS moves on before the writer runs
        live.filled_quantity = D("0.001")
        await journal.flush()
        (entry,) = [e async for e in journal.entries()]
    assert entry.payload.status is OrderStatus.PENDING_SUBMIT and entry.payload.filled_quantity == 0


@pytest.mark.parametrize("sync", ["intent", "every"])
async def test_intent_is_durable_before_record_intent_returns(tmp_path: Path, sync: str) -> None:
    path = tmp_path / "j.sqlite3"
    async with SqliteJournal(path, sync=sync) as journal:  # type: ignore[arg-type]
        await journal.record_intent(order())
        # Another connection (as a restarted process would) already sees it.
        rows = sqlite3.connect(path).execute("SELECT kind, client_order_id FROM journal").fetchall()
        assert rows == [("intent", "at1")]


async def test_every_mode_makes_events_durable_before_returning(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    async with SqliteJournal(path, sync="every") as journal:
        await journal.record_event(ALL_EVENTS[0])
        assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM journal").fetchone() == (1,)


async def test_group_commit_batches_concurrent_intents(tmp_path: Path) -> None:
    async with SqliteJournal(tmp_path / "j.sqlite3") as journal:
        async with anyio.create_task_group() as tg:
            for i in range(200):
                tg.start_soon(journal.record_intent, order(f"at{i}"))
        assert journal.records_written == 200
        assert journal.commits < 200  # writers waiting together share commits


async def test_the_writer_wakes_the_event_loop_once_per_commit_not_once_per_waiter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each wake-up is a write to the loop's self-pipe from the writer thread (a system call
    # during which it lets the GIL go): under load, one per order was the writer's own cost.
    loop = asyncio.get_running_loop()
    wakes = 0
    call_soon_threadsafe = loop.call_soon_threadsafe

    def counted(callback: Any, *args: Any) -> asyncio.Handle:
        nonlocal wakes
        wakes += 1
        return call_soon_threadsafe(callback, *args)

    async with SqliteJournal(tmp_path / "j.sqlite3") as journal:
        monkeypatch.setattr(loop, "call_soon_threadsafe", counted)
        async with anyio.create_task_group() as tg:
            for i in range(200):
                tg.start_soon(journal.record_intent, order(f"at{i}"))
        assert journal.records_written == 200
        assert wakes <= journal.commits < 200


async def test_waiting_through_a_worker_thread_works_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The path other anyio backends (trio) take: no asyncio loop to wake directly.
    monkeypatch.setattr(journal_base, "_running_asyncio_loop", lambda: None)
    async with SqliteJournal(tmp_path / "j.sqlite3") as journal:
        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(journal.record_intent, order(f"at{i}"))
        assert journal.records_written == 20
    async with Journal(BrokenStorage()) as broken:
        with pytest.raises(JournalError):
            await broken.record_intent(order())


async def test_wal_mode_and_fsync_setting(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    async with SqliteJournal(path, fsync=True) as journal:
        await journal.record_intent(order())
        assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_bad_sync_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sync must be one of"):
        SqliteJournal(tmp_path / "j", sync="sometimes")  # type: ignore[arg-type]


async def test_a_closed_journal_refuses_appends_and_can_be_reopened(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "j.sqlite3")
    with pytest.raises(JournalError, match="not open"):
        await journal.record_intent(order())
    await journal.open()
    await journal.record_intent(order("at1"))
    await journal.close()
    with pytest.raises(JournalError, match="not open"):
        await journal.record_intent(order("at2"))
    await journal.open()  # an engine started again after stop() reopens its journal
    await journal.record_intent(order("at3"))
    await journal.close()
    async with SqliteJournal(tmp_path / "j.sqlite3") as again:
        assert [e.client_order_id async for e in again.entries()] == ["at1", "at3"]


class BrokenStorage(JournalStorage):
    """Storage whose disk is full."""

    def open(self) -> int:
        return 0

    def write(self, rows: Sequence[StoredRow]) -> None:
        raise OSError(28, "No space left on device")

    def read(self, after_seq: int, limit: int, kinds: Sequence[str] | None = None) -> list[StoredRow]:
        return []

    def identity(self, claim: str | None = None) -> str | None:
        return claim  # kept in the (full) disk's header, as it were

    def close(self) -> None:
        pass


async def test_write_failure_surfaces_as_journal_error() -> None:
    async with Journal(BrokenStorage()) as journal:
        with pytest.raises(JournalError, match="No space left"):
            await journal.record_intent(order())
        with pytest.raises(JournalError):
            await journal.record_intent(order("at2"))


# -- engine integration ------------------------------------------------------------------------------
async def test_engine_journals_intent_before_the_broker_sees_it(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    seen_at_send: list[list[tuple[str, str]]] = []
    original = broker.submit_order

    async def spying_submit(order: Order) -> list[OrderEvent]:
        seen_at_send.append(
            sqlite3.connect(path).execute("SELECT kind, client_order_id FROM journal").fetchall()
        )
        return await original(order)

    broker.submit_order = spying_submit  # type: ignore[method-assign]
    async with ExecutionEngine(broker, journal=SqliteJournal(path), retry_policy=NO_RETRY) as engine:
        placed = await engine.submit_order("BTCUSDT", "buy", D("0.1"))
    assert seen_at_send == [[("intent", placed.client_order_id)]]
    kinds = sqlite3.connect(path).execute("SELECT kind FROM journal ORDER BY seq").fetchall()
    assert kinds == [("intent",), ("event",), ("event",)]  # accepted, filled


async def test_engine_refuses_to_send_when_the_journal_cannot_write() -> None:
    broker = FakeBroker()
    async with ExecutionEngine(broker, journal=Journal(BrokenStorage()), retry_policy=NO_RETRY) as engine:
        with pytest.raises(JournalError):
            await engine.submit_order("BTCUSDT", "buy", D("0.1"))
        assert broker.received == []
        (order_,) = engine.oms.completed_orders()
        assert order_.status is OrderStatus.REJECTED and "journal" in (order_.reject_reason or "")


async def test_dead_letters_are_persisted(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    broker.fail_submit = [RequestTimeout("lost")] * 4
    async with ExecutionEngine(
        broker,
        journal=SqliteJournal(path),
        retry_policy=NO_RETRY,
        settings=EngineSettings(recover_on_start=False),
    ) as engine:
        with pytest.raises(RequestTimeout):
            await engine.submit_order("BTCUSDT", "buy", D("0.1"))
    async with SqliteJournal(path) as journal:
        letters = await journal.dead_letters()
    assert [(d.operation, d.error_type) for d in letters] == [("submit", "RequestTimeout")]


def test_journal_from_settings_uses_the_data_dir(tmp_path: Path) -> None:
    journal = journal_from_settings(
        EngineSettings(data_dir=tmp_path, journal_sync="every", journal_fsync=False)
    )
    assert journal.path == tmp_path / "journal.sqlite3"
    assert journal.sync == "every" and journal.storage.fsync is False  # type: ignore[attr-defined]
    assert journal.expected_identity is None  # pinned by the first engine that opens it


def test_journal_from_settings_names_the_file_after_broker_and_environment(tmp_path: Path) -> None:
    settings = EngineSettings(data_dir=tmp_path, journal_sync="off")
    journal = journal_from_settings(settings, broker="binance", environment="testnet")
    assert journal.path == tmp_path / "journal-binance-testnet.sqlite3"
    assert journal.sync == "off"
    assert journal.expected_identity == JournalIdentity("binance", "testnet")
    live = journal_from_settings(settings, broker="binance", environment="live")
    assert live.path == tmp_path / "journal-binance-live.sqlite3"
    # Odd characters cannot climb out of the data directory.
    odd = journal_from_settings(settings, broker="../evil", environment="a/b")
    assert odd.path.parent == tmp_path and odd.path.name == "journal-_evil-a_b.sqlite3"
