"""Parsing of documented Binance payloads into core models and events (Decimal all the way)."""

from __future__ import annotations

import copy
import functools
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from autotrader_binance.parsing import (
    RefusedFill,
    parse_account_balances,
    parse_account_position,
    parse_amend_response,
    parse_execution_report,
    parse_my_trade,
    parse_order_report,
    parse_place_response,
    parse_rate_limits,
    parse_symbol,
)
from autotrader_core.enums import Liquidity, OrderSide, OrderStatus, OrderType, TimeInForce
from autotrader_core.errors import BrokerProtocolError
from autotrader_core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderModified,
    OrderRejected,
)
from autotrader_core.wire import WireFieldError
from binance_support import load_payload


def test_full_placement_reply_gives_accept_then_every_fill_as_taker() -> None:
    events = parse_place_response(load_payload("order_full.json"), client_order_id="at1", side=OrderSide.SELL)
    assert isinstance(events[0], OrderAccepted)
    assert events[0].broker_order_id == "28"
    fills = [e.fill for e in events if isinstance(e, OrderFilled)]
    assert [f.trade_id for f in fills] == ["56", "57", "58", "59", "60"]
    assert sum(f.quantity for f in fills) == Decimal("10")
    assert fills[1].price == Decimal("3999.00000000")
    assert fills[1].fee == Decimal("19.99500000")
    assert {f.fee_currency for f in fills} == {"USDT"}
    assert all(f.liquidity is Liquidity.TAKER and f.side is OrderSide.SELL for f in fills)
    assert all(f.client_order_id == "at1" and f.broker_order_id == "28" for f in fills)
    assert fills[0].timestamp == datetime(2017, 10, 11, 12, 32, 56, 595000, tzinfo=UTC)
    assert len(events) == 6  # FILLED: no cancel/expire event


def test_ack_reply_is_accept_only() -> None:
    events = parse_place_response(load_payload("order_ack.json"), client_order_id="at1", side=OrderSide.BUY)
    assert events == [OrderAccepted("at1", "28", timestamp=events[0].timestamp)]


def test_ioc_remainder_expired_in_placement_reply() -> None:
    payload = copy.deepcopy(load_payload("order_full.json"))
    payload.update(status="EXPIRED", timeInForce="IOC", type="LIMIT", fills=payload["fills"][:1])
    events = parse_place_response(payload, client_order_id="at1", side=OrderSide.SELL)
    assert [type(e) for e in events] == [OrderAccepted, OrderFilled, OrderExpired]


def test_placement_reply_with_unknown_status_is_a_protocol_error() -> None:
    payload = dict(load_payload("order_full.json"), status="SOMETHING_NEW")
    with pytest.raises(BrokerProtocolError, match="SOMETHING_NEW") as info:
        parse_place_response(payload, client_order_id="at1", side=OrderSide.SELL)
    assert info.value.payload == payload


def test_query_reply_to_order_report() -> None:
    report = parse_order_report(load_payload("query_order.json"))
    assert report.client_order_id == "myOrder1"
    assert report.broker_order_id == "1"
    assert report.status is OrderStatus.ACCEPTED
    assert report.order_type is OrderType.LIMIT
    assert report.side is OrderSide.BUY
    assert report.limit_price == Decimal("0.1")
    assert report.stop_price is None  # "0.0" means not set
    assert report.quantity == Decimal("1.0")
    assert report.filled_quantity == 0
    assert report.average_fill_price is None
    assert report.time_in_force is TimeInForce.GTC


def test_average_price_is_cumulative_quote_over_executed() -> None:
    payload = dict(load_payload("query_order.json"), executedQty="0.4", cummulativeQuoteQty="0.04400000")
    payload["status"] = "PARTIALLY_FILLED"
    report = parse_order_report(payload)
    assert report.average_fill_price == Decimal("0.11")
    assert report.status is OrderStatus.PARTIALLY_FILLED


def test_cancel_reply_to_report() -> None:
    """The documented cancel reply names the cancel request "cancelMyOrder1" and the order "myOrder1"."""
    report = parse_order_report(load_payload("cancel.json"))
    assert report.status is OrderStatus.CANCELED
    assert report.client_order_id == "myOrder1"  # origClientOrderId, not the cancel request's id
    assert report.broker_order_id == "4"


def test_order_without_orig_client_id_keeps_its_client_id() -> None:
    payload = dict(load_payload("cancel.json"))
    del payload["origClientOrderId"]
    assert parse_order_report(payload).client_order_id == "cancelMyOrder1"


@pytest.mark.parametrize(
    "change",
    [
        {"L": "0.00000000"},  # last price 0 (nautilus_trader #3578, live Binance)
        {"l": "0.00000000", "t": -1},  # no quantity, no trade id
        {"l": "0.00000000"},
        {"t": -1},
    ],
)
def test_trade_report_without_a_real_trade_is_refused_as_a_fill_keeping_the_order_update(
    change: dict[str, object],
) -> None:
    event = dict(load_payload("ws_execution_report_trade.json")["event"], **change)
    with pytest.raises(RefusedFill, match="not a bookable fill") as caught:
        parse_execution_report(event)
    assert isinstance(caught.value, BrokerProtocolError)
    (kept,) = caught.value.kept
    assert isinstance(kept, OrderAccepted)
    assert kept.client_order_id == event["c"] and kept.broker_order_id == str(event["i"])


def test_missing_field_is_a_protocol_error_not_a_key_error() -> None:
    payload = dict(load_payload("query_order.json"))
    del payload["executedQty"]
    with pytest.raises(BrokerProtocolError, match="executedQty"):
        parse_order_report(payload)


def test_float_quantity_is_refused() -> None:
    payload = dict(load_payload("query_order.json"), origQty=1.0)
    with pytest.raises(BrokerProtocolError):
        parse_order_report(payload)


@pytest.mark.parametrize(
    ("payload_file", "parse", "field", "value", "kind"),
    [
        ("query_order.json", parse_order_report, "origQty", 1.5, "order"),
        ("query_order.json", parse_order_report, "orderId", "12a", "order"),
        ("query_order.json", parse_order_report, "side", "SIDEWAYS", "order"),
        ("order_full.json", None, "transactTime", "yesterday", "order placement reply"),
        ("ws_execution_report_trade.json", parse_execution_report, "L", None, "executionReport"),
        ("ws_execution_report_trade.json", parse_execution_report, "T", 1.5, "executionReport"),
    ],
    ids=["float-qty", "non-integer-id", "unknown-side", "bad-time", "null-price", "float-time"],
)
def test_a_bad_field_is_a_typed_error_naming_the_payload_kind_and_the_field(
    payload_file: str, parse: Any, field: str, value: object, kind: str
) -> None:
    payload = copy.deepcopy(load_payload(payload_file))
    target = payload.get("event", payload)
    target[field] = value
    if parse is None:
        parse = functools.partial(parse_place_response, client_order_id="x", side=OrderSide.BUY)
    with pytest.raises(WireFieldError) as caught:
        parse(target)
    assert (caught.value.field, caught.value.kind, caught.value.broker) == (field, kind, "binance")
    assert f"{kind} field {field!r}" in str(caught.value)


def test_execution_report_new_is_accepted() -> None:
    events = parse_execution_report(load_payload("ws_execution_report_new.json")["event"])
    assert events == [OrderAccepted("mUvoqJxFIILMdfAW5iGSOW", "4293153", timestamp=events[0].timestamp)]


def test_execution_report_partial_fill_uses_last_qty_price_and_commission() -> None:
    (event,) = parse_execution_report(load_payload("ws_execution_report_trade.json")["event"])
    assert isinstance(event, OrderFilled)
    fill = event.fill
    assert fill.trade_id == "98765432"
    assert fill.quantity == Decimal("0.50000000")  # l, not the order qty q
    assert fill.price == Decimal("2499.50000000")  # L, not the limit price p
    assert fill.fee == Decimal("0.00050000")
    assert fill.fee_currency == "ETH"
    assert fill.liquidity is Liquidity.MAKER
    assert fill.client_order_id == "O-12345-test-trade"
    assert fill.broker_order_id == "1234567890"
    assert fill.side is OrderSide.BUY


def test_execution_report_second_partial_fill_is_its_own_fill() -> None:
    event = dict(load_payload("ws_execution_report_trade.json")["event"])
    event.update(X="FILLED", l="0.50000000", z="1.00000000", L="2500.00000000", t=98765433, m=False)
    (filled,) = parse_execution_report(event)
    assert isinstance(filled, OrderFilled)
    assert filled.fill.trade_id == "98765433"
    assert filled.fill.price == Decimal("2500.00000000")
    assert filled.fill.liquidity is Liquidity.TAKER


def test_execution_report_cancel_uses_original_client_id() -> None:
    event = dict(load_payload("ws_execution_report_new.json")["event"])
    event.update(x="CANCELED", X="CANCELED", c="cancelRequestId", C="mUvoqJxFIILMdfAW5iGSOW")
    assert [type(e) for e in parse_execution_report(event)] == [OrderCanceled]
    assert parse_execution_report(event)[0].client_order_id == "mUvoqJxFIILMdfAW5iGSOW"


def test_execution_report_reject_expire_replace_and_stp() -> None:
    base = dict(load_payload("ws_execution_report_new.json")["event"])
    rejected = parse_execution_report(dict(base, x="REJECTED", X="REJECTED", r="INSUFFICIENT_BALANCES"))
    assert isinstance(rejected[0], OrderRejected)
    assert rejected[0].reason == "INSUFFICIENT_BALANCES"
    assert isinstance(parse_execution_report(dict(base, x="EXPIRED", X="EXPIRED"))[0], OrderExpired)
    replaced = parse_execution_report(dict(base, x="REPLACED", q="0.50000000"))
    assert isinstance(replaced[0], OrderModified)
    assert replaced[0].quantity == Decimal("0.5")
    assert isinstance(
        parse_execution_report(dict(base, x="TRADE_PREVENTION", X="EXPIRED_IN_MATCH"))[0], OrderExpired
    )
    assert parse_execution_report(dict(base, x="TRADE_PREVENTION", X="PARTIALLY_FILLED")) == []


def test_execution_report_unknown_type_is_protocol_error() -> None:
    event = dict(load_payload("ws_execution_report_new.json")["event"], x="TELEPORTED")
    with pytest.raises(BrokerProtocolError, match="TELEPORTED"):
        parse_execution_report(event)


def test_outbound_account_position_balances() -> None:
    (balance,) = parse_account_position(load_payload("ws_outbound_account_position.json")["event"])
    assert balance.asset == "ETH"
    assert balance.total == Decimal("10000.000000")
    assert balance.available == Decimal("10000.000000")
    assert balance.locked == 0


def test_account_balances_total_is_free_plus_locked() -> None:
    payload = copy.deepcopy(load_payload("account.json"))
    payload["balances"][0]["locked"] = "1.00000000"
    btc, ltc = parse_account_balances(payload)
    assert btc.asset == "BTC"
    assert btc.available == Decimal("4723846.89208129")
    assert btc.total == Decimal("4723847.89208129")
    assert ltc.total == Decimal("4763368.68006011")


def test_my_trade_to_fill_resolves_client_order_id() -> None:
    (row,) = load_payload("my_trades.json")
    seen: list[tuple[str, str]] = []

    def resolve(symbol: str, order_id: str) -> str:
        seen.append((symbol, order_id))
        return "at-resolved"

    fill = parse_my_trade(row, client_order_id_for=resolve)
    assert seen == [("BNBBTC", "100234")]
    assert fill.client_order_id == "at-resolved"
    assert fill.trade_id == "28457"
    assert fill.side is OrderSide.BUY
    assert fill.quantity == Decimal("12.00000000")
    assert fill.price == Decimal("4.00000100")
    assert fill.fee == Decimal("10.10000000")
    assert fill.fee_currency == "BNB"
    assert fill.liquidity is Liquidity.TAKER


def test_amend_reply_is_modified_quantity() -> None:
    (event,) = parse_amend_response(load_payload("amend_keep_priority.json"), client_order_id="at1")
    assert isinstance(event, OrderModified)
    assert event.quantity == Decimal("5.00000000")
    assert event.broker_order_id == "33"


def test_exchange_info_filters_to_instrument() -> None:
    info = load_payload("exchange_info.json")
    rules = parse_symbol(info["symbols"][0])
    inst = rules.instrument
    assert inst.symbol == "ETHBTC"
    assert (inst.base, inst.quote) == ("ETH", "BTC")
    assert inst.tick_size == Decimal("0.00000100")
    assert inst.lot_size == Decimal("0.00100000")
    assert inst.min_quantity == Decimal("0.00100000")
    assert inst.max_quantity == Decimal("100000.00000000")
    assert inst.min_notional == Decimal("10.00000000")
    assert inst.market_lot_size is None  # same step as LOT_SIZE
    assert rules.max_notional == Decimal("10000.00000000")
    assert rules.min_price == Decimal("0.00000100")
    assert rules.is_trading
    assert "STOP_LOSS_LIMIT" in rules.order_types
    assert not rules.amend_allowed


def test_legacy_min_notional_and_disabled_market_lot_size() -> None:
    symbol = copy.deepcopy(load_payload("exchange_info.json")["symbols"][0])
    symbol["filters"] = [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": "0.00000100",
            "maxPrice": "100000.00000000",
            "tickSize": "0.00000100",
        },
        {
            "filterType": "LOT_SIZE",
            "minQty": "0.00100000",
            "maxQty": "100000.00000000",
            "stepSize": "0.00100000",
        },
        {
            "filterType": "MARKET_LOT_SIZE",
            "minQty": "0.00000000",
            "maxQty": "0.00000000",
            "stepSize": "0.00000000",
        },
        {"filterType": "MIN_NOTIONAL", "minNotional": "0.00100000", "applyToMarket": True, "avgPriceMins": 5},
    ]
    rules = parse_symbol(symbol)
    assert rules.instrument.min_notional == Decimal("0.00100000")
    assert rules.instrument.market_lot_size is None
    assert rules.min_notional_applies_to_market


def test_market_lot_size_kept_when_it_differs() -> None:
    symbol = copy.deepcopy(load_payload("exchange_info.json")["symbols"][0])
    symbol["filters"][2] = {
        "filterType": "MARKET_LOT_SIZE",
        "minQty": "0.01000000",
        "maxQty": "900.00000000",
        "stepSize": "0.01000000",
    }
    assert parse_symbol(symbol).instrument.market_lot_size == Decimal("0.01000000")


def test_rate_limits_from_exchange_info() -> None:
    rules = parse_rate_limits(load_payload("exchange_info.json"))
    assert [(r.kind, r.seconds, r.limit, r.header_suffix) for r in rules] == [
        ("REQUEST_WEIGHT", 60, 6000, "1M"),
        ("ORDERS", 10, 50, "10S"),
        ("ORDERS", 86400, 160000, "1D"),
        ("RAW_REQUESTS", 300, 300000, "5M"),
    ]
