"""Order listeners: an in-process component told of every live order event, with no plugin call."""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
from decimal import Decimal as D
from pathlib import Path

import pytest
from autotrader_core.engine import ExecutionEngine
from autotrader_core.enums import OrderStatus
from autotrader_core.events import OrderEvent
from autotrader_core.hookspecs import hookimpl
from autotrader_core.journal import SqliteJournal
from autotrader_core.models import Order
from autotrader_core.plugins import PluginManager

from .fakes import FakeBroker
from .test_engine import FAST_RETRY

pytestmark = pytest.mark.anyio


class Seen:
    """Records what a listener and an observer hook saw, in the order they saw it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, OrderStatus]] = []

    def listener(self, order: Order, event: OrderEvent) -> None:
        self.calls.append(("listener", order.client_order_id, type(event).__name__, order.status))

    @hookimpl
    def autotrader_on_order_event(self, order: Order, event: OrderEvent) -> None:
        self.calls.append(("hook", order.client_order_id, type(event).__name__, order.status))


def engine_with(seen: Seen, broker: FakeBroker, journal: SqliteJournal | None = None) -> ExecutionEngine:
    plugins = PluginManager(disabled=set())
    plugins.register(seen, name="seen")
    return ExecutionEngine(broker, plugins=plugins, journal=journal, retry_policy=FAST_RETRY)


async def test_a_listener_sees_every_event_as_applied_before_the_observers() -> None:
    seen = Seen()
    engine = engine_with(seen, FakeBroker())
    engine.add_order_listener(seen.listener)
    async with engine:
        order = await engine.submit_order("BTCUSDT", "buy", D("0.5"))
        resting = await engine.submit_order("BTCUSDT", "buy", D("0.2"), order_type="limit", limit_price="90")
        await engine.cancel_order(resting)
    cid, rid = order.client_order_id, resting.client_order_id
    assert seen.calls == [
        ("listener", cid, "OrderAccepted", OrderStatus.ACCEPTED),
        ("hook", cid, "OrderAccepted", OrderStatus.ACCEPTED),
        ("listener", cid, "OrderFilled", OrderStatus.FILLED),
        ("hook", cid, "OrderFilled", OrderStatus.FILLED),
        ("listener", rid, "OrderAccepted", OrderStatus.ACCEPTED),
        ("hook", rid, "OrderAccepted", OrderStatus.ACCEPTED),
        ("listener", rid, "OrderCanceled", OrderStatus.CANCELED),
        ("hook", rid, "OrderCanceled", OrderStatus.CANCELED),
    ]


async def test_a_failing_listener_is_logged_and_costs_nothing_else(caplog: pytest.LogCaptureFixture) -> None:
    seen = Seen()
    engine = engine_with(seen, FakeBroker())

    def broken(order: Order, event: OrderEvent) -> None:
        raise RuntimeError("listener bug")

    engine.add_order_listener(broken)
    engine.add_order_listener(seen.listener)
    with caplog.at_level(logging.ERROR, logger="autotrader_core.engine"):
        async with engine:
            order = await engine.submit_order("BTCUSDT", "buy", D("0.5"))
    assert order.status is OrderStatus.FILLED
    assert engine.oms.position("BTCUSDT").quantity == D("0.5")
    # the listener after the broken one, and the observers, saw both events
    assert [c[:3] for c in seen.calls if c[0] == "listener"] == [
        ("listener", order.client_order_id, "OrderAccepted"),
        ("listener", order.client_order_id, "OrderFilled"),
    ]
    assert len([c for c in seen.calls if c[0] == "hook"]) == 2
    failures = [r for r in caplog.records if "order listener" in r.getMessage()]
    assert len(failures) == 2 and all(r.exc_info for r in failures)
    assert order.client_order_id in failures[0].getMessage()


async def test_a_removed_listener_hears_nothing_more() -> None:
    seen = Seen()
    engine = engine_with(seen, FakeBroker())
    remove = engine.add_order_listener(seen.listener)
    async with engine:
        first = await engine.submit_order("BTCUSDT", "buy", D("0.5"))
        remove()
        remove()  # twice: nothing more to remove, no error
        await engine.submit_order("BTCUSDT", "buy", D("0.5"))
    assert {c[1] for c in seen.calls if c[0] == "listener"} == {first.client_order_id}
    assert len([c for c in seen.calls if c[0] == "hook"]) == 4


async def test_a_journal_replay_at_start_is_not_told_again(tmp_path: Path) -> None:
    # Live events only, as the observer hooks: a restart replays the journal into the order
    # manager without telling anyone of those events a second time.
    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    async with ExecutionEngine(
        broker, journal=SqliteJournal(path, fsync=False), retry_policy=FAST_RETRY
    ) as engine:
        await engine.submit_order("BTCUSDT", "buy", D("0.5"))
    seen = Seen()
    engine = engine_with(seen, broker, SqliteJournal(path, fsync=False))
    engine.add_order_listener(seen.listener)
    async with engine:
        assert len(list(engine.oms)) == 1  # replayed
        later = await engine.submit_order("BTCUSDT", "sell", D("0.5"))
    assert {c[1] for c in seen.calls} == {later.client_order_id}


async def test_a_listener_reads_the_journal_record_of_each_event_it_is_told(tmp_path: Path) -> None:
    # The NATS gateway tags what it publishes with it, and after a crash publishes the journal's
    # records it had not: each event names its own record, or the broker report it came from.
    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    engine = ExecutionEngine(broker, journal=SqliteJournal(path, fsync=False), retry_policy=FAST_RETRY)
    told: list[tuple[str, str, int | None]] = []
    engine.add_order_listener(
        lambda order, event: told.append(
            (order.client_order_id, type(event).__name__, engine.order_event_journal_seq)
        )
    )
    async with engine:
        filled = await engine.submit_order("BTCUSDT", "buy", D("0.5"))
        resting = await engine.submit_order("BTCUSDT", "buy", D("0.2"), order_type="limit", limit_price="90")
        # Canceled at the broker meanwhile: our cancel is told "no such open order", and the
        # order settles from the broker's report (its events are not journaled, the report is).
        rid = resting.client_order_id
        broker.book[rid] = dataclasses.replace(broker.book[rid], status=OrderStatus.CANCELED)
        await engine.cancel_order(resting)
    with sqlite3.connect(path) as conn:
        rows = {
            seq: (kind, cid)
            for seq, kind, cid in conn.execute("SELECT seq, kind, client_order_id FROM journal")
        }
    cid = filled.client_order_id
    assert [(c, name) for c, name, _ in told] == [
        (cid, "OrderAccepted"),
        (cid, "OrderFilled"),
        (rid, "OrderAccepted"),
        (rid, "OrderCanceled"),
    ]
    seqs = [seq for _, _, seq in told]
    assert all(seq is not None for seq in seqs) and len(set(seqs)) == 4, seqs
    assert [rows[seq] for seq in seqs if seq is not None] == [
        ("event", cid),
        ("event", cid),
        ("event", rid),
        ("report", rid),
    ]
