"""Sequences real TWS sends that the first composed transcripts never did (issue 15, IBKR part).

Each transcript here is composed (no paper account is reachable from CI) from the public report
named in its ``provenance``; each test failed before the fix it guards.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import anyio
import pytest
from autotrader_core.adapter import AdapterTelemetry
from autotrader_core.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from autotrader_core.errors import (
    BrokerProtocolError,
    ConfigurationError,
    InsufficientFunds,
    InvalidOrder,
    RequestTimeout,
)
from autotrader_core.events import OrderAccepted, OrderCanceled, OrderEvent, OrderFilled, OrderRejected
from autotrader_core.models import utc_now
from autotrader_ibkr import IbkrAdapter
from autotrader_ibkr.orders import core_status
from ibkr_fake_tws import fake_tws
from ibkr_support import Session, collect, fills, make_order, settings_for

pytestmark = pytest.mark.anyio


async def drain(adapter: IbkrAdapter, seconds: float) -> list[OrderEvent]:
    """Every stream event that arrives within ``seconds``."""
    events: list[OrderEvent] = []
    with anyio.move_on_after(seconds):
        async for event in adapter.stream_events():
            events.append(event)
    return events


async def until(condition: Callable[[], bool], seconds: float = 2.0) -> None:
    """Wait until ``condition()`` holds (fail after ``seconds``)."""
    with anyio.fail_after(seconds):
        while not condition():
            await anyio.sleep(0.01)


# 1 ------------------------------------------------------------------------------ execution times
async def test_fills_with_utc_dash_and_unreadable_times_all_reach_the_stream(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    """nautilus_trader #2359 / ib_async #230: ``20251124-14:31:05`` used to drop the fill silently."""
    before = utc_now()
    async with session("fill_time_formats") as (_tws, adapter):
        await adapter.submit_order(
            make_order("at0time01", order_type=OrderType.MARKET, limit_price=None, quantity=Decimal(30))
        )
        got = fills(await collect(adapter, 3, OrderFilled))
        assert sum(f.quantity for f in got) == Decimal(30)
        by_id = {f.trade_id: f for f in got}
        assert by_id["0000e0d5.6734a1f1.01"].timestamp == datetime(2025, 11, 24, 14, 31, 5, tzinfo=UTC)
        assert by_id["0000e0d5.6734a1f2.01"].timestamp == datetime(2025, 11, 24, 14, 31, 6, tzinfo=UTC)
        # unreadable: stamped with the receive time, and an alert says so
        assert by_id["0000e0d5.6734a1f3.01"].timestamp >= before
        assert any(
            "24.11.2025 14:31:07" in r.getMessage() and r.levelno >= logging.ERROR for r in caplog.records
        )


async def test_an_unreadable_execution_costs_only_itself_and_raises_an_alert(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    """Rule 11: one bad item never costs the others; a fill is never dropped without an alert."""
    reported: list[tuple[str, bool]] = []

    class Telemetry(AdapterTelemetry):
        def bad_item(self, what: str, error: BrokerProtocolError, *, may_hold_fill: bool = False) -> None:
            reported.append((what, may_hold_fill))

    async with session("bad_execution_between_fills") as (_tws, adapter):
        adapter.telemetry = Telemetry()
        market = make_order("at0bad01", order_type=OrderType.MARKET, limit_price=None, quantity=Decimal(30))
        await adapter.submit_order(market)
        got = fills(await drain(adapter, 0.4))
        assert [f.trade_id for f in got] == ["0000e0d5.6734a301.01", "0000e0d5.6734a303.01"]
        assert any("EXECUTION" in r.getMessage() and r.levelno >= logging.ERROR for r in caplog.records)
        assert reported == [("execution", True)]


# 2 ------------------------------------------------------------------------------ warnings
async def test_warning_10349_is_not_a_rejection(session: Session) -> None:
    """ib_async #191/#217: 10349 'Order TIF was set to DAY' made submit_order raise for a live order."""
    async with session("order_warning_10349") as (_tws, adapter):
        events = await adapter.submit_order(make_order("at0warn01", time_in_force=TimeInForce.GTC))
        assert [type(e) for e in events] == [OrderAccepted]
        streamed = await collect(adapter, 1, OrderFilled)
        assert not any(isinstance(e, OrderRejected) for e in streamed)
        assert fills(streamed)[0].quantity == Decimal(10)


# 3 ------------------------------------------------------------------------------ rejections
async def test_margin_rejection_after_presubmitted_is_reported_by_submit(session: Session) -> None:
    """ib_insync #554/#80: PreSubmitted, then 201, then Inactive: submit used to return OrderAccepted."""
    async with session("reject_201") as (_tws, adapter):
        with pytest.raises(InsufficientFunds) as info:
            await adapter.submit_order(make_order("at0rej01", quantity=Decimal(1000)))
        assert info.value.code == "201"
        streamed = await drain(adapter, 0.3)
        assert [type(e) for e in streamed] == [OrderRejected]


async def test_inactive_open_order_is_not_an_acceptance(session: Session) -> None:
    """ib_insync #313: Inactive first, 201 later: the Inactive openOrder used to count as acceptance."""
    async with session("reject_inactive_first") as (_tws, adapter):
        with pytest.raises(InvalidOrder) as info:
            await adapter.submit_order(make_order("at0inact1"))
        assert "Account is closed" in (info.value.broker_message or "")
        streamed = await drain(adapter, 0.3)
        assert not any(isinstance(e, OrderAccepted) for e in streamed)
        assert [e.code for e in streamed if isinstance(e, OrderRejected)] == ["201"]


# 4 ------------------------------------------------------------------------------ corrections
async def test_execution_correction_replaces_instead_of_adding(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    """IBKR: a correction repeats the execution with only the part after the last '.' changed."""
    async with session("execution_correction") as (_tws, adapter):
        await adapter.submit_order(
            make_order("at0corr01", order_type=OrderType.MARKET, limit_price=None, quantity=Decimal(100))
        )
        streamed = fills(await drain(adapter, 0.4))
        assert sum(f.quantity for f in streamed) == Decimal(100)
        assert [f.trade_id for f in streamed] == ["0000e0d5.6734a201.01"]  # one execution, two revisions
        # the OMS keeps the first terms; the correction of the price is raised as an alert
        assert any("150.24" in r.getMessage() and r.levelno >= logging.ERROR for r in caplog.records)


# 5 ------------------------------------------------------------------------------ 326 on reconnect
async def test_client_id_in_use_during_reconnect_retries_with_the_same_id(session: Session) -> None:
    """ib_insync #376 / ib_async #152: 326 on reconnect used to end the stream."""
    async with session("reconnect_client_id_in_use") as (tws, adapter):
        await adapter.submit_order(make_order("at0cid01"))
        [fill] = fills(await collect(adapter, 1, OrderFilled, seconds=5))
        assert fill.quantity == Decimal(10)
        assert tws.connections == 3
        assert {r.named["clientId"] for r in tws.requests("startApi")} == {"1"}


async def test_client_id_in_use_at_first_connect_is_a_configuration_error_after_retries() -> None:
    async with fake_tws("client_id_in_use") as tws:
        adapter = IbkrAdapter(settings_for(tws, connect_timeout=0.5))
        with pytest.raises(ConfigurationError) as info:
            await adapter.connect()
        assert info.value.code == "326"
        assert tws.connections > 1  # retried, with the same client id
        assert {r.named["clientId"] for r in tws.requests("startApi")} == {"1"}
        await adapter.disconnect()


# 6 ------------------------------------------------------------------------------ server version
async def test_server_version_outside_the_proven_range_is_refused_at_connect() -> None:
    async with fake_tws("server_version_163") as tws:
        adapter = IbkrAdapter(settings_for(tws, connect_timeout=1.0))
        with pytest.raises(ConfigurationError) as info:
            await adapter.connect()
        assert "163" in str(info.value) and "178" in str(info.value)
        assert not adapter.is_connected
        await adapter.disconnect()


# 7 ------------------------------------------------------------------------------ Inactive, 1100
async def test_locate_hold_is_not_a_rejection_and_an_unanswered_cancel_is_looked_up(session: Session) -> None:
    """404 + Inactive/whyHeld=locate is a hold (ib_insync #328); its cancel may get no reply (#363)."""
    async with session("locate_hold_cancel_no_reply", order_ack_timeout=0.3) as (tws, adapter):
        order = make_order("at0short1", side=OrderSide.SELL, quantity=Decimal(100))
        events = await adapter.submit_order(order)
        assert [type(e) for e in events] == [OrderAccepted]
        assert not any(isinstance(e, OrderRejected) for e in await drain(adapter, 0.2))
        with anyio.fail_after(3):
            canceled = await adapter.cancel_order(order)
        assert [type(e) for e in canceled] == [OrderCanceled]  # found Cancelled in completed orders
        assert tws.script_finished


async def test_an_unanswered_cancel_the_lookup_cannot_settle_stays_unknown(session: Session) -> None:
    async with session("cancel_no_reply_still_listed", order_ack_timeout=0.3) as (tws, adapter):
        order = make_order("at0silent1")
        await adapter.submit_order(order)
        with anyio.fail_after(3), pytest.raises(RequestTimeout) as info:
            await adapter.cancel_order(order)
        assert "still listed open" in str(info.value)
        assert tws.script_finished


def test_inactive_is_a_rejection_unless_shares_are_being_located() -> None:
    """IBKR: Inactive can mean 'held while shares are located' (whyHeld=locate, nautilus_trader #3603)."""
    assert core_status("Inactive", "locate") is OrderStatus.ACCEPTED
    assert core_status("Inactive") is OrderStatus.REJECTED


async def test_connectivity_lost_1100_marks_the_session_disconnected(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    async with session("connectivity_lost") as (_tws, adapter):

        async def consume() -> None:
            async for _ in adapter.stream_events():
                pass

        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await until(lambda: not adapter.is_connected)  # 1100: TWS has no link to IBKR
            assert any("1100" in r.getMessage() and r.levelno >= logging.ERROR for r in caplog.records)
            await until(lambda: adapter.is_connected)  # 1102: restored
            tg.cancel_scope.cancel()
