"""Events ready together travel in one stream message; the strategy still sees each, in order."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import nats
import pytest
from autotrader_core.enums import OrderSide, OrderStatus, OrderType
from autotrader_core.events import OrderAccepted, OrderCanceled
from autotrader_core.hookspecs import hookimpl
from autotrader_core.journal import codec
from autotrader_core.models import Alert, Order, utc_now
from autotrader_core.snapshots import CompactionPolicy
from autotrader_core.strategy import Strategy, StrategyContext
from autotrader_nats import AccountGateway, NatsSettings, RemoteEngine, connect_gateway
from autotrader_nats import gateway as gateway_module
from autotrader_nats._outgoing import PendingOrderEvent
from autotrader_nats.wire import dumps, event_bodies, join_events, loads
from nats.js.api import AckPolicy
from nats_gateway_main import make_gateway, serving
from nats_kit import NatsServer, needs_uvloop

pytestmark = pytest.mark.anyio


@pytest.fixture
async def gateway(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[AccountGateway]:
    async with serving(make_gateway(nats_server.url, tmp_path / "data")) as gw:
        yield gw


class Updates(Strategy):
    name = "grouped"

    def __init__(self) -> None:
        self.seen: list[tuple[str, OrderStatus]] = []

    async def on_order_update(self, order: Order, ctx: StrategyContext) -> None:
        self.seen.append((order.client_order_id, order.status))


def remote(server: NatsServer, strategy: Strategy) -> RemoteEngine:
    return connect_gateway(
        "paper", "paper", strategy=strategy, nats_settings=NatsSettings(servers=[server.url])
    )


async def test_events_ready_together_share_a_message_and_each_reaches_the_strategy_in_order(
    gateway: AccountGateway, nats_server: NatsServer
) -> None:
    strategy = Updates()
    async with remote(nats_server, strategy) as engine:
        orders: list[Order] = []

        async def submit() -> None:
            orders.append(await engine.submit_order("BTCUSDT", "buy", Decimal("0.01")))

        async with anyio.create_task_group() as tg:  # a burst: events queue up while others publish
            for _ in range(40):
                tg.start_soon(submit)
        with anyio.fail_after(10):
            while len(strategy.seen) < 80:
                await anyio.sleep(0.01)
        # One ack covers the events before it ("all" policy), yet none is left unacknowledged
        # (it would come again after the ack wait).
        nc = await nats.connect(nats_server.url)
        with anyio.fail_after(3):
            while True:
                consumer = await nc.jetstream().consumer_info(gateway.names.event_stream, "strategy-grouped")
                if consumer.num_ack_pending == 0:
                    break
                await anyio.sleep(0.05)
        await nc.close()
        assert consumer.config.ack_policy == AckPolicy.ALL
        assert consumer.num_redelivered == 0
    for order in orders:  # each order's accept, then its fill
        cid = order.client_order_id
        assert [s for c, s in strategy.seen if c == cid] == [OrderStatus.ACCEPTED, OrderStatus.FILLED]
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    subject = gateway.names.order_events("grouped")
    info = await js.stream_info(gateway.names.event_stream, subjects_filter=subject)
    msg = await js.get_last_msg(gateway.names.event_stream, subject)
    await nc.close()
    assert info.state.subjects is not None
    assert info.state.subjects[subject] < 80  # 80 events, fewer stored messages
    bodies = event_bodies(loads(msg.data or b"{}"))
    assert all(b["account"] == "paper/paper/default" for b in bodies)


async def test_one_bad_event_in_a_message_never_costs_the_others(
    gateway: AccountGateway, nats_server: NatsServer
) -> None:
    strategy = Updates()
    async with remote(nats_server, strategy) as engine:
        order = await engine.submit_order(
            "BTCUSDT", "buy", Decimal("0.01"), order_type="limit", limit_price=Decimal("1000")
        )
        with anyio.fail_after(5):
            while not strategy.seen:
                await anyio.sleep(0.01)
        canceled = codec.encode_order(order)
        canceled.update(status="canceled", updated_at="2999-01-01T00:00:00+00:00")
        account = str(gateway.account)
        payloads = [
            dumps({"account": account, "type": "order", "order": {"nonsense": 1}, "event": {}}),
            dumps(
                {
                    "account": account,
                    "type": "order",
                    "order": canceled,
                    "event": codec.encode_event(OrderCanceled(order.client_order_id)),
                }
            ),
        ]
        nc = await nats.connect(nats_server.url)
        await nc.jetstream().publish(
            gateway.names.order_events("grouped"), join_events(gateway.account, payloads)
        )
        await nc.close()
        with anyio.fail_after(5):
            while engine.orders[order.client_order_id].status is not OrderStatus.CANCELED:
                await anyio.sleep(0.01)


async def test_a_slow_reply_is_waited_for_not_asked_for(
    gateway: AccountGateway, nats_server: NatsServer
) -> None:
    # Under load replies take seconds; asking svc.result every second would add load where
    # there is most. Only a reconnect (a reply may be lost) or 5 s of silence makes it ask.
    adapter: Any = gateway.engine.adapter
    submit = adapter.submit_order

    async def slow_submit(order: Order) -> Any:
        await anyio.sleep(2.5)
        return await submit(order)

    adapter.submit_order = slow_submit
    nc = await nats.connect(nats_server.url)
    asked: list[bytes] = []

    async def record(msg: Any) -> None:
        asked.append(msg.data)

    await nc.subscribe(gateway.names.service("result"), cb=record)
    async with connect_gateway(
        "paper", "paper", nats_settings=NatsSettings(servers=[nats_server.url])
    ) as engine:
        order = await engine.submit_order("BTCUSDT", "buy", Decimal("0.01"))
    await nc.close()
    assert order.status is OrderStatus.FILLED
    assert asked == []


def test_an_order_event_is_encoded_later_as_it_was_when_it_happened() -> None:

    order = Order(
        "o-1", "BTCUSDT", OrderSide.BUY, OrderType.LIMIT, Decimal("0.01"), limit_price=Decimal("1000")
    )
    order.status = OrderStatus.ACCEPTED
    event = OrderAccepted("o-1", "b-1", utc_now())
    then = dumps(
        {
            "account": "paper/paper/default",
            "type": "order",
            "order": codec.encode_order(order),
            "event": codec.encode_event(event),
        }
    )
    pending = PendingOrderEvent("paper/paper/default", order, event, None)
    order.status = OrderStatus.FILLED  # its next event changes the order in place
    order.filled_quantity = Decimal("0.01")
    assert pending.encode() == then


@pytest.mark.parametrize(
    "anyio_backend",
    [
        "asyncio",
        # uvloop's timers (whole milliseconds) caught the publisher's balances timer between a
        # submit's events and its reply nearly every run (5 of 5 before the fix).
        pytest.param(
            ("asyncio", {"use_uvloop": True}),
            id="uvloop",
            marks=needs_uvloop,
        ),
    ],
)
async def test_an_orders_events_are_encoded_after_its_reply_is_published(
    gateway: AccountGateway, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The strategy waits for the reply; encoding the events first (in the engine's observer
    # hook, or in the publisher while the command awaited the broker) put ~30 µs per event in
    # front of it at light load (benchmarks/nats_hops.py).

    seen: list[str] = []
    encode_event = codec.encode_event

    def recording_encode_event(event: Any) -> dict[str, Any]:
        if sys._getframe(1).f_globals["__name__"].startswith("autotrader_nats."):  # not the journal's
            seen.append(f"event {event.client_order_id}")
        return encode_event(event)

    assert gateway._nc is not None
    nc: Any = gateway._nc
    publish = nc.publish

    async def recording_publish(subject: str, payload: bytes = b"", *args: Any, **kwargs: Any) -> None:
        if subject.startswith("_INBOX."):  # a command's reply (to its command id, the order's here)
            seen.append(f"reply {subject.rsplit('.', 1)[-1]}")
        await publish(subject, payload, *args, **kwargs)

    monkeypatch.setattr(codec, "encode_event", recording_encode_event)
    monkeypatch.setattr(nc, "publish", recording_publish)
    # The publisher also wakes on its balances timer (every 0.1 s): made frequent here, it
    # would catch a command between its events and its reply, were held events published then.
    monkeypatch.setattr(gateway_module, "_BALANCES_EVERY", 0.0002)
    strategy = Updates()
    async with remote(nats_server, strategy) as engine:
        for _ in range(60):
            order = await engine.submit_order("BTCUSDT", "buy", Decimal("0.01"))
            cid = order.client_order_id
            with anyio.fail_after(5):
                while sum(1 for c, _ in strategy.seen if c == cid) < 2:
                    await anyio.sleep(0.01)
            assert [s for s in seen if s.endswith(" " + cid)] == [
                f"reply {cid}",
                f"event {cid}",
                f"event {cid}",
            ]


async def test_an_order_event_that_cannot_be_encoded_raises_an_alert_and_costs_no_other_event(
    gateway: AccountGateway, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Encoded by the publisher now, not in the engine's hook (where the notifier caught it): a
    # failure there must neither stop the publisher nor pass unseen.

    alerts: list[Alert] = []

    class Alerts:
        @hookimpl
        def autotrader_on_alert(self, alert: Alert) -> None:
            alerts.append(alert)

    gateway.plugins.register(Alerts())
    encode = PendingOrderEvent.encode
    tag_at = [f.name for f in dataclasses.fields(Order)].index("tag")

    def poisoned(self: PendingOrderEvent) -> bytes:
        if self.state[tag_at] == "poison":
            raise ValueError("cannot encode this one")
        return encode(self)

    monkeypatch.setattr(PendingOrderEvent, "encode", poisoned)
    strategy = Updates()
    async with remote(nats_server, strategy) as engine:
        bad, good = await asyncio.gather(
            engine.submit_order("BTCUSDT", "buy", Decimal("0.01"), tag="poison"),
            engine.submit_order("BTCUSDT", "buy", Decimal("0.01")),
        )
        with anyio.fail_after(5):
            while [s for c, s in strategy.seen if c == good.client_order_id] != [
                OrderStatus.ACCEPTED,
                OrderStatus.FILLED,
            ]:
                await anyio.sleep(0.01)
        assert not [s for c, s in strategy.seen if c == bad.client_order_id]
    assert any(a.level == "critical" and bad.client_order_id in a.message for a in alerts), alerts


async def test_events_held_for_a_slow_submit_are_published_without_its_reply_after_a_bound(
    gateway: AccountGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An order's events wait for its submit's reply; a submit that hangs (a slow venue) must not
    # keep them, or the balances behind them, from the strategies for long.

    monkeypatch.setattr(gateway_module, "_HELD_AT_MOST", 0.6)  # published 0.5–0.7 s after
    order = Order(
        "held-1", "BTCUSDT", OrderSide.BUY, OrderType.LIMIT, Decimal("0.01"), limit_price=Decimal("1")
    )
    with anyio.fail_after(2):  # the publisher's first round (it sends the balances at once)
        while not gateway._published_all.is_set():
            await anyio.sleep(0.02)
    gateway._inflight.add("held-1")  # its submit still running
    gateway._queue_order_event(order, OrderAccepted("held-1", "b-1", utc_now()))
    await anyio.sleep(0.15)
    assert len(gateway._outbox) == 1, "published before its submit's reply"
    with anyio.fail_after(2):
        while gateway._outbox or not gateway._published_all.is_set():
            await anyio.sleep(0.02)
    gateway._inflight.discard("held-1")


async def _order_events_in_stream(js: Any, gateway: AccountGateway) -> list[tuple[int, dict[str, Any]]]:
    """Every order event the stream holds: (stream sequence of its message, body)."""
    info = await js.stream_info(gateway.names.event_stream)
    found: list[tuple[int, dict[str, Any]]] = []
    for seq in range(int(info.state.first_seq), int(info.state.last_seq) + 1):
        try:
            msg = await js.get_msg(gateway.names.event_stream, seq)
        except nats.js.errors.NotFoundError:
            continue
        if msg.subject.startswith(gateway.names.order_events("*")[:-1]):
            found += [(seq, body) for body in event_bodies(loads(msg.data or b""))]
    return found


async def test_order_events_the_stream_lost_are_published_again_by_the_next_gateway(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    # As a gateway killed between applying events and storing them leaves them: in its journal
    # only. Here the stream's copies of the last orders' events are deleted between two runs;
    # the next gateway finds their journal records past what the stream holds, and publishes
    # them again (with each body's "seq": its record), once.
    data = tmp_path / "data"
    placed: list[str] = []
    async with serving(make_gateway(nats_server.url, data)) as first:
        async with remote(nats_server, Updates()) as engine:
            for _ in range(6):
                placed.append((await engine.submit_order("BTCUSDT", "buy", Decimal("0.001"))).client_order_id)
        await first._drain_outbox()
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        stored = await _order_events_in_stream(js, first)
        assert {b["order"]["client_order_id"] for _, b in stored} == set(placed)
        assert all(type(b.get("seq")) is int for _, b in stored)
        lost = {seq for seq, body in stored if body["order"]["client_order_id"] in placed[-2:]}
        for seq in lost:
            await js.delete_msg(first.names.event_stream, seq)
    kept = [b for seq, b in stored if seq not in lost]
    async with serving(make_gateway(nats_server.url, data)) as second:
        with anyio.fail_after(10):
            while True:
                now = await _order_events_in_stream(js, second)
                if len(now) >= len(stored):
                    break
                await anyio.sleep(0.05)
        await anyio.sleep(0.3)  # nothing more comes
        now = await _order_events_in_stream(js, second)
    await nc.close()
    again = [b for seq, b in now if seq > max(s for s, _ in stored)]
    assert sorted((b["seq"], b["event"]["type"]) for b in again) == sorted(
        (b["seq"], b["event"]["type"]) for seq, b in stored if seq in lost
    ), "the lost events, each published again once, and nothing else"
    assert all(b["order"]["status"] == OrderStatus.FILLED.value for b in again)
    assert len(kept) + len(again) == len(stored)


async def test_a_compaction_leaves_the_records_of_events_not_yet_stored_in_the_journals_tail(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    # The next gateway publishes again what a SIGKILL kept from the stream by reading the
    # journal's tail (the test above); a compaction that folded a record whose event was still
    # on its way would have put it out of that reach. Here the event stream stalls (every
    # publish waits) while the journal is compacted every 50 ms.
    gateway = make_gateway(nats_server.url, tmp_path / "data")
    gateway.compaction = CompactionPolicy(
        max_records=1, max_age=timedelta(0), keep_completed=0, check_interval=0.05
    )
    stalled = anyio.Event()
    publish = gateway._publish_batch

    async def stalling(js: Any, batch: list[Any]) -> None:
        await stalled.wait()
        await publish(js, batch)

    gateway._publish_batch = stalling  # type: ignore[method-assign]
    async with serving(gateway), remote(nats_server, Updates()) as engine:
        order = await engine.submit_order("BTCUSDT", "buy", Decimal("0.001"))
        assert order.status is OrderStatus.FILLED  # the reply does not wait for the stream
        journal = gateway.journal
        with anyio.fail_after(10):  # compactions ran meanwhile, folding the rows before the order's
            while (await journal.snapshot()) is None:
                await anyio.sleep(0.02)
            await anyio.sleep(0.3)
        snapshot = await journal.snapshot()
        assert snapshot is not None
        tail = [e async for e in journal.entries(after_seq=snapshot.seq)]
        events = [e for e in tail if e.kind == "event" and e.client_order_id == order.client_order_id]
        assert len(events) == 2, tail  # accepted and filled: both still there to publish again
        stalled.set()
        with anyio.fail_after(10):  # stored now: the next compactions fold them
            while not engine.context.position("BTCUSDT").quantity:
                await anyio.sleep(0.02)
            while (snapshot := await journal.snapshot()) is None or snapshot.seq < max(e.seq for e in events):
                await anyio.sleep(0.02)
