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

__all__ = [
    "MARKET_DATA_NOTICES",
    "ErrorKind",
    "NoMarketDataPermission",
    "classify",
    "ends_order_request",
    "market_data_error",
    "to_exception",
]


class ErrorKind(Enum):
    """What one TWS code means for the adapter."""

    INFO = "info"
    """Notice, not an error (farm connection OK): logged only."""
    WARNING = "warning"
    """A warning about a request or an order that goes on (10349 TIF set to DAY, 404 held
    while shares are located, 399): logged, never a rejection."""
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
    CLIENT_ID_IN_USE = "client_id_in_use"
    """326: another client holds the id, or TWS has not yet noticed our old socket died
    (ib_insync #376): retried with the same id, since orders and executions belong to it."""
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
    326: ErrorKind.CLIENT_ID_IN_USE,  # Unable to connect as the client id is already in use
    399: ErrorKind.WARNING,  # Order message warning (e.g. held until market open)
    404: ErrorKind.WARNING,  # Order held while securities are located (ib_insync #328)
    460: ErrorKind.ORDER_REJECTED,  # No trading permissions
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
    10349: ErrorKind.WARNING,  # Order TIF was set to DAY based on order preset (ib_async #191)
}

_ORDER_WARNINGS = frozenset({2109, 10167, 10197, 10311, 10331, 10335, 10349})
"""Warnings TWS sends about an order that stays live (outside-RTH ignored, delayed data, direct
routing notices, TIF preset): never a rejection."""

_ENDS_ORDER_REQUEST = frozenset(
    {
        ErrorKind.ORDER_REJECTED,
        ErrorKind.ORDER_CANCELED,
        ErrorKind.ORDER_NOT_FOUND,
        ErrorKind.CANCEL_REJECTED,
        ErrorKind.MODIFY_REJECTED,
        ErrorKind.RATE_LIMITED,
        ErrorKind.NOT_CONNECTED,
    }
)

_FUNDS_MARKERS = ("EQUITY WITH LOAN", "INSUFFICIENT", "MARGIN", "BUYING POWER")


def classify(code: int) -> ErrorKind:
    """The meaning of one TWS code; 2100-2199 are notices (2104/2106/2158 farm status)."""
    if code in _TABLE:
        return _TABLE[code]
    if code in _ORDER_WARNINGS:
        return ErrorKind.WARNING
    if 2100 <= code < 2200:  # farm status and other notices
        return ErrorKind.INFO
    return ErrorKind.REQUEST_FAILED


def ends_order_request(code: int) -> bool:
    """Whether an error about an order settles a pending place/modify/cancel.

    Only codes known to refuse or end the request do; a code we do not know is logged and the
    request keeps waiting for TWS's openOrder/orderStatus (a warning is not a rejection), and
    falls back to a timeout and a lookup if nothing else comes.
    """
    kind = classify(code)
    return kind in _ENDS_ORDER_REQUEST or code in (200, 321)


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
    if kind in (ErrorKind.CONFIGURATION, ErrorKind.CLIENT_ID_IN_USE):
        return ConfigurationError(message, broker=BROKER, code=code, broker_message=text)
    if kind is ErrorKind.REQUEST_FAILED and record.code in (200, 321):
        return InvalidOrder(message, broker=BROKER, code=code, broker_message=text)
    return BrokerError(message, broker=BROKER, code=code, broker_message=text)


# ---------------------------------------------------------------------------- market data
class NoMarketDataPermission(BrokerError):
    """TWS serves no (live) market data of this contract to this login: no subscription (354,
    10168/10186), a subscription not enabled for the API (10089), the live session elsewhere
    (10197), or only delayed data while ``delayed_data`` is ``stale``."""


_NO_PERMISSION = frozenset({354, 10089, 10168, 10186, 10197})

MARKET_DATA_NOTICES = frozenset({10090, 10091, 10167})
"""Warnings about a market-data request that goes on: part of the data is not subscribed
(10090/10091: the default ticks still flow) or delayed data is shown instead (10167: the
``marketDataType`` message that follows says so). Never the end of the request."""


def market_data_error(code: int, text: str, symbol: str) -> AutotraderError:
    """The core exception for an error TWS sent about a market-data request of ``symbol``."""
    message = f"TWS error {code} (market data of {symbol}): {text}"
    if code in _NO_PERMISSION:
        return NoMarketDataPermission(message, broker=BROKER, code=code, broker_message=text)
    if code in (200, 321):
        return InvalidOrder(message, broker=BROKER, code=code, broker_message=text)
    if code == 100:
        return RateLimited(message, retry_after=1.0, broker=BROKER, code=code, broker_message=text)
    return BrokerError(message, broker=BROKER, code=code, broker_message=text)
