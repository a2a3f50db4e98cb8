"""Recovery: replay the journal into a fresh OMS, then reconcile with the broker."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from autotrader_core.engine import ExecutionEngine
from autotrader_core.enums import OrderSide, OrderStatus, OrderType, TradingState
from autotrader_core.errors import BrokerUnavailable, RiskRejected, TransientError
from autotrader_core.ids import ClientOrderIdGenerator
from autotrader_core.journal import SqliteJournal
from autotrader_core.models import Order, OrderReport
from autotrader_core.recovery import NEVER_SENT_REASON
from autotrader_core.resiliency import RetryPolicy

from .fakes import FakeBroker
from .reads import status
from .venue import declare_expiry

pytestmark = pytest.mark.anyio

NO_RETRY = RetryPolicy(max_attempts=1, base_delay=0.0, max_delay=0.0, jitter=0.0)


def engine_for(broker: FakeBroker, path: Path, **kw: Any) -> ExecutionEngine:
    return ExecutionEngine(broker, journal=SqliteJournal(path, fsync=False), retry_policy=NO_RETRY, **kw)


def books(engine: ExecutionEngine) -> dict[str, Any]:
    """What must survive a restart: every order's state, fills, positions and PnL."""
    return {
        "orders": sorted(
            (
                o.client_order_id,
                o.status,
                o.filled_quantity,
                o.average_fill_price,
                o.fees,
                o.broker_order_id,
                o.quantity,
                o.limit_price,
            )
            for o in engine.oms
        ),
        "fills": sorted(f.trade_id for o in engine.oms for f in engine.oms.fills_for(o.client_order_id)),
        "positions": {
            s: (p.quantity, p.average_price, p.realized_pnl, p.fees_paid)
            for s, p in engine.oms.positions().items()
        },
    }


def report_for(order: Order, status: OrderStatus, filled: str = "0") -> OrderReport:
    return OrderReport(
        order.client_order_id,
        f"B-{order.client_order_id}",
        order.symbol,
        order.side,
        order.order_type,
        order.quantity,
        status,
        D(filled),
        limit_price=order.limit_price,
    )


async def test_replay_rebuilds_orders_fills_positions_and_pnl(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    async with engine_for(broker, path) as engine:
        await engine.submit_order("BTCUSDT", "buy", D("0.3"))
        broker.price = D("110")
        await engine.submit_order("BTCUSDT", "sell", D("0.1"))
        resting = await engine.submit_order("BTCUSDT", "buy", D("0.2"), order_type="limit", limit_price="90")
        await engine.cancel_order(resting)
        await engine.submit_order("BTCUSDT", "buy", D("0.5"), order_type="limit", limit_price="95")
        before = books(engine)
    assert before["positions"]["BTCUSDT"][0] == D("0.2")
    async with engine_for(broker, path) as engine:
        assert books(engine) == before
        report = engine.reconciliation
        assert report is not None and report.clean and report.fills_applied == []
        assert report.replay.intents == 4 and report.open_after_replay == 1
        assert engine.risk.trading_state is TradingState.ACTIVE


async def test_fills_the_journal_missed_are_applied_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    async with engine_for(broker, path) as engine:
        resting = await engine.submit_order("BTCUSDT", "buy", D("0.2"), order_type="limit", limit_price="99")
    # While the engine is down the order fills in two trades.
    broker.make_fill(resting, D("0.05"), D("99"))
    broker.make_fill(resting, D("0.15"), D("99"))
    broker.book[resting.client_order_id] = report_for(resting, OrderStatus.FILLED, "0.2")
    async with engine_for(broker, path) as engine:
        report = engine.reconciliation
        assert report is not None and report.clean
        assert report.fills_applied == ["T1", "T2"]
        order = engine.oms.get(resting.client_order_id)
        assert order is not None and order.status is OrderStatus.FILLED and order.filled_quantity == D("0.2")
        assert engine.oms.position("BTCUSDT").quantity == D("0.2")
        after_first = books(engine)
    async with engine_for(broker, path) as engine:  # a second restart changes nothing
        assert engine.reconciliation is not None and engine.reconciliation.fills_applied == []
        assert books(engine) == after_first
        assert engine.oms.metrics.fills_total == 2


async def test_sent_but_unacknowledged_order_is_settled_by_query(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    broker.lose_reply = True
    broker.fail_submit = [BrokerUnavailable("reply lost")]
    real_get_order = broker.get_order

    async def down(**_: Any) -> OrderReport:
        raise BrokerUnavailable("lookups failing too")

    broker.get_order = down  # type: ignore[method-assign]
    async with engine_for(broker, path) as engine:
        with pytest.raises(TransientError):
            await engine.submit_order("BTCUSDT", "buy", D("0.2"), order_type="limit", limit_price="99")
        (cid,) = broker.received
        assert engine.oms.get(cid).status is OrderStatus.PENDING_SUBMIT  # type: ignore[union-attr]
    broker.get_order = real_get_order  # type: ignore[method-assign]
    async with engine_for(broker, path) as engine:
        order = engine.oms.get(cid)
        assert (
            order is not None and order.status is OrderStatus.ACCEPTED and order.broker_order_id == f"B-{cid}"
        )
        assert engine.reconciliation is not None and cid in engine.reconciliation.settled
    assert broker.received == [cid]  # never sent twice


async def test_intent_that_never_left_is_closed_as_never_sent(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    # Issue 14: closed as never sent only once the venue's clock proves the request expired.
    declare_expiry(broker, 5.0, ahead=10.0)
    broker.fail_submit = [BrokerUnavailable("down")] * 5  # never arrives (lose_reply False)
    async with engine_for(broker, path) as engine:
        with pytest.raises(BrokerUnavailable):
            await engine.submit_order("BTCUSDT", "buy", D("0.2"))
    assert broker.received == []
    async with engine_for(broker, path) as engine:
        report = engine.reconciliation
        assert report is not None and report.clean and len(report.never_sent) == 1
        order = engine.oms.get(report.never_sent[0])
        assert (
            order is not None
            and order.status is OrderStatus.REJECTED
            and order.reject_reason == NEVER_SENT_REASON
        )
    assert broker.received == []  # recovery never re-sends by itself


async def test_our_orders_missing_from_the_journal_are_adopted_foreign_ones_listed(tmp_path: Path) -> None:
    broker = FakeBroker()
    ours = Order("atlost1", "BTCUSDT", OrderSide.SELL, OrderType.LIMIT, D("0.1"), limit_price=D("120"))
    foreign = Order("manual-7", "BTCUSDT", OrderSide.BUY, OrderType.LIMIT, D("0.1"), limit_price=D("80"))
    broker.book[ours.client_order_id] = report_for(ours, OrderStatus.PARTIALLY_FILLED, "0.04")
    broker.book[foreign.client_order_id] = report_for(foreign, OrderStatus.ACCEPTED)
    broker.make_fill(ours, D("0.04"), D("120"))
    broker.make_fill(foreign, D("0.01"), D("80"))
    async with engine_for(broker, tmp_path / "j.sqlite3") as engine:
        report = engine.reconciliation
        assert report is not None and report.clean
        assert report.adopted == ["atlost1"] and report.foreign_orders == ["manual-7"]
        adopted = engine.oms.get("atlost1")
        assert adopted is not None and adopted.status is OrderStatus.PARTIALLY_FILLED
        assert adopted.filled_quantity == D("0.04") and engine.oms.get("manual-7") is None
        assert engine.oms.position("BTCUSDT").quantity == D("-0.04")  # the foreign fill is not ours


async def test_acknowledged_order_the_broker_forgot_halts_trading_until_resumed(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    async with engine_for(broker, path) as engine:
        resting = await engine.submit_order("BTCUSDT", "buy", D("0.2"), order_type="limit", limit_price="99")
    del broker.book[resting.client_order_id]
    async with engine_for(broker, path) as engine:
        report = engine.reconciliation
        assert report is not None and not report.clean
        assert [u.client_order_id for u in report.unresolved] == [resting.client_order_id]
        assert engine.risk.trading_state is TradingState.HALTED
        sent_before = list(broker.received)
        with pytest.raises(RiskRejected, match="halted"):
            await engine.submit_order("BTCUSDT", "buy", D("0.1"))
        assert broker.received == sent_before
        engine.resume_trading()
        await engine.submit_order("BTCUSDT", "buy", D("0.1"))
        assert len(broker.received) == len(sent_before) + 1


async def test_a_failing_broker_query_is_reported_not_guessed(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    async with engine_for(broker, path) as engine:
        resting = await engine.submit_order("BTCUSDT", "buy", D("0.2"), order_type="limit", limit_price="99")
    broker.book[resting.client_order_id] = replace(
        broker.book[resting.client_order_id], status=OrderStatus.CANCELED
    )

    async def down(**_: Any) -> OrderReport:
        raise BrokerUnavailable("maintenance")

    broker.get_order = down  # type: ignore[method-assign]
    async with engine_for(broker, path) as engine:
        report = engine.reconciliation
        assert report is not None and "maintenance" in report.unresolved[0].reason
        order = engine.oms.get(resting.client_order_id)
        assert order is not None and order.status is OrderStatus.ACCEPTED  # not guessed
        assert engine.risk.trading_state is TradingState.HALTED


async def test_broker_fill_beyond_what_it_lists_is_unresolved(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    async with engine_for(broker, path) as engine:
        resting = await engine.submit_order("BTCUSDT", "buy", D("0.2"), order_type="limit", limit_price="99")
    broker.book[resting.client_order_id] = report_for(resting, OrderStatus.FILLED, "0.2")  # no fills listed
    async with engine_for(broker, path) as engine:
        report = engine.reconciliation
        assert report is not None and not report.clean
        assert "0.2 filled" in report.unresolved[0].reason
        assert engine.oms.position("BTCUSDT").quantity == 0  # fills never invented from a report


async def test_recovery_can_be_switched_off(tmp_path: Path) -> None:
    from autotrader_core.settings import EngineSettings

    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    async with engine_for(broker, path) as engine:
        await engine.submit_order("BTCUSDT", "buy", D("0.2"))
    async with engine_for(broker, path, settings=EngineSettings(recover_on_start=False)) as engine:
        assert engine.reconciliation is None and engine.oms.metrics.orders_total == 0


async def test_cancel_request_lost_in_the_crash_restores_the_working_order(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    broker = FakeBroker()
    broker.fail_cancel = [BrokerUnavailable("process died before the cancel left")]
    async with engine_for(broker, path) as engine:
        resting = await engine.submit_order("BTCUSDT", "buy", D("0.2"), order_type="limit", limit_price="99")
        with pytest.raises(BrokerUnavailable):
            await engine.cancel_order(resting)
        assert resting.status is OrderStatus.PENDING_CANCEL
    async with engine_for(broker, path) as engine:  # the broker still lists it as working
        order = engine.oms.get(resting.client_order_id)
        assert order is not None and order.status is OrderStatus.ACCEPTED
        assert engine.reconciliation is not None and engine.reconciliation.clean
        await engine.cancel_order(order)  # and it can be canceled again
        assert status(order) is OrderStatus.CANCELED


async def test_orders_placed_under_a_custom_id_prefix_are_adopted_after_a_restart(tmp_path: Path) -> None:
    # Recovery used to recognise only the default "at" prefix: with the engine's own
    # ClientOrderIdGenerator(prefix="zq"), its orders came back as "foreign" after a restart.
    broker = FakeBroker()
    async with engine_for(
        broker, tmp_path / "first.sqlite3", ids=ClientOrderIdGenerator(prefix="zq")
    ) as engine:
        resting = await engine.submit_order(
            "BTCUSDT", "sell", D("0.1"), order_type="limit", limit_price="120"
        )
    broker.make_fill(resting, D("0.04"), D("120"))
    broker.book[resting.client_order_id] = report_for(resting, OrderStatus.PARTIALLY_FILLED, "0.04")
    # The first journal is gone (a new disk, a wiped data dir): only the broker knows the order.
    async with engine_for(
        broker, tmp_path / "second.sqlite3", ids=ClientOrderIdGenerator(prefix="zq")
    ) as engine:
        report = engine.reconciliation
        assert report is not None
        assert report.foreign_orders == []
        assert report.adopted == [resting.client_order_id]
        adopted = engine.oms.get(resting.client_order_id)
        assert adopted is not None and adopted.filled_quantity == D("0.04")
        assert engine.oms.position("BTCUSDT").quantity == D("-0.04")
