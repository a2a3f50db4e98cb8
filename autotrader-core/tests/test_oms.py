"""The OMS owns order state and positions; duplicate or late broker events never corrupt them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from autotrader_core.enums import AssetClass, OrderSide, OrderStatus, OrderType
from autotrader_core.errors import IllegalTransition, InvalidOrder
from autotrader_core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderFilled,
    OrderModified,
    OrderRejected,
)
from autotrader_core.models import Fill, Instrument, Order, OrderReport, utc_now
from autotrader_core.oms import OrderManager

from .reads import status


def new_order(cid: str = "c1", qty: str = "2", side: OrderSide = OrderSide.BUY) -> Order:
    return Order(
        client_order_id=cid,
        symbol="BTCUSDT",
        side=side,
        order_type=OrderType.LIMIT,
        quantity=D(qty),
        limit_price=D("100"),
        broker="paper",
    )


def filled(
    cid: str, tid: str, qty: str, price: str = "100", fee: str = "0", side: OrderSide = OrderSide.BUY
) -> OrderFilled:
    return OrderFilled(
        Fill(
            trade_id=tid,
            client_order_id=cid,
            symbol="BTCUSDT",
            side=side,
            quantity=D(qty),
            price=D(price),
            fee=D(fee),
            fee_currency="USDT",
            broker="paper",
        )
    )


@pytest.fixture
def oms() -> OrderManager:
    manager = OrderManager()
    manager.set_instruments(
        [Instrument("BTCUSDT", AssetClass.CRYPTO_SPOT, "BTC", "USDT", D("0.01"), D("0.001"))]
    )
    return manager


def test_partial_then_full_fill_aggregates_quantity_price_and_position(oms: OrderManager) -> None:
    order = oms.add(new_order())
    oms.apply(OrderAccepted("c1", "B1"))
    oms.apply(filled("c1", "t1", "0.5", "100", fee="0.05"))
    assert order.status is OrderStatus.PARTIALLY_FILLED
    oms.apply(filled("c1", "t2", "1.5", "104", fee="0.156"))
    assert status(order) is OrderStatus.FILLED
    assert order.filled_quantity == D("2")
    assert order.average_fill_price == D("103")
    assert order.fees == D("0.206")
    assert oms.position("BTCUSDT").quantity == D("2")
    assert oms.open_orders() == []
    assert oms.metrics.filled_notional == D("206.0")
    assert oms.metrics.commission == D("0.206")
    assert oms.metrics.fill_rate == 1.0


def test_duplicate_fill_is_counted_once(oms: OrderManager) -> None:
    order = oms.add(new_order())
    assert oms.apply(filled("c1", "t1", "1")) is order
    assert oms.apply(filled("c1", "t1", "1")) is None
    assert order.filled_quantity == D("1")
    assert oms.position("BTCUSDT").quantity == D("1")
    assert oms.metrics.duplicate_fills == 1


def test_out_of_order_fill_before_ack_is_kept_and_late_ack_does_not_regress_state(oms: OrderManager) -> None:
    order = oms.add(new_order())
    oms.apply(filled("c1", "t1", "2"))
    assert order.status is OrderStatus.FILLED
    assert oms.apply(OrderAccepted("c1", "B1")) is order  # broker id learned, state unchanged
    assert order.status is OrderStatus.FILLED
    assert order.broker_order_id == "B1"
    assert oms.get_by_broker_id("B1") is order


def test_fill_after_cancel_confirmation_still_counts(oms: OrderManager) -> None:
    order = oms.add(new_order())
    oms.apply(OrderAccepted("c1", "B1"))
    oms.mark_pending_cancel("c1")
    oms.apply(OrderCanceled("c1"))
    oms.apply(filled("c1", "t9", "1"))
    assert order.status is OrderStatus.CANCELED
    assert order.filled_quantity == D("1")
    assert oms.position("BTCUSDT").quantity == D("1")


def test_cancel_rejected_restores_working_state(oms: OrderManager) -> None:
    order = oms.add(new_order())
    oms.apply(OrderAccepted("c1", "B1"))
    oms.apply(filled("c1", "t1", "1"))
    oms.mark_pending_cancel("c1")
    assert order.status is OrderStatus.PENDING_CANCEL
    oms.apply(OrderCancelRejected("c1", reason="too late"))
    assert status(order) is OrderStatus.PARTIALLY_FILLED


def test_illegal_broker_event_is_ignored_not_applied(oms: OrderManager) -> None:
    order = oms.add(new_order())
    oms.apply(OrderRejected("c1", reason="bad"))
    assert oms.apply(OrderAccepted("c1", "B1")) is None
    assert order.status is OrderStatus.REJECTED
    assert oms.metrics.ignored_events == 1


def test_local_cancel_of_a_filled_order_raises(oms: OrderManager) -> None:
    oms.add(new_order())
    oms.apply(filled("c1", "t1", "2"))
    with pytest.raises(IllegalTransition):
        oms.mark_pending_cancel("c1")


def test_duplicate_client_order_id_is_refused(oms: OrderManager) -> None:
    oms.add(new_order())
    with pytest.raises(InvalidOrder, match="already in use"):
        oms.add(new_order())


def test_fill_for_unknown_order_is_kept_as_orphan_and_booked(oms: OrderManager) -> None:
    assert oms.apply(filled("ghost", "t1", "1")) is None
    assert [f.trade_id for f in oms.orphan_fills()] == ["t1"]
    assert oms.position("BTCUSDT").quantity == D("1")


def test_modify_updates_terms_and_broker_id(oms: OrderManager) -> None:
    order = oms.add(new_order())
    oms.apply(OrderAccepted("c1", "B1"))
    oms.mark_pending_modify("c1")
    oms.apply(OrderModified("c1", quantity=D("3"), limit_price=D("99"), broker_order_id="B2"))
    assert (order.status, order.quantity, order.limit_price) == (OrderStatus.ACCEPTED, D("3"), D("99"))
    assert oms.get_by_broker_id("B2") is order


def test_report_settles_an_unacknowledged_order(oms: OrderManager) -> None:
    order = oms.add(new_order())
    report = OrderReport(
        client_order_id="c1",
        broker_order_id="B7",
        symbol="BTCUSDT",
        side=OrderSide.BUY,
        order_type=OrderType.LIMIT,
        quantity=D("2"),
        status=OrderStatus.ACCEPTED,
        filled_quantity=D("0.5"),
    )
    assert oms.apply_report(report) is order
    assert order.status is OrderStatus.ACCEPTED
    assert order.broker_order_id == "B7"
    assert oms.missing_fill_quantity(order, report) == D("0.5")


def test_stale_orders_are_the_ones_waiting_on_the_broker(oms: OrderManager) -> None:
    waiting = oms.add(new_order("c1"))
    working = oms.add(new_order("c2"))
    oms.apply(OrderAccepted("c2", "B2"))
    later = utc_now() + timedelta(seconds=60)
    assert oms.stale_orders(timedelta(seconds=30), now=later) == [waiting]
    assert working not in oms.stale_orders(timedelta(seconds=30), now=later)


def test_completed_orders_are_evicted_beyond_retention() -> None:
    oms = OrderManager(completed_retention=2)
    for i in range(4):
        oms.add(new_order(f"c{i}"))
        oms.apply(filled(f"c{i}", f"t{i}", "2"))
    assert [o.client_order_id for o in oms.completed_orders()] == ["c2", "c3"]
    assert oms.get("c0") is None
    assert oms.position("BTCUSDT").quantity == D("8")  # positions keep every fill


def test_listener_sees_each_change_once(oms: OrderManager) -> None:
    seen: list[tuple[str, str | None]] = []
    oms.listener = lambda order, event, fill: seen.append(
        (order.status.value, fill.trade_id if fill else None)
    )
    oms.add(new_order())
    oms.apply(OrderAccepted("c1", "B1"))
    oms.apply(OrderAccepted("c1", "B1"))
    oms.apply(filled("c1", "t1", "2"))
    oms.apply(filled("c1", "t1", "2"))
    assert seen == [("accepted", None), ("filled", "t1")]


def _report(status: OrderStatus, **terms: object) -> OrderReport:
    fields: dict[str, object] = {
        "client_order_id": "c1",
        "broker_order_id": "B1",
        "symbol": "BTCUSDT",
        "side": OrderSide.BUY,
        "order_type": OrderType.LIMIT,
        "quantity": D("2"),
        "status": status,
        "limit_price": D("100"),
    }
    fields.update(terms)
    return OrderReport(**fields)  # type: ignore[arg-type]


def test_a_cancel_the_broker_never_applied_is_not_left_pending(oms: OrderManager) -> None:
    order = oms.add(new_order())
    oms.apply(OrderAccepted("c1", "B1"))
    oms.mark_pending_cancel("c1")
    oms.apply_report(_report(OrderStatus.ACCEPTED))
    assert order.status is OrderStatus.ACCEPTED


def test_a_modify_is_settled_from_the_terms_the_broker_reports(oms: OrderManager) -> None:
    order = oms.add(new_order())
    oms.apply(OrderAccepted("c1", "B1"))
    oms.mark_pending_modify("c1")
    oms.apply_report(_report(OrderStatus.ACCEPTED))  # same terms: the modify did not happen
    assert (order.status, order.limit_price) == (OrderStatus.ACCEPTED, D("100"))
    oms.mark_pending_modify("c1")
    oms.apply_report(_report(OrderStatus.ACCEPTED, limit_price=D("99")))  # new terms: it did
    assert (order.status, order.limit_price) == (OrderStatus.ACCEPTED, D("99"))
