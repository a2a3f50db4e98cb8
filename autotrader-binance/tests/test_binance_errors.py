"""The Binance error table: every documented code the adapter can meet → the core error tree."""

from __future__ import annotations

import pytest
from autotrader_binance.errors import CancelRejected, TimestampOutsideRecvWindow, map_error
from autotrader_core.errors import (
    AuthenticationError,
    BrokerError,
    BrokerProtocolError,
    BrokerUnavailable,
    DuplicateClientOrderId,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    RateLimited,
    RequestTimeout,
)

CASES = [
    # (HTTP status, code, msg, expected class) — codes/messages from errors.md (protocols.md §1.8)
    (400, -1013, "Filter failure: LOT_SIZE", InvalidOrder),
    (400, -1013, "Filter failure: PRICE_FILTER", InvalidOrder),
    (400, -1013, "Filter failure: NOTIONAL", InvalidOrder),
    (400, -2010, "Filter failure: MIN_NOTIONAL", InvalidOrder),
    (400, -1021, "Timestamp for this request is outside of the recvWindow.", TimestampOutsideRecvWindow),
    (400, -1022, "Signature for this request is not valid.", AuthenticationError),
    (400, -2010, "Account has insufficient balance for requested action.", InsufficientFunds),
    (400, -2010, "Duplicate order sent.", DuplicateClientOrderId),
    (400, -2010, "Order would immediately match and take.", InvalidOrder),
    (400, -2010, "Market is closed.", InvalidOrder),
    (400, -2010, "This account may not place or cancel orders.", AuthenticationError),
    (400, -2011, "Unknown order sent.", OrderNotFound),
    (400, -2011, "Order was not canceled due to cancel restrictions.", CancelRejected),
    (400, -2013, "Order does not exist.", OrderNotFound),
    (400, -2014, "API-key format invalid.", AuthenticationError),
    (401, -2015, "Invalid API-key, IP, or permissions for action.", AuthenticationError),
    (400, -1121, "Invalid symbol.", InvalidOrder),
    (400, -1145, "Invalid cancelRestrictions", InvalidOrder),
    (
        400,
        -2026,
        "Order was canceled or expired with no executed qty over 90 days ago and has been archived.",
        OrderNotFound,
    ),
    (
        400,
        -1007,
        "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
        RequestTimeout,
    ),
    (
        400,
        -1006,
        "An unexpected response was received from the message bus. Execution status unknown.",
        BrokerUnavailable,
    ),
    (
        400,
        -1008,
        "Server is currently overloaded with other requests. Please try again in a few minutes.",
        BrokerUnavailable,
    ),
    (503, -1001, "Internal error; unable to process your request. Please try again.", BrokerUnavailable),
    (400, -9999, "something new", BrokerError),
]


@pytest.mark.parametrize(("status", "code", "msg", "expected"), CASES)
def test_error_table(status: int, code: int, msg: str, expected: type[Exception]) -> None:
    error = map_error(status, {"code": code, "msg": msg}, {})
    assert type(error) is expected
    assert error is not None
    assert error.code == str(code)
    assert error.broker_message == msg
    assert error.broker == "binance"


def test_success_is_not_an_error() -> None:
    assert map_error(200, {"symbol": "BTCUSDT", "orderId": 28}, {}) is None
    assert map_error(200, [], {}) is None


def test_429_carries_retry_after_and_is_not_a_ban() -> None:
    body = {
        "code": -1003,
        "msg": "Too much request weight used; current limit is 6000 request weight per 1 MINUTE.",
    }
    error = map_error(429, body, {"Retry-After": "7"})
    assert isinstance(error, RateLimited)
    assert error.retry_after == 7
    assert not error.banned
    assert error.retryable


def test_418_is_a_ban_until_retry_after() -> None:
    body = {"code": -1003, "msg": "Way too much request weight used; IP banned until 1700000000000."}
    error = map_error(418, body, {"Retry-After": "120"})
    assert isinstance(error, RateLimited)
    assert error.banned
    assert error.retry_after == 120


def test_418_without_retry_after_still_blocks_for_a_while() -> None:
    error = map_error(418, None, {})
    assert isinstance(error, RateLimited)
    assert error.banned
    assert error.retry_after is not None
    assert error.retry_after > 0


def test_order_count_limit_is_rate_limited() -> None:
    error = map_error(
        429, {"code": -1015, "msg": "Too many new orders; current limit is 50 orders per 10 SECOND."}, {}
    )
    assert isinstance(error, RateLimited)
    assert "order rate limit" in error.message


def test_5xx_without_body_is_unknown_outcome() -> None:
    error = map_error(502, None, {})
    assert isinstance(error, BrokerUnavailable)
    assert error.retryable


def test_403_waf_block_is_not_reported_as_bad_credentials() -> None:
    error = map_error(403, None, {})
    assert type(error) is BrokerError
    assert "firewall" in error.message


def test_4xx_without_documented_body_is_a_protocol_error() -> None:
    assert isinstance(map_error(400, "<html>", {}), BrokerProtocolError)
