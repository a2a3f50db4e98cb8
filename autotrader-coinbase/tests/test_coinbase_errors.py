"""The Coinbase error table: every shape Coinbase refuses in → the right core error."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from autotrader_coinbase.errors import error_for_code, map_http_error, order_failure_error
from autotrader_core.errors import (
    AuthenticationError,
    AutotraderError,
    BrokerError,
    BrokerUnavailable,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    RateLimited,
)
from autotrader_core.transports import HttpReply


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("INSUFFICIENT_FUND", InsufficientFunds),
        ("PREVIEW_INSUFFICIENT_FUND", InsufficientFunds),
        ("INVALID_LEDGER_BALANCE", InsufficientFunds),
        ("INVALID_SIZE_PRECISION", InvalidOrder),
        ("INVALID_PRICE_PRECISION", InvalidOrder),
        ("INVALID_LIMIT_PRICE_POST_ONLY", InvalidOrder),
        ("INVALID_PRODUCT_ID", InvalidOrder),
        ("PREVIEW_INVALID_BASE_SIZE_TOO_SMALL", InvalidOrder),
        ("UNSUPPORTED_ORDER_CONFIGURATION", InvalidOrder),
        ("ORDER_ENTRY_DISABLED", InvalidOrder),
        ("ORDER_NOT_FOUND", OrderNotFound),
        ("UNKNOWN_CANCEL_ORDER", OrderNotFound),
        ("NOT_FOUND", OrderNotFound),
        ("PERMISSION_DENIED", AuthenticationError),
        ("UNAUTHENTICATED", AuthenticationError),
        ("RESOURCE_EXHAUSTED", RateLimited),
        ("INTERNAL", BrokerUnavailable),
        ("COMMANDER_REJECTED_NEW_ORDER", BrokerError),
        ("UNKNOWN_FAILURE_REASON", BrokerError),
    ],
)
def test_code_table(code: str, expected: type[AutotraderError]) -> None:
    error = error_for_code(code, "text from coinbase")
    assert type(error) is expected
    assert error.code == code
    assert error.broker == "coinbase"
    assert error.broker_message == "text from coinbase"


def test_specific_reason_wins_over_generic_error_field() -> None:
    body = {
        "success": False,
        "failure_reason": "UNKNOWN_FAILURE_REASON",
        "error_response": {
            "error": "UNKNOWN_FAILURE_REASON",
            "message": "",
            "error_details": "size too small",
            "preview_failure_reason": "PREVIEW_INVALID_BASE_SIZE_TOO_SMALL",
            "new_order_failure_reason": "UNKNOWN_FAILURE_REASON",
        },
    }
    error = order_failure_error(body)
    assert isinstance(error, InvalidOrder)
    assert error.code == "PREVIEW_INVALID_BASE_SIZE_TOO_SMALL"
    assert error.broker_message == "size too small"


def _response(status: int, *, text: str = "", headers: dict[str, str] | None = None) -> HttpReply:
    raw = [(name.encode(), value.encode()) for name, value in (headers or {}).items()]
    return HttpReply(
        status, raw, text.encode(), method="POST", url="https://api.coinbase.com/api/v3/brokerage/orders"
    )


def _body(text: str) -> object:
    try:
        return json.loads(text, parse_float=Decimal)
    except ValueError:
        return None


@pytest.mark.parametrize(
    ("status", "text", "expected", "code"),
    [
        (401, "Unauthorized", AuthenticationError, "401"),
        (401, "", AuthenticationError, "401"),
        (
            403,
            # protocols.md §3.8 [DOC]
            '{"error":"PERMISSION_DENIED","error_details":"Target Account Not Tradable",'
            '"message":"Target Account Not Tradable"}',
            AuthenticationError,
            "PERMISSION_DENIED",
        ),
        (
            404,
            '{"error":"NOT_FOUND","error_details":"order not found","message":"order not found"}',
            OrderNotFound,
            "NOT_FOUND",
        ),
        (404, "Not Found", OrderNotFound, "404"),
        (
            400,
            '{"error":"INVALID_ARGUMENT","error_details":"bad size","message":"bad size"}',
            InvalidOrder,
            "INVALID_ARGUMENT",
        ),
        (
            429,
            '{"error":"RESOURCE_EXHAUSTED","message":"too many requests"}',
            RateLimited,
            "RESOURCE_EXHAUSTED",
        ),
        (429, "Too Many Requests", RateLimited, "429"),
        (500, '{"error":"INTERNAL","message":"oops"}', BrokerUnavailable, "INTERNAL"),
        (503, "", BrokerUnavailable, "503"),
    ],
)
def test_http_errors(status: int, text: str, expected: type[AutotraderError], code: str) -> None:
    error = map_http_error(_response(status, text=text), _body(text))
    assert type(error) is expected
    assert error is not None
    assert error.code == code


def test_http_2xx_is_not_an_error() -> None:
    assert map_http_error(_response(200, text="{}"), {}) is None


def test_plain_text_unauthorized_keeps_the_text_and_says_what_to_check() -> None:
    error = map_http_error(_response(401, text="Unauthorized"), None)
    assert isinstance(error, AuthenticationError)
    assert error.broker_message == "Unauthorized"
    assert "clock" in error.message


def test_429_reads_retry_after() -> None:
    error = map_http_error(_response(429, text="", headers={"Retry-After": "2"}), None)
    assert isinstance(error, RateLimited)
    assert error.retry_after == 2.0
