"""The adapter contract against recorded Coinbase replies (pytest-httpx; nothing leaves the machine)."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from autotrader_coinbase import CoinbaseAdapter, CoinbaseSettings
from autotrader_core.adapter import OrderChange
from autotrader_core.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from autotrader_core.errors import (
    BrokerProtocolError,
    InsufficientFunds,
    OrderNotFound,
    RequestTimeout,
    UnsupportedFeature,
)
from autotrader_core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderModified,
    OrderModifyRejected,
)
from autotrader_core.models import Order
from coinbase_payloads import API, load
from pytest_httpx import HTTPXMock

pytestmark = pytest.mark.anyio

ORDER_ID = "62475e97-7485-45eb-a5ac-594805fa2748"


def _order(**kw: Any) -> Order:
    values: dict[str, Any] = {
        "client_order_id": "at1kz3m9qabc1",
        "symbol": "BTC-USD",
        "side": OrderSide.BUY,
        "order_type": OrderType.LIMIT,
        "quantity": Decimal("0.001"),
        "limit_price": Decimal("10000.00"),
    }
    values.update(kw)
    return Order(**values)


def _success(client_order_id: str, order_id: str = ORDER_ID) -> dict[str, Any]:
    """The documented success reply (protocols.md §3.3) for our ids."""
    body = copy.deepcopy(load("create_order_success"))
    body["order_id"] = order_id
    body["success_response"].update(order_id=order_id, client_order_id=client_order_id)
    body["order_configuration"] = {
        "limit_limit_gtc": {"base_size": "0.001", "limit_price": "10000.00", "post_only": False}
    }
    return body


def _order_payload(**changes: Any) -> dict[str, Any]:
    """The documented order object (nautilus http_order.json) with our ids/status."""
    order = copy.deepcopy(load("get_order_limit_gtc")["order"])
    order.update(changes)
    return order


def _json(request: httpx.Request) -> Any:
    return json.loads(request.content)


# -- submit ---------------------------------------------------------------------------------------


async def test_submit_limit_sends_client_order_id_and_returns_accepted(
    httpx_mock: HTTPXMock, adapter: CoinbaseAdapter
) -> None:
    order = _order()
    httpx_mock.add_response(url=f"{API}/orders", method="POST", json=_success(order.client_order_id))
    events = await adapter.submit_order(order)
    assert events == [OrderAccepted(order.client_order_id, ORDER_ID, timestamp=events[0].timestamp)]
    assert _json(httpx_mock.get_request()) == {  # type: ignore[arg-type]
        "client_order_id": order.client_order_id,
        "product_id": "BTC-USD",
        "side": "BUY",
        "order_configuration": {
            "limit_limit_gtc": {"base_size": "0.001", "limit_price": "10000.00", "post_only": False}
        },
    }


async def test_resend_after_timeout_reuses_the_client_order_id_and_gets_the_same_order(
    httpx_mock: HTTPXMock, adapter: CoinbaseAdapter
) -> None:
    """Coinbase's idempotency key: the second send returns the first order, never a new one."""
    order = _order()
    httpx_mock.add_exception(httpx.ReadTimeout("timed out"), url=f"{API}/orders", method="POST")
    httpx_mock.add_response(url=f"{API}/orders", method="POST", json=_success(order.client_order_id))
    with pytest.raises(RequestTimeout):
        await adapter.submit_order(order)
    [accepted] = await adapter.submit_order(order)
    first, second = httpx_mock.get_requests()
    assert first.content == second.content  # byte-identical re-send
    assert _json(second)["client_order_id"] == order.client_order_id
    assert isinstance(accepted, OrderAccepted)
    assert accepted.broker_order_id == ORDER_ID
    # And the order is now addressable by our id without another lookup:
    httpx_mock.add_response(
        url=f"{API}/orders/historical/{ORDER_ID}",
        json={"order": _order_payload(order_id=ORDER_ID, client_order_id=order.client_order_id)},
    )
    report = await adapter.get_order(symbol="BTC-USD", client_order_id=order.client_order_id)
    assert report.broker_order_id == ORDER_ID


async def test_lookup_by_client_id_after_restart_searches_recent_orders(
    httpx_mock: HTTPXMock, adapter: CoinbaseAdapter
) -> None:
    order = _order()
    page = {
        "orders": [
            _order_payload(order_id="other", client_order_id="someone-else"),
            _order_payload(
                order_id=ORDER_ID, client_order_id=order.client_order_id, status="OPEN", filled_size="0"
            ),
        ],
        "has_next": False,
        "cursor": "",
        "sequence": "0",
    }
    httpx_mock.add_response(url=f"{API}/orders/historical/batch?limit=250&product_ids=BTC-USD", json=page)
    report = await adapter.get_order(symbol="BTC-USD", client_order_id=order.client_order_id)
    assert report.broker_order_id == ORDER_ID
    assert report.status is OrderStatus.ACCEPTED


async def test_unknown_client_id_is_order_not_found(httpx_mock: HTTPXMock, adapter: CoinbaseAdapter) -> None:
    httpx_mock.add_response(
        url=f"{API}/orders/historical/batch?limit=250&product_ids=BTC-USD",
        json={"orders": [], "has_next": False, "cursor": "", "sequence": "0"},
    )
    with pytest.raises(OrderNotFound):
        await adapter.get_order(symbol="BTC-USD", client_order_id="nope")


async def test_submit_rejected_with_http_200_success_false(
    httpx_mock: HTTPXMock, adapter: CoinbaseAdapter
) -> None:
    httpx_mock.add_response(url=f"{API}/orders", method="POST", json=load("create_order_insufficient_fund"))
    with pytest.raises(InsufficientFunds) as info:
        await adapter.submit_order(_order(order_type=OrderType.MARKET, limit_price=None))
    assert info.value.code == "INSUFFICIENT_FUND"


async def test_malformed_submit_reply_is_a_protocol_error(
    httpx_mock: HTTPXMock, adapter: CoinbaseAdapter
) -> None:
    httpx_mock.add_response(url=f"{API}/orders", method="POST", json={"success": True})
    with pytest.raises(BrokerProtocolError):
        await adapter.submit_order(_order())


@pytest.mark.parametrize(
    "order",
    [
        _order(order_type=OrderType.STOP, stop_price=Decimal("9000"), limit_price=None),
        _order(time_in_force=TimeInForce.DAY),
        _order(order_type=OrderType.MARKET, limit_price=None, time_in_force=TimeInForce.FOK),
    ],
)
async def test_unsupported_orders_never_reach_the_network(
    httpx_mock: HTTPXMock, adapter: CoinbaseAdapter, order: Order
) -> None:
    with pytest.raises(UnsupportedFeature):
        await adapter.submit_order(order)
    assert httpx_mock.get_requests() == []


# -- cancel ---------------------------------------------------------------------------------------


def _cancel_reply(order_id: str, success: bool, reason: str) -> dict[str, Any]:
    return {"results": [{"success": success, "failure_reason": reason, "order_id": order_id}]}


async def test_cancel_confirms_with_a_query(httpx_mock: HTTPXMock, adapter: CoinbaseAdapter) -> None:
    order = _order(broker_order_id=ORDER_ID)
    httpx_mock.add_response(
        url=f"{API}/orders/batch_cancel",
        method="POST",
        match_json={"order_ids": [ORDER_ID]},
        json=_cancel_reply(ORDER_ID, True, "UNKNOWN_CANCEL_FAILURE_REASON"),
    )
    httpx_mock.add_response(
        url=f"{API}/orders/historical/batch?order_ids={ORDER_ID}",
        json={
            "orders": [
                _order_payload(order_id=ORDER_ID, client_order_id=order.client_order_id, status="CANCELLED")
            ],
            "has_next": False,
            "cursor": "",
            "sequence": "0",
        },
    )
    [event] = await adapter.cancel_order(order)
    assert isinstance(event, OrderCanceled)
    assert event.client_order_id == order.client_order_id


async def test_cancel_still_queued_returns_no_event_yet(
    httpx_mock: HTTPXMock, adapter: CoinbaseAdapter
) -> None:
    order = _order(broker_order_id=ORDER_ID)
    httpx_mock.add_response(
        url=f"{API}/orders/batch_cancel", method="POST", json=_cancel_reply(ORDER_ID, True, "")
    )
    httpx_mock.add_response(
        url=f"{API}/orders/historical/batch?order_ids={ORDER_ID}",
        json={"orders": [_order_payload(order_id=ORDER_ID, status="CANCEL_QUEUED")], "has_next": False},
    )
    assert await adapter.cancel_order(order) == []


async def test_cancel_unknown_order_raises_order_not_found(
    httpx_mock: HTTPXMock, adapter: CoinbaseAdapter
) -> None:
    httpx_mock.add_response(
        url=f"{API}/orders/batch_cancel",
        method="POST",
        json=_cancel_reply("gone", False, "UNKNOWN_CANCEL_ORDER"),
    )
    with pytest.raises(OrderNotFound) as info:
        await adapter.cancel_order(_order(broker_order_id="gone"))
    assert info.value.code == "UNKNOWN_CANCEL_ORDER"


async def test_cancel_of_filled_order_is_cancel_rejected(
    httpx_mock: HTTPXMock, adapter: CoinbaseAdapter
) -> None:
    httpx_mock.add_response(
        url=f"{API}/orders/batch_cancel",
        method="POST",
        json=_cancel_reply(ORDER_ID, False, "ORDER_IS_FULLY_FILLED"),
    )
    [event] = await adapter.cancel_order(_order(broker_order_id=ORDER_ID))
    assert isinstance(event, OrderCancelRejected)
    assert event.reason == "ORDER_IS_FULLY_FILLED"


async def test_batch_cancel_sends_one_request_for_many(
    httpx_mock: HTTPXMock, adapter: CoinbaseAdapter
) -> None:
    a, b = (
        _order(client_order_id="a", broker_order_id="id-a"),
        _order(client_order_id="b", broker_order_id="id-b"),
    )
    httpx_mock.add_response(
        url=f"{API}/orders/batch_cancel",
        method="POST",
        match_json={"order_ids": ["id-a", "id-b"]},
        json={
            "results": [
                {"success": True, "failure_reason": "UNKNOWN_CANCEL_FAILURE_REASON", "order_id": "id-a"},
                {"success": False, "failure_reason": "UNKNOWN_CANCEL_ORDER", "order_id": "id-b"},
            ]
        },
    )
    httpx_mock.add_response(
        url=f"{API}/orders/historical/batch?order_ids=id-a",
        json={
            "orders": [_order_payload(order_id="id-a", client_order_id="a", status="CANCELLED")],
            "has_next": False,
        },
    )
    events = await adapter.cancel_orders([a, b])
    assert {type(e).__name__: e.client_order_id for e in events} == {
        "OrderCanceled": "a",
        "OrderCancelRejected": "b",
    }


# -- modify ---------------------------------------------------------------------------------------


async def test_modify_limit_gtc_uses_native_edit(httpx_mock: HTTPXMock, adapter: CoinbaseAdapter) -> None:
    order = _order(broker_order_id=ORDER_ID)
    httpx_mock.add_response(
        url=f"{API}/orders/edit",
        method="POST",
        match_json={"order_id": ORDER_ID, "price": "19000.00", "size": "0.001"},
        json={"success": True, "errors": []},
    )
    [event] = await adapter.modify_order(order, OrderChange(limit_price=Decimal("19000.00")))
    assert isinstance(event, OrderModified)
    assert (event.limit_price, event.quantity, event.broker_order_id) == (
        Decimal("19000.00"),
        Decimal("0.001"),
        ORDER_ID,
    )


async def test_modify_refused_by_coinbase(httpx_mock: HTTPXMock, adapter: CoinbaseAdapter) -> None:
    httpx_mock.add_response(
        url=f"{API}/orders/edit",
        method="POST",
        json={
            "success": False,
            "errors": [
                {
                    "edit_failure_reason": "CANNOT_EDIT_TO_BELOW_FILLED_SIZE",
                    "preview_failure_reason": "UNKNOWN_PREVIEW_FAILURE_REASON",
                }
            ],
        },
    )
    [event] = await adapter.modify_order(
        _order(broker_order_id=ORDER_ID), OrderChange(quantity=Decimal("0.0005"))
    )
    assert isinstance(event, OrderModifyRejected)
    assert event.reason == "CANNOT_EDIT_TO_BELOW_FILLED_SIZE"


async def test_modify_unknown_order(httpx_mock: HTTPXMock, adapter: CoinbaseAdapter) -> None:
    httpx_mock.add_response(
        url=f"{API}/orders/edit",
        method="POST",
        json={"success": False, "errors": [{"edit_failure_reason": "ORDER_NOT_FOUND"}]},
    )
    with pytest.raises(OrderNotFound):
        await adapter.modify_order(_order(broker_order_id=ORDER_ID), OrderChange(limit_price=Decimal("1")))


async def test_modify_non_limit_gtc_is_refused_before_send(
    httpx_mock: HTTPXMock, adapter: CoinbaseAdapter
) -> None:
    order = _order(broker_order_id=ORDER_ID, order_type=OrderType.STOP_LIMIT, stop_price=Decimal("9000"))
    with pytest.raises(UnsupportedFeature):
        await adapter.modify_order(order, OrderChange(limit_price=Decimal("9500")))
    assert httpx_mock.get_requests() == []


# -- queries --------------------------------------------------------------------------------------


async def test_get_order_by_broker_id_and_404(httpx_mock: HTTPXMock, adapter: CoinbaseAdapter) -> None:
    httpx_mock.add_response(
        url=f"{API}/orders/historical/0000-000000-000000", json=load("get_order_limit_gtc")
    )
    report = await adapter.get_order(symbol="BTC-USD", broker_order_id="0000-000000-000000")
    assert report.client_order_id == "11111-000000-000000"
    assert report.status is OrderStatus.PARTIALLY_FILLED
    httpx_mock.add_response(
        url=f"{API}/orders/historical/missing",
        status_code=404,
        json={
            "error": "NOT_FOUND",
            "error_details": "order with this orderID was not found",
            "message": "order with this orderID was not found",
        },
    )
    with pytest.raises(OrderNotFound):
        await adapter.get_order(symbol="BTC-USD", broker_order_id="missing")


async def test_open_orders_follow_the_cursor(httpx_mock: HTTPXMock, adapter: CoinbaseAdapter) -> None:
    first = {
        "orders": [_order_payload(order_id="o1", client_order_id="c1", filled_size="0")],
        "has_next": True,
        "cursor": "page2",
        "sequence": "1",
    }
    second = {
        "orders": [_order_payload(order_id="o2", client_order_id="c2")],
        "has_next": False,
        "cursor": "",
        "sequence": "2",
    }
    httpx_mock.add_response(
        url=f"{API}/orders/historical/batch?order_status=OPEN&limit=250&product_ids=BTC-USD", json=first
    )
    httpx_mock.add_response(
        url=f"{API}/orders/historical/batch?order_status=OPEN&limit=250&product_ids=BTC-USD&cursor=page2",
        json=second,
    )
    reports = await adapter.get_open_orders("BTC-USD")
    assert [(r.client_order_id, r.status) for r in reports] == [
        ("c1", OrderStatus.ACCEPTED),
        ("c2", OrderStatus.PARTIALLY_FILLED),
    ]


async def test_get_fills_resolves_client_ids_of_unknown_orders(
    httpx_mock: HTTPXMock, adapter: CoinbaseAdapter
) -> None:
    httpx_mock.add_response(
        url=f"{API}/orders/historical/fills?limit=250&product_ids=BTC-USD", json=load("fills_doc_item")
    )
    httpx_mock.add_response(
        url=f"{API}/orders/historical/0000-000000-000000", json=load("get_order_limit_gtc")
    )
    [fill] = await adapter.get_fills(symbol="BTC-USD")
    assert fill.client_order_id == "11111-000000-000000"
    assert fill.side is OrderSide.BUY  # the fill's side is empty in the doc sample: taken from its order
    assert (fill.quantity, fill.price, fill.fee) == (Decimal("0.001"), Decimal("10000.00"), Decimal("1.25"))


async def test_balances_and_positions(httpx_mock: HTTPXMock, adapter: CoinbaseAdapter) -> None:
    last = copy.deepcopy(load("accounts"))
    last["has_next"] = False
    last["accounts"][0].update(currency="USD", available_balance={"value": "100.50", "currency": "USD"})
    last["accounts"][0]["hold"] = {"value": "0", "currency": "USD"}
    httpx_mock.add_response(url=f"{API}/accounts?limit=250", json=load("accounts"))
    httpx_mock.add_response(url=f"{API}/accounts?limit=250&cursor=789100", json=last)
    balances = await adapter.get_balances()
    assert [(b.asset, b.total, b.available) for b in balances] == [
        ("BTC", Decimal("2.46"), Decimal("1.23")),
        ("USD", Decimal("100.50"), Decimal("100.50")),
    ]
    assert await adapter.get_positions() == []


async def test_instruments(httpx_mock: HTTPXMock, adapter: CoinbaseAdapter) -> None:
    disabled = dict(load("product_btc_usd"), product_id="OLD-USD", trading_disabled=True)
    httpx_mock.add_response(
        url=f"{API}/products?product_type=SPOT",
        json={"products": [load("product_btc_usd"), disabled], "num_products": 2},
    )
    [btc] = await adapter.get_instruments()
    assert (btc.symbol, btc.tick_size, btc.lot_size, btc.min_notional) == (
        "BTC-USD",
        Decimal("0.01"),
        Decimal("0.00000001"),
        Decimal("1"),
    )


async def test_sandbox_instruments_come_from_the_live_public_endpoint(httpx_mock: HTTPXMock) -> None:
    adapter = CoinbaseAdapter(CoinbaseSettings(_env_file=None))  # type: ignore[call-arg]
    httpx_mock.add_response(
        url=f"{API}/market/products?product_type=SPOT",
        json={"products": [load("product_btc_usd")], "num_products": 1},
    )
    await adapter.connect()  # sandbox: no clock sync, nothing sent
    [btc] = await adapter.get_instruments()
    assert btc.symbol == "BTC-USD"
    assert "Authorization" not in httpx_mock.get_request().headers  # type: ignore[union-attr]
    with pytest.raises(UnsupportedFeature, match="sandbox"):
        async for _ in adapter.stream_events():
            pass
    await adapter.disconnect()
    await adapter.disconnect()  # twice is safe
    assert not adapter.is_connected


async def test_connect_syncs_the_clock_in_live(httpx_mock: HTTPXMock, adapter: CoinbaseAdapter) -> None:
    httpx_mock.add_response(url=f"{API}/time", json=load("time"), is_reusable=True)
    await adapter.connect()
    assert adapter.is_connected
    assert len(httpx_mock.get_requests()) == 3
    assert "signed=True" in repr(adapter)


async def test_order_of_another_client_id_is_not_ours(
    httpx_mock: HTTPXMock, adapter: CoinbaseAdapter
) -> None:
    httpx_mock.add_response(
        url=f"{API}/orders/historical/0000-000000-000000", json=load("get_order_limit_gtc")
    )
    with pytest.raises(OrderNotFound, match="belongs to client order id"):
        await adapter.get_order(
            symbol="BTC-USD", client_order_id="mine", broker_order_id="0000-000000-000000"
        )


async def test_server_time(httpx_mock: HTTPXMock, adapter: CoinbaseAdapter) -> None:
    from datetime import UTC, datetime

    httpx_mock.add_response(url=f"{API}/time", json=load("time"))
    assert await adapter.server_time() == datetime(2026, 11, 24, 20, 0, 0, 123000, tzinfo=UTC)


async def test_fills_of_a_perpetual_take_the_fee_currency_from_the_product(
    httpx_mock: HTTPXMock, adapter: CoinbaseAdapter
) -> None:
    """Issue 15 point 10: the fee currency comes from the product, fetched once when the id is not BASE-QUOTE."""
    fills = copy.deepcopy(load("fills_doc_item"))
    fills["fills"][0].update(product_id="ADA-PERP-INTX", side="BUY")  # derived from the doc item
    product = dict(load("product_btc_usd"))  # composed: the documented product as an INTX perpetual
    product.update(
        product_id="ADA-PERP-INTX",
        product_type="FUTURE",
        base_currency_id="ADA",
        quote_currency_id="USDC",
        base_increment="1",
    )
    httpx_mock.add_response(url=f"{API}/orders/historical/fills?limit=250", json=fills)
    httpx_mock.add_response(
        url=f"{API}/orders/historical/0000-000000-000000", json=load("get_order_limit_gtc")
    )
    httpx_mock.add_response(url=f"{API}/products/ADA-PERP-INTX", json=product)
    [fill] = await adapter.get_fills()
    assert fill.fee_currency == "USDC"


async def test_one_unreadable_fill_costs_not_the_others(
    httpx_mock: HTTPXMock, adapter: CoinbaseAdapter
) -> None:
    """Rule 11: a fill entry off the documented shape is reported as a possibly lost fill and skipped."""
    fills = copy.deepcopy(load("fills_doc_item"))
    broken = dict(fills["fills"][0], trade_id="t-broken", price="not a number")  # composed
    fills["fills"] = [broken, *fills["fills"], "garbage"]
    httpx_mock.add_response(url=f"{API}/orders/historical/fills?limit=250", json=fills)
    httpx_mock.add_response(
        url=f"{API}/orders/historical/0000-000000-000000", json=load("get_order_limit_gtc")
    )
    [fill] = await adapter.get_fills()
    assert fill.trade_id == "1111-11111-111111"
    assert [(bad.what, bad.may_hold_fill) for bad in adapter.bad_items] == [("fill", True), ("fill", True)]


async def test_one_unknown_open_order_costs_not_the_others(
    httpx_mock: HTTPXMock, adapter: CoinbaseAdapter
) -> None:
    page = {
        "orders": [_order_payload(), _order_payload(order_id="o-other", status="SOME_NEW_STATUS")],
        "has_next": False,
        "cursor": "",
    }  # the second order is composed: a status added later
    httpx_mock.add_response(url=f"{API}/orders/historical/batch?order_status=OPEN&limit=250", json=page)
    reports = await adapter.get_open_orders()
    assert len(reports) == 1
    [bad] = adapter.bad_items
    assert bad.what == "order" and "SOME_NEW_STATUS" in str(bad.error)


async def test_declares_the_client_order_id_as_idempotency_key(adapter: CoinbaseAdapter) -> None:
    from autotrader_core.resend import ResendRule

    guarantee = adapter.resend_guarantee
    assert guarantee.rule is ResendRule.IDEMPOTENCY_KEY
    assert guarantee.resend_is_immediately_safe
    assert "client_order_id" in guarantee.source


async def test_resend_answered_with_the_existing_order_is_that_order_not_a_new_one(
    httpx_mock: HTTPXMock, adapter: CoinbaseAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    """The first send was taken (its reply lost); the re-send's reply is the existing order (§3.3)."""
    from autotrader_core.oms import OrderManager

    oms = OrderManager()
    order = oms.add(_order())
    first = _success(order.client_order_id)
    httpx_mock.add_response(url=f"{API}/orders", method="POST", json=first)  # the first send, answered
    httpx_mock.add_response(url=f"{API}/orders", method="POST", json=copy.deepcopy(first))  # the re-send
    for event in await adapter.submit_order(order):
        oms.apply(event)
    with caplog.at_level("ERROR"):
        resent = await adapter.submit_order(order)
    assert resent == [OrderAccepted(order.client_order_id, ORDER_ID, timestamp=resent[0].timestamp)]
    for event in resent:
        oms.apply(event)
    assert [o.client_order_id for o in oms] == [order.client_order_id]  # one order, not two
    assert order.broker_order_id == ORDER_ID
    assert order.status is OrderStatus.ACCEPTED
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    # The stream's updates of the existing order are the client order's events.
    httpx_mock.add_response(
        url=f"{API}/orders/historical/{ORDER_ID}",
        json={"order": _order_payload(order_id=ORDER_ID, client_order_id=order.client_order_id)},
    )
    report = await adapter.get_order(symbol="BTC-USD", client_order_id=order.client_order_id)
    assert (report.client_order_id, report.broker_order_id) == (order.client_order_id, ORDER_ID)
