"""The venue's error codes → the core's error tree, in one table.

REPLACE: the template venue answers a refusal with a 4xx and
``{"code": "<NAME>", "message": "..."}``. Put every code your venue documents in
:data:`ERROR_TABLE`; anything else falls through to ``RestClient``'s mapping by
HTTP status (429 → ``RateLimited``, 401/403 → ``AuthenticationError``,
5xx → ``BrokerUnavailable``: outcome unknown, never a rejection).
"""

from __future__ import annotations

from typing import Any, Final

from autotrader_core.errors import (
    AuthenticationError,
    AutotraderError,
    DuplicateClientOrderId,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    RateLimited,
)
from autotrader_core.transports import HttpReply

__all__ = ["BROKER", "ERROR_TABLE", "map_error"]

BROKER: Final = "template"
"""The adapter's name: the entry point's name, put on every error and fill."""

ERROR_TABLE: dict[str, type[AutotraderError]] = {
    "INSUFFICIENT_FUNDS": InsufficientFunds,
    "ORDER_NOT_FOUND": OrderNotFound,
    "INVALID_PARAMETER": InvalidOrder,
    "LOT_SIZE": InvalidOrder,
    "DUPLICATE_CLIENT_ORDER_ID": DuplicateClientOrderId,
    "INVALID_KEY": AuthenticationError,
    "INVALID_SIGNATURE": AuthenticationError,
    "RATE_LIMITED": RateLimited,  # HTTP 429; RestClient reads Retry-After
    "IP_BANNED": RateLimited,  # HTTP 418: nothing may be sent until Retry-After has passed
}
"""Venue error code → core error class."""


def map_error(reply: HttpReply, body: Any) -> AutotraderError | None:
    """``RestClient``'s ``error_mapper``: the venue's refusal as a typed error, ``None`` for success.

    Keeps the venue's own code and message on the error (``error.code``,
    ``error.broker_message``).
    """
    if reply.status_code < 400 or not isinstance(body, dict):
        return None  # success, or an error page that is not the venue's JSON: mapped by status
    code = body.get("code")
    cls = ERROR_TABLE.get(str(code))
    if cls is None:
        return None
    message = body.get("message")
    text = str(message) if message is not None else None
    if cls is RateLimited:
        banned = reply.status_code == 418
        return RateLimited(
            f"template venue: {code}", banned=banned, broker=BROKER, code=str(code), broker_message=text
        )
    return cls(f"template venue refused: {code}", broker=BROKER, code=str(code), broker_message=text)
