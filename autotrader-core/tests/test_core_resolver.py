"""Issue 14: one resolver of unknown outcomes; nothing non-idempotent is retried blindly.

Each scenario runs the engine against :class:`~.venue.VenueBroker`, which holds requests in
flight, loses replies and enforces an expiry by its own (injected) clock. Every scenario
checks what a user would see: orders per client order id at the venue, the engine's state
against the venue's, and the position against the fills.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from autotrader_core.engine import ExecutionEngine
from autotrader_core.enums import OrderSide, OrderStatus, OrderType
from autotrader_core.errors import InvalidOrder, RiskRejected, TransientError
from autotrader_core.events import OrderAccepted
from autotrader_core.hookspecs import hookimpl
from autotrader_core.journal.sqlite import SqliteJournal
from autotrader_core.models import Order, utc_now
from autotrader_core.plugins import PluginManager
from autotrader_core.resend import ResendGuarantee
from autotrader_core.resiliency import RetryPolicy
from autotrader_core.risk import RiskChecks, RiskLimits
from autotrader_core.settings import EngineSettings

from .venue import VenueBroker

if TYPE_CHECKING:
    from autotrader_core.events import OutcomeResolved, OutcomeUnknown

pytestmark = pytest.mark.anyio

FAST = RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0, jitter=0.0)
WINDOW = 0.3
"""The expiry window of the test venue (seconds, by its clock): short, no real 5 s waits."""


class Seen:
    """Every outcome hook, reject and alert."""

    def __init__(self) -> None:
        self.unknown: list[OutcomeUnknown] = []
        self.resolved: list[OutcomeResolved] = []
        self.rejects: list[str | None] = []
        self.actions: list[str] = []
        self.audits: list[dict[str, str]] = []
        self.alerts: list[str] = []

    @hookimpl
    def autotrader_on_outcome_unknown(self, order: Order, outcome: OutcomeUnknown) -> None:
        self.unknown.append(outcome)

    @hookimpl
    def autotrader_on_outcome_resolved(self, order: Order | None, resolved: OutcomeResolved) -> None:
        self.resolved.append(resolved)

    @hookimpl
    def autotrader_on_reject(self, order: Order, reason: str, code: str | None) -> None:
        self.rejects.append(code)

    @hookimpl
    def autotrader_on_alert(self, alert: Any) -> None:
        self.alerts.append(alert.message)

    @hookimpl
    def autotrader_on_control_action(self, action: Any) -> None:
        self.actions.append(action.action)
        self.audits.append(dict(action.detail))


def engine_for(broker: VenueBroker, seen: Seen | None = None, **settings: Any) -> ExecutionEngine:
    plugins = PluginManager(disabled=set())
    plugins.register(seen or Seen(), name="seen")
    settings.setdefault("order_timeout", 0.2)
    settings.setdefault("decision_interval", 0.01)
    settings.setdefault("reconcile_interval", 0)
    retry_policy = settings.pop("retry_policy", FAST)
    journal = settings.pop("journal", None)
    return ExecutionEngine(
        broker,
        plugins=plugins,
        retry_policy=retry_policy,
        settings=EngineSettings(**settings),
        risk=settings.pop("risk", None),
        journal=journal,
    )


async def wait_for(condition: Any, limit: float = 3.0) -> None:
    with anyio.fail_after(limit):
        while not condition():
            await anyio.sleep(0.005)


async def submit_held(engine: ExecutionEngine, broker: VenueBroker) -> Order:
    """A limit order whose request is held in flight on a venue without guarantee: unknown, open."""
    broker.hold_submits = 1
    with pytest.raises(TransientError, match="still unknown"):
        await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="99")
    [order] = [o for o in engine.oms.open_orders() if o.status is OrderStatus.PENDING_SUBMIT]
    return order


def books_agree(engine: ExecutionEngine, broker: VenueBroker, order: Order) -> None:
    """Engine = venue for this order, and position = fills."""
    [live] = [r for r in broker.orders.values() if r.broker_order_id == order.broker_order_id]
    assert order.status is live.status
    assert order.filled_quantity == live.filled_quantity
    fills = sum((f.quantity if f.side.sign > 0 else -f.quantity for f in broker.fills), D(0))
    assert engine.oms.position(order.symbol).quantity == fills


# -- submit, per declared guarantee ----------------------------------------------------------------
async def test_expiry_a_held_request_that_lands_inside_the_window_is_found_never_sent_twice() -> None:
    # Issue item 5: after one "not found" the old code re-sent at once; the held request then
    # landed too and, the first fill being no longer open, the venue made a second order.
    broker = VenueBroker(ResendGuarantee.expiry(WINDOW))
    broker.hold_submits = 1
    broker.land_after_lookups = 1  # it lands just after the first lookup said "not found"
    async with engine_for(broker) as engine:
        order = await engine.submit_order("BTCUSDT", "buy", D("0.1"))
        assert broker.placed == [order.client_order_id]  # one order at the venue
        assert order.status is OrderStatus.FILLED
        books_agree(engine, broker, order)
        assert engine.unknown_outcomes() == []


async def test_expiry_a_request_that_never_lands_is_resent_only_once_it_provably_expired() -> None:
    broker = VenueBroker(ResendGuarantee.expiry(WINDOW))
    broker.hold_submits = 1
    async with engine_for(broker, order_timeout=2.0) as engine:
        with anyio.fail_after(3):
            order = await engine.submit_order("BTCUSDT", "buy", D("0.1"))
        assert broker.clock.reads >= 1  # the venue's clock was asked before any re-send
        assert broker.placed == [order.client_order_id]  # the re-send
        assert broker.land() == 0  # the held first request is refused now: expired
        assert broker.placed == [order.client_order_id]
        assert order.status is OrderStatus.FILLED
        books_agree(engine, broker, order)


async def test_expiry_a_venue_clock_far_behind_ours_never_holds_the_caller_nor_closes_the_order() -> None:
    broker = VenueBroker(ResendGuarantee.expiry(WINDOW))
    broker.clock.advance(-3600)  # the venue's clock says our request is from its future
    broker.hold_submits = 1
    async with engine_for(broker, order_timeout=0.2) as engine:
        with anyio.fail_after(3), pytest.raises(TransientError, match="may still land"):
            await engine.submit_order("BTCUSDT", "buy", D("0.1"))
        [order] = engine.oms.open_orders()
        assert order.status is OrderStatus.PENDING_SUBMIT and broker.placed == []  # not proved: no re-send


@pytest.mark.parametrize("guarantee", [ResendGuarantee.idempotency_key(), ResendGuarantee.same_id()])
async def test_idempotent_venues_get_the_same_id_again_at_once(guarantee: ResendGuarantee) -> None:
    broker = VenueBroker(guarantee)
    broker.hold_submits = 1
    async with engine_for(broker) as engine:
        order = await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="99")
        assert order.status is OrderStatus.ACCEPTED
        assert broker.placed == [order.client_order_id]
        assert broker.land() == 0  # the venue refuses the late first request: same id, still open
        books_agree(engine, broker, order)


async def test_no_guarantee_never_resends_never_rejects_and_the_user_sees_it_unknown() -> None:
    seen = Seen()
    broker = VenueBroker()  # ResendRule.NONE
    broker.hold_submits = 1
    async with engine_for(broker, seen) as engine:
        with pytest.raises(TransientError, match="still unknown"):
            await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="99")
        [order] = engine.oms.open_orders()
        await anyio.sleep(0.5)  # the watcher's passes (order_timeout 0.2 s) look it up with backoff
        assert broker.placed == []  # never re-sent
        assert order.status is OrderStatus.PENDING_SUBMIT  # never closed as rejected by itself
        status = engine.status()
        assert status.unknown_outcomes == 1 and status.unknown_orders == [order.client_order_id]
        assert [u.client_order_id for u in engine.control.unknown_outcomes()] == [order.client_order_id]
        assert [u.operation for u in seen.unknown] == ["submit"]
        assert seen.rejects == []
        assert broker.lookups >= 3  # looked up again and again, not closed


async def test_no_guarantee_reconciliation_settles_it_when_the_order_appears() -> None:
    seen = Seen()
    broker = VenueBroker()
    broker.hold_submits = 1
    async with engine_for(broker, seen, order_timeout=30) as engine:  # no watcher pass in this test
        order = await submit_held(engine, broker)
        assert broker.land() == 1  # it was in flight all along
        await engine.reconcile_open_orders()  # the broker's open orders list it
        assert order.status is OrderStatus.ACCEPTED
        assert engine.unknown_outcomes() == []
        assert [r.client_order_id for r in seen.resolved] == [order.client_order_id]
        books_agree(engine, broker, order)


async def test_no_guarantee_reconciliation_settles_it_when_its_fills_appear() -> None:
    broker = VenueBroker()
    broker.hold_submits = 1
    async with engine_for(broker, order_timeout=30) as engine:
        with pytest.raises(TransientError):
            await engine.submit_order("BTCUSDT", "buy", D("0.1"))
        [order] = engine.oms.open_orders()
        assert broker.land() == 1  # a market order: filled at once, never listed as open
        await engine.reconcile_open_orders()  # its fills settle it
        assert order.status is OrderStatus.FILLED
        assert engine.unknown_outcomes() == []
        books_agree(engine, broker, order)


async def test_a_duplicate_id_never_leads_to_a_second_send() -> None:
    broker = VenueBroker(ResendGuarantee.idempotency_key())
    broker.lose_replies = 1  # the order is there, its reply lost
    broker.hold_submits = 0
    async with engine_for(broker) as engine:
        order = await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="99")
        assert order.status is OrderStatus.ACCEPTED  # found by the lookup, not re-sent
        assert broker.placed == [order.client_order_id]


async def test_a_duplicate_refusal_the_lookup_cannot_confirm_is_never_sent_again() -> None:
    broker = VenueBroker(ResendGuarantee.idempotency_key())  # a re-send would be "safe": still not done
    async with engine_for(broker, order_timeout=30) as engine:
        first = await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="99")
    cid = first.client_order_id
    async with engine_for(broker, order_timeout=30) as engine:  # no journal: it does not know the order
        broker.lookup_errors = 9  # and cannot confirm it now
        with pytest.raises(TransientError, match="still unknown"):
            await engine.submit_order(
                "BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="99", client_order_id=cid
            )
        assert broker.submit_calls == 2  # the first order, and the refused duplicate: no third send
        assert broker.placed == [cid]
        assert [u.client_order_id for u in engine.unknown_outcomes()] == [cid]


async def test_an_unknown_order_counts_toward_the_open_order_limit() -> None:
    broker = VenueBroker()
    broker.hold_submits = 1
    risk = RiskChecks(RiskLimits(max_open_orders=1))
    async with engine_for(broker, order_timeout=30, risk=risk) as engine:
        with pytest.raises(TransientError):
            await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="99")
        with pytest.raises(RiskRejected, match="already open"):
            await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="99")


# -- the timeout watcher never races the live submit (item 4) ----------------------------------------
async def test_the_watcher_never_closes_an_order_the_submit_is_still_resolving() -> None:
    # Library defaults (retry policy, settle delay); only order_timeout is short, so that the
    # watcher fires while the submit's lookup is still out. The old watcher closed the order as
    # NEVER_ARRIVED meanwhile; the re-send then filled, and submit returned "rejected" with a fill.
    broker = VenueBroker(ResendGuarantee.idempotency_key())
    broker.hold_submits = 1
    broker.lookup_delay = 0.3
    async with engine_for(broker, order_timeout=0.1, retry_policy=RetryPolicy()) as engine:
        order = await engine.submit_order("BTCUSDT", "buy", D("0.1"))
        assert not (order.status is OrderStatus.REJECTED and order.filled_quantity > 0)
        assert order.status is OrderStatus.FILLED
        assert broker.placed == [order.client_order_id]
        books_agree(engine, broker, order)


# -- modify: never retried blindly (item 1) -----------------------------------------------------------
async def test_a_timed_out_amend_that_succeeded_is_settled_not_reported_as_invalid() -> None:
    broker = VenueBroker(ResendGuarantee.expiry(WINDOW))
    async with engine_for(broker) as engine:
        order = await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="99")
        broker.lose_modify_replies = 1
        await engine.modify_order(order, limit_price="98.50")  # the old retry got InvalidOrder here
        assert broker.modify_calls == 1  # never sent twice
        assert order.status is OrderStatus.ACCEPTED and order.limit_price == D("98.50")
        books_agree(engine, broker, order)


async def test_a_lost_cancel_replace_reply_follows_the_replacement_and_a_cancel_hits_the_live_order() -> None:
    broker = VenueBroker(ResendGuarantee.expiry(WINDOW))
    broker.modify_mode = "replace"
    async with engine_for(broker) as engine:
        order = await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="99")
        old_id = order.broker_order_id
        broker.lose_modify_replies = 1
        await engine.modify_order(order, limit_price="98.50")
        assert broker.modify_calls == 1
        assert order.broker_order_id != old_id and order.limit_price == D("98.50")
        await engine.cancel_order(order)
        assert order.status is OrderStatus.CANCELED
        assert broker.working(order.client_order_id) == []  # nothing left working at the venue
        books_agree(engine, broker, order)


async def test_a_cancel_of_an_order_whose_modify_is_still_unknown_targets_the_live_order() -> None:
    broker = VenueBroker()  # no guarantee: the lost modify stays unknown while lookups fail
    broker.modify_mode = "replace"
    async with engine_for(broker, order_timeout=30) as engine:
        order = await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="99")
        broker.lose_modify_replies = 1
        broker.lookup_errors = 9  # every lookup of the modify's inline passes fails
        with pytest.raises(TransientError):
            await engine.modify_order(order, limit_price="98.50")
        assert [u.operation for u in engine.unknown_outcomes()] == ["modify"]
        await engine.cancel_order(order)  # looked up first: the replacement is the live order
        assert order.status is OrderStatus.CANCELED
        assert broker.working(order.client_order_id) == []
        books_agree(engine, broker, order)


async def test_a_modify_refused_before_sending_restores_the_order_at_once() -> None:
    broker = VenueBroker()
    async with engine_for(broker, order_timeout=30) as engine:
        order = await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="99")
        with pytest.raises(InvalidOrder):
            await engine.modify_order(order, limit_price="99")  # the adapter refuses: nothing would change
        assert order.status is OrderStatus.ACCEPTED  # not PENDING_MODIFY until order_timeout


async def test_no_guarantee_a_lost_modify_stays_unknown_until_the_broker_shows_its_terms() -> None:
    broker = VenueBroker()
    async with engine_for(broker, order_timeout=30) as engine:
        order = await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="99")
        broker.lose_modify_replies = 1
        broker.modify_mode = "amend"
        await engine.modify_order(order, limit_price="98.50")  # the venue shows the new terms: settled
        assert order.status is OrderStatus.ACCEPTED and order.limit_price == D("98.50")
        assert broker.modify_calls == 1


# -- restart with a pending order the venue doesn't list yet (item 3) ------------------------------------
async def _crash_with_a_held_submit(broker: VenueBroker, path: Path) -> str:
    """An engine dies with its submit held in the venue's gateway (intent journaled, no reply)."""
    broker.hold_submits = 1
    broker.hang_held = True
    journal = SqliteJournal(path, fsync=False)
    async with engine_for(broker, order_timeout=30, journal=journal) as engine:
        with anyio.move_on_after(0.1):  # "kill -9" while the request is out, before any reply
            await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="99")
        [order] = engine.oms.open_orders()
    broker.hang_held = False
    assert broker.held and order.status is OrderStatus.PENDING_SUBMIT
    return order.client_order_id


async def test_restart_inside_the_window_leaves_the_order_unknown_until_it_lands(tmp_path: Path) -> None:
    broker = VenueBroker(ResendGuarantee.expiry(WINDOW))
    path = tmp_path / "j.sqlite3"
    cid = await _crash_with_a_held_submit(broker, path)
    async with engine_for(broker, journal=SqliteJournal(path, fsync=False)) as engine:
        report = engine.reconciliation
        assert report is not None and report.never_sent == []  # the old recovery closed it at once
        assert report.unknown == [cid]
        order = engine.oms.get(cid)
        assert order is not None and order.status is OrderStatus.PENDING_SUBMIT
        assert broker.land() == 1  # it lands a moment later
        await wait_for(lambda: engine.unknown_outcomes() == [])  # the resolver's next pass finds it
        landed = engine.oms.get(cid)
        assert landed is not None and landed.status is OrderStatus.ACCEPTED
        books_agree(engine, broker, landed)


async def test_restart_after_the_window_closes_it_as_never_sent(tmp_path: Path) -> None:
    broker = VenueBroker(ResendGuarantee.expiry(WINDOW))
    path = tmp_path / "j.sqlite3"
    cid = await _crash_with_a_held_submit(broker, path)
    broker.clock.advance(10 * WINDOW)  # the venue's clock is past every stamp + window
    seen = Seen()
    async with engine_for(broker, seen, journal=SqliteJournal(path, fsync=False)) as engine:
        report = engine.reconciliation
        assert report is not None and report.never_sent == [cid]
        order = engine.oms.get(cid)
        assert order is not None and order.status is OrderStatus.REJECTED
        assert broker.land() == 0  # the held request can no longer execute
    assert seen.rejects == ["NEVER_SENT"]


async def test_restart_on_a_venue_without_guarantee_keeps_it_unknown(tmp_path: Path) -> None:
    broker = VenueBroker()
    path = tmp_path / "j.sqlite3"
    cid = await _crash_with_a_held_submit(broker, path)
    async with engine_for(broker, order_timeout=30, journal=SqliteJournal(path, fsync=False)) as engine:
        report = engine.reconciliation
        assert report is not None and report.never_sent == []  # the old recovery closed it at once
        assert report.unknown == [cid]
        assert [u.client_order_id for u in engine.unknown_outcomes()] == [cid]


async def _crash_with_a_modify_in_flight(broker: VenueBroker, path: Path) -> str:
    """An engine dies while its modify (limit 99 -> 98.50) is out, unanswered."""
    async with engine_for(broker, order_timeout=30, journal=SqliteJournal(path, fsync=False)) as engine:
        order = await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="99")
        broker.hang_modifies = True
        with anyio.move_on_after(0.1):  # "kill -9" while the modify is out
            await engine.modify_order(order, limit_price="98.50")
    broker.hang_modifies = False
    return order.client_order_id


@pytest.mark.parametrize("same_id", [True, False], ids=["same-id venue", "no guarantee"])
async def test_restart_with_a_modify_left_in_flight(tmp_path: Path, same_id: bool) -> None:
    broker = VenueBroker(ResendGuarantee.same_id() if same_id else None)
    path = tmp_path / "j.sqlite3"
    cid = await _crash_with_a_modify_in_flight(broker, path)
    async with engine_for(broker, order_timeout=30, journal=SqliteJournal(path, fsync=False)) as engine:
        report = engine.reconciliation
        restarted = engine.oms.get(cid)
        assert report is not None and restarted is not None
        if same_id:  # the journaled terms re-sent with the same id: the venue modifies, never adds
            assert restarted.status is OrderStatus.ACCEPTED and restarted.limit_price == D("98.50")
            assert broker.working(cid)[0].limit_price == D("98.50")
        else:  # a held modify may still land: not declared rejected by a guess
            assert restarted.status is OrderStatus.PENDING_MODIFY and report.unknown == [cid]


async def _journal_an_intent(path: Path, broker: VenueBroker, age: timedelta) -> str:
    """An intent journaled ``age`` ago by a process that died before its request left (no reply, no note)."""
    created = utc_now() - age
    order = Order(
        "at-stale-1",
        "BTCUSDT",
        OrderSide.BUY,
        OrderType.LIMIT,
        D("0.1"),
        limit_price=D("99"),
        broker=broker.name,
        created_at=created,
        updated_at=created,
    )
    async with SqliteJournal(path, fsync=False) as journal:
        await journal.record_intent(order)
    return order.client_order_id


@pytest.mark.parametrize("guarantee", [ResendGuarantee.idempotency_key(), ResendGuarantee.same_id()])
async def test_restart_never_resends_a_stale_intent_it_stays_unknown(
    tmp_path: Path, guarantee: ResendGuarantee
) -> None:
    broker = VenueBroker(guarantee)
    path = tmp_path / "j.sqlite3"
    cid = await _journal_an_intent(path, broker, timedelta(hours=2))  # down for two hours
    seen = Seen()
    async with engine_for(broker, seen, order_timeout=30, journal=SqliteJournal(path, fsync=False)) as engine:
        report = engine.reconciliation
        assert report is not None and report.unknown == [cid]
        assert broker.received == []  # yesterday's order is not placed at today's prices
        order = engine.oms.get(cid)
        assert order is not None and order.status is OrderStatus.PENDING_SUBMIT
        [unknown] = engine.unknown_outcomes()
        assert unknown.client_order_id == cid
        assert "resend_after_restart_max_age" in (unknown.last_error or "")
        assert any(cid in a and "stays unknown" in a for a in seen.alerts)
        await engine.control.settle_unknown(cid, as_="rejected", by="ops", reason="stale, not at the venue")
        settled = engine.oms.get(cid)  # a fresh read: mypy narrowed the status above
        assert settled is not None and settled.status is OrderStatus.REJECTED and broker.received == []


async def test_restart_resends_a_recent_intent_once_and_the_bound_is_a_setting(tmp_path: Path) -> None:
    broker = VenueBroker(ResendGuarantee.idempotency_key())
    path = tmp_path / "j.sqlite3"
    cid = await _journal_an_intent(path, broker, timedelta(seconds=5))
    async with engine_for(broker, journal=SqliteJournal(path, fsync=False)) as engine:
        order = engine.oms.get(cid)
        assert order is not None and order.status is OrderStatus.ACCEPTED
        assert broker.received == [cid] and engine.unknown_outcomes() == []
    other = VenueBroker(ResendGuarantee.idempotency_key())
    path = tmp_path / "k.sqlite3"
    cid = await _journal_an_intent(path, other, timedelta(seconds=5))
    journal = SqliteJournal(path, fsync=False)
    async with engine_for(other, journal=journal, resend_after_restart_max_age=1) as engine:
        assert other.received == [] and [u.client_order_id for u in engine.unknown_outcomes()] == [cid]


async def test_restart_never_resends_a_modify_older_than_the_bound(tmp_path: Path) -> None:
    broker = VenueBroker(ResendGuarantee.same_id())
    path = tmp_path / "j.sqlite3"
    cid = await _crash_with_a_modify_in_flight(broker, path)
    await anyio.sleep(0.05)  # longer ago than the bound below
    journal = SqliteJournal(path, fsync=False)
    async with engine_for(
        broker, order_timeout=30, journal=journal, resend_after_restart_max_age=0.01
    ) as engine:
        report = engine.reconciliation
        restarted = engine.oms.get(cid)
        assert report is not None and restarted is not None and report.unknown == [cid]
        assert restarted.status is OrderStatus.PENDING_MODIFY
        assert broker.working(cid)[0].limit_price == D("99")  # the old terms: nothing re-sent


# -- kill switch (item 6) --------------------------------------------------------------------------
async def test_kill_switch_with_an_unknown_order_and_a_hung_cancel_keeps_its_deadline() -> None:
    broker = VenueBroker()
    async with engine_for(broker, order_timeout=30, kill_switch_timeout=0.3) as engine:
        working = await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="99")
        broker.hold_submits = 1
        with pytest.raises(TransientError):
            await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="98")
        [unknown] = engine.unknown_outcomes()
        broker.hang_cancels = True
        with anyio.fail_after(3):
            report = await engine.kill("test")
    assert report.timed_out and not report.clean
    assert report.unknown == [unknown.client_order_id]  # looked up, not canceled blindly
    assert report.elapsed < 2
    assert working.client_order_id not in report.unknown
    assert engine.gate.state.value == "halted" and not engine.running


# -- an operator settles one by hand (audited) -------------------------------------------------------
async def test_an_operator_settles_an_unknown_order_audited() -> None:
    seen = Seen()
    broker = VenueBroker()
    broker.hold_submits = 1
    async with engine_for(broker, seen, order_timeout=30) as engine:
        order = await submit_held(engine, broker)
        cid = order.client_order_id
        assert engine.control.is_outcome_unknown(cid) is True
        with pytest.raises(InvalidOrder, match="reason"):
            await engine.control.settle_unknown(cid, as_="rejected", by="ops")
        with pytest.raises(InvalidOrder, match="never invented"):
            await engine.control.settle_unknown(cid, as_="filled", by="ops", reason="I think it filled")
        await engine.control.settle_unknown(
            cid, as_="rejected", by="ops", reason="not in the venue's history"
        )
        assert order.status is OrderStatus.REJECTED
        assert engine.unknown_outcomes() == []
        assert engine.control.is_outcome_unknown(cid) is False
        with pytest.raises(InvalidOrder, match="not unknown"):
            await engine.control.settle_unknown(cid, as_="canceled", by="ops", reason="again")
    # Each attempt is audited as what it was: a refusal is never recorded as a decision taken.
    assert seen.actions == ["settle_unknown"] * 4
    assert [(a["as_"], a["outcome"]) for a in seen.audits] == [
        ("rejected", "refused"),
        ("filled", "refused"),
        ("rejected", "settled"),
        ("canceled", "refused"),
    ]
    assert "never invented" in seen.audits[1]["error"] and "not unknown" in seen.audits[3]["error"]
    assert seen.rejects == ["OPERATOR"]
    assert [r.how for r in seen.resolved] == ["rejected, settled by ops: not in the venue's history"]


# -- the journal knows; the stream settles ----------------------------------------------------------
async def test_restart_uses_the_stamp_journaled_when_the_outcome_became_unknown(tmp_path: Path) -> None:
    broker = VenueBroker()  # no guarantee while the first engine runs: the order stays unknown
    path = tmp_path / "j.sqlite3"
    broker.hold_submits = 1
    async with engine_for(broker, order_timeout=30, journal=SqliteJournal(path, fsync=False)) as engine:
        order = await submit_held(engine, broker)
    await anyio.sleep(WINDOW + 0.05)  # longer ago than the window, by the venue's clock too
    broker.resend_guarantee = ResendGuarantee.expiry(WINDOW)
    async with engine_for(broker, journal=SqliteJournal(path, fsync=False)) as engine:
        report = engine.reconciliation
        # The journaled stamp proves the request expired: no second window to wait after the restart.
        assert report is not None and report.never_sent == [order.client_order_id]
    assert broker.land() == 0


async def test_the_stream_settling_an_unknown_order_resolves_it() -> None:
    seen = Seen()
    broker = VenueBroker()
    broker.hold_submits = 1
    async with engine_for(broker, seen, order_timeout=30) as engine:
        order = await submit_held(engine, broker)
        broker.land()
        broker.push(OrderAccepted(order.client_order_id, broker.latest[order.client_order_id]))
        await wait_for(lambda: engine.unknown_outcomes() == [])
        assert order.status is OrderStatus.ACCEPTED
    assert [r.how for r in seen.resolved] == ["settled by the broker's events (accepted)"]


def test_outcome_notes_round_trip_through_the_journal_codec() -> None:
    from autotrader_core.events import OutcomeResolved, OutcomeUnknown
    from autotrader_core.journal import codec

    unknown = OutcomeUnknown("at1", "modify", "read timeout", utc_now(), ("B1", "B2"))
    resolved = OutcomeResolved("at1", "modify", "found at the broker (accepted, id B2)")
    for note in (unknown, resolved):
        assert codec.decode_outcome(codec.loads(codec.dumps(codec.encode_outcome(note)))) == note
    with pytest.raises(codec.CorruptJournal):
        codec.decode_outcome(
            {"type": "Nope", "client_order_id": "x", "operation": "submit", "timestamp": "?"}
        )
