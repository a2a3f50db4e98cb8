"""The parts that carry the gateway's load: the ack floor, the worker pool, the command log's writer."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from autotrader_nats.acks import AckFloor, delivery
from autotrader_nats.command_log import CommandLog
from autotrader_nats.command_writer import CommandLogWriter
from autotrader_nats.workers import WorkerPool
from nats.aio.msg import Msg

pytestmark = pytest.mark.anyio


@dataclass
class FakeMsg:
    """A delivered message: its stream sequence, and the acknowledgements it got."""

    seq: int
    acked: list[int] = field(default_factory=list)

    @property
    def metadata(self) -> Any:
        return SimpleNamespace(sequence=SimpleNamespace(stream=self.seq))

    async def ack(self) -> None:
        self.acked.append(self.seq)


async def test_the_ack_floor_never_acknowledges_past_a_command_still_executing() -> None:
    acks = AckFloor()
    sent: list[int] = []
    msgs = [FakeMsg(seq, sent) for seq in range(1, 6)]
    for msg in msgs:
        acks.taken(msg)
    for msg in (msgs[1], msgs[2], msgs[4]):  # 2, 3 and 5 done; 1 and 4 still running
        acks.finished(msg)
    await acks.flush()
    assert sent == [], "sequence 1 still runs: acknowledging 3 would acknowledge it too"
    acks.finished(msgs[0])
    await acks.flush()
    assert sent == [3], "one acknowledgement for 1-3, none past 4 (running)"
    acks.finished(msgs[3])
    await acks.flush()
    assert sent == [3, 5]
    assert len(acks) == 0 and acks.acks_sent == 2


async def test_a_redelivered_command_keeps_its_place_in_the_ack_floor() -> None:
    acks = AckFloor()
    sent: list[int] = []
    first, second = FakeMsg(1, sent), FakeMsg(2, sent)
    acks.taken(first)
    acks.taken(second)
    acks.taken(FakeMsg(1, sent))  # redelivered while running: still the front
    acks.finished(second)
    await acks.flush()
    assert sent == []
    acks.finished(first)
    await acks.flush()
    assert sent == [2]


async def test_the_ack_floor_wakes_once_for_a_burst() -> None:
    acks = AckFloor()
    sent: list[int] = []
    msgs = [FakeMsg(seq, sent) for seq in range(1, 101)]
    async with anyio.create_task_group() as tg:
        tg.start_soon(acks.run)
        for msg in msgs:
            acks.taken(msg)
        for msg in msgs:  # all finish before the acknowledging task runs again
            acks.finished(msg)
        with anyio.fail_after(2):
            while not sent:
                await anyio.sleep(0.001)
        tg.cancel_scope.cancel()
    assert sent == [100], "a hundred finished commands cost one acknowledgement"


async def test_the_worker_pool_runs_at_most_its_size_at_once_in_arrival_order() -> None:
    pool = WorkerPool(3)
    started: list[int] = []
    running = 0
    most = 0
    release = anyio.Event()

    def job(n: int) -> Any:
        async def run() -> None:
            nonlocal running, most
            started.append(n)
            running += 1
            most = max(most, running)
            await release.wait()
            running -= 1

        return run

    async with anyio.create_task_group() as tg:
        pool.start(tg)
        await anyio.sleep(0.01)
        for n in range(8):
            pool.submit(job(n))
        await anyio.sleep(0.05)
        assert started == [0, 1, 2] and pool.waiting == 5
        release.set()
        with anyio.fail_after(2):
            while len(started) < 8 or running:
                await anyio.sleep(0.005)
        tg.cancel_scope.cancel()
    assert most == 3
    assert started == list(range(8))


def test_a_worker_pool_needs_a_worker() -> None:
    with pytest.raises(ValueError, match="at least one"):
        WorkerPool(0)


async def test_the_command_log_writer_batches_claims_and_writes_replies_behind(tmp_path: Path) -> None:
    log = CommandLog(tmp_path / "c.sqlite3")
    log.open()
    writer = CommandLogWriter(log)
    writer.start()
    try:
        async with anyio.create_task_group() as tg:
            results: dict[str, Any] = {}

            async def claim(ids: list[str]) -> None:
                records = await writer.claim_many([(i, "submit", "s1", i) for i in ids])
                results.update(zip(ids, records, strict=True))

            for n in range(20):
                tg.start_soon(claim, [f"a{n}", f"b{n}"])
        assert set(results) == {f"{p}{n}" for p in "ab" for n in range(20)}
        assert all(r is None for r in results.values()), "first claims: go ahead"
        assert writer.transactions < 20, "claims that queued together share a transaction"
        writer.finish("a0", b'{"id":"a0","ok":true}')
        again = await writer.claim_many([("a0", "submit", "s1", "a0"), ("new", "cancel", "s1", "a0")])
        assert (
            again[0] is not None and again[0].state == "done" and again[0].reply == b'{"id":"a0","ok":true}'
        )
        assert again[1] is None
        writer.finish("b0", b"reply-b0")
    finally:
        await writer.stop()  # writes what is still queued
    record = log.get("b0")
    assert record is not None and record.state == "done" and record.reply == b"reply-b0"
    log.close()


async def test_a_failing_command_log_fails_every_claim_after_it(tmp_path: Path) -> None:
    log = CommandLog(tmp_path / "c.sqlite3")
    log.open()
    writer = CommandLogWriter(log)
    writer.start()
    try:
        log.close()  # the file is gone from under it
        with pytest.raises(RuntimeError, match="not open"):
            await writer.claim_many([("x", "submit", "s", "x")])
        with pytest.raises(RuntimeError, match="not open"):
            await writer.claim_many([("y", "submit", "s", "y")])
    finally:
        await writer.stop()


async def test_claims_need_a_running_writer(tmp_path: Path) -> None:
    writer = CommandLogWriter(CommandLog(tmp_path / "c.sqlite3"))
    with pytest.raises(RuntimeError, match="not running"):
        await writer.claim_many([("x", "submit", "s", "x")])


@pytest.mark.parametrize("count", [1, 2, 255, 256, 257, 700])
def test_a_batch_of_any_size_is_claimed_and_finished_whole(tmp_path: Path, count: int) -> None:
    log = CommandLog(tmp_path / "c.sqlite3")
    log.open()
    ids = [f"c{n}" for n in range(count)]
    assert log.claim_many([(i, "submit", "s", i) for i in ids]) == [None] * count
    again = log.write_batch([(i, "submit", "s", i) for i in ids], [(i, i.encode()) for i in ids])
    assert all(r is not None and r.state == "done" for r in again), (
        "a redelivery sees the reply queued before it"
    )
    log.close()
    with sqlite3.connect(tmp_path / "c.sqlite3") as conn:
        rows = dict(conn.execute("SELECT id, reply FROM commands WHERE state = 'done'").fetchall())
    assert rows == {i: i.encode() for i in ids}


def test_a_command_claimed_twice_in_one_batch_runs_once(tmp_path: Path) -> None:
    log = CommandLog(tmp_path / "c.sqlite3")
    log.open()
    first, second = log.claim_many([("x", "submit", "s", "x"), ("x", "submit", "s", "x")])
    assert first is None
    assert second is not None and second.state == "started" and second.owner == "s"
    log.close()


def test_a_command_written_by_another_client_keeps_its_json_numbers_exact() -> None:
    from decimal import Decimal

    from autotrader_nats.wire import loads

    # Our strategies write amounts as strings; a client that writes JSON numbers must not
    # get floats (0.1 + 0.2 != 0.3) — the fast parser's floats are parsed again as Decimals.
    body = loads(b'{"id": "c1", "kind": "submit", "args": {"quantity": 0.1, "legs": [{"price": 1e-8}]}}')
    assert body["args"]["quantity"] == Decimal("0.1") and type(body["args"]["quantity"]) is Decimal
    assert body["args"]["legs"][0]["price"] == Decimal("1e-8")
    assert loads(b'{"id": "c1", "args": {"quantity": "0.1", "n": 3}}') == {
        "id": "c1",
        "args": {"quantity": "0.1", "n": 3},
    }
    assert loads(b'{"big": 123456789012345678901234567890}')["big"] == 123456789012345678901234567890
    with pytest.raises(ValueError, match="expected a JSON object"):
        loads(b"[1, 2]")
    with pytest.raises(ValueError, match="Expecting value"):  # the standard library's word for it
        loads(b'{"id": ')


@pytest.mark.parametrize("fsync", [True, False])
async def test_the_command_log_is_as_durable_as_the_journal(tmp_path: Path, fsync: bool) -> None:
    """A power cut must not keep a journaled intent and lose the claim of the command that made it
    (a flatten or modify claimed "started" must never run twice): the command log follows the
    engine settings' ``journal_fsync``, as the journal does."""
    from autotrader_core.settings import EngineSettings
    from autotrader_nats import AccountGateway
    from autotrader_paper import PaperAdapter

    gateway = AccountGateway(PaperAdapter(), settings=EngineSettings(data_dir=tmp_path, journal_fsync=fsync))
    assert gateway.command_log.fsync is fsync
    gateway.command_log.open()
    try:
        conn = sqlite3.connect(gateway.command_log.path)
        try:
            wal = conn.execute("PRAGMA journal_mode").fetchone()
        finally:
            conn.close()
        assert wal == ("wal",)
        (level,) = gateway.command_log._require().execute("PRAGMA synchronous").fetchone()
        assert level == (2 if fsync else 1)  # FULL: every commit fsynced; NORMAL: handed to the OS
    finally:
        gateway.command_log.close()


@pytest.mark.parametrize(
    "reply",
    [
        "$JS.ACK.AT_CMD_paper_paper_default.gateway.3.1207.1190.1765000000123456789.42",
        "$JS.ACK.hub.ACCHASH.AT_CMD_paper_paper_default.gateway.3.1207.1190.1765000000123456789.42.r4nd0m",
    ],
    ids=["reply-v1", "reply-v2-with-domain"],
)
def test_delivery_reads_what_the_message_metadata_holds(reply: str) -> None:
    msg = Msg(_client=None, reply=reply)  # type: ignore[arg-type]  # no client needed to read a reply
    assert delivery(msg) == (1207, 3)
    assert delivery(msg) == (msg.metadata.sequence.stream, msg.metadata.num_delivered)


async def test_a_job_handed_to_a_worker_cancelled_while_idle_is_not_lost() -> None:
    pool = WorkerPool(2)
    ran: list[int] = []

    async def job() -> None:
        ran.append(1)

    async with anyio.create_task_group() as first:
        pool.start(first)
        await anyio.sleep(0.01)  # both idle
        first.cancel_scope.cancel()
    pool.submit(job)  # no live worker: it waits, not handed to a dead one
    assert pool.waiting == 1
    async with anyio.create_task_group() as second:
        pool.start(second)
        with anyio.fail_after(2):
            while not ran:
                await anyio.sleep(0.005)
        second.cancel_scope.cancel()
    assert ran == [1] and pool.waiting == 0
