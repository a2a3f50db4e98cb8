"""RestClient: wire encoding, signing, rate limits, error mapping and secret hygiene."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from decimal import Decimal as D
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

import anyio
import anyio.abc
import anyio.lowlevel
import httpx
import pytest
from autotrader_core.clock import ClockOffset
from autotrader_core.enums import OrderSide, TimeInForce
from autotrader_core.errors import (
    AuthenticationError,
    AutotraderError,
    BrokerError,
    BrokerProtocolError,
    BrokerUnavailable,
    ConfigurationError,
    InsufficientFunds,
    InvalidOrder,
    RateLimited,
    RequestTimeout,
)
from autotrader_core.resiliency import RateLimiter
from autotrader_core.rest import (
    DEFAULT_BAN_SECONDS,
    RestClient,
    RestRequest,
    encode_json_body,
    encode_param,
    encode_query,
    parse_retry_after,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpx import HTTPXMock

BASE = "https://api.broker.test"
API_KEY = "fake-api-key-0123456789abcdef"
SECRET = b"fake-secret-do-not-use"


def no_errors(response: httpx.Response, body: Any) -> AutotraderError | None:
    return None


def hmac_signer(request: RestRequest) -> None:
    """Binance-style: timestamp param, HMAC-SHA256 over the exact query string."""
    request.params.append(("timestamp", str(request.timestamp_ms)))
    signature = hmac.new(SECRET, request.query_string().encode(), hashlib.sha256).hexdigest()
    request.params.append(("signature", signature))


def make_client(**kwargs: Any) -> RestClient:
    options: dict[str, Any] = {"broker": "testbroker", "base_url": BASE, "error_mapper": no_errors}
    options.update(kwargs)
    return RestClient(**options)


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await anyio.lowlevel.checkpoint()


# -- parameter and body encoding -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (Decimal("0.00010"), "0.00010"),
        (Decimal("1E+2"), "100"),
        (Decimal("1.5E-7"), "0.00000015"),
        (Decimal("-3"), "-3"),
        (True, "true"),
        (False, "false"),
        (OrderSide.BUY, "buy"),
        (TimeInForce.IOC, "ioc"),
        (42, "42"),
        ("BTCUSDT", "BTCUSDT"),
    ],
)
def test_encode_param(value: object, wire: str) -> None:
    assert encode_param(value) == wire


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (0.1, TypeError, r"Decimal\('0.1'\)"),
        (Decimal("NaN"), ValueError, "non-finite"),
        (Decimal("Infinity"), ValueError, "non-finite"),
        (object(), TypeError, "cannot encode"),
    ],
)
def test_encode_param_refuses_unsafe_values(value: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        encode_param(value)


def test_json_body_keeps_key_order_and_sends_decimals_as_strings() -> None:
    body = {"instId": "BTC-USDT", "sz": Decimal("0.0100"), "px": Decimal("1E+4"), "reduceOnly": False}
    assert encode_json_body(body) == '{"instId":"BTC-USDT","sz":"0.0100","px":"10000","reduceOnly":false}'


@pytest.mark.anyio
async def test_query_parameters_go_out_in_order_as_plain_strings(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"ok": True})
    client = make_client()
    await client.request(
        "get",
        "/api/v3/order",
        params={
            "symbol": "BTCUSDT",
            "side": OrderSide.SELL,
            "quantity": Decimal("0.00100"),
            "price": Decimal("2.5E+4"),
            "newOrderRespType": None,  # left out
            "test": True,
        },
    )
    sent = httpx_mock.get_request()
    assert sent is not None
    assert sent.method == "GET"
    assert sent.url.path == "/api/v3/order"
    assert sent.url.query == b"symbol=BTCUSDT&side=sell&quantity=0.00100&price=25000&test=true"
    await client.aclose()


@pytest.mark.anyio
async def test_float_parameter_is_refused_before_anything_is_sent(httpx_mock: HTTPXMock) -> None:
    client = make_client()
    with pytest.raises(TypeError, match="floats lose precision"):
        await client.request("POST", "/order", params={"quantity": 0.1})
    assert httpx_mock.get_requests() == []


@pytest.mark.anyio
async def test_json_body_is_sent_exactly_as_signed(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"code": "0"})
    seen: list[str | None] = []

    def signer(request: RestRequest) -> None:
        seen.append(request.body)
        request.headers["X-SIGN"] = "sig-over-body"

    client = make_client(signer=signer)
    await client.request(
        "POST", "/api/v5/trade/order", json_body={"sz": Decimal("1.10"), "px": "3"}, signed=True
    )
    sent = httpx_mock.get_request()
    assert sent is not None
    assert sent.content.decode() == seen[0] == '{"sz":"1.10","px":"3"}'
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["X-SIGN"] == "sig-over-body"


@pytest.mark.anyio
async def test_form_body(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={})
    client = make_client()
    await client.request("POST", "/form", form={"symbol": "BTCUSDT", "quantity": Decimal("0.5"), "x": None})
    sent = httpx_mock.get_request()
    assert sent is not None
    assert sent.content == b"symbol=BTCUSDT&quantity=0.5"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"


@pytest.mark.anyio
async def test_json_and_form_together_is_a_usage_error(httpx_mock: HTTPXMock) -> None:
    with pytest.raises(ValueError, match="not both"):
        await make_client().request("POST", "/x", json_body={}, form={})


@pytest.mark.anyio
async def test_base_url_path_prefix_is_kept(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url="https://api.broker.test/v3/accounts/abc/orders?x=1", json={})
    client = make_client(base_url="https://api.broker.test/v3")
    await client.request("GET", "/accounts/abc/orders", params=[("x", 1)])


# -- parsing ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_numbers_are_parsed_as_decimal_never_float(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(text='{"price": 0.1, "qty": "0.2", "n": 3, "list": [1.10, 2E-8]}')
    body = await make_client().request("GET", "/x")
    assert body == {"price": Decimal("0.1"), "qty": "0.2", "n": 3, "list": [Decimal("1.10"), Decimal("2E-8")]}
    assert type(body["price"]) is Decimal
    assert str(body["list"][0]) == "1.10"


@pytest.mark.anyio
async def test_empty_body_returns_none(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=204, text="")
    assert await make_client().request("DELETE", "/x") is None


@pytest.mark.anyio
async def test_unparseable_ok_reply_is_a_protocol_error_with_the_text(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(text="<html>maintenance</html>")
    with pytest.raises(BrokerProtocolError, match="not JSON") as caught:
        await make_client().request("GET", "/x")
    assert caught.value.payload == "<html>maintenance</html>"
    assert caught.value.broker == "testbroker"


# -- signing and clock ------------------------------------------------------------------


@pytest.mark.anyio
async def test_signed_request_carries_a_signature_over_the_exact_query_on_the_wire(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_response(json={})
    fake = FakeTime()
    clock = ClockOffset(time_source=fake)
    clock.update(server_ms=1_700_000_000_500, sent_ms=1_700_000_000_000, received_ms=1_700_000_000_000)
    client = make_client(signer=hmac_signer, clock=clock)
    await client.request(
        "POST", "/api/v3/order", params={"symbol": "BTC USDT", "quantity": Decimal("1")}, signed=True
    )
    sent = httpx_mock.get_request()
    assert sent is not None
    query = sent.url.query.decode()
    unsigned, _, signature = query.rpartition("&signature=")
    assert unsigned == "symbol=BTC+USDT&quantity=1&timestamp=1700000000500"  # clock-corrected
    assert signature == hmac.new(SECRET, unsigned.encode(), hashlib.sha256).hexdigest()


@pytest.mark.anyio
async def test_unsigned_request_does_not_call_the_signer(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={})
    calls: list[RestRequest] = []
    await make_client(signer=calls.append).request("GET", "/public")
    assert calls == []


@pytest.mark.anyio
async def test_signed_request_without_signer_is_a_configuration_error(httpx_mock: HTTPXMock) -> None:
    with pytest.raises(ConfigurationError, match="must be signed"):
        await make_client().request("GET", "/private", signed=True)
    assert httpx_mock.get_requests() == []


@pytest.mark.anyio
async def test_timestamp_is_stamped_after_the_rate_limit_wait(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={})
    fake = FakeTime()
    limiter = RateLimiter("w", capacity=10, per_seconds=10, clock=fake, sleep=fake.sleep)
    await limiter.acquire(10)  # next request waits 5 s for 5 tokens
    stamped: list[int] = []
    client = make_client(
        signer=lambda r: stamped.append(r.timestamp_ms),
        rate_limiter=limiter,
        clock=ClockOffset(time_source=fake),
    )
    await client.request("GET", "/private", signed=True, weight=5)
    assert stamped == [1_700_000_005_000]  # not the pre-wait time: a stale timestamp gets -1021


@pytest.mark.anyio
async def test_sync_clock_updates_the_shared_clock(httpx_mock: HTTPXMock) -> None:
    fake = FakeTime()
    client = make_client(clock=ClockOffset(time_source=fake))

    async def server_time() -> int:
        return fake.now.__int__() * 1000 + 750

    assert await client.sync_clock(server_time, samples=2) == 750
    assert client.clock.now_ms() == 1_700_000_000_750


def test_request_repr_shows_names_not_values() -> None:
    request = RestRequest("GET", "/x", [("signature", "deadbeefcafe")], None, {"X-API-KEY": API_KEY}, 0, True)
    shown = repr(request)
    assert "signature" in shown
    assert "X-API-KEY" in shown
    assert "deadbeefcafe" not in shown
    assert API_KEY not in shown


def test_request_target_includes_the_query_string() -> None:
    assert RestRequest("GET", "/a", [("x", "1"), ("y", "a b")]).target == "/a?x=1&y=a+b"
    assert RestRequest("GET", "/a").target == "/a"


# -- rate limits ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_weights_are_taken_from_main_and_extra_limiters(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={})
    fake = FakeTime()
    weight = RateLimiter("weight", 6000, 60, clock=fake, sleep=fake.sleep)
    orders = RateLimiter("orders", 100, 10, clock=fake, sleep=fake.sleep)
    client = make_client(rate_limiter=weight)
    await client.request("POST", "/api/v3/order", weight=4, extra_limits=[(orders, 1)])
    assert weight.available == pytest.approx(5996)
    assert orders.available == pytest.approx(99)


@pytest.mark.anyio
async def test_on_response_sees_every_reply_including_errors(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={}, headers={"X-MBX-USED-WEIGHT-1M": "1100"})
    httpx_mock.add_response(status_code=429, json={"code": -1003}, headers={"X-MBX-USED-WEIGHT-1M": "1200"})
    limiter = RateLimiter("weight", 1200, 60)

    def read_usage(response: httpx.Response) -> None:
        limiter.observe_usage(float(response.headers["X-MBX-USED-WEIGHT-1M"]))

    client = make_client(rate_limiter=limiter, on_response=read_usage)
    await client.request("GET", "/a")
    assert limiter.available == pytest.approx(100, abs=1)
    with pytest.raises(RateLimited):
        await client.request("GET", "/b")
    assert limiter.available == pytest.approx(0, abs=1)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "headers", "retry_after", "banned"),
    [
        (429, {"Retry-After": "7"}, 7.0, False),
        (429, {}, None, False),
        (418, {"Retry-After": "120"}, 120.0, True),
        (418, {}, DEFAULT_BAN_SECONDS, True),
    ],
)
async def test_429_and_418_raise_rate_limited_and_block_the_limiters(
    httpx_mock: HTTPXMock, status: int, headers: dict[str, str], retry_after: float | None, banned: bool
) -> None:
    httpx_mock.add_response(
        status_code=status, headers=headers, json={"code": -1003, "msg": "Too many requests"}
    )
    fake = FakeTime()
    limiter = RateLimiter("weight", 1200, 60, clock=fake, sleep=fake.sleep)
    orders = RateLimiter("orders", 50, 10, clock=fake, sleep=fake.sleep)
    client = make_client(rate_limiter=limiter)
    with pytest.raises(RateLimited) as caught:
        await client.request("GET", "/x", extra_limits=[(orders, 1)])
    assert caught.value.retry_after == retry_after
    assert caught.value.banned is banned
    assert caught.value.retryable
    assert caught.value.broker_message is not None
    assert "Too many requests" in caught.value.broker_message
    expected_block = retry_after or 0.0
    assert limiter.blocked_for == pytest.approx(expected_block)
    assert orders.blocked_for == pytest.approx(expected_block)


@pytest.mark.anyio
async def test_mapper_rate_limit_gets_retry_after_from_the_header(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=429, headers={"Retry-After": "3"}, json={"code": -1003})

    def mapper(response: httpx.Response, body: Any) -> AutotraderError | None:
        return RateLimited("binance -1003", code=body["code"]) if body and body.get("code") == -1003 else None

    limiter = RateLimiter("w", 10, 1)
    with pytest.raises(RateLimited, match="binance -1003") as caught:
        await make_client(error_mapper=mapper, rate_limiter=limiter).request("GET", "/x")
    assert caught.value.retry_after == 3.0
    assert caught.value.broker == "testbroker"
    assert caught.value.code == "-1003"
    assert limiter.blocked_for == pytest.approx(3.0, abs=0.1)


@pytest.mark.anyio
async def test_mapper_ban_without_retry_after_blocks_for_the_default_ban(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=418, json={"code": -1003, "msg": "IP banned"})

    def mapper(response: httpx.Response, body: Any) -> AutotraderError | None:
        return RateLimited("banned", banned=True) if response.status_code == 418 else None

    limiter = RateLimiter("w", 10, 1)
    with pytest.raises(RateLimited) as caught:
        await make_client(error_mapper=mapper, rate_limiter=limiter).request("GET", "/x")
    assert caught.value.retry_after == DEFAULT_BAN_SECONDS
    assert limiter.blocked_for == pytest.approx(DEFAULT_BAN_SECONDS, abs=0.5)


# -- error mapping ----------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, '{"code":-2015,"msg":"Invalid API-key"}', AuthenticationError),
        (403, "<html>WAF</html>", AuthenticationError),
        (500, '{"msg":"internal"}', BrokerUnavailable),
        (502, "<html>Bad Gateway</html>", BrokerUnavailable),
        (503, "", BrokerUnavailable),
        (400, '{"code":-1102,"msg":"Mandatory parameter"}', BrokerError),
        (404, "not found", BrokerError),
        (302, "", BrokerProtocolError),
    ],
)
async def test_generic_status_mapping(
    httpx_mock: HTTPXMock, status: int, body: str, error: type[Exception]
) -> None:
    httpx_mock.add_response(status_code=status, text=body)
    with pytest.raises(error) as caught:
        await make_client().request("GET", "/x")
    assert type(caught.value) is error  # exact class: a 400 must not pass for a transient error
    assert f"HTTP {status}" in str(caught.value)
    assert caught.value.broker == "testbroker"  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_broker_mapper_runs_first_even_on_http_200(httpx_mock: HTTPXMock) -> None:
    """OKX reports refusals inside HTTP 200."""
    httpx_mock.add_response(
        json={"code": "1", "msg": "", "data": [{"sCode": "51008", "sMsg": "Insufficient balance"}]}
    )
    seen: list[Any] = []

    def okx_mapper(response: httpx.Response, body: Any) -> AutotraderError | None:
        seen.append(body)
        if body["code"] != "0":
            item = body["data"][0]
            return InsufficientFunds("order refused", code=item["sCode"], broker_message=item["sMsg"])
        return None

    with pytest.raises(InsufficientFunds) as caught:
        await make_client(error_mapper=okx_mapper).request("POST", "/api/v5/trade/order", json_body={})
    assert caught.value.code == "51008"
    assert caught.value.broker == "testbroker"
    assert seen[0]["data"][0]["sCode"] == "51008"


@pytest.mark.anyio
async def test_broker_mapper_overrides_generic_status(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=400, json={"code": -2010, "msg": "Account has insufficient balance"})

    def mapper(response: httpx.Response, body: Any) -> AutotraderError | None:
        return InsufficientFunds("no balance", code=body["code"]) if body["code"] == -2010 else None

    with pytest.raises(InsufficientFunds):
        await make_client(error_mapper=mapper).request("POST", "/order")


@pytest.mark.anyio
async def test_mapper_gets_none_for_an_unparseable_body(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=502, text="<html>")
    seen: list[Any] = []

    def mapper(response: httpx.Response, body: Any) -> AutotraderError | None:
        seen.append(body)
        return None

    with pytest.raises(BrokerUnavailable):
        await make_client(error_mapper=mapper).request("GET", "/x")
    assert seen == [None]


@pytest.mark.anyio
async def test_mapper_that_raises_is_honoured(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"code": 51000})

    def mapper(response: httpx.Response, body: Any) -> AutotraderError | None:
        raise InvalidOrder("bad parameter")

    with pytest.raises(InvalidOrder, match="bad parameter"):
        await make_client(error_mapper=mapper).request("GET", "/x")


@pytest.mark.anyio
async def test_mapper_crashing_on_an_odd_payload_is_a_protocol_error(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=["unexpected", "list"])

    def mapper(response: httpx.Response, body: Any) -> AutotraderError | None:
        return None if body["code"] == "0" else InvalidOrder("x")

    with pytest.raises(BrokerProtocolError, match="documented format") as caught:
        await make_client(error_mapper=mapper).request("GET", "/x")
    assert "unexpected" in caught.value.payload


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("exception", "error"),
    [
        (httpx.ReadTimeout("timed out"), RequestTimeout),
        (httpx.ConnectTimeout("timed out"), RequestTimeout),
        (httpx.WriteTimeout("timed out"), RequestTimeout),
        (httpx.PoolTimeout("timed out"), RequestTimeout),
        (httpx.ConnectError("[Errno 111] Connection refused"), BrokerUnavailable),
        (httpx.ReadError("Connection reset by peer"), BrokerUnavailable),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), BrokerUnavailable),
        (httpx.UnsupportedProtocol("Request URL has an unsupported protocol"), ConfigurationError),
        (httpx.DecodingError("bad gzip"), BrokerProtocolError),
    ],
)
async def test_transport_failures_map_to_the_error_tree(
    httpx_mock: HTTPXMock, exception: Exception, error: type[Exception]
) -> None:
    httpx_mock.add_exception(exception)
    with pytest.raises(error) as caught:
        await make_client().request("POST", "/api/v3/order")
    assert type(caught.value) is error
    assert "POST /api/v3/order" in str(caught.value)
    assert caught.value.__cause__ is None  # the httpx request (headers, signed URL) is not attached


@pytest.mark.anyio
async def test_timeouts_are_retryable_and_say_the_outcome_is_unknown(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("timed out"))
    with pytest.raises(RequestTimeout, match="outcome is unknown") as caught:
        await make_client(timeout=2.5).request("POST", "/order")
    assert caught.value.retryable
    assert "2.5s" in str(caught.value)


# -- secrets ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_secrets_never_reach_errors_or_logs(
    httpx_mock: HTTPXMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="autotrader_core.rest")
    signatures: list[str] = []

    def signer(request: RestRequest) -> None:
        hmac_signer(request)
        signatures.append(request.params[-1][1])

    client = make_client(signer=signer, default_headers={"X-MBX-APIKEY": API_KEY})
    httpx_mock.add_response(
        status_code=401, json={"code": -2015, "msg": "Invalid API-key, IP, or permissions"}
    )
    with pytest.raises(AuthenticationError) as auth_error:
        await client.request("GET", "/api/v3/account", signed=True)
    # A transport error whose text echoes the signed URL and key must be scrubbed.
    leaky_url = f"{BASE}/api/v3/order?symbol=BTCUSDT&timestamp=1&signature=SIGPLACEHOLDER"

    def leaky_signer(request: RestRequest) -> None:
        request.params.append(("signature", "abcdef0123456789"))

    leaky = make_client(signer=leaky_signer, default_headers={"X-MBX-APIKEY": API_KEY})
    httpx_mock.add_exception(
        httpx.ConnectError(
            f"cannot reach {leaky_url.replace('SIGPLACEHOLDER', 'abcdef0123456789')} key={API_KEY}"
        )
    )
    with pytest.raises(BrokerUnavailable) as transport_error:
        await leaky.request("GET", "/api/v3/order", params={"symbol": "BTCUSDT"}, signed=True)

    texts = [str(auth_error.value), str(transport_error.value), caplog.text]
    for text in texts:
        assert API_KEY not in text
        assert signatures[0] not in text
        assert "abcdef0123456789" not in text
    assert "GET /api/v3/account -> 401" in caplog.text  # what is logged: method, path, status, time


# -- client lifecycle -------------------------------------------------------------------


@pytest.mark.anyio
async def test_one_http_client_is_reused_and_closing_twice_is_safe(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={}, is_reusable=True)
    client = make_client()
    assert client.is_closed is True
    await client.request("GET", "/a")
    first = client.http
    await client.request("GET", "/b")
    assert client.http is first
    states = [client.is_closed]
    async with client:
        pass
    states.append(client.is_closed)
    assert states == [False, True]
    await client.aclose()
    assert "testbroker" in repr(client)


@pytest.mark.anyio
async def test_custom_transport_override_is_used() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"served": "loopback"})

    client = make_client(transport=httpx.MockTransport(handler))
    assert await client.request("GET", "/x") == {"served": "loopback"}
    assert len(seen) == 1
    await client.aclose()


# -- Retry-After parsing ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("5", 5.0),
        ("1.5", 1.5),
        (" 30 ", 30.0),
        ("-4", 0.0),
        ("", None),
        (None, None),
        ("soon", None),
        ("nan", None),
    ],
)
def test_parse_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(90)
    past = format_datetime(now - timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(past, now=now) == 0.0


def test_json_helper_roundtrip_is_decimal_exact() -> None:
    text = encode_json_body({"a": Decimal("0.1"), "b": [Decimal("2.50")]})
    assert json.loads(text) == {"a": "0.1", "b": ["2.50"]}


# -- real transport against loopback servers (the httpx exceptions as they really occur) -----


class LoopbackServer:
    """A raw TCP server on 127.0.0.1 whose behaviour per connection is a coroutine."""

    def __init__(self, behaviour: Callable[[anyio.abc.SocketStream], Awaitable[None]]) -> None:
        self.behaviour = behaviour
        self.requests: list[bytes] = []

    async def serve(self, task_group: anyio.abc.TaskGroup) -> str:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        port = listener.extra(anyio.abc.SocketAttribute.local_port)

        async def handle(stream: anyio.abc.SocketStream) -> None:
            async with stream:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += await stream.receive()
                self.requests.append(data)
                await self.behaviour(stream)

        task_group.start_soon(listener.serve, handle)
        return f"http://127.0.0.1:{port}"


async def reply_json(stream: anyio.abc.SocketStream) -> None:
    body = b'{"orderId": 42, "price": 0.10, "qty": "1.5"}'
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    await stream.send(head.encode() + body)


async def hang(stream: anyio.abc.SocketStream) -> None:
    await anyio.sleep(5)


async def hang_up(stream: anyio.abc.SocketStream) -> None:
    return None  # close without a reply


@pytest.mark.anyio
async def test_loopback_signed_request_goes_out_exactly_as_signed() -> None:
    server = LoopbackServer(reply_json)
    async with anyio.create_task_group() as tg:
        base = await server.serve(tg)
        client = make_client(base_url=base, signer=hmac_signer, default_headers={"X-MBX-APIKEY": API_KEY})
        body = await client.request(
            "POST", "/api/v3/order", params={"symbol": "BTCUSDT", "qty": D("0.5")}, signed=True
        )
        await client.aclose()
        tg.cancel_scope.cancel()
    assert body == {"orderId": 42, "price": D("0.10"), "qty": "1.5"}
    request_line = server.requests[0].split(b"\r\n")[0].decode()
    method, target, _ = request_line.split(" ")
    query = target.split("?", 1)[1]
    unsigned, _, signature = query.rpartition("&signature=")
    assert method == "POST"
    assert unsigned.startswith("symbol=BTCUSDT&qty=0.5&timestamp=")
    assert signature == hmac.new(SECRET, unsigned.encode(), hashlib.sha256).hexdigest()
    assert f"x-mbx-apikey: {API_KEY}".encode() in server.requests[0].lower()


@pytest.mark.anyio
async def test_loopback_silent_server_is_a_request_timeout() -> None:
    server = LoopbackServer(hang)
    async with anyio.create_task_group() as tg:
        base = await server.serve(tg)
        client = make_client(base_url=base, timeout=0.2)
        with pytest.raises(RequestTimeout, match="outcome is unknown"):
            await client.request("POST", "/api/v3/order")
        await client.aclose()
        tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_loopback_hang_up_is_broker_unavailable() -> None:
    server = LoopbackServer(hang_up)
    async with anyio.create_task_group() as tg:
        base = await server.serve(tg)
        client = make_client(base_url=base, timeout=2)
        with pytest.raises(BrokerUnavailable, match="RemoteProtocolError"):
            await client.request("GET", "/api/v3/openOrders")
        await client.aclose()
        tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_loopback_connection_refused_is_broker_unavailable() -> None:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    await listener.aclose()  # nothing listens there now
    client = make_client(base_url=f"http://127.0.0.1:{port}", timeout=2)
    with pytest.raises(BrokerUnavailable, match="ConnectError"):
        await client.request("GET", "/ping")
    await client.aclose()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=12), st.text(max_size=24)), max_size=6))
def test_encode_query_is_exactly_urlencode(pairs: list[tuple[str, str]]) -> None:
    """Signers sign encode_query's text and the wire carries it: it must equal urlencode's."""
    assert encode_query(pairs) == urlencode(pairs)
