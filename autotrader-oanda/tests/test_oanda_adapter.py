"""The adapter against recorded OANDA replies (pytest-httpx; no network)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from autotrader_core.adapter import OrderChange
from autotrader_core.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from autotrader_core.errors import (
    AuthenticationError,
    BrokerProtocolError,
    BrokerUnavailable,
    DuplicateClientOrderId,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    RateLimited,
    RequestTimeout,
)
from autotrader_core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderModified,
    OrderModifyRejected,
)
from autotrader_core.models import Order
from autotrader_core.resiliency import RetryPolicy, retry
from autotrader_oanda import OandaAdapter
from oanda_helpers import FAKE_TOKEN, REST, load, replay, reply_of
from pytest_httpx import HTTPXMock

pytestmark = pytest.mark.anyio


def _order(input_: dict[str, Any]) -> Order:
    return Order(
        client_order_id=input_["client_order_id"],
        symbol=input_.get("symbol", "EUR_USD"),
        side=OrderSide(input_.get("side", "sell")),
        order_type=OrderType(input_.get("order_type", "limit")),
        quantity=Decimal(input_.get("quantity", "100")),
        limit_price=Decimal(input_["limit_price"]) if "limit_price" in input_ else None,
        time_in_force=TimeInForce(input_.get("time_in_force", "gtc")),
    )


async def test_connect_learns_the_home_currency_and_sends_the_documented_headers(
    adapter: OandaAdapter, httpx_mock: HTTPXMock
) -> None:
    replay(httpx_mock, "TC-CON-01")
    await adapter.connect()
    assert adapter.is_connected
    assert adapter.home_currency == "EUR"
    (request,) = httpx_mock.get_requests()
    assert request.headers["Authorization"] == f"Bearer {FAKE_TOKEN}"
    assert request.headers["Accept-Datetime-Format"] == "RFC3339"
    await adapter.disconnect()
    await adapter.disconnect()
    assert not adapter.is_connected
    assert FAKE_TOKEN not in repr(adapter)


async def test_bad_token_is_an_authentication_error_without_the_token(
    adapter: OandaAdapter, httpx_mock: HTTPXMock
) -> None:
    replay(httpx_mock, "TC-ERR-04")
    with pytest.raises(AuthenticationError) as caught:
        await adapter.connect()
    assert not caught.value.retryable
    assert FAKE_TOKEN not in str(caught.value)
    assert not adapter.is_connected


async def test_market_order_fill_comes_from_the_create_reply(
    adapter: OandaAdapter, httpx_mock: HTTPXMock
) -> None:
    recording = replay(httpx_mock, "TC-ORD-01")
    await adapter.connect()
    accepted, filled = await adapter.submit_order(_order(recording["input"]))
    assert isinstance(accepted, OrderAccepted)
    assert accepted.broker_order_id == "6368"
    assert isinstance(filled, OrderFilled)
    fill = filled.fill
    assert fill.trade_id == "6369"
    assert (fill.quantity, fill.price, fill.fee, fill.fee_currency) == (
        Decimal(100),
        Decimal("1.05412"),
        Decimal("0.0000"),
        "EUR",
    )


async def test_ioc_partial_fill_then_cancel(adapter: OandaAdapter, httpx_mock: HTTPXMock) -> None:
    replay(httpx_mock, "edge/ioc-partial-fill")
    order = Order("at0ioc7c1q2w3e1", "USD_JPY", OrderSide.BUY, OrderType.MARKET, Decimal(2000000),
                  time_in_force=TimeInForce.IOC)  # fmt: skip
    accepted, filled, canceled = await adapter.submit_order(order)
    assert isinstance(accepted, OrderAccepted)
    assert isinstance(filled, OrderFilled)
    assert filled.fill.quantity == Decimal(1500000)
    assert filled.fill.price == Decimal("154.218")
    assert isinstance(canceled, OrderCanceled)
    assert canceled.reason == "INSUFFICIENT_LIQUIDITY"


async def test_limit_order_lifecycle(adapter: OandaAdapter, httpx_mock: HTTPXMock) -> None:
    recording = replay(httpx_mock, "TC-ORD-02", skip_optional=True)
    order = _order(recording["input"])
    (accepted,) = await adapter.submit_order(order)
    assert accepted == OrderAccepted(order.client_order_id, "2304", timestamp=accepted.timestamp)
    report = await adapter.get_order(symbol="EUR_USD", client_order_id=order.client_order_id)
    assert (report.status, report.limit_price, report.quantity) == (
        OrderStatus.ACCEPTED,
        Decimal("1.20000"),
        Decimal(100),
    )
    (canceled,) = await adapter.cancel_order(order)
    assert isinstance(canceled, OrderCanceled)
    assert canceled.client_order_id == order.client_order_id


async def test_order_found_by_client_id_and_broker_id(adapter: OandaAdapter, httpx_mock: HTTPXMock) -> None:
    recording = replay(httpx_mock, "TC-ORD-03", skip_optional=True)
    await adapter.submit_order(_order(recording["input"]))
    by_client = await adapter.get_order(symbol="EUR_USD", client_order_id="at0lim7c1q2w3e1")
    by_broker = await adapter.get_order(symbol="EUR_USD", broker_order_id="2304")
    assert by_client == by_broker
    assert httpx_mock.get_request(url=f"{REST}/orders/2304") is not None


async def test_filled_order_query_reads_the_filling_transaction(
    adapter: OandaAdapter, httpx_mock: HTTPXMock
) -> None:
    replay(httpx_mock, "edge/filled-order-query")
    report = await adapter.get_order(symbol="EUR_USD", client_order_id="at0mkt7c1q2w3e1")
    assert report.status is OrderStatus.FILLED
    assert report.filled_quantity == Decimal(100)
    assert report.average_fill_price == Decimal("1.05412")


async def test_open_orders_leave_out_trade_dependent_orders(
    adapter: OandaAdapter, httpx_mock: HTTPXMock
) -> None:
    replay(httpx_mock, "edge/pending-orders")
    reports = await adapter.get_open_orders()
    assert [(r.broker_order_id, r.order_type) for r in reports] == [
        ("2304", OrderType.LIMIT),
        ("2309", OrderType.STOP),
    ]
    assert reports[1].stop_price == Decimal("11500.0")
    assert reports[1].side is OrderSide.BUY


async def test_open_orders_for_one_symbol(adapter: OandaAdapter, httpx_mock: HTTPXMock) -> None:
    replay(httpx_mock, "edge/pending-orders")
    assert [r.symbol for r in await adapter.get_open_orders("DE30_EUR")] == ["DE30_EUR"]


async def test_modify_is_a_replace_with_a_new_broker_id(adapter: OandaAdapter, httpx_mock: HTTPXMock) -> None:
    recording = replay(httpx_mock, "TC-ORD-05", skip_optional=True)
    order = _order(recording["input"])
    await adapter.submit_order(order)
    order.broker_order_id = "2304"
    (modified,) = await adapter.modify_order(
        order, OrderChange(quantity=Decimal(500000), limit_price=Decimal("1.25000"))
    )
    assert isinstance(modified, OrderModified)
    assert modified.broker_order_id == "2307"
    assert (modified.quantity, modified.limit_price) == (Decimal(500000), Decimal("1.25000"))
    assert adapter.capabilities.native_modify


async def test_refused_replace_is_a_modify_reject(adapter: OandaAdapter, httpx_mock: HTTPXMock) -> None:
    reject = reply_of("TC-ERR-03", "submit")
    httpx_mock.add_response(method="PUT", url=f"{REST}/orders/@at0lim7c1q2w3e1", status_code=400, json=reject)
    order = _order(load("TC-ORD-02")["input"])
    (refused,) = await adapter.modify_order(order, OrderChange(limit_price=Decimal("1.3")))
    assert isinstance(refused, OrderModifyRejected)
    assert refused.reason == "PRICE_PRECISION_EXCEEDED"


async def test_insufficient_margin_cancel_raises_insufficient_funds(
    adapter: OandaAdapter, httpx_mock: HTTPXMock
) -> None:
    recording = replay(httpx_mock, "TC-ERR-01", skip_optional=True)
    with pytest.raises(InsufficientFunds) as caught:
        await adapter.submit_order(_order(recording["input"]))
    assert caught.value.code == "INSUFFICIENT_MARGIN"


async def test_unknown_order_on_query_and_cancel(adapter: OandaAdapter, httpx_mock: HTTPXMock) -> None:
    recording = replay(httpx_mock, "TC-ERR-02")
    client_id = recording["input"]["client_order_id"]
    await adapter.connect()
    with pytest.raises(OrderNotFound) as caught:
        await adapter.get_order(symbol="EUR_USD", client_order_id=client_id)
    assert caught.value.code == "ORDER_DOESNT_EXIST"
    order = Order(client_id, "EUR_USD", OrderSide.BUY, OrderType.LIMIT, Decimal(1), limit_price=Decimal(1))
    with pytest.raises(OrderNotFound):
        await adapter.cancel_order(order)


async def test_invalid_price_is_invalid_order(adapter: OandaAdapter, httpx_mock: HTTPXMock) -> None:
    recording = replay(httpx_mock, "TC-ERR-03", skip_optional=True)
    with pytest.raises(InvalidOrder) as caught:
        await adapter.submit_order(_order(recording["input"]))
    assert caught.value.code == "PRICE_PRECISION_EXCEEDED"


async def test_duplicate_client_id_means_already_there(adapter: OandaAdapter, httpx_mock: HTTPXMock) -> None:
    replay(httpx_mock, "edge/duplicate-client-id")
    order = _order({"client_order_id": "at0dup7c1q2w3e1", "limit_price": "1.20000"})
    with pytest.raises(DuplicateClientOrderId):
        await adapter.submit_order(order)


async def test_instrument_rules_refuse_before_anything_is_sent(
    adapter: OandaAdapter, httpx_mock: HTTPXMock
) -> None:
    replay(httpx_mock, "TC-INS-01", skip_optional=True)
    await adapter.get_instruments()
    order = _order({"client_order_id": "at0pre7c1q2w3e1", "limit_price": "1.200001"})
    with pytest.raises(InvalidOrder, match="PRICE_PRECISION_EXCEEDED"):
        await adapter.submit_order(order)
    assert len(httpx_mock.get_requests()) == 1  # only the instruments call


async def test_rate_limited(adapter: OandaAdapter, httpx_mock: HTTPXMock) -> None:
    replay(httpx_mock, "edge/rate-limited")
    with pytest.raises(RateLimited) as caught:
        await adapter.get_balances()
    assert caught.value.retryable


async def test_server_error_and_timeout_leave_the_outcome_unknown(
    adapter: OandaAdapter, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(method="POST", url=f"{REST}/orders", status_code=503, text="")
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), method="POST", url=f"{REST}/orders")
    order = _order({"client_order_id": "at0srv7c1q2w3e1", "limit_price": "1.20000"})
    with pytest.raises(BrokerUnavailable):
        await adapter.submit_order(order)
    with pytest.raises(RequestTimeout):
        await adapter.submit_order(order)


@pytest.mark.parametrize(
    "reply",
    [
        {"text": "<html>Bad gateway</html>"},
        {"json": {"relatedTransactionIDs": ["1"]}},
        {"json": ["not", "an", "object"]},
    ],
)
async def test_malformed_create_reply_is_a_protocol_error(
    adapter: OandaAdapter, httpx_mock: HTTPXMock, reply: dict[str, Any]
) -> None:
    httpx_mock.add_response(method="POST", url=f"{REST}/orders", status_code=201, **reply)
    with pytest.raises(BrokerProtocolError):
        await adapter.submit_order(_order({"client_order_id": "at0bad7c1q2w3e1", "limit_price": "1.20000"}))


async def test_balances_positions_instruments(adapter: OandaAdapter, httpx_mock: HTTPXMock) -> None:
    replay(httpx_mock, "TC-BAL-01")
    replay(httpx_mock, "TC-POS-01", skip_optional=True)
    replay(httpx_mock, "TC-INS-01", skip_optional=True)
    await adapter.connect()
    (balance,) = await adapter.get_balances()
    assert (balance.asset, balance.total, balance.available) == (
        "EUR",
        Decimal("35454.4740"),
        Decimal("24872.9740"),
    )
    (position,) = await adapter.get_positions()
    assert (position.symbol, position.quantity) == ("EUR_USD", Decimal(-100))
    symbols = [i.symbol for i in await adapter.get_instruments()]
    assert symbols == ["EUR_USD", "DE30_EUR"]


async def test_fill_history_pages_through_idrange(adapter: OandaAdapter, httpx_mock: HTTPXMock) -> None:
    replay(httpx_mock, "edge/fill-history")
    fills = await adapter.get_fills(since=datetime(2022, 1, 29, 18, 28, 0, 6101, tzinfo=UTC))
    (fill,) = fills  # the trade-close fill has no client id: not ours
    assert (fill.trade_id, fill.client_order_id) == ("60", "at0cls7c1q2w3e1")
    assert (fill.side, fill.quantity, fill.price) == (OrderSide.SELL, Decimal(5), Decimal("1.14508"))


async def test_fill_history_needs_an_aware_time(adapter: OandaAdapter) -> None:
    with pytest.raises(InvalidOrder, match="timezone"):
        await adapter.get_fills(since=datetime(2022, 1, 29))


async def test_replacement_that_fills_at_once_reports_the_fill(
    adapter: OandaAdapter, httpx_mock: HTTPXMock
) -> None:
    """A replace whose new price is marketable: OANDA answers with the replacement's ORDER_FILL too."""
    reply = dict(reply_of("TC-ORD-05", "modify"))
    fill = dict(
        reply_of("TC-ORD-01", "submit")["orderFillTransaction"],
        id="2308",
        orderID="2307",
        clientOrderID="at0lim7c1q2w3e1",
        units="-500000",
        tradeOpened={"tradeID": "2308", "units": "-500000", "price": "1.25000"},
    )
    reply["orderFillTransaction"] = fill
    httpx_mock.add_response(method="PUT", url=f"{REST}/orders/@at0lim7c1q2w3e1", status_code=201, json=reply)
    order = _order(load("TC-ORD-02")["input"])
    modified, filled = await adapter.modify_order(order, OrderChange(quantity=Decimal(500000)))
    assert isinstance(modified, OrderModified)
    assert modified.broker_order_id == "2307"
    assert isinstance(filled, OrderFilled)
    assert (filled.fill.trade_id, filled.fill.broker_order_id) == ("2308", "2307")
    assert (filled.fill.quantity, filled.fill.price) == (Decimal(500000), Decimal("1.25000"))


async def test_modify_of_an_unknown_order_is_order_not_found(
    adapter: OandaAdapter, httpx_mock: HTTPXMock
) -> None:
    not_found = reply_of("TC-ERR-02", "cancel")
    httpx_mock.add_response(
        method="PUT", url=f"{REST}/orders/@at0lim7c1q2w3e1", status_code=404, json=not_found
    )
    with pytest.raises(OrderNotFound):
        await adapter.modify_order(
            _order(load("TC-ORD-02")["input"]), OrderChange(limit_price=Decimal("1.3"))
        )


async def test_rate_limited_without_retry_after_backs_off_then_succeeds(
    adapter: OandaAdapter, httpx_mock: HTTPXMock
) -> None:
    """OANDA's 429 carries no Retry-After: the core retry falls back on its own backoff."""
    replay(httpx_mock, "edge/rate-limited")
    replay(httpx_mock, "TC-CON-01")
    waits: list[float] = []
    balances = await retry(
        adapter.get_balances,
        RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, jitter=0.0),
        on_retry=lambda attempt, error, delay: waits.append(delay),
    )
    assert [b.asset for b in balances] == ["EUR"]
    assert waits == [0.01]


async def test_a_finished_order_unknown_by_client_id_is_found_in_the_transactions(
    adapter: OandaAdapter, httpx_mock: HTTPXMock
) -> None:
    """OANDA keeps client ids unique among *pending* orders only; a lookup must still find a filled one."""
    replay(httpx_mock, "TC-CON-01")
    reply = reply_of("TC-ORD-01", "submit")
    httpx_mock.add_response(
        url=f"{REST}/orders/@at0mkt7c1q2w3e1", status_code=404, json=reply_of("TC-ERR-02", "query")
    )
    httpx_mock.add_response(
        url=f"{REST}/transactions/sinceid?id=2123",
        json={
            "transactions": [reply["orderCreateTransaction"], reply["orderFillTransaction"]],
            "lastTransactionID": "6369",
        },
    )
    await adapter.connect()
    report = await adapter.get_order(symbol="EUR_USD", client_order_id="at0mkt7c1q2w3e1")
    assert (report.status, report.broker_order_id) == (OrderStatus.FILLED, "6368")
    assert (report.filled_quantity, report.average_fill_price) == (Decimal(100), Decimal("1.05412"))


async def test_one_pending_order_of_an_unknown_type_costs_not_the_others(
    adapter: OandaAdapter, httpx_mock: HTTPXMock
) -> None:
    """Rule 11: an order the adapter cannot read is reported and skipped; the others come back."""
    reply = reply_of("edge/pending-orders", "open")
    orders = reply["orders"]
    unknown = dict(orders[0], id="2399", type="SOME_FUTURE_ORDER", units="not a number")  # composed
    reply = dict(reply, orders=[orders[0], unknown, *orders[1:]])
    httpx_mock.add_response(url=f"{REST}/pendingOrders", json=json.loads(json.dumps(reply, default=str)))
    reports = await adapter.get_open_orders()
    assert [r.broker_order_id for r in reports] == ["2304", "2309"]
    [bad] = adapter.bad_items
    assert bad.what == "open order" and bad.raw["id"] == "2399"


def test_declares_no_resend_guarantee_with_the_reason() -> None:
    from autotrader_core.resend import ResendRule
    from oanda_helpers import make_settings

    guarantee = OandaAdapter(make_settings()).resend_guarantee
    assert guarantee.rule is ResendRule.NONE
    assert not guarantee.allows_resend
    assert "pending" in guarantee.source and "expiry" in guarantee.source


async def test_lost_replace_reply_then_the_stream_reads_the_replace_not_a_cancel(
    adapter: OandaAdapter, httpx_mock: HTTPXMock
) -> None:
    """Issue 14 item 2, checked on OANDA: the replace's cancel of the old id is never a cancel."""
    from autotrader_core.enums import OrderStatus
    from autotrader_core.oms import OrderManager

    recording = load("TC-ORD-05")
    submit = reply_of("TC-ORD-05", "submit")
    httpx_mock.add_response(
        method="POST", url=f"{REST}/orders", status_code=201, json=json.loads(json.dumps(submit, default=str))
    )
    httpx_mock.add_exception(
        httpx.ReadTimeout("reply lost"), method="PUT", url=f"{REST}/orders/@at0lim7c1q2w3e1"
    )
    oms = OrderManager()
    order = oms.add(_order(recording["input"]))
    for event in await adapter.submit_order(order):
        oms.apply(event)
    oms.mark_pending_modify(order.client_order_id)
    with pytest.raises(RequestTimeout):
        await adapter.modify_order(
            order, OrderChange(quantity=Decimal(500000), limit_price=Decimal("1.25000"))
        )
    # The transaction stream then delivers what the replace did (the same transactions as the lost reply).
    replaced = reply_of("TC-ORD-05", "modify")
    statuses = []
    for key in ("orderCancelTransaction", "orderCreateTransaction"):
        for event in adapter._translator.events(json.loads(json.dumps(replaced[key], default=str))):
            oms.apply(event)
            statuses.append(order.status)
    assert OrderStatus.CANCELED not in statuses
    assert order.status is OrderStatus.ACCEPTED
    assert order.broker_order_id == "2307"
    assert order.limit_price == Decimal("1.25000")
