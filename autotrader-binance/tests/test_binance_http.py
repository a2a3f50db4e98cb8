"""The one request path: what is signed is what is sent; -1021 resync; rate limits and bans."""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl, unquote

import anyio
import httpx
import pytest
from autotrader_binance.auth import Ed25519Signer, HmacSigner
from autotrader_binance.errors import TimestampOutsideRecvWindow
from autotrader_binance.http import BinanceHttp
from autotrader_binance.parsing import parse_rate_limits
from autotrader_core.errors import InsufficientFunds, RateLimited
from binance_support import DOC_API_KEY, DOC_SECRET, raw_payload
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pytest_httpx import HTTPXMock

BASE = "https://testnet.binance.vision"
pytestmark = pytest.mark.anyio


def make_http(signer: object | None = None) -> BinanceHttp:
    return BinanceHttp(
        base_url=BASE,
        api_key=DOC_API_KEY,
        signer=signer if signer is not None else HmacSigner(DOC_SECRET),  # type: ignore[arg-type]
    )


def split_signature(request: httpx.Request) -> tuple[str, str]:
    """(payload that must have been signed, signature as sent) from the raw wire text.

    Binance signs the query string immediately followed by the body.
    """
    wire = request.url.query.decode("ascii") + request.content.decode("ascii")
    payload, _, signature = wire.rpartition("&signature=")
    return payload, signature


async def test_signed_request_signs_exactly_the_query_sent(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="POST", json=raw_payload("order_ack.json"))
    http = make_http()
    await http.request(
        "POST",
        "/api/v3/order",
        params=[("symbol", "LTCBTC"), ("side", "BUY"), ("type", "LIMIT"), ("quantity", "1")],
        signed=True,
    )
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["X-MBX-APIKEY"] == DOC_API_KEY
    payload, signature = split_signature(request)
    assert payload.startswith("symbol=LTCBTC&side=BUY&type=LIMIT&quantity=1&recvWindow=5000&timestamp=")
    assert signature == HmacSigner(DOC_SECRET).sign(payload)
    assert request.url.query == b""  # everything in the form body: the payload is the body alone
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    await http.aclose()


async def test_non_ascii_symbol_is_percent_encoded_on_the_wire_and_signed_that_way(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_response(method="GET", json=raw_payload("query_order.json"))
    http = make_http()
    await http.request(
        "GET", "/api/v3/order", params=[("symbol", "这是测试币456"), ("orderId", 1)], signed=True
    )
    request = httpx_mock.get_request()
    assert request is not None
    payload, signature = split_signature(request)
    assert payload.startswith("symbol=%E8%BF%99%E6%98%AF%E6%B5%8B%E8%AF%95%E5%B8%81456&orderId=1&")
    assert signature == HmacSigner(DOC_SECRET).sign(payload)
    await http.aclose()


async def test_ed25519_signature_is_percent_encoded_and_verifies(httpx_mock: HTTPXMock) -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    httpx_mock.add_response(method="GET", json=raw_payload("account.json"))
    http = make_http(Ed25519Signer(key))
    await http.request("GET", "/api/v3/account", signed=True, weight=20)
    request = httpx_mock.get_request()
    assert request is not None
    payload, sent = split_signature(request)
    assert "+" not in sent
    assert "/" not in sent  # base64 specials are percent-encoded when appended
    key.public_key().verify(base64.b64decode(unquote(sent)), payload.encode())
    await http.aclose()


async def test_minus_1021_resyncs_clock_and_retries_once(httpx_mock: HTTPXMock) -> None:
    skew = {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}
    httpx_mock.add_response(method="POST", status_code=400, json=skew)
    httpx_mock.add_response(method="GET", url=f"{BASE}/api/v3/time", json={"serverTime": 4_102_444_800_000})
    httpx_mock.add_response(method="POST", json=raw_payload("order_ack.json"))
    http = make_http()
    reply = await http.request(
        "POST", "/api/v3/order", params=[("symbol", "BTCUSDT")], signed=True, order=True
    )
    assert reply["orderId"] == 28
    first, time_request, retry = httpx_mock.get_requests()
    assert time_request.url.path == "/api/v3/time"
    stamp = dict(parse_qsl(retry.content.decode()))["timestamp"]
    assert abs(int(stamp) - 4_102_444_800_000) < 60_000  # stamped with the resynced clock
    assert dict(parse_qsl(first.content.decode()))["timestamp"] != stamp
    await http.aclose()


async def test_minus_1021_twice_gives_up_after_one_retry(httpx_mock: HTTPXMock) -> None:
    skew = {"code": -1021, "msg": "Timestamp for this request was 1000ms ahead of the server's time."}
    httpx_mock.add_response(method="POST", status_code=400, json=skew, is_reusable=True)
    httpx_mock.add_response(method="GET", url=f"{BASE}/api/v3/time", json={"serverTime": 1499827319559})
    http = make_http()
    with pytest.raises(TimestampOutsideRecvWindow):
        await http.request("POST", "/api/v3/order", params=[("symbol", "BTCUSDT")], signed=True)
    assert len([r for r in httpx_mock.get_requests() if r.method == "POST"]) == 2
    await http.aclose()


async def test_429_blocks_the_limiter_for_retry_after(httpx_mock: HTTPXMock) -> None:
    body = {
        "code": -1003,
        "msg": "Too much request weight used; current limit is 6000 request weight per 1 MINUTE.",
    }
    httpx_mock.add_response(status_code=429, json=body, headers={"Retry-After": "30"})
    http = make_http()
    with pytest.raises(RateLimited) as info:
        await http.request("GET", "/api/v3/openOrders", signed=True, weight=6)
    assert info.value.retry_after == 30
    assert not info.value.banned
    assert http.limits[0].limiter.blocked_for > 25
    await http.aclose()


async def test_418_ban_stops_sending(httpx_mock: HTTPXMock) -> None:
    body = {"code": -1003, "msg": "Way too much request weight used; IP banned until 1700000120000."}
    httpx_mock.add_response(status_code=418, json=body, headers={"Retry-After": "120"})
    http = make_http()
    with pytest.raises(RateLimited) as info:
        await http.request("GET", "/api/v3/account", signed=True, weight=20)
    assert info.value.banned
    assert all(
        limit.limiter.blocked_for > 100 for limit in http.limits if limit.rule.kind == "REQUEST_WEIGHT"
    )
    await http.aclose()


async def test_usage_headers_drain_the_limiters(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        method="POST",
        json=raw_payload("order_ack.json"),
        headers={
            "X-MBX-USED-WEIGHT-1M": "5990",
            "X-MBX-ORDER-COUNT-10S": "49",
            "X-MBX-ORDER-COUNT-1D": "120",
        },
    )
    http = make_http()
    await http.request("POST", "/api/v3/order", params=[("symbol", "BTCUSDT")], signed=True, order=True)
    assert http.used_weight == 5990
    assert http.order_counts == {"10S": 49, "1D": 120}
    by_name = {limit.limiter.name: limit.limiter for limit in http.limits}
    assert by_name["binance:REQUEST_WEIGHT:1M"].available <= 10.5
    assert by_name["binance:ORDERS:10S"].available <= 1.5
    await http.aclose()


async def test_rate_limits_come_from_exchange_info() -> None:
    http = make_http()
    http.apply_rate_limits(parse_rate_limits(raw_payload("exchange_info.json")))
    names = sorted(limit.limiter.name for limit in http.limits)
    assert names == [
        "binance:ORDERS:10S",
        "binance:ORDERS:1D",
        "binance:RAW_REQUESTS:5M",
        "binance:REQUEST_WEIGHT:1M",
    ]
    assert http.rest.rate_limiter is not None
    assert http.rest.rate_limiter.name == "binance:REQUEST_WEIGHT:1M"


async def test_broker_refusal_is_mapped_with_code_and_message(httpx_mock: HTTPXMock) -> None:
    body = {"code": -2010, "msg": "Account has insufficient balance for requested action."}
    httpx_mock.add_response(status_code=400, json=body)
    http = make_http()
    with pytest.raises(InsufficientFunds) as info:
        await http.request("POST", "/api/v3/order", params=[("symbol", "BTCUSDT")], signed=True)
    assert info.value.code == "-2010"
    assert DOC_SECRET not in str(info.value)
    await http.aclose()


async def test_timeout_is_request_timeout(httpx_mock: HTTPXMock) -> None:
    from autotrader_core.errors import RequestTimeout

    httpx_mock.add_exception(httpx.ReadTimeout("read timed out"))
    http = make_http()
    with pytest.raises(RequestTimeout):
        await http.request("POST", "/api/v3/order", params=[("symbol", "BTCUSDT")], signed=True)
    await http.aclose()


async def test_during_an_ip_ban_nothing_is_sent(httpx_mock: HTTPXMock) -> None:
    body = {"code": -1003, "msg": "Way too much request weight used; IP banned until 1700000120000."}
    httpx_mock.add_response(status_code=418, json=body, headers={"Retry-After": "120"})
    http = make_http()
    with pytest.raises(RateLimited):
        await http.request("GET", "/api/v3/account", signed=True, weight=20)
    with pytest.raises(RateLimited) as info:
        await http.request("POST", "/api/v3/order", params=[("symbol", "BTCUSDT")], signed=True, order=True)
    assert info.value.banned
    assert info.value.retry_after is not None
    assert 100 < info.value.retry_after <= 120
    assert len(httpx_mock.get_requests()) == 1  # the second call never left the process
    await http.aclose()


async def test_clock_is_resynced_periodically_before_signed_requests(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=f"{BASE}/api/v3/time", json={"serverTime": 1499827319559}, is_reusable=True)
    httpx_mock.add_response(method="GET", json=raw_payload("account.json"), is_reusable=True)
    http = BinanceHttp(
        base_url=BASE, api_key=DOC_API_KEY, signer=HmacSigner(DOC_SECRET), clock_sync_interval=0.05
    )
    await http.sync_clock()
    await http.request("GET", "/api/v3/account", signed=True)  # fresh: no resync
    await anyio.sleep(0.06)
    await http.request("GET", "/api/v3/account", signed=True)  # stale: resync first
    paths = [r.url.path for r in httpx_mock.get_requests()]
    assert paths == ["/api/v3/time", "/api/v3/account", "/api/v3/time", "/api/v3/account"]
    await http.aclose()


def test_every_limiter_reports_its_waits_to_the_adapter() -> None:
    waits: list[tuple[str, float]] = []
    http = BinanceHttp(
        base_url="https://testnet.binance.vision",
        api_key=None,
        signer=None,
        on_wait=lambda name, seconds: waits.append((name, seconds)),
    )
    assert http.limits
    assert all(limit.limiter.on_wait is not None for limit in http.limits)
    http.limits[0].limiter.on_wait("binance:REQUEST_WEIGHT:1M", 0.5)  # type: ignore[misc]
    assert waits == [("binance:REQUEST_WEIGHT:1M", 0.5)]
