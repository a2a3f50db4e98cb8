"""TWS error codes -> what they mean for us (one table).

Source: IBKR TWS API "Message Codes" (ibkrcampus.com/campus/ibkr-api-page/twsapi-doc/
#api-error-codes, formerly interactivebrokers.github.io/tws-api/message_codes.html).
TWS sends errors, warnings and plain notices through the same ``error`` message;
the table below decides which is which.
"""

from __future__ import annotations

from enum import Enum

from autotrader_core.errors import (
    AutotraderError,
    BrokerError,
    BrokerUnavailable,
    ConfigurationError,
    DuplicateClientOrderId,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    RateLimited,
)

from autotrader_ibkr.parsing import BROKER, ErrorRecord

__all__ = ["ErrorKind", "classify", "to_exception"]


class ErrorKind(Enum):
    """What one TWS code means for the adapter."""

    INFO = "info"
    """Notice, not an error (farm connection OK, order warnings): logged only."""
    ORDER_REJECTED = "order_rejected"
    """The order was refused: becomes ``OrderRejected`` (or the modify is refused)."""
    ORDER_CANCELED = "order_canceled"
    """202: the order is canceled (by us or by TWS): becomes ``OrderCanceled``."""
    ORDER_NOT_FOUND = "order_not_found"
    CANCEL_REJECTED = "cancel_rejected"
    MODIFY_REJECTED = "modify_rejected"
    CONNECTIVITY_LOST = "connectivity_lost"
    """1100: TWS lost its link to IBKR; orders are in an unknown state until 1101/1102."""
    RESTORED_DATA_LOST = "restored_data_lost"
    """1101: link back, subscriptions lost: re-sync orders and executions."""
    RESTORED_DATA_KEPT = "restored_data_kept"
    """1102: link back, data kept: re-sync anyway (cheap, and fills may have happened)."""
    NOT_CONNECTED = "not_connected"
    RATE_LIMITED = "rate_limited"
    CONFIGURATION = "configuration"
    REQUEST_FAILED = "request_failed"
    """Any other error about a request (contract not found…)."""


_TABLE: dict[int, ErrorKind] = {
    100: ErrorKind.RATE_LIMITED,  # Max rate of messages per second has been exceeded
    103: ErrorKind.ORDER_REJECTED,  # Duplicate order id
    104: ErrorKind.MODIFY_REJECTED,  # Can't modify a filled order
    105: ErrorKind.MODIFY_REJECTED,  # Order being modified does not match original order
    110: ErrorKind.ORDER_REJECTED,  # Price does not conform to the minimum price variation
    135: ErrorKind.ORDER_NOT_FOUND,  # Can't find order with id
    161: ErrorKind.CANCEL_REJECTED,  # Cancel attempted when order is not in a cancellable state
    200: ErrorKind.REQUEST_FAILED,  # No security definition has been found
    201: ErrorKind.ORDER_REJECTED,  # Order rejected - reason: …
    202: ErrorKind.ORDER_CANCELED,  # Order cancelled - reason: …
    203: ErrorKind.ORDER_REJECTED,  # The security is not available or allowed for this account
    321: ErrorKind.REQUEST_FAILED,  # Error validating request
    326: ErrorKind.CONFIGURATION,  # Unable to connect as the client id is already in use
    399: ErrorKind.INFO,  # Order message warning (e.g. held until market open)
    404: ErrorKind.INFO,  # Shares for this order are not immediately available for short sale (held)
    434: ErrorKind.ORDER_REJECTED,  # The order size cannot be zero
    502: ErrorKind.NOT_CONNECTED,  # Couldn't connect to TWS
    504: ErrorKind.NOT_CONNECTED,  # Not connected
    1100: ErrorKind.CONNECTIVITY_LOST,
    1101: ErrorKind.RESTORED_DATA_LOST,
    1102: ErrorKind.RESTORED_DATA_KEPT,
    1300: ErrorKind.NOT_CONNECTED,  # TWS socket port has been reset
    10147: ErrorKind.ORDER_NOT_FOUND,  # OrderId that needs to be cancelled is not found
    10148: ErrorKind.CANCEL_REJECTED,  # OrderId that needs to be cancelled cannot be cancelled
    10149: ErrorKind.ORDER_NOT_FOUND,  # Invalid order id
}

_FUNDS_MARKERS = ("EQUITY WITH LOAN", "INSUFFICIENT", "MARGIN", "BUYING POWER")


def classify(code: int) -> ErrorKind:
    """The meaning of one TWS code; 2100-2199 are notices (2104/2106/2158 farm status)."""
    if code in _TABLE:
        return _TABLE[code]
    if 2100 <= code < 2200 or code in (10167, 10197):  # notices; delayed-data notices
        return ErrorKind.INFO
    return ErrorKind.REQUEST_FAILED


def is_insufficient_funds(record: ErrorRecord) -> bool:
    """Whether a 201 rejection is about margin / buying power."""
    text = record.message.upper()
    return any(marker in text for marker in _FUNDS_MARKERS)


def to_exception(record: ErrorRecord, *, context: str = "") -> AutotraderError:
    """The core exception for an error record (keeps TWS's code and text)."""
    kind = classify(record.code)
    message = f"TWS error {record.code}" + (f" ({context})" if context else "")
    code, text = record.code, record.message
    if kind is ErrorKind.ORDER_REJECTED:
        if is_insufficient_funds(record):
            return InsufficientFunds(message, broker=BROKER, code=code, broker_message=text)
        if record.code == 103:
            return DuplicateClientOrderId(message, broker=BROKER, code=code, broker_message=text)
        return InvalidOrder(message, broker=BROKER, code=code, broker_message=text)
    if kind is ErrorKind.ORDER_NOT_FOUND:
        return OrderNotFound(message, broker=BROKER, code=code, broker_message=text)
    if kind is ErrorKind.RATE_LIMITED:
        return RateLimited(message, retry_after=1.0, broker=BROKER, code=code, broker_message=text)
    if kind in (ErrorKind.NOT_CONNECTED, ErrorKind.CONNECTIVITY_LOST):
        return BrokerUnavailable(message, broker=BROKER, code=code, broker_message=text)
    if kind is ErrorKind.CONFIGURATION:
        return ConfigurationError(message, broker=BROKER, code=code, broker_message=text)
    if kind is ErrorKind.REQUEST_FAILED and record.code in (200, 321):
        return InvalidOrder(message, broker=BROKER, code=code, broker_message=text)
    return BrokerError(message, broker=BROKER, code=code, broker_message=text)
