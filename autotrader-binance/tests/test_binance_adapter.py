"""The adapter's REST contract against documented Binance replies (pytest-httpx, no network)."""

from __future__ import annotations

import copy
import re
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from autotrader_binance import BinanceAdapter, BinanceSettings
from autotrader_core.adapter import OrderChange
from autotrader_core.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from autotrader_core.errors import (
    ConfigurationError,
    DuplicateClientOrderId,
    InvalidOrder,
    OrderNotFound,
    UnsupportedFeature,
)
from autotrader_core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderFilled,
    OrderModified,
    OrderModifyRejected,
)
from autotrader_core.models import Order
from binance_support import DOC_API_KEY, DOC_SECRET, raw_payload
from pytest_httpx import HTTPXMock

BASE = "https://testnet.binance.vision"
pytestmark = pytest.mark.anyio


def settings(**overrides: Any) -> BinanceSettings:
    values: dict[str, Any] = {"api_key": DOC_API_KEY, "api_secret": DOC_SECRET}
    values.update(overrides)
    return BinanceSettings(_env_file=None, **values)  # type: ignore[call-arg]


def sent_params(request: httpx.Request) -> dict[str, str]:
    """Every parameter sent: the query string (GET) or the form body (POST/PUT/DELETE)."""
    params = dict(parse_qsl(request.url.query.decode("ascii")))
    params.update(parse_qsl(request.content.decode("ascii")))
    return params


def limit_order(**overrides: Any) -> Order:
    values: dict[str, Any] = {
        "client_order_id": "at1abc",
        "symbol": "ETHBTC",
        "side": OrderSide.BUY,
        "order_type": OrderType.LIMIT,
        "quantity": Decimal("100.000"),
        "limit_price": Decimal("0.102644"),
    }
    values.update(overrides)
    return Order(**values)


def resting_reply(order: Order) -> dict[str, Any]:
    """The documented FULL reply reshaped for a limit order that rests on the book (no fills)."""
    reply: dict[str, Any] = copy.deepcopy(raw_payload("order_full.json"))
    reply.update(
        symbol=order.symbol,
        clientOrderId=order.client_order_id,
        price="0.10264400",
        origQty="100.00000000",
        executedQty="0.00000000",
        cummulativeQuoteQty="0.00000000",
        status="NEW",
        type="LIMIT",
        side="BUY",
        fills=[],
    )
    return reply


async def connected(httpx_mock: HTTPXMock) -> BinanceAdapter:
    httpx_mock.add_response(url=f"{BASE}/api/v3/time", json=raw_payload("time.json"))
    httpx_mock.add_response(url=f"{BASE}/api/v3/exchangeInfo", json=raw_payload("exchange_info.json"))
    adapter = BinanceAdapter(settings())
    await adapter.connect()
    return adapter


async def test_connect_syncs_clock_and_loads_rules(httpx_mock: HTTPXMock) -> None:
    adapter = await connected(httpx_mock)
    assert adapter.is_connected
    rules = adapter.symbol_rules("ETHBTC")
    assert rules is not None
    assert rules.instrument.tick_size == Decimal("0.00000100")
    assert adapter.http.clock.sample_count == 1
    await adapter.disconnect()
    await adapter.disconnect()  # safe twice
    assert not adapter.is_connected


async def test_connect_without_credentials_fails_before_sending(httpx_mock: HTTPXMock) -> None:
    adapter = BinanceAdapter(BinanceSettings(_env_file=None))  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="AUTOTRADER_BINANCE_API_KEY"):
        await adapter.connect()
    assert httpx_mock.get_requests() == []


async def test_submit_limit_sends_our_client_order_id(httpx_mock: HTTPXMock) -> None:
    adapter = await connected(httpx_mock)
    order = limit_order()
    httpx_mock.add_response(method="POST", json=resting_reply(order))
    events = await adapter.submit_order(order)
    assert [type(e) for e in events] == [OrderAccepted]
    assert isinstance(events[0], OrderAccepted)
    assert events[0].broker_order_id == "28"
    params = sent_params(httpx_mock.get_requests(method="POST")[0])
    assert params["newClientOrderId"] == "at1abc"
    assert params["type"] == "LIMIT"
    assert params["timeInForce"] == "GTC"
    assert params["side"] == "BUY"
    assert params["quantity"] == "100.000"
    assert params["price"] == "0.102644"
    assert params["newOrderRespType"] == "FULL"
    await adapter.disconnect()


async def test_market_order_full_reply_carries_fills(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="POST", json=raw_payload("order_full.json"))
    adapter = BinanceAdapter(settings())
    order = Order("at2", "BTCUSDT", OrderSide.SELL, OrderType.MARKET, Decimal("10"))
    events = await adapter.submit_order(order)
    fills = [e.fill for e in events if isinstance(e, OrderFilled)]
    assert len(fills) == 5
    assert sum(f.quantity for f in fills) == Decimal("10")
    params = sent_params(httpx_mock.get_request())  # type: ignore[arg-type]
    assert "timeInForce" not in params
    assert "price" not in params
    await adapter.disconnect()


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (limit_order(post_only=True), {"type": "LIMIT_MAKER"}),
        (
            limit_order(order_type=OrderType.STOP, limit_price=None, stop_price=Decimal("0.2")),
            {"type": "STOP_LOSS", "stopPrice": "0.2"},
        ),
        (
            limit_order(
                order_type=OrderType.STOP_LIMIT, stop_price=Decimal("0.2"), time_in_force=TimeInForce.IOC
            ),
            {"type": "STOP_LOSS_LIMIT", "stopPrice": "0.2", "price": "0.102644", "timeInForce": "IOC"},
        ),
    ],
)
async def test_order_type_mapping(httpx_mock: HTTPXMock, order: Order, expected: dict[str, str]) -> None:
    httpx_mock.add_response(method="POST", json=raw_payload("order_ack.json"))
    adapter = BinanceAdapter(settings())
    await adapter.submit_order(order)
    params = sent_params(httpx_mock.get_request())  # type: ignore[arg-type]
    for key, value in expected.items():
        assert params[key] == value
    if expected["type"] in ("LIMIT_MAKER", "STOP_LOSS"):
        assert "timeInForce" not in params
    await adapter.disconnect()


@pytest.mark.parametrize(
    "order",
    [
        limit_order(time_in_force=TimeInForce.DAY),
        limit_order(reduce_only=True),
        limit_order(post_only=True, time_in_force=TimeInForce.IOC),
        Order("at3", "BTCUSDT", OrderSide.BUY, OrderType.MARKET, Decimal("1"), time_in_force=TimeInForce.FOK),
    ],
)
async def test_unsupported_is_refused_before_sending(httpx_mock: HTTPXMock, order: Order) -> None:
    adapter = BinanceAdapter(settings())
    with pytest.raises(UnsupportedFeature):
        await adapter.submit_order(order)
    assert httpx_mock.get_requests() == []


@pytest.mark.parametrize(
    ("order", "message"),
    [
        (limit_order(quantity=Decimal("100.0005")), "step"),
        (limit_order(limit_price=Decimal("0.1026445")), "tick"),
        (limit_order(quantity=Decimal("0.001"), limit_price=Decimal("0.1")), "notional"),
        (limit_order(limit_price=None), "limit price is required"),
    ],
)
async def test_filter_failures_caught_before_sending(
    httpx_mock: HTTPXMock, order: Order, message: str
) -> None:
    adapter = await connected(httpx_mock)
    with pytest.raises(InvalidOrder, match=message):
        await adapter.submit_order(order)
    assert [r.url.path for r in httpx_mock.get_requests()] == ["/api/v3/time", "/api/v3/exchangeInfo"]
    await adapter.disconnect()


async def test_duplicate_client_order_id(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        method="POST", status_code=400, json={"code": -2010, "msg": "Duplicate order sent."}
    )
    adapter = BinanceAdapter(settings())
    with pytest.raises(DuplicateClientOrderId):
        await adapter.submit_order(limit_order())
    await adapter.disconnect()


async def test_cancel_by_broker_id(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="DELETE", json=raw_payload("cancel.json"))
    adapter = BinanceAdapter(settings())
    order = limit_order(symbol="LTCBTC", client_order_id="myOrder1", broker_order_id="4")
    events = await adapter.cancel_order(order)
    assert [type(e) for e in events] == [OrderCanceled]
    assert events[0].client_order_id == "myOrder1"
    params = sent_params(httpx_mock.get_request())  # type: ignore[arg-type]
    assert params["orderId"] == "4"
    assert "origClientOrderId" not in params
    await adapter.disconnect()


async def test_cancel_by_client_id_when_broker_id_unknown(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="DELETE", json=raw_payload("cancel.json"))
    adapter = BinanceAdapter(settings())
    await adapter.cancel_order(limit_order(symbol="LTCBTC", client_order_id="myOrder1"))
    assert sent_params(httpx_mock.get_request())["origClientOrderId"] == "myOrder1"  # type: ignore[arg-type]
    await adapter.disconnect()


async def test_cancel_restrictions_is_a_cancel_reject(httpx_mock: HTTPXMock) -> None:
    body = {"code": -2011, "msg": "Order was not canceled due to cancel restrictions."}
    httpx_mock.add_response(method="DELETE", status_code=400, json=body)
    adapter = BinanceAdapter(settings())
    events = await adapter.cancel_order(limit_order(broker_order_id="4"))
    assert [type(e) for e in events] == [OrderCancelRejected]
    await adapter.disconnect()


async def test_cancel_unknown_order_raises_not_found(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        method="DELETE", status_code=400, json={"code": -2011, "msg": "Unknown order sent."}
    )
    adapter = BinanceAdapter(settings())
    with pytest.raises(OrderNotFound):
        await adapter.cancel_order(limit_order(broker_order_id="4"))
    await adapter.disconnect()


async def test_get_order_by_client_id(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="GET", json=raw_payload("query_order.json"))
    adapter = BinanceAdapter(settings())
    report = await adapter.get_order(symbol="LTCBTC", client_order_id="myOrder1")
    assert report.status is OrderStatus.ACCEPTED
    assert report.broker_order_id == "1"
    assert sent_params(httpx_mock.get_request())["origClientOrderId"] == "myOrder1"  # type: ignore[arg-type]
    await adapter.disconnect()


async def test_get_order_unknown(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        method="GET", status_code=400, json={"code": -2013, "msg": "Order does not exist."}
    )
    adapter = BinanceAdapter(settings())
    with pytest.raises(OrderNotFound):
        await adapter.get_order(symbol="LTCBTC", broker_order_id="99")
    await adapter.disconnect()


async def test_open_orders(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="GET", json=[raw_payload("query_order.json")])
    adapter = BinanceAdapter(settings())
    (report,) = await adapter.get_open_orders("LTCBTC")
    assert report.client_order_id == "myOrder1"
    await adapter.disconnect()


async def test_fills_resolve_client_ids_by_order_lookup(httpx_mock: HTTPXMock) -> None:
    trades = raw_payload("my_trades.json")
    order_row = dict(raw_payload("query_order.json"), symbol="BNBBTC", orderId=100234, clientOrderId="at9")
    httpx_mock.add_response(method="GET", json=trades)
    httpx_mock.add_response(method="GET", json=order_row)
    adapter = BinanceAdapter(settings())
    (fill,) = await adapter.get_fills(symbol="BNBBTC")
    assert fill.client_order_id == "at9"
    assert fill.trade_id == "28457"
    first, second = httpx_mock.get_requests()
    assert first.url.path == "/api/v3/myTrades"
    assert second.url.path == "/api/v3/order"
    assert sent_params(second)["orderId"] == "100234"
    await adapter.disconnect()


async def test_balances_and_no_positions(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="GET", json=raw_payload("account.json"))
    adapter = BinanceAdapter(settings())
    balances = await adapter.get_balances()
    assert {b.asset for b in balances} == {"BTC", "LTC"}
    assert sent_params(httpx_mock.get_request())["omitZeroBalances"] == "true"  # type: ignore[arg-type]
    assert await adapter.get_positions() == []
    await adapter.disconnect()


async def test_instruments_only_trading_symbols(httpx_mock: HTTPXMock) -> None:
    info = copy.deepcopy(raw_payload("exchange_info.json"))
    halted = dict(copy.deepcopy(info["symbols"][0]), symbol="LTCBTC", status="HALT")
    info["symbols"].append(halted)
    httpx_mock.add_response(json=info)
    adapter = BinanceAdapter(settings())
    instruments = await adapter.get_instruments()
    assert [i.symbol for i in instruments] == ["ETHBTC"]
    await adapter.disconnect()


async def test_modify_quantity_down_uses_native_amend(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="PUT", json=raw_payload("amend_keep_priority.json"))
    adapter = BinanceAdapter(settings())
    order = limit_order(symbol="BTCUSDT", side=OrderSide.SELL, quantity=Decimal("10"), broker_order_id="33")
    (event,) = await adapter.modify_order(order, OrderChange(quantity=Decimal("5")))
    assert isinstance(event, OrderModified)
    assert event.quantity == Decimal("5.00000000")
    request = httpx_mock.get_request()
    assert request is not None
    assert request.url.path == "/api/v3/order/amend/keepPriority"
    params = sent_params(request)
    assert params["newQty"] == "5"
    assert params["newClientOrderId"] == order.client_order_id
    await adapter.disconnect()


def cancel_replace_success() -> dict[str, Any]:
    return {
        "cancelResult": "SUCCESS",
        "newOrderResult": "SUCCESS",
        "cancelResponse": raw_payload("cancel.json"),
        "newOrderResponse": dict(
            raw_payload("order_full.json"), status="NEW", executedQty="0.00000000", fills=[]
        ),
    }


async def test_modify_price_uses_cancel_replace_only_while_unfilled(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="POST", json=cancel_replace_success())
    adapter = BinanceAdapter(settings())
    order = limit_order(broker_order_id="4")
    events = await adapter.modify_order(order, OrderChange(limit_price=Decimal("0.1")))
    assert isinstance(events[0], OrderModified)
    assert events[0].limit_price == Decimal("0.1")
    assert events[0].broker_order_id == "28"
    request = httpx_mock.get_request()
    assert request is not None
    assert request.url.path == "/api/v3/order/cancelReplace"
    params = sent_params(request)
    assert params["cancelReplaceMode"] == "STOP_ON_FAILURE"
    assert params["cancelRestrictions"] == "ONLY_NEW"
    assert params["cancelOrderId"] == "4"
    assert params["newClientOrderId"] == "at1abc"
    assert params["price"] == "0.1"
    await adapter.disconnect()


async def test_cancel_replace_cancel_failed_is_modify_reject(httpx_mock: HTTPXMock) -> None:
    body = {
        "code": -2022,
        "msg": "Order cancel-replace failed.",
        "data": {
            "cancelResult": "FAILURE",
            "newOrderResult": "NOT_ATTEMPTED",
            "cancelResponse": {"code": -2011, "msg": "Order was not canceled due to cancel restrictions."},
            "newOrderResponse": None,
        },
    }
    httpx_mock.add_response(method="POST", status_code=400, json=body)
    adapter = BinanceAdapter(settings())
    events = await adapter.modify_order(
        limit_order(broker_order_id="4"), OrderChange(limit_price=Decimal("0.1"))
    )
    assert [type(e) for e in events] == [OrderModifyRejected]
    assert isinstance(events[0], OrderModifyRejected)
    assert "cancel restrictions" in events[0].reason
    await adapter.disconnect()


async def test_cancel_replace_half_success_reports_the_cancel(httpx_mock: HTTPXMock) -> None:
    body = {
        "code": -2021,
        "msg": "Order cancel-replace partially failed.",
        "data": {
            "cancelResult": "SUCCESS",
            "newOrderResult": "FAILURE",
            "cancelResponse": raw_payload("cancel.json"),
            "newOrderResponse": {"code": -2010, "msg": "Order would immediately match and take."},
        },
    }
    httpx_mock.add_response(method="POST", status_code=409, json=body)
    adapter = BinanceAdapter(settings())
    events = await adapter.modify_order(
        limit_order(broker_order_id="4"), OrderChange(limit_price=Decimal("0.2"))
    )
    assert [type(e) for e in events] == [OrderCanceled, OrderModifyRejected]
    assert isinstance(events[1], OrderModifyRejected)
    assert "immediately match" in events[1].reason
    await adapter.disconnect()


async def test_partially_filled_order_cannot_be_repriced(httpx_mock: HTTPXMock) -> None:
    adapter = BinanceAdapter(settings())
    order = limit_order(broker_order_id="4", filled_quantity=Decimal("0.5"))
    with pytest.raises(UnsupportedFeature):
        await adapter.modify_order(order, OrderChange(limit_price=Decimal("0.1")))
    assert httpx_mock.get_requests() == []


async def test_modify_refuses_float_input_before_sending(httpx_mock: HTTPXMock) -> None:
    adapter = BinanceAdapter(settings())
    with pytest.raises(InvalidOrder, match="float"):
        await adapter.modify_order(limit_order(broker_order_id="4"), OrderChange(limit_price=0.1))  # type: ignore[arg-type]
    assert httpx_mock.get_requests() == []


async def test_one_unknown_open_order_costs_not_the_others(httpx_mock: HTTPXMock) -> None:
    """Rule 11: an order of a type the adapter does not know is reported and skipped, the rest come back."""
    known = raw_payload("query_order.json")
    unknown = dict(known, orderId=2, clientOrderId="other-tool", type="SOME_NEW_TYPE")  # composed
    httpx_mock.add_response(method="GET", json=[known, unknown, dict(known, orderId=3, clientOrderId="at3")])
    adapter = BinanceAdapter(settings())
    reports = await adapter.get_open_orders("LTCBTC")
    assert [r.client_order_id for r in reports] == ["myOrder1", "at3"]
    (bad,) = adapter.bad_items
    assert bad.what == "open order" and bad.raw["type"] == "SOME_NEW_TYPE" and not bad.may_hold_fill
    assert "SOME_NEW_TYPE" in str(bad.error)
    await adapter.disconnect()


async def test_a_fill_row_that_cannot_be_parsed_is_skipped_with_a_fill_alert(httpx_mock: HTTPXMock) -> None:
    trades = raw_payload("my_trades.json")
    broken = dict(trades[0], id=28458, price=None)  # composed: a row off the documented shape
    order_row = dict(raw_payload("query_order.json"), symbol="BNBBTC", orderId=100234, clientOrderId="at9")
    httpx_mock.add_response(method="GET", json=[*trades, broken])
    httpx_mock.add_response(method="GET", json=order_row)
    adapter = BinanceAdapter(settings())
    (fill,) = await adapter.get_fills(symbol="BNBBTC")
    assert fill.trade_id == "28457"
    (bad,) = adapter.bad_items
    assert bad.what == "fill" and bad.may_hold_fill
    await adapter.disconnect()


async def test_one_bad_balance_row_costs_not_the_others(httpx_mock: HTTPXMock) -> None:
    account = copy.deepcopy(raw_payload("account.json"))
    account["balances"].append({"asset": "XYZ", "free": "NaN?", "locked": "0"})  # composed
    httpx_mock.add_response(method="GET", json=account)
    adapter = BinanceAdapter(settings())
    assert {b.asset for b in await adapter.get_balances()} == {"BTC", "LTC"}
    assert [b.what for b in adapter.bad_items] == ["balance"]
    await adapter.disconnect()


async def test_a_fill_of_an_order_that_cannot_be_resolved_is_reported_not_fatal(
    httpx_mock: HTTPXMock,
) -> None:
    trades = raw_payload("my_trades.json")
    other = dict(trades[0], id=28460, orderId=100999)  # composed: a trade of an order the lookup cannot read
    order_row = dict(raw_payload("query_order.json"), symbol="BNBBTC", orderId=100234, clientOrderId="at9")
    httpx_mock.add_response(method="GET", json=[*trades, other])
    httpx_mock.add_response(method="GET", url=re.compile(r".*orderId=100234.*"), json=order_row)
    httpx_mock.add_response(method="GET", url=re.compile(r".*orderId=100999.*"), json={"orderId": 100999})
    adapter = BinanceAdapter(settings())
    (fill,) = await adapter.get_fills(symbol="BNBBTC")
    assert fill.client_order_id == "at9"
    (bad,) = adapter.bad_items
    assert bad.what == "fill" and bad.may_hold_fill and bad.raw["orderId"] == 100999
    await adapter.disconnect()
