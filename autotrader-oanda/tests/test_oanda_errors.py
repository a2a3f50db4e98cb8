"""The OANDA reason/HTTP → core error table."""

from __future__ import annotations

from typing import Any

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
)
from autotrader_core.transports import HttpReply
from autotrader_oanda.errors import error_for_reason, map_http_error
from oanda_helpers import reply_of


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("INSUFFICIENT_MARGIN", InsufficientFunds),
        ("INSUFFICIENT_FUNDS", InsufficientFunds),
        ("ORDER_DOESNT_EXIST", OrderNotFound),
        ("CLIENT_ORDER_ID_ALREADY_EXISTS", DuplicateClientOrderId),
        ("MARKET_HALTED", BrokerError),
        ("ACCOUNT_LOCKED", BrokerError),
        ("INTERNAL_SERVER_ERROR", BrokerUnavailable),
        ("PRICE_PRECISION_EXCEEDED", InvalidOrder),
        ("UNITS_PRECISION_EXCEEDED", InvalidOrder),
        ("UNITS_MIMIMUM_NOT_MET", InvalidOrder),  # sic: OANDA's own spelling
        ("TIME_IN_FORCE_INVALID", InvalidOrder),
        ("INSTRUMENT_UNKNOWN", InvalidOrder),
        ("STOP_LOSS_ON_FILL_PRICE_MISSING", InvalidOrder),
    ],
)
def test_reason_table(reason: str, expected: type[AutotraderError]) -> None:
    error = error_for_reason(reason, message="text from OANDA", request_id="42")
    assert type(error) is expected
    assert error.code == reason
    assert error.broker == "oanda"
    assert error.broker_message == "text from OANDA"
    assert "42" in str(error)


def test_unknown_reason_falls_back_on_the_status() -> None:
    assert type(error_for_reason("SOMETHING_NEW", status=404)) is OrderNotFound
    assert type(error_for_reason("SOMETHING_NEW", status=400)) is InvalidOrder
    assert type(error_for_reason("SOMETHING_NEW", status=409)) is BrokerError


def _response(status: int, path: str = "/v3/accounts/101-004-1435156-001/orders") -> HttpReply:
    return HttpReply(
        status,
        [(b"RequestID", b"78566986778195099")],
        b"",
        method="POST",
        url=f"https://api-fxpractice.oanda.com{path}",
    )


def test_recorded_precision_reject_is_invalid_order_with_the_reject_reason() -> None:
    body: Any = reply_of("TC-ERR-03", "submit")
    error = map_http_error(_response(400), body)
    assert isinstance(error, InvalidOrder)
    assert error.code == "PRICE_PRECISION_EXCEEDED"
    assert (
        error.broker_message
        == "The price specified contains more precision than is allowed for the instrument"
    )


def test_recorded_cancel_of_unknown_order_is_order_not_found() -> None:
    body: Any = reply_of("TC-ERR-02", "cancel")
    error = map_http_error(_response(404), body)
    assert isinstance(error, OrderNotFound)
    assert error.code == "ORDER_DOESNT_EXIST"


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures(status: int) -> None:
    error = map_http_error(
        _response(status), {"errorMessage": "Insufficient authorization to perform request."}
    )
    assert isinstance(error, AuthenticationError)
    assert not error.retryable


def test_404_without_a_code_depends_on_the_path() -> None:
    assert isinstance(map_http_error(_response(404), None), OrderNotFound)
    other = map_http_error(_response(404, "/v3/accounts/101-004-1435156-001/transactions/99"), None)
    assert type(other) is BrokerError


@pytest.mark.parametrize("status", [200, 201, 429, 500, 503])
def test_success_and_generic_statuses_are_left_to_the_rest_client(status: int) -> None:
    assert map_http_error(_response(status), {}) is None
