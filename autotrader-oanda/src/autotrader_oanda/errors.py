"""OANDA reject/cancel reasons and HTTP errors → the core error tree, in one table.

OANDA reports a refusal in three ways (protocols.md §4.3, §4.8):

* an HTTP 4xx body ``{"errorCode": ..., "errorMessage": ...}``, which on
  order endpoints also embeds the reject transaction
  (``orderRejectTransaction.rejectReason`` / ``orderCancelRejectTransaction``);
* a 201 create reply whose MARKET order was cancelled at once
  (``orderCancelTransaction.reason``, e.g. ``INSUFFICIENT_MARGIN``);
* the same transactions on the transaction stream.

Reason strings are the ``TransactionRejectReason`` and ``OrderCancelReason``
enums of the v20 spec; unknown reasons fall back on the HTTP status.
"""

from __future__ import annotations

from typing import Any

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

__all__ = [
    "BROKER",
    "CANCEL_OUTCOMES",
    "REASON_ERRORS",
    "error_for_reason",
    "map_http_error",
    "reason_of",
]

BROKER = "oanda"

REASON_ERRORS: dict[str, type[AutotraderError]] = {
    # money
    "INSUFFICIENT_MARGIN": InsufficientFunds,
    "INSUFFICIENT_FUNDS": InsufficientFunds,
    # unknown order
    "ORDER_DOESNT_EXIST": OrderNotFound,
    "NO_SUCH_ORDER": OrderNotFound,
    "ORDER_ID_UNSPECIFIED": OrderNotFound,
    "ORDER_IDENTIFIER_INCONSISTENCY": OrderNotFound,
    # our client order id is already taken: the order is already there
    "CLIENT_ORDER_ID_ALREADY_EXISTS": DuplicateClientOrderId,
    # account or market state: a refusal, not our parameters
    "ACCOUNT_NOT_ACTIVE": BrokerError,
    "ACCOUNT_LOCKED": BrokerError,
    "ACCOUNT_ORDER_CREATION_LOCKED": BrokerError,
    "ACCOUNT_ORDER_CANCEL_LOCKED": BrokerError,
    "ACCOUNT_NEW_POSITIONS_LOCKED": BrokerError,
    "ACCOUNT_ORDER_FILL_LOCKED": BrokerError,
    "ACCOUNT_CONFIGURATION_LOCKED": BrokerError,
    "MARKET_HALTED": BrokerError,
    "INSTRUMENT_PRICE_UNKNOWN": BrokerError,
    "INSTRUMENT_NOT_TRADEABLE": BrokerError,
    "PENDING_ORDERS_ALLOWED_EXCEEDED": BrokerError,
    "OPEN_TRADES_ALLOWED_EXCEEDED": BrokerError,
    "POSITION_SIZE_EXCEEDED": BrokerError,
    "ACCOUNT_POSITION_VALUE_LIMIT_EXCEEDED": BrokerError,
    "FIFO_VIOLATION": BrokerError,
    "HEDGING_GSLO_VIOLATION": BrokerError,
    "POSITION_CLOSEOUT_FAILED": BrokerError,
    # OANDA's own failure: outcome is proven (a reject transaction exists), re-sending is safe
    "INTERNAL_SERVER_ERROR": BrokerUnavailable,
}
"""Reasons whose class is not :class:`InvalidOrder` (every other reject reason is a bad parameter)."""

_PARAMETER_MARKERS = ("_INVALID", "_MISSING", "_PRECISION_EXCEEDED", "_NOT_MET", "_EXCEEDED", "_UNKNOWN")

CANCEL_OUTCOMES = frozenset(
    {
        "CLIENT_REQUEST",
        "TIME_IN_FORCE_EXPIRED",
        "INSUFFICIENT_LIQUIDITY",
        "BOUNDS_VIOLATION",
        "LINKED_TRADE_CLOSED",
        "MIGRATION",
    }
)
"""Cancel reasons that are a normal end of a working order (IOC/FOK remainder,
priceBound not met, expiry), reported as events; every other cancel reason of a
just-created order is a refusal and raised as an error."""


def error_for_reason(
    reason: str,
    *,
    message: str | None = None,
    status: int | None = None,
    request_id: str | None = None,
) -> AutotraderError:
    """The core error for an OANDA reject/cancel reason (or ``errorCode``).

    Args:
        reason: ``rejectReason``, cancel ``reason`` or ``errorCode``, verbatim.
        message: OANDA's ``errorMessage`` when there is one.
        status: HTTP status, used when the reason is not in the table.
        request_id: OANDA's ``RequestID`` header, kept in the message for support tickets.
    """
    cls = REASON_ERRORS.get(reason)
    if cls is None:
        if reason.endswith(_PARAMETER_MARKERS) or reason.startswith(("UNITS_", "PRICE_", "TIME_IN_FORCE_")):
            cls = InvalidOrder
        elif status == 404:
            cls = OrderNotFound
        elif status == 400:
            cls = InvalidOrder
        else:
            cls = BrokerError
    text = f"OANDA refused the request: {reason}"
    if request_id:
        text += f" (RequestID {request_id})"
    return cls(text, broker=BROKER, code=reason, broker_message=message)


def reason_of(body: Any) -> str | None:
    """The most specific reason in an error body: the reject transaction's, else ``errorCode``."""
    if not isinstance(body, dict):
        return None
    for key in ("orderRejectTransaction", "orderCancelRejectTransaction"):
        tx = body.get(key)
        if isinstance(tx, dict) and isinstance(tx.get("rejectReason"), str):
            return str(tx["rejectReason"])
    code = body.get("errorCode")
    return code if isinstance(code, str) and code else None


def map_http_error(response: HttpReply, body: Any) -> AutotraderError | None:
    """The ``ErrorMapper`` of :class:`autotrader_core.rest.RestClient` for OANDA.

    Returns ``None`` for success and for what the generic mapping already does
    right (429 with ``Retry-After``, 5xx, unparseable bodies).
    """
    status = response.status_code
    if status < 400 or status == 429 or status >= 500:
        return None
    message = body.get("errorMessage") if isinstance(body, dict) else None
    message = message if isinstance(message, str) else None
    request_id = response.headers.get("RequestID")
    if status in (401, 403):
        what = "token rejected" if status == 401 else "token has no access to this account"
        return AuthenticationError(
            f"OANDA authentication failed: {what} (HTTP {status})",
            broker=BROKER,
            code=reason_of(body) or status,
            broker_message=message,
        )
    reason = reason_of(body)
    if reason is not None:
        return error_for_reason(reason, message=message, status=status, request_id=request_id)
    if status == 404:
        cls: type[AutotraderError] = OrderNotFound if "/orders" in response.path else BrokerError
        return cls("OANDA: not found (HTTP 404)", broker=BROKER, code=404, broker_message=message)
    if status == 400:
        return InvalidOrder(
            "OANDA: the request was invalid (HTTP 400)", broker=BROKER, code=400, broker_message=message
        )
    return BrokerError(
        f"OANDA refused the request (HTTP {status})", broker=BROKER, code=status, broker_message=message
    )
