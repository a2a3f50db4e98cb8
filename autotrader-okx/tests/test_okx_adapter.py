"""The adapter's REST contract against pytest-httpx (documented OKX replies, no network)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import okx_support as doc
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
    UnsupportedFeature,
)
from autotrader_core.events import OrderAccepted
from autotrader_core.models import Order
from autotrader_okx import OkxAdapter, OkxSettings
from autotrader_okx.auth import sign_rest
from okx_support import API_KEY, API_SECRET, PASSPHRASE, REST, load_json
from pydantic import SecretStr
from pytest_httpx import HTTPXMock

pytestmark = pytest.mark.anyio

ORDER_URL = f"{REST}/api/v5/trade/order"


def limit_order(**changes: Any) -> Order:
    fields: dict[str, Any] = {
        "client_order_id": "b15",
        "symbol": "BTC-USDT",
        "side": OrderSide.BUY,
        "order_type": OrderType.LIMIT,
        "quantity": Decimal("2"),
        "limit_price": Decimal("2.15"),
    }
    fields.update(changes)
    return Order(**fields)


def sent_json(request: httpx.Request) -> Any:
    return json.loads(request.content)


def assert_signed(request: httpx.Request, *, demo: bool = True) -> None:
    """The request carries a valid OKX signature over exactly what was sent."""
    stamp = request.headers["OK-ACCESS-TIMESTAMP"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp)
    target = request.url.raw_path.decode()
    expected = sign_rest(API_SECRET, stamp, request.method, target, request.content.decode())
    assert request.headers["OK-ACCESS-SIGN"] == expected
    assert request.headers["OK-ACCESS-KEY"] == API_KEY
    assert request.headers["OK-ACCESS-PASSPHRASE"] == PASSPHRASE
    assert (request.headers.get("x-simulated-trading") == "1") is demo


# -- connection ------------------------------------------------------------------
async def test_connect_syncs_the_clock_with_unsigned_public_time(
    adapter: OkxAdapter, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=f"{REST}/api/v5/public/time", text=doc.TIME)
    await adapter.connect()
    assert adapter.is_connected
    [request] = httpx_mock.get_requests()
    assert "OK-ACCESS-SIGN" not in request.headers
    # The documented server time is in 2020: the offset moves our signed timestamps there.
    assert adapter.http.clock.now_ms() < 1_700_000_000_000
    await adapter.disconnect()
    await adapter.disconnect()
    assert not adapter.is_connected


async def test_connect_without_credentials_fails_before_any_request(httpx_mock: HTTPXMock) -> None:
    adapter = OkxAdapter(OkxSettings(api_key=SecretStr("k"), _env_file=None))  # type: ignore[call-arg]
    with pytest.raises(Exception, match="AUTOTRADER_OKX_API_SECRET"):
        await adapter.connect()
    assert httpx_mock.get_requests() == []


# -- submit ----------------------------------------------------------------------
async def test_limit_order_body_signature_and_ack(adapter: OkxAdapter, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="POST", url=ORDER_URL, text=doc.PLACE_OK)
    events = await adapter.submit_order(limit_order())
    [request] = httpx_mock.get_requests()
    # Byte-identical to the documented example body (protocols.md §2.2 vector).
    assert request.content == (
        b'{"instId":"BTC-USDT","tdMode":"cash","clOrdId":"b15","side":"buy",'
        b'"ordType":"limit","px":"2.15","sz":"2"}'
    )
    assert request.headers["Content-Type"] == "application/json"
    assert_signed(request)
    assert events == [
        OrderAccepted(
            client_order_id="b15",
            broker_order_id="312269865356374016",
            timestamp=datetime.fromtimestamp(1695190491.421, tz=UTC),
        )
    ]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"time_in_force": TimeInForce.IOC}, {"ordType": "ioc", "px": "2.15"}),
        ({"time_in_force": TimeInForce.FOK}, {"ordType": "fok", "px": "2.15"}),
        ({"post_only": True}, {"ordType": "post_only", "px": "2.15"}),
        (
            {"order_type": OrderType.MARKET, "limit_price": None, "side": OrderSide.SELL},
            {"ordType": "market", "tgtCcy": "base_ccy", "side": "sell"},
        ),
        ({"quantity": Decimal("1E-8")}, {"sz": "0.00000001"}),  # never exponent notation
    ],
)
async def test_order_kinds_map_to_ord_type(
    adapter: OkxAdapter, httpx_mock: HTTPXMock, changes: dict[str, Any], expected: dict[str, str]
) -> None:
    httpx_mock.add_response(method="POST", url=ORDER_URL, text=doc.PLACE_OK)
    await adapter.submit_order(limit_order(**changes))
    body = sent_json(httpx_mock.get_requests()[0])
    assert {key: body.get(key) for key in expected} == expected
    assert body["clOrdId"] == "b15"
    if body["ordType"] == "market":
        assert "px" not in body


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"order_type": OrderType.STOP, "stop_price": Decimal("3")}, UnsupportedFeature, "stop"),
        ({"order_type": OrderType.STOP_LIMIT, "stop_price": Decimal("3")}, UnsupportedFeature, "stop_limit"),
        ({"time_in_force": TimeInForce.DAY}, UnsupportedFeature, "day"),
        ({"limit_price": None}, InvalidOrder, "limit_price"),
        ({"order_type": OrderType.MARKET}, InvalidOrder, "no limit_price"),
        ({"post_only": True, "time_in_force": TimeInForce.IOC}, InvalidOrder, "post_only"),
        ({"client_order_id": "a" * 33}, InvalidOrder, "clOrdId"),
        ({"client_order_id": "at-1"}, InvalidOrder, "clOrdId"),
        ({"symbol": "BTCUSDT"}, InvalidOrder, "BTC-USDT"),
        ({"quantity": Decimal("0")}, InvalidOrder, "quantity"),
        ({"quantity": 0.1}, InvalidOrder, "float"),
        ({"reduce_only": True}, InvalidOrder, "reduce_only"),
        ({"stop_price": Decimal("3")}, InvalidOrder, "stop_price"),
    ],
)
async def test_bad_orders_are_refused_before_anything_is_sent(
    adapter: OkxAdapter, httpx_mock: HTTPXMock, changes: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        await adapter.submit_order(limit_order(**changes))
    assert httpx_mock.get_requests() == []


@pytest.mark.parametrize(
    ("s_code", "s_msg", "error"),
    [
        ("51008", "Order failed. Insufficient USDT balance in account.", InsufficientFunds),
        ("51131", "Insufficient balance", InsufficientFunds),
        ("51016", "Duplicated clOrdId", DuplicateClientOrderId),
        ("51121", "Order quantity must be a multiple of the lot size", InvalidOrder),
        ("51000", "Parameter sz error", InvalidOrder),
        ("51001", "Instrument ID doesn't exist", InvalidOrder),
    ],
)
async def test_per_order_refusal_inside_http_200(
    adapter: OkxAdapter, httpx_mock: HTTPXMock, s_code: str, s_msg: str, error: type[Exception]
) -> None:
    # derived from the documented rejection envelope (protocols.md §2.3): code "1" + item sCode/sMsg
    body = load_json(doc.PLACE_REJECTED_NOT_ACTIVATED)
    body["data"][0].update(clOrdId="b15", sCode=s_code, sMsg=s_msg)
    httpx_mock.add_response(method="POST", url=ORDER_URL, json=body)
    with pytest.raises(error) as caught:
        await adapter.submit_order(limit_order())
    assert caught.value.code == s_code  # type: ignore[attr-defined]


async def test_documented_rejection_not_activated(adapter: OkxAdapter, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="POST", url=ORDER_URL, text=doc.PLACE_REJECTED_NOT_ACTIVATED)
    with pytest.raises(InvalidOrder, match="activated trading"):
        await adapter.submit_order(limit_order())


@pytest.mark.parametrize("status", [200, 429])
async def test_rate_limit_reply(adapter: OkxAdapter, httpx_mock: HTTPXMock, status: int) -> None:
    httpx_mock.add_response(method="POST", url=ORDER_URL, status_code=status, text=doc.RATE_LIMITED)
    with pytest.raises(RateLimited) as caught:
        await adapter.submit_order(limit_order())
    assert caught.value.code == "50011"
    assert caught.value.retry_after == 2.0


async def test_retry_after_header_wins(adapter: OkxAdapter, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        method="POST", url=ORDER_URL, status_code=429, headers={"Retry-After": "5"}, text=doc.RATE_LIMITED
    )
    with pytest.raises(RateLimited) as caught:
        await adapter.submit_order(limit_order())
    assert caught.value.retry_after == 5.0


async def test_invalid_key_is_authentication_error_without_secrets(
    adapter: OkxAdapter, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=f"{REST}/api/v5/account/balance", status_code=401, text=doc.INVALID_KEY)
    with pytest.raises(AuthenticationError) as caught:
        await adapter.get_balances()
    assert caught.value.code == "50111"
    assert not caught.value.retryable
    for secret in (API_KEY, API_SECRET, PASSPHRASE):
        assert secret not in str(caught.value)
        assert secret not in repr(caught.value)


async def test_expired_timestamp_resyncs_the_clock_and_retries_once(
    adapter: OkxAdapter, httpx_mock: HTTPXMock
) -> None:
    # 50102 body: code/msg from protocols.md §2.8 in the documented error envelope shape.
    httpx_mock.add_response(
        method="POST",
        url=ORDER_URL,
        status_code=401,
        json={"msg": "Timestamp request expired", "code": "50102"},
    )
    httpx_mock.add_response(url=f"{REST}/api/v5/public/time", text=doc.TIME)
    httpx_mock.add_response(method="POST", url=ORDER_URL, text=doc.PLACE_OK)
    [event] = await adapter.submit_order(limit_order())
    assert isinstance(event, OrderAccepted)
    first, sync, second = httpx_mock.get_requests()
    assert sync.url.path == "/api/v5/public/time"
    assert first.content == second.content  # same clOrdId: never a second order
    assert second.headers["OK-ACCESS-TIMESTAMP"].startswith("2020-08-10")  # the server's clock
    assert_signed(second)


async def test_server_error_is_unknown_outcome(adapter: OkxAdapter, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="POST", url=ORDER_URL, status_code=503, text="Service Unavailable")
    with pytest.raises(BrokerUnavailable):
        await adapter.submit_order(limit_order())


async def test_timeout_is_unknown_outcome(adapter: OkxAdapter, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), method="POST", url=ORDER_URL)
    with pytest.raises(RequestTimeout):
        await adapter.submit_order(limit_order())


async def test_okx_internal_timeout_code_is_unknown_outcome(
    adapter: OkxAdapter, httpx_mock: HTTPXMock
) -> None:
    body = {"code": "50004", "msg": "Endpoint request timeout. ", "data": []}
    httpx_mock.add_response(method="POST", url=ORDER_URL, json=body)
    with pytest.raises(RequestTimeout):
        await adapter.submit_order(limit_order())


async def test_reply_without_data_is_a_protocol_error(adapter: OkxAdapter, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="POST", url=ORDER_URL, json={"code": "0", "msg": ""})
    with pytest.raises(BrokerProtocolError):
        await adapter.submit_order(limit_order())


async def test_live_environment_sends_no_demo_header(httpx_mock: HTTPXMock) -> None:
    live = OkxAdapter(
        OkxSettings(  # type: ignore[call-arg]
            api_key=SecretStr(API_KEY),
            api_secret=SecretStr(API_SECRET),
            passphrase=SecretStr(PASSPHRASE),
            environment="live",
            _env_file=None,
        )
    )
    httpx_mock.add_response(method="POST", url=ORDER_URL, text=doc.PLACE_OK)
    await live.submit_order(limit_order())
    assert_signed(httpx_mock.get_requests()[0], demo=False)


# -- cancel / amend ----------------------------------------------------------------
async def test_cancel_by_broker_id_returns_no_event_until_confirmed(
    adapter: OkxAdapter, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(method="POST", url=f"{REST}/api/v5/trade/cancel-order", text=doc.CANCEL_OK)
    order = limit_order(broker_order_id="590908157585625111", status=OrderStatus.ACCEPTED)
    assert await adapter.cancel_order(order) == []
    request = httpx_mock.get_requests()[0]
    assert sent_json(request) == {"instId": "BTC-USDT", "ordId": "590908157585625111"}
    assert_signed(request)


async def test_cancel_by_client_id_when_broker_id_unknown(adapter: OkxAdapter, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="POST", url=f"{REST}/api/v5/trade/cancel-order", text=doc.CANCEL_OK)
    await adapter.cancel_order(limit_order())
    assert sent_json(httpx_mock.get_requests()[0]) == {"instId": "BTC-USDT", "clOrdId": "b15"}


async def test_cancel_of_unknown_order_is_order_not_found(adapter: OkxAdapter, httpx_mock: HTTPXMock) -> None:
    body = load_json(doc.CANCEL_OK)
    body.update(code="1", msg="All operations failed")  # derived: documented envelope, 51400 item
    body["data"][0].update(
        ordId="", clOrdId="b15", sCode="51400", sMsg="Cancellation failed as the order does not exist."
    )
    httpx_mock.add_response(method="POST", url=f"{REST}/api/v5/trade/cancel-order", json=body)
    with pytest.raises(OrderNotFound):
        await adapter.cancel_order(limit_order())


async def test_modify_uses_native_amend(adapter: OkxAdapter, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="POST", url=f"{REST}/api/v5/trade/amend-order", text=doc.AMEND_OK)
    order = limit_order(broker_order_id="590909145319051111", filled_quantity=Decimal("0.5"))
    assert (
        await adapter.modify_order(order, OrderChange(quantity=Decimal("3"), limit_price=Decimal("2.2")))
        == []
    )
    [request] = httpx_mock.get_requests()
    assert sent_json(request) == {
        "instId": "BTC-USDT",
        "ordId": "590909145319051111",
        "newSz": "3",
        "newPx": "2.2",
    }
    assert_signed(request)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (OrderChange(), InvalidOrder),
        (OrderChange(stop_price=Decimal("1")), UnsupportedFeature),
        (OrderChange(quantity=Decimal("0.5")), InvalidOrder),  # not above the filled 0.5
        (OrderChange(limit_price=Decimal("-1")), InvalidOrder),
    ],
)
async def test_bad_modify_is_refused_before_send(
    adapter: OkxAdapter, httpx_mock: HTTPXMock, change: OrderChange, error: type[Exception]
) -> None:
    with pytest.raises(error):
        await adapter.modify_order(limit_order(filled_quantity=Decimal("0.5")), change)
    assert httpx_mock.get_requests() == []


async def test_amend_of_finished_order_is_order_not_found(adapter: OkxAdapter, httpx_mock: HTTPXMock) -> None:
    body = load_json(doc.AMEND_OK)
    body.update(code="1", msg="All operations failed")  # derived: 51503 item
    body["data"][0].update(sCode="51503", sMsg="Order modification failed as the order does not exist.")
    httpx_mock.add_response(method="POST", url=f"{REST}/api/v5/trade/amend-order", json=body)
    with pytest.raises(OrderNotFound):
        await adapter.modify_order(limit_order(), OrderChange(limit_price=Decimal("2.2")))


# -- queries -------------------------------------------------------------------------
async def test_get_order_by_client_id(adapter: OkxAdapter, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=httpx.URL(ORDER_URL, params={"instId": "BTC-USDT", "clOrdId": "b15"}),
        text=doc.ORDER_FILLED_MARKET,
    )
    report = await adapter.get_order(symbol="BTC-USDT", client_order_id="b15")
    assert report.status is OrderStatus.FILLED
    assert report.filled_quantity == Decimal("0.00192834")
    assert_signed(httpx_mock.get_requests()[0])


async def test_get_order_prefers_the_broker_id(adapter: OkxAdapter, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=httpx.URL(ORDER_URL, params={"instId": "BTC-USDT", "ordId": "680800019749904384"}),
        text=doc.ORDER_FILLED_MARKET,
    )
    report = await adapter.get_order(
        symbol="BTC-USDT", client_order_id="b15", broker_order_id="680800019749904384"
    )
    assert report.broker_order_id == "680800019749904384"


async def test_get_unknown_order_is_order_not_found(adapter: OkxAdapter, httpx_mock: HTTPXMock) -> None:
    # 51603 with an empty data list, as OKX answers an unknown order query.
    httpx_mock.add_response(
        url=httpx.URL(ORDER_URL, params={"instId": "BTC-USDT", "clOrdId": "b15"}),
        json={"code": "51603", "msg": "Order does not exist", "data": []},
    )
    with pytest.raises(OrderNotFound):
        await adapter.get_order(symbol="BTC-USDT", client_order_id="b15")


def pending_item(ord_id: int) -> dict[str, Any]:
    # derived from the documented order object with the orders-pending excerpt's values (§2.3)
    item: dict[str, Any] = load_json(doc.ORDER_FILLED_MARKET)["data"][0]
    item.update(
        ordId=str(ord_id),
        ordType="post_only",
        px="13013.5",
        sz="0.001",
        state="live",
        accFillSz="0",
        avgPx="",
        fillPx="",
        fillSz="0",
        tradeId="",
        tgtCcy="",
        clOrdId=f"at{ord_id}",
    )
    return item


async def test_open_orders_follow_pagination(adapter: OkxAdapter, httpx_mock: HTTPXMock) -> None:
    first = [pending_item(1752588852617379840 - n) for n in range(100)]
    second = [pending_item(1752588852617379000)]
    pending = f"{REST}/api/v5/trade/orders-pending"
    httpx_mock.add_response(
        url=httpx.URL(pending, params={"instType": "SPOT", "limit": "100"}),
        json={"code": "0", "msg": "", "data": first},
    )
    httpx_mock.add_response(
        url=httpx.URL(pending, params={"instType": "SPOT", "limit": "100", "after": first[-1]["ordId"]}),
        json={"code": "0", "msg": "", "data": second},
    )
    reports = await adapter.get_open_orders()
    assert len(reports) == 101
    assert all(r.status is OrderStatus.ACCEPTED and r.limit_price == Decimal("13013.5") for r in reports)
    assert reports[0].client_order_id == "at1752588852617379840"


async def test_open_orders_for_one_symbol(adapter: OkxAdapter, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=httpx.URL(
            f"{REST}/api/v5/trade/orders-pending",
            params={"instType": "SPOT", "instId": "BTC-USDT", "limit": "100"},
        ),
        json={"code": "0", "msg": "", "data": []},
    )
    assert await adapter.get_open_orders("BTC-USDT") == []


async def test_fills_since_a_moment(adapter: OkxAdapter, httpx_mock: HTTPXMock) -> None:
    since = datetime.now(UTC) - timedelta(hours=1)
    begin = str(int(since.timestamp() * 1000))
    httpx_mock.add_response(
        url=httpx.URL(
            f"{REST}/api/v5/trade/fills", params={"instType": "SPOT", "begin": begin, "limit": "100"}
        ),
        text='{"code":"0","msg":"","data":[' + doc.FILL_ITEM + "]}",
    )
    [fill] = await adapter.get_fills(since=since)
    assert fill.trade_id == "744876980"
    assert fill.fee == Decimal("0.00000192834")


async def test_old_fills_come_from_fills_history(adapter: OkxAdapter, httpx_mock: HTTPXMock) -> None:
    since = datetime.now(UTC) - timedelta(days=10)
    begin = str(int(since.timestamp() * 1000))
    httpx_mock.add_response(
        url=httpx.URL(
            f"{REST}/api/v5/trade/fills-history",
            params={"instType": "SPOT", "instId": "BTC-USDT", "begin": begin, "limit": "100"},
        ),
        json={"code": "0", "msg": "", "data": []},
    )
    assert await adapter.get_fills(symbol="BTC-USDT", since=since) == []


async def test_balances_positions_instruments(adapter: OkxAdapter, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=f"{REST}/api/v5/account/balance", text=doc.BALANCE)
    httpx_mock.add_response(url=f"{REST}/api/v5/account/positions", text=doc.POSITIONS)
    httpx_mock.add_response(url=f"{REST}/api/v5/public/instruments?instType=SPOT", text=doc.INSTRUMENTS)
    [usdt] = await adapter.get_balances()
    assert usdt.available == Decimal("4834.317093622894")
    [position] = await adapter.get_positions()
    assert position.quantity == Decimal("0.00190433573")
    [instrument] = await adapter.get_instruments()
    assert instrument.tick_size == Decimal("0.1")
    balance_request, positions_request, instruments_request = httpx_mock.get_requests()
    assert_signed(balance_request)
    assert_signed(positions_request)
    assert "OK-ACCESS-SIGN" not in instruments_request.headers  # public endpoint


async def test_fills_window_is_judged_on_the_broker_clock(adapter: OkxAdapter, httpx_mock: HTTPXMock) -> None:
    # After connect() the clock follows OKX's (the documented server time is in 2020): a catch-up
    # "since" one hour before OKX's now is recent, even though it is years before our local clock.
    httpx_mock.add_response(url=f"{REST}/api/v5/public/time", text=doc.TIME)
    await adapter.connect()
    since = datetime.fromtimestamp(1597026383.085, tz=UTC) - timedelta(hours=1)
    begin = str(int(since.timestamp() * 1000))
    httpx_mock.add_response(
        url=httpx.URL(
            f"{REST}/api/v5/trade/fills", params={"instType": "SPOT", "begin": begin, "limit": "100"}
        ),
        json={"code": "0", "msg": "", "data": []},
    )
    assert await adapter.get_fills(since=since) == []


async def test_no_secret_in_debug_logs(
    adapter: OkxAdapter, httpx_mock: HTTPXMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    httpx_mock.add_response(method="POST", url=ORDER_URL, text=doc.PLACE_OK)
    httpx_mock.add_response(url=f"{REST}/api/v5/account/balance", status_code=401, text=doc.INVALID_KEY)
    await adapter.submit_order(limit_order())
    with pytest.raises(AuthenticationError):
        await adapter.get_balances()
    logged = caplog.text + repr(adapter) + repr(adapter.settings)
    for secret in (API_KEY, API_SECRET, PASSPHRASE):
        assert secret not in logged


@pytest.mark.parametrize(
    "ord_type", ["elp", "rpi", "mmp", "mmp_and_post_only", "op_fok", "optimal_limit_ioc"]
)
async def test_every_documented_order_type_of_another_tool_is_listed(
    adapter: OkxAdapter, httpx_mock: HTTPXMock, ord_type: str
) -> None:
    """An ELP/RPI order placed by another tool on the account is listed, not an error (issue 15)."""
    item = dict(pending_item(1752588852617379840), ordType=ord_type)  # derived: the documented item
    httpx_mock.add_response(
        url=httpx.URL(f"{REST}/api/v5/trade/orders-pending", params={"instType": "SPOT", "limit": "100"}),
        json={"code": "0", "msg": "", "data": [item]},
    )
    [report] = await adapter.get_open_orders()
    assert report.broker_order_id == "1752588852617379840"
    assert not list(adapter.bad_items)


async def test_one_order_of_an_unknown_type_costs_not_the_others(
    adapter: OkxAdapter, httpx_mock: HTTPXMock
) -> None:
    """Rule 11: an ordType OKX adds later is reported and skipped; the other orders come back."""
    unknown = dict(pending_item(1752588852617379839), ordType="some_future_type")  # composed
    data = [pending_item(1752588852617379840), unknown, pending_item(1752588852617379838)]
    httpx_mock.add_response(
        url=httpx.URL(f"{REST}/api/v5/trade/orders-pending", params={"instType": "SPOT", "limit": "100"}),
        json={"code": "0", "msg": "", "data": data},
    )
    reports = await adapter.get_open_orders()
    assert [r.broker_order_id for r in reports] == ["1752588852617379840", "1752588852617379838"]
    [bad] = adapter.bad_items
    assert bad.what == "open order" and bad.raw["ordType"] == "some_future_type"
    assert "some_future_type" in str(bad.error)


async def test_one_unreadable_fill_row_is_skipped_with_a_fill_alert(
    adapter: OkxAdapter, httpx_mock: HTTPXMock
) -> None:
    broken = doc.FILL_ITEM.replace('"fillPx"', '"fillPxGone"')  # composed: fillPx missing
    httpx_mock.add_response(
        url=httpx.URL(f"{REST}/api/v5/trade/fills", params={"instType": "SPOT", "limit": "100"}),
        text='{"code":"0","msg":"","data":[' + doc.FILL_ITEM + "," + broken + "]}",
    )
    [fill] = await adapter.get_fills()
    assert fill.trade_id == "744876980"
    [bad] = adapter.bad_items
    assert bad.what == "fill" and bad.may_hold_fill
