"""Matching, fees, slippage, balances and positions of the synchronous simulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from autotrader_core import (
    DuplicateClientOrderId,
    InsufficientFunds,
    InvalidOrder,
    Liquidity,
    OrderAccepted,
    OrderCanceled,
    OrderChange,
    OrderExpired,
    OrderFilled,
    OrderModified,
    OrderNotFound,
    OrderRejected,
    OrderStatus,
)
from autotrader_core.events import OrderEvent
from autotrader_core.models import Fill
from autotrader_paper import Simulator
from autotrader_paper.simulator import RETIRED_IDS_FACTOR
from paper_support import FIXED_TIME, order, simulator


def fills(events: list[OrderEvent]) -> list[Fill]:
    return [e.fill for e in events if isinstance(e, OrderFilled)]


def kinds(events: list[OrderEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


def usdt(sim: Simulator) -> tuple[D, D]:
    b = sim.balance("USDT")
    return b.total, b.available


def btc(sim: Simulator) -> tuple[D, D]:
    b = sim.balance("BTC")
    return b.total, b.available


# -- market orders, slippage, fees -----------------------------------------------------------------


def test_market_buy_fills_in_the_reply_at_the_quote_with_exact_taker_fee() -> None:
    sim = simulator()
    o = order("buy", "0.01")
    events = sim.submit(o)
    assert kinds(events) == ["OrderAccepted", "OrderFilled"]
    assert isinstance(events[0], OrderAccepted)
    assert events[0].broker_order_id == "s-p1"
    (fill,) = fills(events)
    assert (fill.price, fill.quantity, fill.fee, fill.fee_currency) == (
        D("65000.00"),
        D("0.01"),
        D("0.65"),
        "USDT",
    )
    assert fill.liquidity is Liquidity.TAKER
    assert fill.trade_id == "s-t1"
    assert fill.broker == "paper"
    assert fill.client_order_id == o.client_order_id
    assert usdt(sim) == (D("99349.35"), D("99349.35"))
    assert btc(sim) == (D("1.01"), D("1.01"))
    assert sim.find(client_order_id=o.client_order_id).status is OrderStatus.FILLED


def test_slippage_moves_price_against_the_trader_and_rounds_to_the_tick_against_them() -> None:
    sim = simulator(slippage_bps=D(1), start_prices="BTCUSDT=65000.03")
    buy = fills(sim.submit(order("buy", "0.01")))[0]
    sell = fills(sim.submit(order("sell", "0.01")))[0]
    # 65000.03 x 1.0001 = 65006.530003 -> up to 65006.54 ; x 0.9999 = 64993.529997 -> down to 64993.52
    assert buy.price == D("65006.54")
    assert sell.price == D("64993.52")


def test_fee_is_exactly_notional_times_rate_in_decimal() -> None:
    sim = simulator(slippage_bps=D(1), start_prices="BTCUSDT=65000.03", taker_fee_rate=D("0.00075"))
    (fill,) = fills(sim.submit(order("buy", "0.01234")))
    assert fill.price == D("65006.54")
    assert fill.fee == D("0.01234") * D("65006.54") * D("0.00075") == D("0.601635527700")
    total, _ = usdt(sim)
    assert total == D(100000) - D("802.1807036") - D("0.601635527700")


def test_sell_receives_proceeds_minus_fee() -> None:
    sim = simulator()
    sim.submit(order("sell", "0.5"))
    assert usdt(sim) == (D("132467.50"), D("132467.50"))  # 100000 + 32500 - 32.5
    assert btc(sim) == (D("0.5"), D("0.5"))


# -- limit orders ----------------------------------------------------------------------------------


def test_resting_limit_locks_funds_then_fills_as_maker_at_its_limit() -> None:
    sim = simulator()
    o = order("buy", "0.1", kind="limit", limit="64000.00")
    assert kinds(sim.submit(o)) == ["OrderAccepted"]
    # lock = 0.1 x 64000 x (1 + 0.001 larger fee rate)
    assert usdt(sim) == (D(100000), D("93593.6"))
    assert sim.set_price("BTCUSDT", D("64010.00")) == []
    events = sim.set_price("BTCUSDT", D("63990.00"))
    (fill,) = fills(events)
    assert (fill.price, fill.liquidity, fill.fee) == (D("64000.00"), Liquidity.MAKER, D("3.2"))
    assert usdt(sim) == (D("93596.8"), D("93596.8"))  # lock fully released
    assert btc(sim) == (D("1.1"), D("1.1"))
    assert sim.open_order_count == 0


def test_marketable_limit_takes_at_the_better_of_limit_and_quote() -> None:
    sim = simulator()
    (fill,) = fills(sim.submit(order("buy", "0.01", kind="limit", limit="65100.00")))
    assert (fill.price, fill.liquidity) == (D("65000.00"), Liquidity.TAKER)
    (fill,) = fills(sim.submit(order("sell", "0.01", kind="limit", limit="64900.00")))
    assert fill.price == D("65000.00")


def test_marketable_limit_with_slippage_never_pays_beyond_its_limit() -> None:
    sim = simulator(slippage_bps=D(2))  # slipped buy price 65013.00
    assert fills(sim.submit(order("buy", "0.01", kind="limit", limit="65100.00")))[0].price == D("65013.00")
    assert fills(sim.submit(order("buy", "0.01", kind="limit", limit="65005.00")))[0].price == D("65005.00")


def test_limit_sell_rests_and_fills_when_price_rises_through_it() -> None:
    sim = simulator()
    sim.submit(order("sell", "0.2", kind="limit", limit="66000.00"))
    assert btc(sim) == (D(1), D("0.8"))
    (fill,) = fills(sim.set_price("BTCUSDT", D("66500.00")))
    assert (fill.price, fill.liquidity) == (D("66000.00"), Liquidity.MAKER)
    assert btc(sim) == (D("0.8"), D("0.8"))
    assert usdt(sim)[0] == D(100000) + D("13200") - D("6.6")


def test_cancel_releases_the_lock_and_reports_canceled() -> None:
    sim = simulator()
    o = order("buy", "0.1", kind="limit", limit="64000.00")
    sim.submit(o)
    events = sim.cancel(client_order_id=o.client_order_id)
    assert kinds(events) == ["OrderCanceled"]
    assert usdt(sim) == (D(100000), D(100000))
    assert sim.find(client_order_id=o.client_order_id).status is OrderStatus.CANCELED
    with pytest.raises(OrderNotFound):
        sim.cancel(client_order_id=o.client_order_id)
    with pytest.raises(OrderNotFound):
        sim.cancel(client_order_id="never-sent")


def test_cancel_by_broker_order_id() -> None:
    sim = simulator()
    o = order("sell", "0.1", kind="limit", limit="66000.00")
    bid = sim.submit(o)[0]
    assert isinstance(bid, OrderAccepted)
    assert bid.broker_order_id is not None
    sim.cancel(broker_order_id=bid.broker_order_id)
    assert btc(sim) == (D(1), D(1))


# -- stops -----------------------------------------------------------------------------------------


def test_stop_buy_triggers_when_price_reaches_the_stop_and_fills_as_market() -> None:
    sim = simulator(slippage_bps=D(1))
    o = order("buy", "0.01", kind="stop", stop="65500.00")
    assert kinds(sim.submit(o)) == ["OrderAccepted"]
    assert sim.set_price("BTCUSDT", D("65499.99")) == []
    (fill,) = fills(sim.set_price("BTCUSDT", D("65600.00")))
    assert (fill.price, fill.liquidity) == (D("65606.56"), Liquidity.TAKER)  # 65600 x 1.0001


def test_stop_sell_triggers_at_or_below_the_stop() -> None:
    sim = simulator()
    sim.submit(order("sell", "0.01", kind="stop", stop="64500.00"))
    assert sim.set_price("BTCUSDT", D("64500.01")) == []
    (fill,) = fills(sim.set_price("BTCUSDT", D("64500.00")))
    assert fill.price == D("64500.00")


def test_stop_limit_becomes_a_limit_that_may_rest_after_triggering() -> None:
    sim = simulator()
    o = order("sell", "0.01", kind="stop_limit", stop="64500.00", limit="64450.00")
    sim.submit(o)
    assert sim.set_price("BTCUSDT", D("64400.00")) == []  # triggered, limit 64450 not reachable
    assert sim.find(client_order_id=o.client_order_id).status is OrderStatus.ACCEPTED
    assert sim.set_price("BTCUSDT", D("64600.00")) != []  # back above the limit: maker fill
    (fill,) = sim.fills()
    assert (fill.price, fill.liquidity) == (D("64450.00"), Liquidity.MAKER)


def test_stop_limit_buy_that_triggers_into_a_marketable_limit_takes() -> None:
    sim = simulator()
    sim.submit(order("buy", "0.01", kind="stop_limit", stop="65500.00", limit="65600.00"))
    (fill,) = fills(sim.set_price("BTCUSDT", D("65550.00")))
    assert (fill.price, fill.liquidity) == (D("65550.00"), Liquidity.TAKER)


def test_stop_already_through_on_arrival_triggers_at_once() -> None:
    sim = simulator()
    events = sim.submit(order("sell", "0.01", kind="stop", stop="65100.00"))
    assert kinds(events) == ["OrderAccepted", "OrderFilled"]


# -- time in force ---------------------------------------------------------------------------------


def test_ioc_limit_that_cannot_fill_is_canceled_in_the_reply() -> None:
    sim = simulator()
    events = sim.submit(order("buy", "0.1", kind="limit", limit="64000.00", tif="ioc"))
    assert kinds(events) == ["OrderAccepted", "OrderCanceled"]
    assert usdt(sim) == (D(100000), D(100000))


def test_ioc_fills_what_it_can_and_cancels_the_rest() -> None:
    sim = simulator(partial_fill_threshold=D("0.05"))
    o = order("buy", "0.12", tif="ioc")
    events = sim.submit(o)
    assert kinds(events) == ["OrderAccepted", "OrderFilled", "OrderCanceled"]
    assert fills(events)[0].quantity == D("0.05")
    report = sim.find(client_order_id=o.client_order_id).report()
    assert (report.status, report.filled_quantity) == (OrderStatus.CANCELED, D("0.05"))
    assert usdt(sim)[0] == usdt(sim)[1]  # nothing left locked
    assert sim.advance(3) == []


def test_fok_that_cannot_fill_whole_is_canceled_without_any_fill() -> None:
    sim = simulator(partial_fill_threshold=D("0.05"))
    events = sim.submit(order("buy", "0.12", tif="fok"))
    assert kinds(events) == ["OrderAccepted", "OrderCanceled"]
    assert sim.fills() == []
    assert usdt(sim) == (D(100000), D(100000))
    events = sim.submit(order("buy", "0.1", kind="limit", limit="64000.00", tif="fok"))
    assert kinds(events) == ["OrderAccepted", "OrderCanceled"]


def test_fok_that_can_fill_whole_fills_in_one_trade() -> None:
    sim = simulator(partial_fill_threshold=D("0.05"))
    events = sim.submit(order("buy", "0.05", tif="fok"))
    assert kinds(events) == ["OrderAccepted", "OrderFilled"]


def test_day_order_expires_when_the_utc_day_changes() -> None:
    now = [FIXED_TIME]
    sim = simulator(clock=lambda: now[0])
    o = order("buy", "0.1", kind="limit", limit="64000.00", tif="day")
    sim.submit(o)
    assert sim.advance() == []
    now[0] = datetime(2026, 3, 3, 0, 0, 1, tzinfo=UTC)
    events = sim.advance()
    assert kinds(events) == ["OrderExpired"]
    assert isinstance(events[0], OrderExpired)
    assert sim.find(client_order_id=o.client_order_id).status is OrderStatus.EXPIRED
    assert usdt(sim) == (D(100000), D(100000))


# -- post-only -------------------------------------------------------------------------------------


def test_post_only_that_would_cross_is_rejected_and_creates_nothing() -> None:
    sim = simulator()
    o = order("buy", "0.01", kind="limit", limit="65000.00", post_only=True)
    with pytest.raises(InvalidOrder) as info:
        sim.submit(o)
    assert info.value.code == "POST_ONLY_WOULD_CROSS"
    with pytest.raises(OrderNotFound):
        sim.find(client_order_id=o.client_order_id)
    assert usdt(sim) == (D(100000), D(100000))


def test_post_only_that_rests_fills_as_maker() -> None:
    sim = simulator()
    sim.submit(order("buy", "0.01", kind="limit", limit="64999.99", post_only=True))
    (fill,) = fills(sim.set_price("BTCUSDT", D("64999.00")))
    assert fill.liquidity is Liquidity.MAKER


def test_post_only_needs_a_resting_limit() -> None:
    sim = simulator()
    with pytest.raises(InvalidOrder):
        sim.submit(order("buy", "0.01", post_only=True))
    with pytest.raises(InvalidOrder):
        sim.submit(order("buy", "0.01", kind="limit", limit="64000.00", tif="ioc", post_only=True))


# -- partial fills ---------------------------------------------------------------------------------


def test_large_market_order_fills_in_chunks_across_ticks_each_with_its_own_trade_id() -> None:
    sim = simulator(partial_fill_threshold=D("0.05"))
    o = order("buy", "0.12")
    first = sim.submit(o)
    assert kinds(first) == ["OrderAccepted", "OrderFilled"]
    assert sim.find(client_order_id=o.client_order_id).status is OrderStatus.PARTIALLY_FILLED
    second = sim.advance()
    third = sim.advance()
    chunks = fills(first) + fills(second) + fills(third)
    assert [f.quantity for f in chunks] == [D("0.05"), D("0.05"), D("0.02")]
    assert len({f.trade_id for f in chunks}) == 3
    assert sim.find(client_order_id=o.client_order_id).status is OrderStatus.FILLED
    assert sim.advance() == []
    assert usdt(sim)[0] == usdt(sim)[1] == D(100000) - D("7800") - D("7.8")


def test_resting_limit_above_threshold_fills_one_chunk_per_tick() -> None:
    sim = simulator(partial_fill_threshold=D("0.05"))
    o = order("buy", "0.12", kind="limit", limit="64000.00")
    sim.submit(o)
    assert [f.quantity for f in fills(sim.set_price("BTCUSDT", D("63900.00")))] == [D("0.05")]
    report = sim.find(client_order_id=o.client_order_id).report()
    assert (report.status, report.filled_quantity, report.average_fill_price) == (
        OrderStatus.PARTIALLY_FILLED,
        D("0.05"),
        D("64000.00"),
    )
    # 0.07 still locked at 64000 x 1.001
    assert usdt(sim)[1] == usdt(sim)[0] - D("0.07") * D("64000.00") * D("1.001")
    assert [f.quantity for f in fills(sim.advance(2))] == [D("0.05"), D("0.02")]
    assert usdt(sim)[0] == usdt(sim)[1]


def test_partial_buy_whose_later_chunk_costs_more_than_available_is_canceled() -> None:
    sim = simulator(partial_fill_threshold=D("0.05"), initial_balances="USDT=6506.5")
    o = order("buy", "0.1")
    assert len(fills(sim.submit(o))) == 1  # lock exactly covered 0.1 x 65000 x 1.001
    events = sim.set_price("BTCUSDT", D("70000.00"))
    assert kinds(events) == ["OrderCanceled"]
    assert isinstance(events[0], OrderCanceled)
    assert "insufficient USDT" in (events[0].reason or "")
    assert usdt(sim) == (D("3253.25"), D("3253.25"))


# -- funds -----------------------------------------------------------------------------------------


def test_buy_beyond_the_quote_balance_raises_insufficient_funds_and_creates_nothing() -> None:
    sim = simulator()
    o = order("buy", "2")
    with pytest.raises(InsufficientFunds) as info:
        sim.submit(o)
    assert "USDT" in str(info.value)
    with pytest.raises(OrderNotFound):
        sim.find(client_order_id=o.client_order_id)
    assert usdt(sim) == (D(100000), D(100000))
    # the refused id was not used up
    assert kinds(sim.submit(order("buy", "0.01", cid=o.client_order_id))) == ["OrderAccepted", "OrderFilled"]


def test_fee_estimate_counts_in_the_balance_check() -> None:
    exact = D("0.1") * D("65000.00") * D("1.001")
    ok = simulator(initial_balances=f"USDT={exact}")
    assert ok.submit(order("buy", "0.1"))
    short = simulator(initial_balances=f"USDT={exact - D('0.01')}")
    with pytest.raises(InsufficientFunds):
        short.submit(order("buy", "0.1"))


def test_sell_beyond_the_base_balance_is_refused() -> None:
    sim = simulator()
    with pytest.raises(InsufficientFunds):
        sim.submit(order("sell", "1.5"))


def test_funds_held_by_open_orders_are_not_available_to_new_ones() -> None:
    sim = simulator()
    sim.submit(order("buy", "1", kind="limit", limit="64000.00"))  # holds 64064
    with pytest.raises(InsufficientFunds):
        sim.submit(order("buy", "0.6", kind="limit", limit="64000.00"))  # needs 38438.4 of 35936
    sim.submit(order("sell", "0.7", kind="limit", limit="70000.00"))
    with pytest.raises(InsufficientFunds):
        sim.submit(order("sell", "0.4"))  # only 0.3 BTC free
    assert btc(sim) == (D(1), D("0.3"))


# -- validation and identity -----------------------------------------------------------------------


def test_duplicate_client_order_id_raises_and_creates_nothing() -> None:
    sim = simulator()
    sim.submit(order("buy", "0.1", kind="limit", limit="64000.00", cid="dup"))
    before = (sim.open_order_count, sim.balances())
    with pytest.raises(DuplicateClientOrderId):
        sim.submit(order("sell", "0.01", cid="dup"))
    assert (sim.open_order_count, sim.balances()) == before
    assert sim.fills() == []


def test_client_order_id_of_a_finished_order_stays_taken() -> None:
    sim = simulator()
    sim.submit(order("buy", "0.01", cid="once"))
    with pytest.raises(DuplicateClientOrderId):
        sim.submit(order("buy", "0.01", cid="once"))


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"symbol": "DOGEUSDT"}, "UNKNOWN_SYMBOL"),
        ({"quantity": "0.000015"}, "LOT_SIZE"),
        ({"quantity": "0.00005"}, "MIN_NOTIONAL"),
        ({"kind": "limit", "limit": "64000.001"}, "PRICE_FILTER"),
        ({"kind": "limit"}, None),
        ({"kind": "stop"}, None),
        ({"kind": "stop_limit", "stop": "64000.00"}, None),
        ({"limit": "64000.00"}, None),
        ({"quantity": "-1"}, None),
    ],
)
def test_malformed_orders_are_invalid(kwargs: dict[str, str], code: str | None) -> None:
    sim = simulator()
    with pytest.raises(InvalidOrder) as info:
        sim.submit(order(**kwargs))  # type: ignore[arg-type]
    if code is not None:
        assert info.value.code == code
    assert sim.open_order_count == 0


def test_reduce_only_must_shrink_the_position() -> None:
    sim = simulator()
    with pytest.raises(InvalidOrder):
        sim.submit(order("sell", "0.01", reduce_only=True))
    sim.submit(order("buy", "0.02"))
    with pytest.raises(InvalidOrder):
        sim.submit(order("buy", "0.01", reduce_only=True))
    with pytest.raises(InvalidOrder):
        sim.submit(order("sell", "0.03", reduce_only=True))
    assert fills(sim.submit(order("sell", "0.02", reduce_only=True)))


# -- modify ----------------------------------------------------------------------------------------


def test_native_modify_changes_price_and_quantity_in_place_and_relocks() -> None:
    sim = simulator()
    o = order("buy", "0.1", kind="limit", limit="64000.00")
    sim.submit(o)
    events = sim.modify(OrderChange(limit_price=D("64100.00")), client_order_id=o.client_order_id)
    assert events == [
        OrderModified(o.client_order_id, D("0.1"), D("64100.00"), None, "s-p1", FIXED_TIME),
    ]
    assert usdt(sim)[1] == D(100000) - D("6416.41")
    sim.modify(OrderChange(quantity=D("0.2")), client_order_id=o.client_order_id)
    assert usdt(sim)[1] == D(100000) - D("12832.82")
    report = sim.find(client_order_id=o.client_order_id).report()
    assert (report.quantity, report.limit_price, report.broker_order_id) == (D("0.2"), D("64100.00"), "s-p1")


def test_modify_into_the_market_trades_at_once_as_taker() -> None:
    sim = simulator()
    o = order("buy", "0.1", kind="limit", limit="64000.00")
    sim.submit(o)
    events = sim.modify(OrderChange(limit_price=D("65100.00")), client_order_id=o.client_order_id)
    assert kinds(events) == ["OrderModified", "OrderFilled"]
    assert (fills(events)[0].price, fills(events)[0].liquidity) == (D("65000.00"), Liquidity.TAKER)
    with pytest.raises(OrderNotFound):
        sim.modify(OrderChange(limit_price=D("64000.00")), client_order_id=o.client_order_id)


def test_refused_modify_keeps_the_old_terms() -> None:
    sim = simulator()
    o = order("buy", "0.1", kind="limit", limit="64000.00", post_only=True)
    sim.submit(o)
    available = usdt(sim)[1]
    with pytest.raises(InvalidOrder):
        sim.modify(OrderChange(limit_price=D("65500.00")), client_order_id=o.client_order_id)
    with pytest.raises(InsufficientFunds):
        sim.modify(OrderChange(quantity=D("2")), client_order_id=o.client_order_id)
    with pytest.raises(InvalidOrder):
        sim.modify(OrderChange(stop_price=D("1.00")), client_order_id=o.client_order_id)
    with pytest.raises(InvalidOrder):
        sim.modify(OrderChange(), client_order_id=o.client_order_id)
    report = sim.find(client_order_id=o.client_order_id).report()
    assert (report.quantity, report.limit_price) == (D("0.1"), D("64000.00"))
    assert usdt(sim)[1] == available


def test_modify_quantity_must_stay_above_what_filled() -> None:
    sim = simulator(partial_fill_threshold=D("0.05"))
    o = order("buy", "0.12", kind="limit", limit="64000.00")
    sim.submit(o)
    sim.set_price("BTCUSDT", D("63900.00"))
    with pytest.raises(InvalidOrder):
        sim.modify(OrderChange(quantity=D("0.05")), client_order_id=o.client_order_id)
    events = sim.modify(OrderChange(quantity=D("0.06")), client_order_id=o.client_order_id)
    assert kinds(events) == ["OrderModified"]
    (fill,) = fills(sim.advance())  # the rest keeps filling on the next tick, still as maker
    assert (fill.quantity, fill.liquidity) == (D("0.01"), Liquidity.MAKER)
    assert usdt(sim)[0] == usdt(sim)[1]


def test_modify_stop_price_of_a_waiting_stop() -> None:
    sim = simulator()
    o = order("sell", "0.01", kind="stop", stop="60000.00")
    sim.submit(o)
    events = sim.modify(OrderChange(stop_price=D("65000.00")), client_order_id=o.client_order_id)
    assert kinds(events) == ["OrderModified", "OrderFilled"]  # the new stop is already reached


# -- positions -------------------------------------------------------------------------------------


def test_positions_track_average_price_and_realized_pnl_net_of_fees() -> None:
    sim = simulator()
    sim.submit(order("buy", "0.1"))  # 65000, fee 6.5
    sim.set_price("BTCUSDT", D("64000.00"))
    sim.submit(order("buy", "0.1"))  # 64000, fee 6.4
    sim.set_price("BTCUSDT", D("66000.00"))
    sim.submit(order("sell", "0.1"))  # 66000, fee 6.6
    (position,) = sim.positions()
    assert (position.symbol, position.quantity, position.average_price) == ("BTCUSDT", D("0.1"), D("64500"))
    assert position.fees_paid == D("19.5")
    assert position.realized_pnl == D("150") - D("19.5")
    assert position.unrealized_pnl == D("150")
    sim.submit(order("sell", "0.1"))
    assert sim.positions() == []


def test_fills_history_filters_by_symbol_and_time() -> None:
    sim = simulator()
    sim.submit(order("buy", "0.01"))
    sim.submit(order("buy", "0.01", symbol="ETHUSDT"))
    assert [f.symbol for f in sim.fills()] == ["BTCUSDT", "ETHUSDT"]
    assert [f.symbol for f in sim.fills(symbol="ETHUSDT")] == ["ETHUSDT"]
    assert len(sim.fills(since=FIXED_TIME)) == 2
    assert sim.fills(since=FIXED_TIME + timedelta(seconds=1)) == []


def test_cross_pair_trades_in_its_own_quote_currency() -> None:
    sim = simulator()
    (fill,) = fills(sim.submit(order("buy", "1", symbol="ETHBTC")))
    assert (fill.price, fill.fee_currency, fill.fee) == (D("0.05385"), "BTC", D("0.00005385"))
    assert sim.balance("ETH").total == D(11)
    assert sim.balance("BTC").total == D(1) - D("0.05385") - D("0.00005385")


# -- latency ---------------------------------------------------------------------------------------


def test_latency_delays_acceptance_and_matching_until_the_order_arrives() -> None:
    sim = simulator(latency_ms=D(50))
    o = order("buy", "0.01")
    assert sim.submit(o, now=100.0) == []
    assert sim.find(client_order_id=o.client_order_id).status is OrderStatus.PENDING_SUBMIT
    assert usdt(sim)[1] < usdt(sim)[0]  # funds are held while in flight
    assert sim.next_arrival == pytest.approx(100.05)
    assert sim.process_arrivals(100.01) == []
    assert kinds(sim.process_arrivals(100.06)) == ["OrderAccepted", "OrderFilled"]
    assert sim.next_arrival is None


def test_latency_post_only_crossing_on_arrival_is_rejected_by_event() -> None:
    sim = simulator(latency_ms=D(10))
    sim.submit(order("buy", "0.01", kind="limit", limit="64000.00", post_only=True), now=0.0)
    sim.set_price("BTCUSDT", D("63000.00"))
    events = sim.process_arrivals(1.0)
    assert kinds(events) == ["OrderRejected"]
    assert isinstance(events[0], OrderRejected)
    assert events[0].code == "POST_ONLY_WOULD_CROSS"
    assert usdt(sim) == (D(100000), D(100000))


def test_order_canceled_in_flight_never_arrives() -> None:
    sim = simulator(latency_ms=D(10))
    o = order("buy", "0.01")
    sim.submit(o, now=0.0)
    assert kinds(sim.cancel(client_order_id=o.client_order_id)) == ["OrderCanceled"]
    assert sim.process_arrivals(1.0) == []
    assert sim.fills() == []


# -- bounded history ------------------------------------------------------------------------------


def test_history_limit_forgets_old_closed_orders_and_fills_but_keeps_recent_ids_taken_and_positions() -> None:
    sim = simulator(history_limit=10)
    for i in range(30):
        sim.submit(order("buy", "0.01", cid=f"h{i}"))
    resting = order("buy", "0.01", kind="limit", limit="60000.00", cid="resting")
    sim.submit(resting)
    with pytest.raises(OrderNotFound):
        sim.find(client_order_id="h0")
    assert sim.find(client_order_id="h29").status is OrderStatus.FILLED
    assert (
        sim.find(client_order_id="resting").status is OrderStatus.ACCEPTED
    )  # open orders are never forgotten
    with pytest.raises(DuplicateClientOrderId):
        sim.submit(order("buy", "0.01", cid="h15"))  # forgotten, but recently: still taken
    assert 10 <= len(sim.fills()) <= 11
    (position,) = sim.positions()
    assert position.quantity == D("0.30")  # every fill counted, even forgotten ones
    assert btc(sim)[0] == D("1.30")


def test_retired_client_ids_are_bounded_so_a_soak_runs_in_flat_memory() -> None:
    sim = simulator(history_limit=10)  # ids stay taken for 10 × RETIRED_IDS_FACTOR more orders
    for i in range(100):
        sim.submit(order("buy", "0.001", cid=f"s{i}"))
    with pytest.raises(DuplicateClientOrderId):
        sim.submit(order("buy", "0.001", cid="s85"))  # recent: still refused
    assert len(sim._retired) <= 10 * RETIRED_IDS_FACTOR
    sim.submit(order("buy", "0.001", cid="s0"))  # long forgotten: a real broker accepts it too
