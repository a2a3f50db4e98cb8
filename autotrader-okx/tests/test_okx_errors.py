"""The OKX error table: every code the issue names maps to the right core error."""

from __future__ import annotations

import pytest
from autotrader_core.errors import (
    AuthenticationError,
    AutotraderError,
    BrokerError,
    BrokerUnavailable,
    DuplicateClientOrderId,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    RateLimited,
    RequestTimeout,
)
from autotrader_okx.errors import error_for_code, error_from_envelope


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("50011", RateLimited),
        ("50061", RateLimited),
        ("50101", AuthenticationError),
        ("50102", AuthenticationError),
        ("50111", AuthenticationError),
        ("50113", AuthenticationError),
        ("51000", InvalidOrder),
        ("51001", InvalidOrder),
        ("51121", InvalidOrder),
        ("51008", InsufficientFunds),
        ("51008_1000", InsufficientFunds),
        ("51131", InsufficientFunds),
        ("51016", DuplicateClientOrderId),
        ("51400", OrderNotFound),
        ("51503", OrderNotFound),
        ("51603", OrderNotFound),
        ("60009", AuthenticationError),
        ("60011", AuthenticationError),
        ("50004", RequestTimeout),
        ("50001", BrokerUnavailable),
        ("54109", InvalidOrder),
    ],
)
def test_code_maps_to_core_error(code: str, expected: type[AutotraderError]) -> None:
    error = error_for_code(code, "broker text")
    assert type(error) is expected
    assert error.code == code
    assert error.broker == "okx"
    assert error.broker_message == "broker text"


def test_unknown_code_is_a_plain_broker_refusal() -> None:
    error = error_for_code("59999", "something new")
    assert type(error) is BrokerError
    assert not error.retryable


def test_rate_limit_waits_one_window_unless_told() -> None:
    assert isinstance(limited := error_for_code("50011", "Too Many Requests"), RateLimited)
    assert limited.retry_after == 2.0
    assert limited.retryable
    told = error_for_code("50011", "Too Many Requests", retry_after=7.0)
    assert isinstance(told, RateLimited)
    assert told.retry_after == 7.0


def test_duplicate_client_order_id_is_not_retryable() -> None:
    assert not error_for_code("51016", "Duplicated clOrdId").retryable


def test_internal_timeout_is_an_unknown_outcome() -> None:
    error = error_for_code("50004", "Endpoint request timeout")
    assert isinstance(error, RequestTimeout)
    assert error.retryable


def test_sub_code_field_is_kept_with_the_family() -> None:
    error = error_for_code("51008", "Order failed. Insufficient USDT balance", sub_code="1000")
    assert isinstance(error, InsufficientFunds)
    assert error.code == "51008_1000"


def test_success_envelope_is_not_an_error() -> None:
    body = {
        "code": "0",
        "msg": "",
        "data": [
            {"clOrdId": "b15", "ordId": "1", "tag": "", "ts": "1", "sCode": "0", "sMsg": "", "subCode": ""}
        ],
    }
    assert error_from_envelope(body) is None


def test_item_scode_wins_over_top_level_code_one() -> None:
    # protocols.md §2.3 [FIX nautilus http_place_order_rejected.json], shortened message.
    body = {
        "code": "1",
        "msg": "All operations failed",
        "data": [
            {
                "ordId": "",
                "clOrdId": "Ousdcnotactive1",
                "tag": "",
                "ts": "1790000000000",
                "sCode": "51008",
                "sMsg": "Order failed. Insufficient USDT balance in account.",
            }
        ],
    }
    error = error_from_envelope(body, http_status=200)
    assert isinstance(error, InsufficientFunds)
    assert error.code == "51008"
    assert "Insufficient USDT" in (error.broker_message or "")


def test_partial_batch_failure_code_two_reports_the_failed_item() -> None:
    body = {
        "code": "2",
        "msg": "",
        "data": [
            {"ordId": "1", "clOrdId": "a1", "sCode": "0", "sMsg": ""},
            {"ordId": "", "clOrdId": "a2", "sCode": "51016", "sMsg": "Duplicated clOrdId"},
        ],
    }
    assert isinstance(error_from_envelope(body), DuplicateClientOrderId)


def test_item_failure_inside_code_zero_is_still_an_error() -> None:
    body = {"code": "0", "msg": "", "data": [{"ordId": "", "clOrdId": "x", "sCode": "51121", "sMsg": "lot"}]}
    assert isinstance(error_from_envelope(body), InvalidOrder)


def test_top_level_error_without_data() -> None:
    # protocols.md §2.8 [REC]: HTTP 401 body without a data key.
    error = error_from_envelope({"msg": "Invalid OK-ACCESS-KEY", "code": "50111"}, http_status=401)
    assert isinstance(error, AuthenticationError)
    assert "HTTP 401" in str(error)


def test_non_envelope_body_is_left_to_the_generic_mapping() -> None:
    assert error_from_envelope(None) is None
    assert error_from_envelope("<html>bad gateway</html>") is None
