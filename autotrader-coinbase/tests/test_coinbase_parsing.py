"""Parsing documented Coinbase payloads into core models."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from autotrader_coinbase.parsing import (
    parse_accounts_page,
    parse_cancel_results,
    parse_create_order,
    parse_fill,
    parse_fills_page,
    parse_order,
    parse_order_configuration,
    parse_order_status,
    parse_product,
    parse_product_info,
    parse_server_time_ms,
    parse_time,
    parse_user_message,
)
from autotrader_core.enums import AssetClass, Liquidity, OrderSide, OrderStatus, OrderType, TimeInForce
from autotrader_core.errors import BrokerProtocolError, InsufficientFunds
from autotrader_core.skipping import BadItemLog
from coinbase_payloads import fill_item, load, user_message, user_order


def test_create_order_success_returns_order_id() -> None:
    assert parse_create_order(load("create_order_success")) == "62475e97-7485-45eb-a5ac-594805fa2748"


def test_create_order_success_false_raises_insufficient_funds_with_broker_code() -> None:
    with pytest.raises(InsufficientFunds) as info:
        parse_create_order(load("create_order_insufficient_fund"))
    assert info.value.code == "INSUFFICIENT_FUND"
    assert info.value.broker_message == "Insufficient balance in source account"
    assert info.value.broker == "coinbase"


def test_get_order_limit_gtc_partially_filled() -> None:
    report = parse_order(load("get_order_limit_gtc")["order"])
    assert report.broker_order_id == "0000-000000-000000"
    assert report.client_order_id == "11111-000000-000000"
    assert report.symbol == "BTC-USD"
    assert report.side is OrderSide.BUY
    assert report.order_type is OrderType.LIMIT
    assert report.time_in_force is TimeInForce.GTC
    assert report.quantity == Decimal("0.001")
    assert report.limit_price == Decimal("10000.00")
    assert report.filled_quantity == Decimal("0.001")
    assert report.average_fill_price == Decimal("50")
    assert report.status is OrderStatus.PARTIALLY_FILLED  # OPEN with a fill
    assert report.updated_at == datetime(2021, 5, 31, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "filled", "expected"),
    [
        ("OPEN", "0", OrderStatus.ACCEPTED),
        ("open", "0.1", OrderStatus.PARTIALLY_FILLED),
        ("PENDING", "0", OrderStatus.PENDING_SUBMIT),
        ("QUEUED", "0", OrderStatus.ACCEPTED),
        ("FILLED", "1", OrderStatus.FILLED),
        ("CANCELLED", "0.5", OrderStatus.CANCELED),
        ("CANCEL_QUEUED", "0", OrderStatus.PENDING_CANCEL),
        ("EDIT_QUEUED", "0", OrderStatus.PENDING_MODIFY),
        ("EXPIRED", "0", OrderStatus.EXPIRED),
        ("FAILED", "0", OrderStatus.REJECTED),
    ],
)
def test_status_mapping(raw: str, filled: str, expected: OrderStatus) -> None:
    assert parse_order_status(raw, Decimal(filled)) is expected


@pytest.mark.parametrize("raw", ["UNKNOWN_ORDER_STATUS", "WEIRD", None])
def test_unknown_status_raises_protocol_error(raw: object) -> None:
    with pytest.raises(BrokerProtocolError):
        parse_order_status(raw, Decimal(0), payload={"status": raw})


@pytest.mark.parametrize(
    ("config", "order_type", "tif", "fields"),
    [
        (
            {"market_market_ioc": {"quote_size": "10.00"}},
            OrderType.MARKET,
            TimeInForce.IOC,
            {"quote_size": "10.00"},
        ),
        (
            {"market_market_ioc": {"base_size": "0.001"}},
            OrderType.MARKET,
            TimeInForce.IOC,
            {"base_size": "0.001"},
        ),
        (
            {"limit_limit_gtc": {"base_size": "0.001", "limit_price": "10000.00", "post_only": True}},
            OrderType.LIMIT,
            TimeInForce.GTC,
            {"base_size": "0.001", "limit_price": "10000.00", "post_only": True},
        ),
        (
            {
                "limit_limit_gtd": {
                    "base_size": "0.001",
                    "limit_price": "10000.00",
                    "end_time": "2021-05-31T09:59:59.000Z",
                    "post_only": False,
                }
            },
            OrderType.LIMIT,
            TimeInForce.GTC,
            {"end_time": datetime(2021, 5, 31, 9, 59, 59, tzinfo=UTC)},
        ),
        (
            {"limit_limit_fok": {"base_size": "0.001", "limit_price": "10000.00"}},
            OrderType.LIMIT,
            TimeInForce.FOK,
            {"limit_price": "10000.00"},
        ),
        (
            {"sor_limit_ioc": {"base_size": "0.001", "limit_price": "10000.00"}},
            OrderType.LIMIT,
            TimeInForce.IOC,
            {"base_size": "0.001"},
        ),
        (
            {
                "stop_limit_stop_limit_gtc": {
                    "base_size": "1",
                    "limit_price": "100",
                    "stop_price": "90",
                    "stop_direction": "STOP_DIRECTION_STOP_UP",
                }
            },
            OrderType.STOP_LIMIT,
            TimeInForce.GTC,
            {"stop_price": "90", "limit_price": "100", "base_size": "1"},
        ),
    ],
)
def test_order_configuration_variants(
    config: dict[str, Any], order_type: OrderType, tif: TimeInForce, fields: dict[str, Any]
) -> None:
    parsed = parse_order_configuration(config)
    assert parsed.order_type is order_type
    assert parsed.time_in_force is tif
    for name, value in fields.items():
        expected = Decimal(value) if isinstance(value, str) else value
        assert getattr(parsed, name) == expected


def test_order_configuration_with_two_or_unknown_keys_is_a_protocol_error() -> None:
    with pytest.raises(BrokerProtocolError, match="exactly one"):
        parse_order_configuration(
            {"market_market_ioc": {"quote_size": "1"}, "limit_limit_gtc": {"base_size": "1"}}
        )
    with pytest.raises(BrokerProtocolError, match="unknown order configuration"):
        parse_order_configuration({"moon_order": {}})


def test_order_missing_field_raises_protocol_error_with_payload() -> None:
    order = copy.deepcopy(load("get_order_limit_gtc")["order"])
    del order["side"]
    with pytest.raises(BrokerProtocolError) as info:
        parse_order(order)
    assert info.value.payload is order


def test_order_sized_in_quote_reports_filled_size_as_quantity() -> None:
    order = copy.deepcopy(load("get_order_limit_gtc")["order"])
    order["order_configuration"] = {"market_market_ioc": {"quote_size": "10"}}
    order["status"] = "FILLED"
    report = parse_order(order)
    assert report.order_type is OrderType.MARKET
    assert report.quantity == Decimal("0.001")
    assert report.status is OrderStatus.FILLED


def test_fill_from_documented_item_takes_side_from_order_when_empty() -> None:
    fills, cursor = parse_fills_page(load("fills_doc_item"))
    assert cursor is None
    fill = parse_fill(fills[0], client_order_id="at1", side=OrderSide.SELL)
    assert fill.trade_id == "1111-11111-111111"
    assert fill.broker_order_id == "0000-000000-000000"
    assert fill.client_order_id == "at1"
    assert fill.side is OrderSide.SELL
    assert fill.price == Decimal("10000.00")
    assert fill.quantity == Decimal("0.001")
    assert fill.fee == Decimal("1.25")
    assert fill.fee_currency == "USD"
    assert fill.liquidity is Liquidity.UNKNOWN
    assert fill.timestamp == datetime(2021, 5, 31, 9, 59, 59, tzinfo=UTC)
    assert fill.key == ("coinbase", "BTC-USD", "1111-11111-111111")


def test_fill_without_side_and_no_fallback_is_a_protocol_error() -> None:
    fills, _ = parse_fills_page(load("fills_doc_item"))
    with pytest.raises(BrokerProtocolError, match="side"):
        parse_fill(fills[0], client_order_id="at1")


def test_fills_with_liquidity_and_side() -> None:
    fills, _ = parse_fills_page(load("fills_two_products"))
    maker = parse_fill(fills[0], client_order_id="a")
    taker = parse_fill(fills[1], client_order_id="b")
    assert (maker.side, maker.liquidity, maker.fee, maker.fee_currency) == (
        OrderSide.BUY,
        Liquidity.MAKER,
        Decimal("1.14"),
        "USD",
    )
    assert (taker.side, taker.liquidity, taker.quantity, taker.symbol) == (
        OrderSide.SELL,
        Liquidity.TAKER,
        Decimal("0.0325"),
        "ETH-USD",
    )


def test_quote_sized_fill_is_converted_to_base_quantity() -> None:
    fills, _ = parse_fills_page(load("fills_two_products"))
    item = dict(fills[0], size_in_quote=True, size="451.2345", price="45123.45")
    assert parse_fill(item, client_order_id="a").quantity == Decimal("0.01")


def test_fill_price_is_never_a_float() -> None:
    fills, _ = parse_fills_page(load("fills_two_products"))
    item = dict(fills[0], price=45123.45)
    with pytest.raises(BrokerProtocolError):
        parse_fill(item, client_order_id="a")


def test_product_to_instrument_rules() -> None:
    instrument = parse_product(load("product_btc_usd"))
    assert instrument is not None
    assert instrument.symbol == "BTC-USD"
    assert instrument.asset_class is AssetClass.CRYPTO_SPOT
    assert (instrument.base, instrument.quote) == ("BTC", "USD")
    assert instrument.tick_size == Decimal("0.01")
    assert instrument.lot_size == Decimal("0.00000001")
    assert instrument.min_quantity == Decimal("0.00000001")
    assert instrument.max_quantity == Decimal("3400")
    assert instrument.min_notional == Decimal("1")


def test_product_without_price_increment_falls_back_to_quote_increment() -> None:
    product = dict(load("product_btc_usd"), price_increment="", quote_increment="0.05")
    instrument = parse_product(product)
    assert instrument is not None
    assert instrument.tick_size == Decimal("0.05")


@pytest.mark.parametrize(
    "change",
    [{"trading_disabled": True}, {"is_disabled": True}, {"status": "delisted"}, {"product_type": "FUTURE"}],
)
def test_untradable_or_non_spot_products_are_skipped(change: dict[str, Any]) -> None:
    assert parse_product(dict(load("product_btc_usd"), **change)) is None


def test_accounts_to_balances() -> None:
    balances, cursor = parse_accounts_page(load("accounts"))
    assert cursor == "789100"  # has_next is true
    [btc] = balances
    assert btc.asset == "BTC"
    assert btc.available == Decimal("1.23")
    assert btc.total == Decimal("2.46")
    assert btc.locked == Decimal("1.23")


def test_batch_cancel_results() -> None:
    assert parse_cancel_results(load("batch_cancel")) == {
        "0000-00000": (True, "UNKNOWN_CANCEL_FAILURE_REASON")
    }


def test_server_time() -> None:
    assert parse_server_time_ms(load("time")) == 1795550400123
    assert parse_server_time_ms({"iso": "2026-11-24T20:00:00.5Z"}) == 1795550400500
    with pytest.raises(BrokerProtocolError):
        parse_server_time_ms({})


def test_time_placeholders_and_nanoseconds() -> None:
    assert parse_time("0001-01-01T00:00:00Z") is None
    assert parse_time("") is None
    assert parse_time("2023-02-09T20:33:57.609931463Z") == datetime(
        2023, 2, 9, 20, 33, 57, 609931, tzinfo=UTC
    )
    with pytest.raises(BrokerProtocolError):
        parse_time("yesterday")


def test_user_channel_snapshot() -> None:
    [update] = parse_user_message(load("ws_user_snapshot"))
    assert update.event_type == "snapshot"
    assert update.order_id == "YYY"
    assert update.client_order_id == "XXX"
    assert update.side is OrderSide.BUY
    assert update.status is OrderStatus.FILLED
    assert update.cumulative_quantity == Decimal("0.01")
    assert update.leaves_quantity == Decimal("0")
    assert update.avg_price == Decimal("50000")
    assert update.total_fees == Decimal("2")
    assert update.number_of_fills == 1


def test_user_channel_unknown_side_is_protocol_error() -> None:
    message = copy.deepcopy(load("ws_user_snapshot"))
    message["events"][0]["orders"][0]["order_side"] = "SIDEWAYS"
    with pytest.raises(BrokerProtocolError, match="side"):
        parse_user_message(message)


def test_open_order_with_pending_cancel_is_pending_cancel() -> None:
    order = dict(load("get_order_limit_gtc")["order"], pending_cancel=True)
    assert parse_order(order).status is OrderStatus.PENDING_CANCEL
    done = dict(order, status="CANCELLED")
    assert parse_order(done).status is OrderStatus.CANCELED


def _perp_product() -> dict[str, object]:
    """Composed from the documented product (§3.9): an INTX perpetual, ids and currencies changed."""
    product = dict(load("product_btc_usd"))
    product.update(
        product_id="ADA-PERP-INTX",
        product_type="FUTURE",
        base_currency_id="ADA",
        quote_currency_id="USDC",
        base_increment="1",
        display_name="ADA PERP",
    )
    return product


def test_fee_currency_is_the_products_quote_currency_not_the_rest_of_the_id() -> None:
    """Issue 15 point 10: ADA-PERP-INTX used to get fee currency "PERP-INTX"."""
    item = fill_item(product_id="ADA-PERP-INTX", side="BUY")
    fill = parse_fill(item, client_order_id="c1", product=parse_product_info(_perp_product()))
    assert fill.fee_currency == "USDC"
    # Without product data a multi-part id gets no fee currency, never a wrong one.
    assert parse_fill(item, client_order_id="c1").fee_currency == ""
    # A plain spot id names its quote currency.
    assert parse_fill(fill_item(side="BUY"), client_order_id="c1").fee_currency == "USD"


def test_quote_sized_fill_is_rounded_to_the_base_increment() -> None:
    """size_in_quote: size is quote currency; size / price has 28 digits unless rounded to the lot."""
    item = fill_item(size="100", price="68923.67", size_in_quote=True, side="BUY")  # derived
    product = parse_product_info(load("product_btc_usd"))
    fill = parse_fill(item, client_order_id="c1", product=product)
    assert fill.quantity == Decimal("0.00145088")
    assert fill.quantity.as_tuple().exponent == -8  # the base increment's places, not 28 digits
    assert fill.fee_currency == "USD"


def test_product_info_needs_a_quote_currency() -> None:
    product = dict(load("product_btc_usd"))
    del product["quote_currency_id"], product["quote_display_symbol"]
    with pytest.raises(BrokerProtocolError, match="quote_currency_id"):
        parse_product_info(product)


def test_one_unreadable_order_of_a_user_message_costs_not_the_others() -> None:
    """Rule 11: with a BadItemLog, the readable orders of a user message still count; the other is reported."""
    good = user_order(order_id="o-good", client_order_id="c-good")
    bad = user_order(order_id="o-bad", status="SOME_FUTURE_STATUS")  # composed: a status added later
    log = BadItemLog("coinbase")
    [update] = parse_user_message(user_message(7, "update", good, bad), bad_items=log)
    assert update.order_id == "o-good"
    [item] = log
    assert item.what == "order update" and item.may_hold_fill and item.raw["order_id"] == "o-bad"
    with pytest.raises(BrokerProtocolError, match="SOME_FUTURE_STATUS"):
        parse_user_message(user_message(7, "update", good, bad))  # without a log it still raises
