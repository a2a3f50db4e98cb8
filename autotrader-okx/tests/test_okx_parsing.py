"""Parsing the documented OKX payloads into core models and events (Decimal all the way)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import okx_support as doc
import pytest
from autotrader_core.enums import AssetClass, Liquidity, OrderSide, OrderStatus, OrderType, TimeInForce
from autotrader_core.errors import BrokerProtocolError
from autotrader_core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderModified,
    OrderModifyRejected,
)
from autotrader_okx.parsing import (
    parse_balances,
    parse_fill,
    parse_instruments,
    parse_order_ack,
    parse_order_push,
    parse_order_report,
    parse_positions,
    parse_server_time,
)
from okx_support import load_json


def push_item() -> dict[str, Any]:
    """The documented orders-channel item (a fresh copy for derived variants)."""
    item: dict[str, Any] = copy.deepcopy(load_json(doc.ORDERS_PUSH_FILLED)["data"][0])
    return item


def test_server_time() -> None:
    assert parse_server_time(load_json(doc.TIME)) == 1597026383085


def test_instrument_rules_are_exact_decimals() -> None:
    [instrument] = parse_instruments(load_json(doc.INSTRUMENTS))
    assert instrument.symbol == "BTC-USDT"
    assert instrument.asset_class is AssetClass.CRYPTO_SPOT
    assert (instrument.base, instrument.quote) == ("BTC", "USDT")
    assert instrument.tick_size == Decimal("0.1")
    assert instrument.lot_size == Decimal("0.00000001")
    assert instrument.min_quantity == Decimal("0.00001")
    assert instrument.max_quantity == Decimal("9999999999")
    assert instrument.multiplier == 1
    assert isinstance(instrument.tick_size, Decimal)


def test_instruments_not_live_are_left_out() -> None:
    body = load_json(doc.INSTRUMENTS)
    body["data"][0]["state"] = "suspend"  # derived: documented state value
    assert parse_instruments(body) == []
    assert len(parse_instruments(body, tradable_only=False)) == 1


def test_instrument_missing_tick_size_is_a_protocol_error() -> None:
    body = load_json(doc.INSTRUMENTS)
    del body["data"][0]["tickSz"]
    with pytest.raises(BrokerProtocolError, match="tickSz") as caught:
        parse_instruments(body)
    assert caught.value.payload is not None


def test_balances_total_is_cash_and_available_is_avail_bal() -> None:
    [usdt] = parse_balances(load_json(doc.BALANCE))
    assert usdt.asset == "USDT"
    assert usdt.total == Decimal("4850.435693622894")
    assert usdt.available == Decimal("4834.317093622894")
    assert usdt.locked == Decimal("16.118600000000")


def test_positions_are_signed_decimals() -> None:
    [position] = parse_positions(load_json(doc.POSITIONS))
    assert position.symbol == "BTC-USDT"
    assert position.quantity == Decimal("0.00190433573")
    assert position.average_price == Decimal("62961.4")
    assert position.unrealized_pnl == Decimal("-0.0000033452492717")
    assert position.broker == "okx"


@pytest.mark.parametrize(
    ("pos_side", "pos", "expected"), [("short", "2", "-2"), ("long", "2", "2"), ("net", "-3", "-3")]
)
def test_position_sign_follows_pos_side(pos_side: str, pos: str, expected: str) -> None:
    body = load_json(doc.POSITIONS)
    body["data"][0].update(posSide=pos_side, pos=pos)  # derived: hedge-mode sides
    [position] = parse_positions(body)
    assert position.quantity == Decimal(expected)


def test_flat_positions_are_dropped() -> None:
    body = load_json(doc.POSITIONS)
    body["data"][0]["pos"] = "0"
    assert parse_positions(body) == []


def test_order_ack() -> None:
    item = load_json(doc.PLACE_OK)["data"][0]
    ack = parse_order_ack(item, client_order_id="b15")
    assert ack == OrderAccepted(
        client_order_id="b15",
        broker_order_id="312269865356374016",
        timestamp=datetime.fromtimestamp(1695190491.421, tz=UTC),
    )


def test_filled_market_order_report_sized_in_quote_uses_the_base_fill() -> None:
    report = parse_order_report(load_json(doc.ORDER_FILLED_MARKET)["data"][0])
    assert report.status is OrderStatus.FILLED
    assert report.order_type is OrderType.MARKET
    assert report.side is OrderSide.BUY
    assert report.broker_order_id == "680800019749904384"
    assert report.client_order_id is None  # empty clOrdId
    # sz "100" is 100 USDT (tgtCcy quote_ccy): the base quantity is what was filled.
    assert report.quantity == Decimal("0.00192834")
    assert report.filled_quantity == Decimal("0.00192834")
    assert report.average_fill_price == Decimal("51858")
    assert report.limit_price is None
    assert report.updated_at == datetime.fromtimestamp(1708587373.362, tz=UTC)


@pytest.mark.parametrize(
    ("ord_type", "order_type", "tif"),
    [
        ("limit", OrderType.LIMIT, TimeInForce.GTC),
        ("post_only", OrderType.LIMIT, TimeInForce.GTC),
        ("ioc", OrderType.LIMIT, TimeInForce.IOC),
        ("fok", OrderType.LIMIT, TimeInForce.FOK),
    ],
)
def test_ord_type_encodes_time_in_force(ord_type: str, order_type: OrderType, tif: TimeInForce) -> None:
    item = load_json(doc.ORDER_FILLED_MARKET)["data"][0]
    # derived: a live order as in the orders-pending doc excerpt (§2.3)
    item.update(ordType=ord_type, state="live", px="13013.5", sz="0.001", accFillSz="0", avgPx="", tgtCcy="")
    report = parse_order_report(item)
    assert (report.order_type, report.time_in_force) == (order_type, tif)
    assert report.status is OrderStatus.ACCEPTED
    assert report.quantity == Decimal("0.001")
    assert report.limit_price == Decimal("13013.5")
    assert report.average_fill_price is None


def test_unknown_state_is_a_protocol_error_with_payload() -> None:
    item = load_json(doc.ORDER_FILLED_MARKET)["data"][0]
    item["state"] = "teleported"
    with pytest.raises(BrokerProtocolError, match="teleported") as caught:
        parse_order_report(item)
    assert caught.value.payload is item


def test_fill_from_rest_flips_the_fee_sign() -> None:
    fill = parse_fill(load_json(doc.FILL_ITEM))
    assert fill.trade_id == "744876980"
    assert fill.symbol == "BTC-USDT"
    assert fill.side is OrderSide.BUY
    assert fill.quantity == Decimal("0.00192834")
    assert fill.price == Decimal("51858")
    assert fill.fee == Decimal("0.00000192834")  # OKX "-0.00000192834" = charged
    assert fill.fee_currency == "BTC"
    assert fill.liquidity is Liquidity.TAKER
    assert fill.broker_order_id == "680800019749904384"
    assert fill.timestamp == datetime.fromtimestamp(1708587373.361, tz=UTC)
    assert fill.broker == "okx"


def test_rebate_becomes_a_negative_fee() -> None:
    item = load_json(doc.FILL_ITEM)
    item["fee"] = "0.0000001"  # derived: OKX reports a maker rebate as a positive fee
    assert parse_fill(item).fee == Decimal("-0.0000001")


def test_orders_push_with_fill_gives_one_fill_from_fill_fields() -> None:
    [event] = parse_order_push(push_item())
    assert isinstance(event, OrderFilled)
    fill = event.fill
    assert fill.trade_id == "242589207"
    assert fill.side is OrderSide.SELL
    assert fill.quantity == Decimal("0.001")
    assert fill.price == Decimal("31527.1")
    assert fill.fee == Decimal("0.02522168")
    assert fill.fee_currency == "USDT"
    assert fill.liquidity is Liquidity.MAKER
    assert fill.broker_order_id == "452197707845865472"
    assert fill.timestamp == datetime.fromtimestamp(1654084353.263, tz=UTC)


def test_partial_fill_uses_this_fills_size_not_the_cumulative_one() -> None:
    item = push_item()
    # derived: second of two fills; accFillSz/fee are cumulative, fillSz/fillFee are this fill's
    item.update(
        state="partially_filled",
        sz="0.003",
        accFillSz="0.002",
        fillSz="0.001",
        fee="-0.05",
        fillFee="-0.02522168",
        tradeId="242589208",
    )
    [event] = parse_order_push(item)
    assert isinstance(event, OrderFilled)
    assert event.fill.quantity == Decimal("0.001")
    assert event.fill.fee == Decimal("0.02522168")


def test_live_push_without_fill_is_an_acceptance() -> None:
    item = push_item()
    item.update(
        state="live",
        accFillSz="0",
        fillSz="0",
        fillPx="",
        tradeId="",
        fillFee="0",
        fillTime="",
        clOrdId="at1abc",
    )
    [event] = parse_order_push(item)
    assert event == OrderAccepted(
        client_order_id="at1abc",
        broker_order_id="452197707845865472",
        timestamp=datetime.fromtimestamp(1654084353.264, tz=UTC),
    )


def test_canceled_push() -> None:
    item = push_item()
    item.update(
        state="canceled", accFillSz="0", fillSz="0", fillPx="", tradeId="", cancelSource="1", clOrdId="at1abc"
    )
    [event] = parse_order_push(item)
    assert isinstance(event, OrderCanceled)
    assert event.client_order_id == "at1abc"
    assert event.reason == "cancelSource 1"


def test_ioc_remainder_canceled_after_a_fill_gives_fill_then_cancel() -> None:
    item = push_item()
    item.update(ordType="ioc", state="canceled", sz="0.002", clOrdId="at1abc")
    events = parse_order_push(item)
    assert [type(e) for e in events] == [OrderFilled, OrderCanceled]


def test_amend_results() -> None:
    item = push_item()
    item.update(state="live", tradeId="", fillSz="0", amendResult="0", sz="0.002", px="31000", clOrdId="at1")
    [modified] = parse_order_push(item)
    assert modified == OrderModified(
        client_order_id="at1",
        quantity=Decimal("0.002"),
        limit_price=Decimal("31000"),
        broker_order_id="452197707845865472",
        timestamp=datetime.fromtimestamp(1654084353.264, tz=UTC),
    )
    item.update(amendResult="-1", code="51503", msg="Order modification failed as the order does not exist")
    [rejected] = parse_order_push(item)
    assert isinstance(rejected, OrderModifyRejected)
    assert "does not exist" in rejected.reason


def test_push_missing_fill_price_is_a_protocol_error() -> None:
    item = push_item()
    del item["fillPx"]
    with pytest.raises(BrokerProtocolError, match="fillPx"):
        parse_order_push(item)


def test_float_in_a_price_field_is_refused() -> None:
    item = push_item()
    item["fillPx"] = 31527.1  # a float never becomes money
    with pytest.raises(BrokerProtocolError):
        parse_order_push(item)
