"""The submit fast path: a submit known to be new runs without a claim, and is never executed twice.

A fresh submit from :class:`~autotrader_nats.RemoteEngine` is published once marked ``once``;
the gateway executes it without first committing a claim to its command log, records it done
(owner and reply) behind, and acknowledges it only once that record is durable.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import nats
import pytest
from autotrader_core.enums import OrderStatus
from autotrader_nats import AccountGateway, NatsSettings, RemoteEngine, connect_gateway
from autotrader_nats.command_log import CommandLog
from autotrader_nats.command_writer import CommandLogWriter
from autotrader_nats.wire import dumps, loads
from nats_gateway_main import make_gateway, serving
from nats_kit import NatsServer

pytestmark = pytest.mark.anyio

OWNER = "fast"


def remote(server: NatsServer) -> RemoteEngine:
    return connect_gateway(
        "paper", "paper", owner=OWNER, nats_settings=NatsSettings(servers=[server.url], request_timeout=5)
    )


def rows(gw: AccountGateway) -> dict[str, tuple[str, str, bytes | None]]:
    """The command log's rows: id → (owner, state, reply)."""
    with sqlite3.connect(gw.command_log.path) as conn:
        return {
            r[0]: (r[1], r[2], r[3]) for r in conn.execute("SELECT id, owner, state, reply FROM commands")
        }


def intents(gw: AccountGateway, cid: str) -> int:
    """How many times ``cid`` was journaled as a new order (the write-ahead of every send)."""
    with sqlite3.connect(gw.journal.path) as conn:  # type: ignore[attr-defined]
        (n,) = conn.execute(
            "SELECT COUNT(*) FROM journal WHERE kind = 'intent' AND client_order_id = ?", (cid,)
        ).fetchone()
    return int(n)


async def acknowledged_through(gw: AccountGateway, server: NatsServer) -> int:
    """The command consumer's acknowledged floor (stream sequence)."""
    nc = await nats.connect(server.url)
    try:
        info = await nc.jetstream().consumer_info(gw.names.command_stream, "gateway")
        return int(info.ack_floor.stream_seq) if info.ack_floor is not None else 0
    finally:
        await nc.close()


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    with anyio.fail_after(within):
        while not await check():
            await anyio.sleep(0.02)


def test_the_log_records_an_unclaimed_command_done_and_completes_a_claimed_one(tmp_path: Path) -> None:
    log = CommandLog(tmp_path / "c.sqlite3")
    log.open()
    try:
        assert log.claim("claimed", "submit", "s1", "claimed") is None
        log.record_many(
            [("new", "submit", "s1", "new", b"reply-new"), ("claimed", "submit", "s2", "claimed", b"reply-c")]
        )
        new, claimed = log.get("new"), log.get("claimed")
        assert new is not None and (new.owner, new.state, new.reply) == ("s1", "done", b"reply-new")
        # A claimed command keeps the owner its claim recorded; it takes the reply.
        assert claimed is not None and (claimed.owner, claimed.state, claimed.reply) == (
            "s1",
            "done",
            b"reply-c",
        )
        assert log.owner_of("new") == "s1"
        assert log.claim("new", "submit", "s1", "new") is not None  # a later claim finds it
    finally:
        log.close()


async def test_a_fresh_submit_runs_unclaimed_and_is_acknowledged_once_its_record_is_durable(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    async with serving(make_gateway(nats_server.url, tmp_path / "data")) as gw:
        async with remote(nats_server) as engine:
            order = await engine.submit_order("BTCUSDT", "buy", Decimal("0.01"))
        assert order.status is OrderStatus.FILLED
        assert gw.submits_unclaimed == 1 and gw.commands_executed == 1

        async def recorded() -> bool:
            return rows(gw).get(order.client_order_id, ("", "", None))[1] == "done"

        await eventually(recorded)
        owner, _, reply = rows(gw)[order.client_order_id]
        assert owner == OWNER and reply is not None and loads(reply)["order"]["status"] == "filled"

        async def acked() -> bool:
            return await acknowledged_through(gw, nats_server) >= 1

        await eventually(acked)
        assert intents(gw, order.client_order_id) == 1


@pytest.mark.parametrize("marked", [False, True], ids=["re-sent-unmarked", "marked-again-by-a-faulty-client"])
async def test_a_copy_of_an_unclaimed_submit_stored_again_is_answered_with_its_order(
    nats_server: NatsServer, tmp_path: Path, marked: bool
) -> None:
    # A copy JetStream stores again (past its de-duplication window: another message id here)
    # is answered with the order; it is never a second order.
    async with serving(make_gateway(nats_server.url, tmp_path / "data")) as gw:
        async with remote(nats_server) as engine:
            order = await engine.submit_order("BTCUSDT", "buy", Decimal("0.01"))
        assert gw.submits_unclaimed == 1
        nc = await nats.connect(nats_server.url)
        reply = await nc.request(
            gw.names.commands,
            dumps(
                {
                    "id": order.client_order_id,
                    "kind": "submit",
                    "owner": OWNER,
                    "args": {"symbol": "BTCUSDT", "side": "buy", "quantity": "0.01"},
                    **({"once": True} if marked else {}),
                }
            ),
            headers={"Nats-Msg-Id": f"{order.client_order_id}-again"},
            timeout=5,
        )
        ack = loads(reply.data)  # JetStream's acknowledgement: stored as a new message
        assert ack.get("duplicate") is not True
        answer = await _result(nc, gw, nats_server, order.client_order_id)
        await nc.close()
        assert answer["ok"] and answer["order"]["status"] == "filled"
        assert answer["order"]["filled_quantity"] == "0.01"
        assert gw.commands_executed == 1, "the copy was executed"
        assert intents(gw, order.client_order_id) == 1


async def _result(nc: Any, gw: AccountGateway, server: NatsServer, cid: str) -> dict[str, Any]:
    # Once the copy was handled and acknowledged, asked for its outcome (svc.result).
    async def handled() -> bool:
        return await acknowledged_through(gw, server) >= 2

    await eventually(handled)
    msg = await nc.request(gw.names.service("result"), dumps({"id": cid}), timeout=2)
    body: dict[str, Any] = loads(msg.data)
    return body


async def test_a_submit_whose_record_a_crash_lost_comes_again_keeps_its_owner_and_runs_once(
    nats_server: NatsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    # Run 1: the order is sent, the reply goes out, then the gateway "dies" before the
    # command's record is written (its writer drops it): the command was never acknowledged.
    with monkeypatch.context() as patch:
        patch.setattr(CommandLogWriter, "record", lambda self, executed, durable: None)
        async with serving(make_gateway(nats_server.url, data)) as gw:
            async with remote(nats_server) as engine:
                order = await engine.submit_order(
                    "BTCUSDT", "buy", Decimal("0.01"), order_type="limit", limit_price=Decimal("1000")
                )
            assert order.status is OrderStatus.ACCEPTED and gw.submits_unclaimed == 1
        assert order.client_order_id not in rows(gw)
    cid = order.client_order_id

    # Run 2, not consuming commands: the resting order's owner is read from the stream's
    # unacknowledged tail before anything is published (a fill would go to its strategy).
    async def ignore(self: AccountGateway, msg: object) -> None:
        return None  # never taken, never acknowledged: it comes again in run 3

    with monkeypatch.context() as patch:
        patch.setattr(AccountGateway, "_on_command", ignore)
        async with serving(make_gateway(nats_server.url, data)) as gw:
            assert gw.owner_of(cid) == OWNER

    # Run 3: the command comes again; answered with the order, recorded, never sent again.
    async with serving(make_gateway(nats_server.url, data)) as gw:

        async def recorded() -> bool:
            return rows(gw).get(cid, ("", "", None))[1] == "done"

        await eventually(recorded)
        assert rows(gw)[cid][0] == OWNER
        assert gw.commands_executed == 0 and gw.owner_of(cid) == OWNER
        assert intents(gw, cid) == 1
        assert gw.control.order(cid) is not None and gw.control.order(cid).status is OrderStatus.ACCEPTED  # type: ignore[union-attr]


async def test_a_reply_leaves_before_its_orders_events_are_published(
    nats_server: NatsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The strategy waits for the reply; the events go to a stream and can follow. Written in
    # one go with the events, the reply waited for their encoding and publish, and the server
    # (which flushes to subscribers after a whole read) for their intake: 0.3–0.4 ms of a
    # 1.8 ms round trip at light load (benchmarks/nats_hops.py).
    from nats.aio.transport import TcpTransport

    writes: list[bytes] = []
    gateway_transport: list[Any] = []
    transport: Any = TcpTransport  # nats-py's socket writer (untyped)
    write, writelines = transport.write, transport.writelines

    def recording_write(self: Any, payload: bytes) -> None:
        if self in gateway_transport:
            writes.append(bytes(payload))
        write(self, payload)

    def recording_writelines(self: Any, payload: list[bytes]) -> None:
        if self in gateway_transport:
            writes.append(b"".join(payload))
        writelines(self, payload)

    monkeypatch.setattr(TcpTransport, "write", recording_write)
    monkeypatch.setattr(TcpTransport, "writelines", recording_writelines)
    async with serving(make_gateway(nats_server.url, tmp_path / "data", journal_sync="intent")) as gw:
        gateway_transport.append(gw._nc._transport)
        async with remote(nats_server) as engine:
            events = gw.names.order_events(OWNER).encode()

            def events_write(cid: bytes) -> int | None:
                return next((i for i, w in enumerate(writes) if events in w and cid in w), None)

            for _ in range(3):
                order = await engine.submit_order("BTCUSDT", "buy", Decimal("0.01"))
                cid = order.client_order_id.encode()

                async def published(cid: bytes = cid) -> bool:
                    return events_write(cid) is not None

                await eventually(published)
                reply_write = next(i for i, w in enumerate(writes) if b"." + cid + b" " in w)
                events_at = events_write(cid)
                assert events_at is not None and reply_write < events_at, (
                    "the reply waited for its order's events"
                )


async def test_a_delivered_command_reaches_a_worker_within_its_own_delivery(
    nats_server: NatsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Handed to a queue of the gateway's own, a command waited a turn of the event loop for
    # the task that took it from there (~0.05–0.1 ms of a light-load round trip, traced with
    # benchmarks/nats_hops.py). It is now taken where nats-py delivers it.
    from autotrader_nats.workers import WorkerPool

    submitted: list[str] = []
    taken_in_delivery: list[bool] = []
    submit = WorkerPool.submit

    def recording_submit(self: WorkerPool, job: Any) -> None:
        submitted.append("job")
        submit(self, job)

    on_command = AccountGateway._on_command

    async def delivery(self: AccountGateway, msg: Any) -> None:
        before = len(submitted)
        await on_command(self, msg)
        taken_in_delivery.append(len(submitted) == before + 1)

    monkeypatch.setattr(WorkerPool, "submit", recording_submit)
    monkeypatch.setattr(AccountGateway, "_on_command", delivery)
    async with serving(make_gateway(nats_server.url, tmp_path / "data")) as gw, remote(nats_server) as engine:
        order = await engine.submit_order(
            "BTCUSDT", "buy", Decimal("0.01"), order_type="limit", limit_price=Decimal("1000")
        )
        await engine.cancel_order(order)  # claimed first (not a fresh submit): the other path
    assert gw.commands_executed == 2
    assert taken_in_delivery == [True, True]


async def test_a_command_log_that_cannot_be_written_ends_the_gateway_before_a_claimed_command_runs(
    nats_server: NatsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing runs unrecorded: a command that needs a claim (here a submit re-sent unmarked)
    # waits for it, and a log that cannot be written ends the gateway instead.
    def failing(self: CommandLog, *args: Any, **kwargs: Any) -> list[Any]:
        raise sqlite3.OperationalError("disk I/O error")

    gw = make_gateway(nats_server.url, tmp_path / "data")

    async def serve_and_send_two_commands() -> None:
        async with serving(gw):
            monkeypatch.setattr(CommandLog, "write_batch", failing)
            nc = await nats.connect(nats_server.url)
            for cid in ("first-after-the-failure", "second-after-the-failure"):
                body = {
                    "id": cid,
                    "kind": "submit",
                    "owner": OWNER,
                    "args": {"symbol": "BTCUSDT", "side": "buy", "quantity": "0.01"},
                }
                await nc.publish(gw.names.commands, dumps(body), headers={"Nats-Msg-Id": cid})
            await nc.flush()
            with anyio.fail_after(10):
                await anyio.sleep_forever()  # the gateway's end cancels this

    with pytest.raises(BaseException) as ended:  # noqa: PT011 - a group, or the error itself
        await serve_and_send_two_commands()
    assert sqlite3.OperationalError in _leaves(ended.value), ended.value
    assert gw.commands_executed == 0
    assert gw.control.order("first-after-the-failure") is None
    assert gw.control.order("second-after-the-failure") is None


def _leaves(error: BaseException) -> list[type[BaseException]]:
    """The types of the exceptions an exception group holds (the exception's own, if not a group)."""
    if isinstance(error, BaseExceptionGroup):
        return [kind for inner in error.exceptions for kind in _leaves(inner)]
    return [type(error)]
