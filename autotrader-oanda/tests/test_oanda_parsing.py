"""OANDA JSON → core models and events, from the recorded payloads."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from autotrader_core.enums import AssetClass, OrderSide, OrderStatus, OrderType, TimeInForce
from autotrader_core.errors import BrokerProtocolError
from autotrader_core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderExpired,
    OrderFilled,
    OrderModified,
    OrderModifyRejected,
    OrderRejected,
)
from autotrader_core.wire import WireFieldError
from autotrader_oanda.parsing import (
    TransactionTranslator,
    fill_price,
    parse_balances,
    parse_instrument,
    parse_order_report,
    parse_position,
    parse_time,
    report_from_transactions,
)
from oanda_helpers import load, reply_of


def test_rfc3339_nanoseconds_are_truncated_to_microseconds() -> None:
    assert parse_time("2016-10-24T21:48:18.593753865Z") == datetime(
        2016, 10, 24, 21, 48, 18, 593753, tzinfo=UTC
    )
    assert parse_time("2016-10-24T21:48:18Z") == datetime(2016, 10, 24, 21, 48, 18, tzinfo=UTC)
    assert parse_time("2016-10-24T23:48:18.5+02:00") == datetime(2016, 10, 24, 21, 48, 18, 500000, tzinfo=UTC)


@pytest.mark.parametrize("value", ["yesterday", 1477345698, "2016-10-24T21:48:18"])
def test_bad_times_are_protocol_errors(value: object) -> None:
    with pytest.raises(BrokerProtocolError):
        parse_time(value)


def test_instruments_from_the_recorded_reply() -> None:
    raw = reply_of("TC-INS-01", "instruments")["instruments"]
    eur_usd, dax = (parse_instrument(item) for item in raw)
    assert eur_usd.symbol == "EUR_USD"
    assert (eur_usd.base, eur_usd.quote, eur_usd.asset_class) == ("EUR", "USD", AssetClass.FX)
    assert eur_usd.tick_size == Decimal("0.00001")
    assert str(eur_usd.tick_size) == "0.00001"
    assert eur_usd.lot_size == Decimal(1)
    assert eur_usd.min_quantity == Decimal(1)
    assert eur_usd.max_quantity == Decimal(100000000)
    assert dax.asset_class is AssetClass.CFD
    assert dax.tick_size == Decimal("0.1")
    assert dax.max_quantity == Decimal(2500)


def test_fractional_units_precision() -> None:
    raw = dict(
        reply_of("TC-INS-01", "instruments")["instruments"][0], tradeUnitsPrecision=2, minimumTradeSize="0.01"
    )
    instrument = parse_instrument(raw)
    assert instrument.lot_size == Decimal("0.01")
    assert instrument.min_quantity == Decimal("0.01")


@pytest.mark.parametrize(
    ("key", "value"),
    [("type", "BOND"), ("name", "EURUSD"), ("displayPrecision", "5"), ("displayPrecision", None)],
)
def test_broken_instrument_is_a_protocol_error(key: str, value: object) -> None:
    raw = dict(reply_of("TC-INS-01", "instruments")["instruments"][0])
    if value is None:
        del raw[key]
    else:
        raw[key] = value
    with pytest.raises(BrokerProtocolError) as caught:
        parse_instrument(raw)
    assert caught.value.payload == raw
    # The error says which field of which payload broke the format (the core's wire reader).
    assert isinstance(caught.value, WireFieldError)
    assert (caught.value.kind, caught.value.field) == ("instrument", key)
    assert f"instrument field {key!r}" in str(caught.value)


def test_balance_is_nav_and_margin_available() -> None:
    (balance,) = parse_balances(reply_of("TC-CON-01", "summary")["account"])
    assert balance.asset == "EUR"
    assert balance.total == Decimal("35454.4740")
    assert balance.available == Decimal("24872.9740")
    assert balance.locked == Decimal("10581.5000")  # = marginUsed


def test_short_position_from_the_recorded_reply() -> None:
    position = parse_position(reply_of("TC-POS-01", "positions")["positions"][0])
    assert position.symbol == "EUR_USD"
    assert position.quantity == Decimal(-100)
    assert position.average_price == Decimal("1.09843")
    assert position.unrealized_pnl == Decimal("-0.0738")
    assert position.side is OrderSide.SELL


def test_hedged_position_nets_both_legs() -> None:
    raw = {
        "instrument": "EUR_USD",
        "unrealizedPL": "1.0000",
        "long": {"units": "300", "averagePrice": "1.10000", "unrealizedPL": "1.5000"},
        "short": {"units": "-100", "averagePrice": "1.12000", "unrealizedPL": "-0.5000"},
    }
    position = parse_position(raw)
    assert position.quantity == Decimal(200)
    assert position.average_price == Decimal("1.10000")


def test_pending_limit_order_report() -> None:
    report = parse_order_report(reply_of("TC-ORD-02", "query")["order"])
    assert report is not None
    assert report.client_order_id == "at0lim7c1q2w3e1"
    assert report.broker_order_id == "2304"
    assert (report.side, report.quantity) == (OrderSide.SELL, Decimal(100))
    assert report.order_type is OrderType.LIMIT
    assert report.limit_price == Decimal("1.20000")
    assert report.status is OrderStatus.ACCEPTED
    assert report.time_in_force is TimeInForce.GTC
    assert report.filled_quantity == 0


def test_filled_order_report_takes_units_and_price_from_the_fill() -> None:
    order = dict(reply_of("TC-ORD-02", "query")["order"], state="FILLED", fillingTransactionID="6369")
    fill = dict(reply_of("TC-ORD-01", "submit")["orderFillTransaction"], units="-100")
    report = parse_order_report(order, fill)
    assert report is not None
    assert report.status is OrderStatus.FILLED
    assert report.filled_quantity == Decimal(100)
    assert report.average_fill_price == Decimal("1.05412")


def test_trade_dependent_orders_are_not_reported() -> None:
    order = {"id": "2400", "type": "TAKE_PROFIT", "state": "PENDING", "tradeID": "2323", "price": "1.1"}
    assert parse_order_report(order) is None


@pytest.mark.parametrize(("key", "value"), [("state", "WAITING"), ("type", "ICEBERG"), ("units", "0")])
def test_unknown_order_enums_are_protocol_errors(key: str, value: str) -> None:
    order = dict(reply_of("TC-ORD-02", "query")["order"], **{key: value})
    with pytest.raises(BrokerProtocolError) as caught:
        parse_order_report(order)
    assert isinstance(caught.value, WireFieldError)
    assert caught.value.field == key


# -- fills and transactions ---------------------------------------------------


def test_fill_price_prefers_the_trade_legs() -> None:
    fill = dict(reply_of("TC-ORD-01", "submit")["orderFillTransaction"])
    assert fill_price(fill) == Decimal("1.05412")
    # A fill that closes 100 @ 1.10000 and opens 300 @ 1.10004: unit-weighted.
    fill["tradesClosed"] = [{"tradeID": "1", "units": "-100", "price": "1.10000"}]
    fill["tradeOpened"] = {"tradeID": "2", "units": "300", "price": "1.10004"}
    assert fill_price(fill) == Decimal("1.10003")


def test_fill_price_falls_back_on_vwap_then_price() -> None:
    # 2016 capture: legs without price, only the deprecated top-level price.
    old = {"tradesClosed": [{"units": "-100", "tradeID": "2313"}], "price": "1.09289"}
    assert fill_price(old) == Decimal("1.09289")
    assert fill_price({"fullVWAP": "1.5", "price": "1.4"}) == Decimal("1.5")
    with pytest.raises(BrokerProtocolError):
        fill_price({"units": "1"})


def test_market_fill_events_from_the_create_reply() -> None:
    reply = reply_of("TC-ORD-01", "submit")
    translator = TransactionTranslator(fee_currency="EUR")
    accepted = translator.events(reply["orderCreateTransaction"])
    assert accepted == [OrderAccepted("at0mkt7c1q2w3e1", "6368", timestamp=accepted[0].timestamp)]
    (filled,) = translator.events(reply["orderFillTransaction"])
    assert isinstance(filled, OrderFilled)
    fill = filled.fill
    assert fill.trade_id == "6369"  # the ORDER_FILL transaction id, on every path
    assert fill.client_order_id == "at0mkt7c1q2w3e1"
    assert fill.broker_order_id == "6368"
    assert (fill.side, fill.quantity, fill.price) == (OrderSide.BUY, Decimal(100), Decimal("1.05412"))
    assert (fill.fee, fill.fee_currency) == (Decimal("0.0000"), "EUR")
    assert fill.timestamp == datetime(2026, 11, 24, 14, 3, 11, 602157, tzinfo=UTC)


def test_sell_fill_with_commission_and_guaranteed_fee() -> None:
    tx = dict(
        reply_of("TC-ORD-01", "submit")["orderFillTransaction"],
        units="-250",
        commission="0.2500",
        guaranteedExecutionFee="0.0100",
        tradeOpened={"tradeID": "6369", "units": "-250", "price": "1.05404"},
    )
    (filled,) = TransactionTranslator(fee_currency="EUR").events(tx)
    assert isinstance(filled, OrderFilled)
    assert (filled.fill.side, filled.fill.quantity) == (OrderSide.SELL, Decimal(250))
    assert filled.fill.fee == Decimal("0.2600")


def test_once_skips_what_was_already_reported() -> None:
    fill = reply_of("TC-ORD-01", "submit")["orderFillTransaction"]
    translator = TransactionTranslator()
    assert len(translator.events(fill)) == 1  # REST reply
    assert translator.events(fill, once=True) == []  # the stream's copy
    assert len(translator.events(fill)) == 1  # REST always reports what it proves


def test_failed_translation_is_not_marked_as_reported() -> None:
    fill = dict(reply_of("TC-ORD-01", "submit")["orderFillTransaction"])
    broken = {k: v for k, v in fill.items() if k != "units"}
    translator = TransactionTranslator()
    with pytest.raises(BrokerProtocolError):
        translator.events(broken, once=True)
    assert len(translator.events(fill, once=True)) == 1


def test_transactions_of_foreign_orders_give_no_events() -> None:
    # The 2016 trade-close fill: OANDA created the MARKET order itself, no client id.
    fill = {
        "orderID": "2316",
        "financing": "0.0000",
        "instrument": "EUR_USD",
        "price": "1.09289",
        "userID": 1435156,
        "batchID": "2316",
        "accountBalance": "33848.1208",
        "reason": "MARKET_ORDER_TRADE_CLOSE",
        "tradesClosed": [
            {"units": "-100", "financing": "0.0000", "realizedPL": "-0.1455", "tradeID": "2313"}
        ],
        "time": "2016-10-28T15:11:58.023004583Z",
        "units": "-100",
        "type": "ORDER_FILL",
        "id": "2317",
        "pl": "-0.1455",
        "accountID": "101-004-1435156-001",
    }
    assert TransactionTranslator().events(fill) == []
    assert TransactionTranslator().events({"type": "DAILY_FINANCING", "id": "9"}) == []


def test_replace_is_one_modified_event_with_the_new_id() -> None:
    reply = reply_of("TC-ORD-05", "modify")
    translator = TransactionTranslator()
    assert translator.events(reply["orderCancelTransaction"]) == []  # CLIENT_REQUEST_REPLACED
    (modified,) = translator.events(reply["orderCreateTransaction"])
    assert isinstance(modified, OrderModified)
    assert modified.broker_order_id == "2307"
    assert modified.quantity == Decimal(500000)
    assert modified.limit_price == Decimal("1.25000")
    assert translator.client_id_for("2307") == "at0lim7c1q2w3e1"


def test_cancel_expire_and_cancel_reject() -> None:
    cancel = reply_of("TC-ORD-02", "cancel")["orderCancelTransaction"]
    translator = TransactionTranslator()
    (canceled,) = translator.events(cancel)
    assert canceled == OrderCanceled("at0lim7c1q2w3e1", "CLIENT_REQUEST", timestamp=canceled.timestamp)
    (expired,) = translator.events(dict(cancel, id="2309", reason="TIME_IN_FORCE_EXPIRED"))
    assert isinstance(expired, OrderExpired)
    reject = reply_of("TC-ERR-02", "cancel")["orderCancelRejectTransaction"]
    (refused,) = translator.events(reject)
    assert isinstance(refused, OrderCancelRejected)
    assert refused.reason == "ORDER_DOESNT_EXIST"


def test_order_reject_and_replace_reject() -> None:
    reject = reply_of("TC-ERR-03", "submit")["orderRejectTransaction"]
    translator = TransactionTranslator()
    (rejected,) = translator.events(reject)
    assert isinstance(rejected, OrderRejected)
    assert (rejected.client_order_id, rejected.code) == ("at0inv7c1q2w3e1", "PRICE_PRECISION_EXCEEDED")
    # A refused replacement does not echo client extensions: found through the id map.
    translator.remember("2304", "at0lim7c1q2w3e1")
    replace_reject = {k: v for k, v in reject.items() if k != "clientExtensions"}
    replace_reject.update(id="6865", reason="REPLACEMENT", intendedReplacesOrderID="2304")
    (refused,) = translator.events(replace_reject)
    assert isinstance(refused, OrderModifyRejected)
    assert refused.client_order_id == "at0lim7c1q2w3e1"


def test_missing_fields_in_known_transactions_are_protocol_errors() -> None:
    fill = dict(reply_of("TC-ORD-01", "submit")["orderFillTransaction"])
    del fill["instrument"]
    with pytest.raises(BrokerProtocolError) as caught:
        TransactionTranslator().events(fill)
    assert caught.value.payload == fill


# -- lookups rebuilt from transactions ----------------------------------------------


def _market_txs() -> tuple[dict[str, Any], dict[str, Any]]:
    reply = reply_of("TC-ORD-01", "submit")
    return reply["orderCreateTransaction"], reply["orderFillTransaction"]


def test_report_from_transactions_filled_market_order() -> None:
    create, fill = _market_txs()
    report = report_from_transactions("at0mkt7c1q2w3e1", [fill, create])  # any order in, sorted by id
    assert report is not None
    assert (report.status, report.broker_order_id, report.order_type) == (
        OrderStatus.FILLED,
        "6368",
        OrderType.MARKET,
    )
    assert (report.quantity, report.filled_quantity, report.average_fill_price) == (
        Decimal(100),
        Decimal(100),
        Decimal("1.05412"),
    )


def test_report_from_transactions_rejected_and_unknown() -> None:
    reject = reply_of("TC-ERR-03", "submit")["orderRejectTransaction"]
    report = report_from_transactions("at0inv7c1q2w3e1", [reject])
    assert report is not None
    assert (report.status, report.broker_order_id) == (OrderStatus.REJECTED, None)
    assert report.limit_price == Decimal("110.79999999999999")
    assert report_from_transactions("at0zzz7c1q2w3e1", [reject, *_market_txs()]) is None


def test_report_from_transactions_follows_a_replace() -> None:
    created = reply_of("TC-ORD-02", "submit")["orderCreateTransaction"]
    replaced = reply_of("TC-ORD-05", "modify")
    replacement = {k: v for k, v in replaced["orderCreateTransaction"].items() if k != "clientExtensions"}
    fill = dict(_market_txs()[1], id="2310", orderID="2307", units="-500000", fullVWAP="1.25000")
    fill["tradeOpened"] = {"tradeID": "2310", "units": "-500000", "price": "1.25000"}
    del fill["clientOrderID"]  # found through the replacement's order id
    txs = [created, replaced["orderCancelTransaction"], replacement, fill]
    report = report_from_transactions("at0lim7c1q2w3e1", txs)
    assert report is not None
    assert (report.status, report.broker_order_id) == (OrderStatus.FILLED, "2307")
    assert (report.quantity, report.average_fill_price) == (Decimal(500000), Decimal("1.25000"))


def test_report_from_transactions_cancel_and_partial_fill() -> None:
    created = reply_of("TC-ORD-02", "submit")["orderCreateTransaction"]
    cancel = reply_of("TC-ORD-02", "cancel")["orderCancelTransaction"]
    report = report_from_transactions("at0lim7c1q2w3e1", [created, cancel])
    assert report is not None
    assert (report.status, report.filled_quantity) == (OrderStatus.CANCELED, Decimal(0))
    ioc = load("edge/ioc-partial-fill")["http"][0]["response"]["json"]
    txs = [ioc["orderCreateTransaction"], ioc["orderFillTransaction"], ioc["orderCancelTransaction"]]
    partial = report_from_transactions("at0ioc7c1q2w3e1", txs)
    assert partial is not None
    assert (partial.status, partial.filled_quantity) == (OrderStatus.CANCELED, Decimal(1500000))
    assert (partial.time_in_force, partial.average_fill_price) == (TimeInForce.IOC, Decimal("154.218"))
