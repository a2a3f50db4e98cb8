"""Coinbase error codes → the core error tree (one table; protocols.md §3.8).

Coinbase refuses in three shapes:

* non-2xx with JSON ``{"error": "<CODE>", "error_details": "...", "message": "..."}``;
* HTTP 401 with the plain-text body ``Unauthorized`` (bad/expired JWT, wrong ``uri``);
* HTTP 200 with ``success: false`` and an ``error_response`` (create order) or a
  failure reason per item (batch cancel, edit).

The broker's code and message are kept on every exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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

__all__ = [
    "BROKER",
    "CODE_TABLE",
    "GENERIC_CODES",
    "error_for_code",
    "map_http_error",
    "order_failure_error",
    "retry_after_seconds",
]

BROKER = "coinbase"

CODE_TABLE: Mapping[str, type[AutotraderError]] = {
    # create-order / preview failure reasons
    "INSUFFICIENT_FUND": InsufficientFunds,
    "INSUFFICIENT_FUNDS": InsufficientFunds,
    "PREVIEW_INSUFFICIENT_FUND": InsufficientFunds,
    "PREVIEW_INSUFFICIENT_FUNDS_FOR_FUTURES": InsufficientFunds,
    "INVALID_LEDGER_BALANCE": InsufficientFunds,
    "UNSUPPORTED_ORDER_CONFIGURATION": InvalidOrder,
    "INELIGIBLE_PAIR": InvalidOrder,
    "ORDER_ENTRY_DISABLED": InvalidOrder,
    # cancel / edit failure reasons
    "UNKNOWN_CANCEL_ORDER": OrderNotFound,
    "ORDER_NOT_FOUND": OrderNotFound,
    "ONLY_LIMIT_ORDER_EDITS_SUPPORTED": InvalidOrder,
    "CANNOT_EDIT_TO_BELOW_FILLED_SIZE": InvalidOrder,
    # gRPC-style codes of non-2xx JSON errors
    "INVALID_ARGUMENT": InvalidOrder,
    "FAILED_PRECONDITION": InvalidOrder,
    "NOT_FOUND": OrderNotFound,
    "PERMISSION_DENIED": AuthenticationError,
    "UNAUTHENTICATED": AuthenticationError,
    "RESOURCE_EXHAUSTED": RateLimited,
    "RATE_LIMIT_EXCEEDED": RateLimited,
    "INTERNAL": BrokerUnavailable,
    "UNAVAILABLE": BrokerUnavailable,
}
"""Exact codes. Codes not listed fall back to the prefix rules in :func:`error_for_code`."""

GENERIC_CODES = frozenset(
    {
        "",
        "UNKNOWN_FAILURE_REASON",
        "UNKNOWN_PREVIEW_FAILURE_REASON",
        "UNKNOWN_EDIT_ORDER_FAILURE_REASON",
        "UNKNOWN_CANCEL_FAILURE_REASON",
        "UNKNOWN",
    }
)
"""Default enum values Coinbase puts in a failure field that says nothing."""


def error_for_code(code: str, message: str, *, context: str = "") -> AutotraderError:
    """Build the typed error for one Coinbase code.

    Rules after the exact table: ``INVALID_*``/``PREVIEW_INVALID_*`` → InvalidOrder,
    ``INSUFFICIENT_*`` → InsufficientFunds, ``*_NOT_FOUND`` → OrderNotFound, anything
    else → BrokerError (the broker refused, reason not classified).
    """
    cls = CODE_TABLE.get(code)
    if cls is None:
        bare = code.removeprefix("PREVIEW_")
        if bare.startswith("INVALID_"):
            cls = InvalidOrder
        elif bare.startswith("INSUFFICIENT_"):
            cls = InsufficientFunds
        elif bare.endswith("NOT_FOUND"):
            cls = OrderNotFound
        else:
            cls = BrokerError
    text = f"Coinbase refused{f' ({context})' if context else ''}: {code or 'unspecified'}"
    if message:
        text += f": {message}"
    if cls is RateLimited:
        return RateLimited(text, broker=BROKER, code=code, broker_message=message or None)
    return cls(text, broker=BROKER, code=code or None, broker_message=message or None)


def _first_specific(*codes: object) -> str:
    for code in codes:
        if isinstance(code, str) and code not in GENERIC_CODES:
            return code
    for code in codes:
        if isinstance(code, str) and code:
            return code
    return ""


def order_failure_error(body: Mapping[str, Any], *, context: str = "create order") -> AutotraderError:
    """The error for an HTTP-200 ``success: false`` create-order reply.

    ``error_response.error`` is often the generic ``UNKNOWN_FAILURE_REASON`` while
    ``new_order_failure_reason`` / ``preview_failure_reason`` say what happened:
    the first specific one wins.
    """
    response = body.get("error_response")
    details: Mapping[str, Any] = response if isinstance(response, Mapping) else {}
    code = _first_specific(
        details.get("error"),
        details.get("new_order_failure_reason"),
        details.get("preview_failure_reason"),
        body.get("failure_reason"),
    )
    message = details.get("message") or details.get("error_details") or ""
    return error_for_code(code, str(message), context=context)


def retry_after_seconds(response: HttpReply) -> float | None:
    """Seconds to wait from ``Retry-After`` (or ``x-ratelimit-reset`` when it is a delay)."""
    for header in ("retry-after", "x-ratelimit-reset"):
        value = response.headers.get(header)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        # x-ratelimit-reset may be an epoch timestamp rather than a delay: ignore those.
        if 0 <= seconds <= 3600:
            return seconds
    return None


def map_http_error(response: HttpReply, body: Any) -> AutotraderError | None:
    """Error mapper for the REST client: ``None`` for 2xx, a typed error otherwise.

    ``body`` is the parsed JSON, or ``None`` when the body is not JSON (the 401
    ``Unauthorized`` text).
    """
    status = response.status_code
    if status < 400:
        return None
    code = ""
    message = ""
    if isinstance(body, Mapping):
        code = str(body.get("error") or "")
        message = str(body.get("message") or body.get("error_details") or "")
    elif response.content:
        message = response.text.strip()[:200]
    context = f"HTTP {status} {response.method} {response.path}"
    if status == 401:
        return AuthenticationError(
            f"Coinbase rejected the credentials ({context}): check the key name, the private key, "
            "the server clock and the key's permissions",
            broker=BROKER,
            code=code or status,
            broker_message=message or None,
        )
    if status == 429:
        return RateLimited(
            f"Coinbase rate limit hit ({context})",
            retry_after=retry_after_seconds(response),
            broker=BROKER,
            code=code or status,
            broker_message=message or None,
        )
    if status >= 500:
        return BrokerUnavailable(
            f"Coinbase is unavailable ({context})",
            broker=BROKER,
            code=code or status,
            broker_message=message or None,
        )
    if code and code in CODE_TABLE:
        return error_for_code(code, message, context=context)
    if status == 403:
        return AuthenticationError(
            f"Coinbase denied permission ({context})",
            broker=BROKER,
            code=code or status,
            broker_message=message or None,
        )
    if status == 404:
        return OrderNotFound(
            f"Coinbase does not know it ({context})",
            broker=BROKER,
            code=code or status,
            broker_message=message or None,
        )
    if code:
        return error_for_code(code, message, context=context)
    return InvalidOrder(
        f"Coinbase refused the request ({context})",
        broker=BROKER,
        code=status,
        broker_message=message or None,
    )
