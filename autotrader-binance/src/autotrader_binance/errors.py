"""Binance error codes and HTTP statuses → the core error tree, in one table.

Binance answers errors as ``{"code": <negative int>, "msg": "<text>"}`` (protocols.md
§1.8). Codes are stable; some codes (-2010, -2011, -1013) carry several meanings
that only the message tells apart (errors.md "Messages for -1010, -2010, -2011").
HTTP statuses decide first where they carry their own meaning: 429 / 418 (rate
limit / IP ban, with ``Retry-After``), 403 (WAF), 5xx (outcome unknown).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autotrader_core.errors import (
    AuthenticationError,
    AutotraderError,
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
from autotrader_core.rest import DEFAULT_BAN_SECONDS
from autotrader_core.rest import parse_retry_after as _parse_retry_after

__all__ = [
    "BROKER",
    "CancelRejected",
    "CancelReplaceFailed",
    "TimestampOutsideRecvWindow",
    "map_error",
    "parse_retry_after",
]

BROKER = "binance"


class TimestampOutsideRecvWindow(BrokerError):
    """``-1021``: our timestamp was outside ``recvWindow``; the request was *not* executed.

    The request path resyncs the clock from ``/api/v3/time`` and retries once
    before letting this through.
    """


class CancelReplaceFailed(BrokerError):
    """``-2021`` / ``-2022``: one or both halves of a cancelReplace failed.

    Args:
        data: Binance's ``data`` object (``cancelResult``, ``newOrderResult``,
            ``cancelResponse``, ``newOrderResponse``).
    """

    def __init__(self, message: str, *, data: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.data: Mapping[str, Any] = data or {}

    @property
    def cancel_succeeded(self) -> bool:
        """True when the old order was canceled (only the new order failed)."""
        return self.data.get("cancelResult") == "SUCCESS"

    @property
    def reason(self) -> str:
        """The most specific message: the failed half's own ``msg`` if present."""
        for key in ("newOrderResponse", "cancelResponse"):
            part = self.data.get(key)
            if isinstance(part, Mapping) and isinstance(part.get("msg"), str):
                return str(part["msg"])
        return self.broker_message or self.message


class CancelRejected(BrokerError):
    """``-2011`` for a reason other than "unknown order" (e.g. cancel restrictions):
    the order is still there and keeps working."""


# Codes whose meaning does not depend on the message.
_BY_CODE: dict[int, tuple[type[AutotraderError], str]] = {
    -1000: (BrokerUnavailable, "Binance reported an unknown error; the outcome is unknown"),
    -1001: (BrokerUnavailable, "Binance internal error (DISCONNECTED); the outcome is unknown"),
    -1002: (AuthenticationError, "not authorized for this request"),
    -1006: (BrokerUnavailable, "unexpected response from Binance's message bus; execution status unknown"),
    -1007: (RequestTimeout, "Binance timed out waiting for the matching engine; execution status unknown"),
    -1008: (BrokerUnavailable, "Binance is overloaded (SERVER_BUSY)"),
    -1016: (BrokerUnavailable, "Binance service is shutting down"),
    -1021: (TimestampOutsideRecvWindow, "request timestamp outside recvWindow (clock skew)"),
    -1022: (AuthenticationError, "signature not valid (check the secret / private key)"),
    -1099: (AuthenticationError, "not found, unauthenticated, or unauthorized"),
    -1121: (InvalidOrder, "invalid symbol"),
    -2013: (OrderNotFound, "order does not exist"),
    -2014: (AuthenticationError, "API-key format invalid"),
    -2015: (AuthenticationError, "invalid API-key, IP, or permissions for action"),
    -2026: (OrderNotFound, "order was archived (canceled/expired without fills over 90 days ago)"),
}

# Matching-engine messages shared by -1010 / -2010 / -2011 / -2038 (errors.md), lower-cased.
_BY_MESSAGE: tuple[tuple[str, type[AutotraderError], str], ...] = (
    ("insufficient balance", InsufficientFunds, "insufficient balance"),
    ("duplicate order sent", DuplicateClientOrderId, "an order with this client order id is already open"),
    ("unknown order sent", OrderNotFound, "Binance does not know this order"),
    ("cancel restrictions", CancelRejected, "order not canceled due to cancel restrictions"),
    ("filter failure", InvalidOrder, "order breaks a symbol filter"),
    ("would immediately match and take", InvalidOrder, "post-only order would take liquidity"),
    ("may not place or cancel orders", AuthenticationError, "account may not trade"),
    ("action is disabled on this account", AuthenticationError, "action disabled on this account"),
    ("trading is not enabled", AuthenticationError, "API trading is not enabled for this key"),
    ("not permitted for this account", AuthenticationError, "symbol not permitted for this account"),
    ("restricted for this account", AuthenticationError, "symbol restricted for this account"),
)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a ``Retry-After`` header (Binance sends whole seconds), or ``None``."""
    return _parse_retry_after(headers.get("retry-after") or headers.get("Retry-After"))


def _code_and_msg(body: Any) -> tuple[int | None, str]:
    if isinstance(body, Mapping) and "code" in body:
        code = body.get("code")
        msg = body.get("msg")
        try:
            number = int(code) if code is not None and not isinstance(code, bool) else None
        except (TypeError, ValueError):
            number = None
        return number, msg if isinstance(msg, str) else ""
    return None, ""


def map_error(status: int, body: Any, headers: Mapping[str, str]) -> AutotraderError | None:
    """Map one REST reply to an error, or ``None`` when it is a success.

    Args:
        status: HTTP status code.
        body: The parsed JSON body (or ``None`` when it was not JSON).
        headers: Response headers (case-insensitive mapping preferred).
    """
    code, msg = _code_and_msg(body)
    if 200 <= status < 300 and code is None:
        return None
    kw: dict[str, Any] = {"broker": BROKER, "code": code, "broker_message": msg or None}

    if status == 418:
        return RateLimited(
            "Binance has banned this IP (HTTP 418); nothing is sent until the ban ends",
            retry_after=parse_retry_after(headers) or DEFAULT_BAN_SECONDS,
            banned=True,
            **kw,
        )
    if status == 429 or code in (-1003, -1015):
        what = "order rate limit" if code == -1015 else "request weight limit"
        return RateLimited(
            f"Binance {what} exceeded (HTTP {status})", retry_after=parse_retry_after(headers), **kw
        )
    if status >= 500:
        return BrokerUnavailable(
            f"Binance HTTP {status}: execution status unknown (look the order up before re-sending)", **kw
        )
    if code is None:
        if status == 403:
            return BrokerError("Binance's web application firewall blocked the request (HTTP 403)", **kw)
        if status in (401,):
            return AuthenticationError(f"Binance HTTP {status}", **kw)
        return BrokerProtocolError(
            f"Binance HTTP {status} without the documented error body", payload=body, broker=BROKER
        )

    if code in (-2021, -2022):
        data = body.get("data") if isinstance(body, Mapping) else None
        what = "partially failed" if code == -2021 else "failed"
        return CancelReplaceFailed(
            f"Binance cancelReplace {what}", data=data if isinstance(data, Mapping) else None, **kw
        )
    lowered = msg.lower()
    if code in (-1010, -1013, -2010, -2011, -2038):
        for needle, cls, text in _BY_MESSAGE:
            if needle in lowered:
                return cls(text, **kw)
    if code in _BY_CODE:
        cls, text = _BY_CODE[code]
        return cls(text, **kw)
    if code == -2011:
        return CancelRejected("Binance rejected the cancel", **kw)
    if code in (-1013, -1010, -2010, -2038) or -1199 <= code <= -1100:
        return InvalidOrder("Binance rejected the request's parameters", **kw)
    return BrokerError(f"Binance error {code}", **kw)
