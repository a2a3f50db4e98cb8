"""The re-send guarantee: ``expTime`` on place and amend, proved expired by OKX's own clock (issue 14).

OKX documents ``expTime`` as a request *header* (ms epoch) on place/amend: "the request
will not be processed if the current system time of the server is after the expTime".
An expired request is refused with 50036 ("The expTime can't be earlier than the current
system time") or 50037 ("Order expired") — a proven refusal, not an unknown outcome.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import okx_support as doc
import pytest
from autotrader_core.adapter import OrderChange
from autotrader_core.errors import BrokerError, TransientError
from autotrader_core.resend import ResendRule
from autotrader_okx import OkxAdapter, OkxSettings
from autotrader_okx.errors import EXPIRED_REQUEST_CODES, error_from_envelope
from okx_support import API_KEY, API_SECRET, PASSPHRASE, REST
from pydantic import ValidationError
from pytest_httpx import HTTPXMock
from test_okx_adapter import limit_order

pytestmark = pytest.mark.anyio

ORDER_URL = f"{REST}/api/v5/trade/order"
AMEND_URL = f"{REST}/api/v5/trade/amend-order"


def settings(**overrides: Any) -> OkxSettings:
    values: dict[str, Any] = {
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        "passphrase": PASSPHRASE,
        "environment": "demo",
        "_env_file": None,
    }
    values.update(overrides)
    return OkxSettings(**values)


def signed_stamp_ms(request: Any) -> int:
    stamp = request.headers["OK-ACCESS-TIMESTAMP"]
    return int(datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)


def test_declares_an_expiry_of_the_request_window() -> None:
    adapter = OkxAdapter(settings(request_expiry_ms=3000))
    guarantee = adapter.resend_guarantee
    assert guarantee.rule is ResendRule.EXPIRY
    assert guarantee.window == 3.0
    assert "expTime" in guarantee.source
    assert adapter.unknown_outcome_settle_delay == 3.0  # the safe submit waits the same window


@pytest.mark.parametrize("bad", [0, -1, 50, 120_000])
def test_request_expiry_is_validated(bad: int) -> None:
    with pytest.raises(ValidationError, match="request_expiry_ms"):
        settings(request_expiry_ms=bad)


async def test_place_and_amend_carry_exptime_from_the_signed_stamp(httpx_mock: HTTPXMock) -> None:
    adapter = OkxAdapter(settings(request_expiry_ms=2500))
    httpx_mock.add_response(url=ORDER_URL, method="POST", text=doc.PLACE_OK)
    httpx_mock.add_response(url=AMEND_URL, method="POST", text=doc.AMEND_OK)
    await adapter.submit_order(limit_order())
    await adapter.modify_order(
        limit_order(broker_order_id="312269865356374016"), OrderChange(limit_price=Decimal("2.2"))
    )
    for request in httpx_mock.get_requests():
        assert int(request.headers["expTime"]) == signed_stamp_ms(request) + 2500
    await adapter.disconnect()


async def test_other_requests_carry_no_exptime(httpx_mock: HTTPXMock) -> None:
    """OKX applies expTime to place and amend only; a cancel or a query does not send it."""
    adapter = OkxAdapter(settings())
    httpx_mock.add_response(url=f"{REST}/api/v5/trade/cancel-order", method="POST", text=doc.CANCEL_OK)
    await adapter.cancel_order(limit_order(broker_order_id="12345689"))
    [request] = httpx_mock.get_requests()
    assert "expTime" not in request.headers
    await adapter.disconnect()


async def test_request_stamp_bounds_the_stamp_already_sent(httpx_mock: HTTPXMock) -> None:
    adapter = OkxAdapter(settings())
    httpx_mock.add_response(url=ORDER_URL, method="POST", text=doc.PLACE_OK)
    adapter.http.clock.offset_ms = 60_000  # OKX's clock a minute ahead of ours
    await adapter.submit_order(limit_order())
    adapter.http.clock.offset_ms = 0  # a resync moved the estimate back after the send
    [request] = httpx_mock.get_requests()
    stamp = adapter.request_stamp()
    assert stamp.tzinfo is not None
    assert stamp >= datetime.fromtimestamp(signed_stamp_ms(request) / 1000, tz=UTC)
    await adapter.disconnect()


async def test_venue_time_asks_okx_and_proves_the_expiry(httpx_mock: HTTPXMock) -> None:
    adapter = OkxAdapter(settings(request_expiry_ms=5000))
    httpx_mock.add_response(url=f"{REST}/api/v5/public/time", text=doc.TIME)
    now = await adapter.venue_time()
    server_ms = int(json.loads(doc.TIME)["data"][0]["ts"])
    assert now == datetime.fromtimestamp(server_ms / 1000, tz=UTC)
    guarantee = adapter.resend_guarantee
    assert guarantee.expired_by(now - timedelta(seconds=5.001), now)
    assert not guarantee.expired_by(now - timedelta(seconds=4.999), now)
    await adapter.disconnect()


EXPIRED_REPLIES = [
    # Composed from OKX's error table (code, message, HTTP 200) in the two envelope shapes OKX uses.
    pytest.param(
        {
            "code": "50036",
            "msg": "The expTime can't be earlier than the current system time. Please adjust "
            "the expTime and try again.",
            "data": [],
        },
        id="50036-top-level",
    ),
    pytest.param(
        {
            "code": "1",
            "msg": "All operations failed",
            "data": [
                {
                    "clOrdId": "b15",
                    "ordId": "",
                    "tag": "",
                    "ts": "1695190491421",
                    "sCode": "50037",
                    "sMsg": "Order expired.",
                    "subCode": "",
                }
            ],
        },
        id="50037-item",
    ),
]


@pytest.mark.parametrize("reply", EXPIRED_REPLIES)
async def test_an_expired_request_is_a_proven_refusal(httpx_mock: HTTPXMock, reply: dict[str, Any]) -> None:
    adapter = OkxAdapter(settings())
    httpx_mock.add_response(url=ORDER_URL, method="POST", json=reply)
    with pytest.raises(BrokerError) as caught:
        await adapter.submit_order(limit_order())
    assert not isinstance(caught.value, TransientError)
    assert caught.value.code in EXPIRED_REQUEST_CODES
    assert not caught.value.retryable
    assert len(httpx_mock.get_requests()) == 1  # refused, never re-sent
    await adapter.disconnect()


def test_expired_codes_map_to_broker_error() -> None:
    for code in ("50036", "50037"):
        error = error_from_envelope({"code": code, "msg": "expired", "data": []})
        assert type(error) is BrokerError
