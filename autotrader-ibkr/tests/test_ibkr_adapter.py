"""The adapter against the fake TWS: order flows, fills, errors, reconnects."""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest
from autotrader_core.adapter import OrderChange
from autotrader_core.enums import AssetClass, Liquidity, OrderSide, OrderStatus, OrderType, TimeInForce
from autotrader_core.errors import InsufficientFunds, OrderNotFound
from autotrader_core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderModified,
    OrderModifyRejected,
    OrderRejected,
)
from autotrader_ibkr import IbkrAdapter, IbkrSettings
from ibkr_support import Session, collect, fills, make_order

pytestmark = pytest.mark.anyio


async def test_connect_reads_account_positions_and_balances(session: Session) -> None:
    async with session("connect") as (tws, adapter):
        assert adapter.is_connected
        aapl, es = await adapter.get_positions()
        assert aapl.symbol == "AAPL"
        assert aapl.quantity == Decimal("100")
        assert aapl.average_price == Decimal("150.2512")  # Decimal straight from the wire text
        assert (es.symbol, es.quantity) == ("FUT:ES:20251219:CME", Decimal(-2))  # short, signed
        assert es.average_price == Decimal("5926.25")  # TWS's avgCost is per contract: / multiplier 50
        balances = {b.asset: b for b in await adapter.get_balances()}
        assert balances["USD"].total == Decimal("84979.12")
        assert balances["USD"].available == Decimal("84979.12")  # capped at cash (AvailableFunds is higher)
        assert balances["EUR"].total == Decimal("1250.50")
        assert tws.unexpected == []
    assert not adapter.is_connected


async def test_contracts_are_qualified_once_and_give_instrument_rules(session: Session) -> None:
    async with session("connect") as (tws, adapter):
        aapl = await adapter.get_instrument("AAPL")
        fx = await adapter.get_instrument("EUR.USD")
        es = await adapter.get_instrument("FUT:ES:202512:CME")
        opt = await adapter.get_instrument("OPT:AAPL:20251219:200:C")
        await adapter.get_instrument("AAPL")
        assert len(tws.requests("reqContractDetails")) == 4  # cached after the first lookup
        assert (aapl.asset_class, aapl.tick_size) == (AssetClass.EQUITY, Decimal("0.01"))
        assert (aapl.lot_size, aapl.min_quantity) == (Decimal("0.0001"), Decimal("0.0001"))
        assert (fx.asset_class, fx.base, fx.quote, fx.tick_size) == (
            AssetClass.FX,
            "EUR",
            "USD",
            Decimal("0.00005"),
        )
        assert fx.lot_size == Decimal("0.01")
        assert (es.asset_class, es.tick_size, es.multiplier) == (
            AssetClass.FUTURE,
            Decimal("0.25"),
            Decimal(50),
        )
        assert (opt.asset_class, opt.multiplier) == (AssetClass.OPTION, Decimal(100))
        assert [i.symbol for i in await adapter.get_instruments()] == [
            "AAPL",
            "EUR.USD",
            "FUT:ES:202512:CME",
            "OPT:AAPL:20251219:200:C",
        ]
        sent = tws.requests("reqContractDetails")[1].named
        assert (sent["symbol"], sent["secType"], sent["currency"], sent["exchange"]) == (
            "EUR",
            "CASH",
            "USD",
            "IDEALPRO",
        )


async def test_limit_order_is_placed_with_orderref_and_canceled(session: Session) -> None:
    async with session("limit_place_cancel") as (tws, adapter):
        order = make_order("at0limit01")
        events = await adapter.submit_order(order)
        [accepted] = events
        assert isinstance(accepted, OrderAccepted)
        assert accepted.client_order_id == "at0limit01"
        [placed] = tws.requests("placeOrder")
        sent = placed.named
        assert sent["orderRef"] == "at0limit01"
        assert (sent["action"], sent["totalQuantity"], sent["orderType"], sent["lmtPrice"], sent["tif"]) == (
            "BUY",
            "10",
            "LMT",
            "150.25",
            "DAY",
        )
        assert sent["account"] == "DU1234567"
        order.broker_order_id = accepted.broker_order_id
        [open_report] = await adapter.get_open_orders()
        assert (open_report.client_order_id, open_report.status) == ("at0limit01", OrderStatus.ACCEPTED)
        assert open_report.limit_price == Decimal("150.25")
        canceled = await adapter.cancel_order(order)
        assert [type(e) for e in canceled] == [OrderCanceled]
        streamed = await collect(adapter, 1, OrderCanceled)
        assert [type(e) for e in streamed] == [OrderAccepted, OrderCanceled]
        assert tws.script_finished
        assert tws.unexpected == []


async def test_market_order_partial_fills_arrive_once_each_with_commission(session: Session) -> None:
    async with session("market_partial_fills") as (tws, adapter):
        order = make_order("at0mkt01", order_type=OrderType.MARKET, limit_price=None, quantity=Decimal(100))
        await adapter.submit_order(order)
        events = await collect(adapter, 2, OrderFilled)
        got = fills(events)
        assert [(f.trade_id, f.quantity, f.price, f.fee, f.fee_currency) for f in got] == [
            ("0000e0d5.6734a1b2.01", Decimal(60), Decimal("150.25"), Decimal("1.0"), "USD"),
            ("0000e0d5.6734a1b3.01", Decimal(40), Decimal("150.26"), Decimal("0.4"), "USD"),
        ]
        assert all(f.client_order_id == "at0mkt01" and f.symbol == "AAPL" for f in got)
        assert all(f.side is OrderSide.BUY and f.liquidity is Liquidity.TAKER for f in got)
        assert got[0].timestamp.isoformat() == "2025-11-24T14:31:05+00:00"
        sent = tws.requests("placeOrder")[0].named
        assert (sent["orderType"], sent["lmtPrice"], sent["totalQuantity"]) == ("MKT", "", "100")


async def test_commission_before_execution_still_gives_one_fill_with_fee(session: Session) -> None:
    async with session("fx_commission_first") as (_tws, adapter):
        order = make_order(
            "at0fx01",
            symbol="EUR.USD",
            side=OrderSide.SELL,
            order_type=OrderType.MARKET,
            limit_price=None,
            quantity=Decimal(20000),
        )
        await adapter.submit_order(order)
        [fill] = fills(await collect(adapter, 1, OrderFilled))
        assert (fill.symbol, fill.side, fill.quantity, fill.price) == (
            "EUR.USD",
            OrderSide.SELL,
            Decimal(20000),
            Decimal("1.08465"),
        )
        assert (fill.fee, fill.fee_currency) == (Decimal("2.0"), "USD")


async def test_rejection_201_raises_and_streams_order_rejected(session: Session) -> None:
    async with session("reject_201") as (_tws, adapter):
        with pytest.raises(InsufficientFunds) as info:
            await adapter.submit_order(make_order("at0rej01"))
        assert info.value.code == "201"
        assert "EQUITY WITH LOAN" in (info.value.broker_message or "")
        [event] = await collect(adapter, 1, OrderRejected)
        assert isinstance(event, OrderRejected)
        assert event.client_order_id == "at0rej01"
        assert event.code == "201"


async def test_native_modify_replaces_with_the_same_order_id(session: Session) -> None:
    async with session("modify_then_cancel") as (tws, adapter):
        order = make_order("at0mod01")
        await adapter.submit_order(order)
        result = await adapter.modify_order(
            order, OrderChange(quantity=Decimal(12), limit_price=Decimal("150.5"))
        )
        assert [type(e) for e in result] == [OrderModified]
        modified = result[0]
        assert isinstance(modified, OrderModified)
        assert (modified.quantity, modified.limit_price) == (Decimal(12), Decimal("150.5"))
        first, second = tws.requests("placeOrder")
        assert first.named["orderId"] == second.named["orderId"]  # native modify, not cancel/replace
        assert (second.named["lmtPrice"], second.named["totalQuantity"]) == ("150.5", "12")
        assert [type(e) for e in await adapter.cancel_order(order)] == [OrderCanceled]
        assert tws.script_finished


async def test_cancel_of_an_order_tws_does_not_know_raises_order_not_found(session: Session) -> None:
    async with session("cancel_unknown") as (tws, adapter):
        order = make_order("at0ghost1", broker_order_id="999")
        with pytest.raises(OrderNotFound) as info:
            await adapter.cancel_order(order)
        assert info.value.code == "10147"
        assert tws.requests("cancelOrder")[0].named["orderId"] == "999"


async def test_fills_across_a_dropped_connection_reach_the_stream_exactly_once(session: Session) -> None:
    async with session("reconnect_mid_fill") as (tws, adapter):
        order = make_order("at0drop01", order_type=OrderType.MARKET, limit_price=None, quantity=Decimal(100))
        await adapter.submit_order(order)
        events = await collect(adapter, 3, OrderFilled, seconds=5.0)
        with anyio.move_on_after(0.3):  # nothing more must come: no duplicate fills
            async for event in adapter.stream_events():
                events.append(event)
        got = fills(events)
        assert [f.trade_id for f in got] == [
            "0000e0d5.6734a1b2.01",
            "0000e0d5.6734a1b3.01",
            "0000e0d5.6734a1c9.01",
        ]
        assert sum(f.quantity for f in got) == Decimal(100)
        assert [f.fee for f in got] == [Decimal("1.0"), Decimal("0.3"), Decimal("0.1")]
        assert tws.connections == 2
        assert tws.script_finished


async def test_connectivity_restored_triggers_a_resync(session: Session) -> None:
    async with session("connectivity_restored") as (tws, adapter):

        async def consume() -> None:
            async for _ in adapter.stream_events():
                pass

        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            with anyio.fail_after(3):
                while len(tws.requests("reqExecutions")) < 2:
                    await anyio.sleep(0.01)
            await anyio.sleep(0.05)  # nothing more should be asked
            tg.cancel_scope.cancel()
        # once by ib_async's startup sync, once more by the adapter after 1102
        assert len(tws.requests("reqExecutions")) == 2
        assert len(tws.requests("reqOpenOrders")) == 2
        assert adapter.is_connected


async def test_restart_finds_orders_and_fills_by_client_order_id(session: Session) -> None:
    async with session("restart_open_order") as (tws, adapter):
        report = await adapter.get_order(symbol="AAPL", client_order_id="at0gtc01")
        assert (report.broker_order_id, report.status, report.quantity) == (
            "7",
            OrderStatus.ACCEPTED,
            Decimal(10),
        )
        assert (report.limit_price, report.time_in_force) == (Decimal("149.5"), TimeInForce.GTC)
        [fill] = await adapter.get_fills()
        assert (fill.client_order_id, fill.quantity, fill.price, fill.fee) == (
            "at0mkt00",
            Decimal(25),
            Decimal("150.11"),
            Decimal("1.0"),
        )
        assert fill.liquidity is Liquidity.MAKER
        order = make_order("at0gtc01", limit_price=Decimal("149.5"), time_in_force=TimeInForce.GTC)
        assert [type(e) for e in await adapter.cancel_order(order)] == [OrderCanceled]
        assert tws.requests("cancelOrder")[0].named["orderId"] == "7"
        with pytest.raises(OrderNotFound):
            await adapter.get_order(symbol="AAPL", client_order_id="at0never1")


async def test_fill_without_commission_is_released_after_the_timeout(session: Session) -> None:
    async with session("commission_missing", commission_timeout=0.2) as (_tws, adapter):
        order = make_order("at0nofee1", order_type=OrderType.MARKET, limit_price=None, quantity=Decimal(5))
        await adapter.submit_order(order)
        [fill] = fills(await collect(adapter, 1, OrderFilled))
        assert (fill.trade_id, fill.quantity, fill.price, fill.fee) == (
            "0000e0d5.6734a1d4.01",
            Decimal(5),
            Decimal("150.4"),
            Decimal(0),
        )


async def test_stream_into_the_oms_gives_the_right_position_after_a_reconnect(session: Session) -> None:
    from autotrader_core.oms import OrderManager

    oms = OrderManager()
    async with session("reconnect_mid_fill") as (_tws, adapter):
        order = oms.add(
            make_order("at0drop01", order_type=OrderType.MARKET, limit_price=None, quantity=Decimal(100))
        )
        for event in await adapter.submit_order(order):
            oms.apply(event)
        events = await collect(adapter, 3, OrderFilled, seconds=5.0)
        for event in events:
            oms.apply(event)
        # A reconnect replays everything once more: the OMS must not move.
        for event in events:
            oms.apply(event)
    assert order.status is OrderStatus.FILLED
    assert order.filled_quantity == Decimal(100)
    assert order.fees == Decimal("1.4")
    assert oms.position("AAPL").quantity == Decimal(100)


def test_connect_without_an_asyncio_loop_is_a_configuration_error() -> None:
    """Under trio (or no loop at all) there is no asyncio loop for ib_async: refuse clearly."""
    from autotrader_core.errors import ConfigurationError

    coro = IbkrAdapter(IbkrSettings(port=14002)).connect()
    with pytest.raises(ConfigurationError):
        coro.send(None)
    coro.close()


async def test_client_id_in_use_is_a_configuration_error() -> None:
    from autotrader_core.errors import ConfigurationError
    from ibkr_fake_tws import fake_tws
    from ibkr_support import settings_for

    async with fake_tws("client_id_in_use") as tws:
        adapter = IbkrAdapter(settings_for(tws, connect_timeout=0.5))
        with pytest.raises(ConfigurationError) as info:
            await adapter.connect()
        assert info.value.code == "326"
        assert not adapter.is_connected
        await adapter.disconnect()


async def test_nothing_listening_is_broker_unavailable() -> None:
    from autotrader_core.errors import BrokerUnavailable

    with anyio.fail_after(5):
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        await listener.aclose()  # the port is now closed: connection refused
        adapter = IbkrAdapter(IbkrSettings(port=port, connect_timeout=1))
        with pytest.raises(BrokerUnavailable):
            await adapter.connect()


async def test_refused_modify_keeps_the_order_working(session: Session) -> None:
    async with session("modify_rejected") as (tws, adapter):
        order = make_order("at0modrej")
        await adapter.submit_order(order)
        result = await adapter.modify_order(order, OrderChange(limit_price=Decimal("150.257")))
        [refused] = result
        assert isinstance(refused, OrderModifyRejected)
        assert "minimum price variation" in refused.reason
        streamed = await collect(adapter, 1, OrderAccepted)
        with anyio.move_on_after(0.2):
            async for event in adapter.stream_events():
                streamed.append(event)
        assert not any(isinstance(e, OrderRejected | OrderCanceled) for e in streamed)
        assert tws.script_finished


async def test_stop_limit_order_carries_exact_stop_and_limit(session: Session) -> None:
    async with session("stop_limit") as (tws, adapter):
        order = make_order(
            "at0stp01",
            side=OrderSide.SELL,
            order_type=OrderType.STOP_LIMIT,
            limit_price=Decimal("147.50"),
            stop_price=Decimal("148.00"),
            time_in_force=TimeInForce.GTC,
        )
        assert [type(e) for e in await adapter.submit_order(order)] == [OrderAccepted]
        sent = tws.requests("placeOrder")[0].named
        assert (sent["orderType"], sent["lmtPrice"], sent["auxPrice"], sent["tif"]) == (
            "STP LMT",
            "147.5",
            "148",
            "GTC",
        )
        [report] = await adapter.get_open_orders("AAPL")
        assert (report.order_type, report.limit_price, report.stop_price) == (
            OrderType.STOP_LIMIT,
            Decimal("147.5"),
            Decimal("148"),
        )
        assert report.side is OrderSide.SELL


async def test_lost_acknowledgement_is_a_timeout_then_found_by_lookup_without_resend(
    session: Session,
) -> None:
    from autotrader_core.resiliency import RetryPolicy, submit_with_lookup

    async with session("submit_no_ack", order_ack_timeout=0.3) as (tws, adapter):
        order = make_order("at0lost01")
        policy = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, jitter=0.0)
        outcome = await submit_with_lookup(adapter, order, policy)
        assert outcome.report is not None
        assert (outcome.report.client_order_id, outcome.report.status) == ("at0lost01", OrderStatus.ACCEPTED)
        assert len(tws.requests("placeOrder")) == 1  # found by orderRef: never sent twice
        assert tws.script_finished
        assert tws.unexpected == []


async def test_get_fills_filters_by_symbol_and_time(session: Session) -> None:
    from datetime import UTC, datetime

    async with session("restart_open_order") as (tws, adapter):
        assert [f.trade_id for f in await adapter.get_fills(symbol="AAPL")] == ["0000e0d5.6734a0f1.01"]
        assert await adapter.get_fills(symbol="EUR.USD") == []
        # the fill was at 09:30:12 New York = 14:30:12 UTC
        assert len(await adapter.get_fills(since=datetime(2025, 11, 24, 14, 30, tzinfo=UTC))) == 1
        assert await adapter.get_fills(since=datetime(2025, 11, 24, 14, 31)) == []  # naive = UTC
        assert tws.requests("reqExecutions")[-1].named["time"] == ""


async def test_resend_after_a_lost_acknowledgement_reuses_the_same_order_id(session: Session) -> None:
    """The declared SAME_ID guarantee holds only if a re-send carries the first orderId, not a fresh one."""
    from autotrader_core.errors import RequestTimeout
    from autotrader_core.resend import ResendRule

    async with session("resend_same_id", order_ack_timeout=0.3) as (tws, adapter):
        assert adapter.resend_guarantee.rule is ResendRule.SAME_ID
        assert "placeOrder" in adapter.resend_guarantee.source
        order = make_order("at0again1")
        with pytest.raises(RequestTimeout):
            await adapter.submit_order(order)
        [accepted] = await adapter.submit_order(order)
        assert isinstance(accepted, OrderAccepted)
        first, second = tws.requests("placeOrder")
        assert first.named["orderId"] == second.named["orderId"]  # never a fresh getReqId
        assert accepted.broker_order_id == first.named["orderId"]
        assert tws.script_finished
        assert tws.unexpected == []
