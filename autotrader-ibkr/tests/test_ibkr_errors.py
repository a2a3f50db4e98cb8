"""The TWS code table: every listed code maps where the issue says."""

from __future__ import annotations

import pytest
from autotrader_core.errors import (
    BrokerError,
    BrokerUnavailable,
    ConfigurationError,
    DuplicateClientOrderId,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    RateLimited,
)
from autotrader_ibkr.errors import ErrorKind, classify, to_exception
from autotrader_ibkr.parsing import ErrorRecord


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (201, ErrorKind.ORDER_REJECTED),
        (202, ErrorKind.ORDER_CANCELED),
        (10147, ErrorKind.ORDER_NOT_FOUND),
        (135, ErrorKind.ORDER_NOT_FOUND),
        (1100, ErrorKind.CONNECTIVITY_LOST),
        (1101, ErrorKind.RESTORED_DATA_LOST),
        (1102, ErrorKind.RESTORED_DATA_KEPT),
        (2104, ErrorKind.INFO),
        (2106, ErrorKind.INFO),
        (2158, ErrorKind.INFO),
        (2103, ErrorKind.INFO),
        (399, ErrorKind.WARNING),
        (404, ErrorKind.WARNING),
        (10349, ErrorKind.WARNING),
        (326, ErrorKind.CLIENT_ID_IN_USE),
        (161, ErrorKind.CANCEL_REJECTED),
        (10148, ErrorKind.CANCEL_REJECTED),
        (104, ErrorKind.MODIFY_REJECTED),
        (110, ErrorKind.ORDER_REJECTED),
        (100, ErrorKind.RATE_LIMITED),
        (504, ErrorKind.NOT_CONNECTED),
        (99999, ErrorKind.REQUEST_FAILED),
    ],
)
def test_codes(code: int, kind: ErrorKind) -> None:
    assert classify(code) is kind


@pytest.mark.parametrize(
    ("code", "text", "exc"),
    [
        (
            201,
            "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. ... EQUITY WITH LOAN VALUE ...",
            InsufficientFunds,
        ),
        (201, "Order rejected - reason:The contract is not available for trading", InvalidOrder),
        (110, "The price does not conform to the minimum price variation for this contract.", InvalidOrder),
        (103, "Duplicate order id", DuplicateClientOrderId),
        (10147, "OrderId 7 that needs to be cancelled is not found.", OrderNotFound),
        (135, "Can't find order with id =7", OrderNotFound),
        (100, "Max rate of messages per second has been exceeded", RateLimited),
        (504, "Not connected", BrokerUnavailable),
        (1100, "Connectivity between IB and TWS has been lost.", BrokerUnavailable),
        (326, "Unable to connect as the client id is already in use.", ConfigurationError),
        (200, "No security definition has been found for the request", InvalidOrder),
        (162, "Historical market data Service error message", BrokerError),
    ],
)
def test_exceptions_keep_code_and_text(code: int, text: str, exc: type[Exception]) -> None:
    error = to_exception(ErrorRecord(req_id=7, code=code, message=text, advanced_reject=""))
    assert type(error) is exc
    assert error.code == str(code)
    assert error.broker_message == text
    assert error.broker == "ibkr"


def test_rate_limited_is_retryable_and_not_found_is_not() -> None:
    assert to_exception(ErrorRecord(1, 100, "x", "")).retryable
    assert not to_exception(ErrorRecord(1, 10147, "x", "")).retryable


def test_no_market_data_permission_is_the_cores_and_still_importable_here() -> None:
    import autotrader_core
    from autotrader_core.errors import BrokerError
    from autotrader_core.errors import NoMarketDataPermission as Core
    from autotrader_ibkr.errors import NoMarketDataPermission, market_data_error

    assert NoMarketDataPermission is Core is autotrader_core.NoMarketDataPermission
    error = market_data_error(354, "Requested market data is not subscribed.", "AAPL")
    assert isinstance(error, Core) and isinstance(error, BrokerError) and not error.retryable
