"""The one table from OKX error codes to the core error tree.

OKX answers most business errors with HTTP 200: the envelope's top-level
``code`` is ``"0"`` on success, ``"1"`` when every item of an order operation
failed and ``"2"`` on partial success of a batch; the per-item ``sCode``/``sMsg``
are then authoritative (protocols.md §2.8). Sub-codes appear as ``51008_1000``
or in a separate ``subCode`` field; the family (``51008``) decides the class.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    RateLimited,
    RequestTimeout,
)

__all__ = [
    "BROKER",
    "CLOCK_SKEW_CODES",
    "ERROR_TABLE",
    "EXPIRED_REQUEST_CODES",
    "RATE_LIMIT_WINDOW_SECONDS",
    "error_for_code",
    "error_from_envelope",
    "failed_items",
]

BROKER = "okx"

RATE_LIMIT_WINDOW_SECONDS = 2.0
"""OKX rate limits are counted over 2 s windows; without a Retry-After we wait one window."""

CLOCK_SKEW_CODES = frozenset({"50102", "60006"})
"""Timestamp expired (REST / WS): resync the clock before retrying."""

EXPIRED_REQUEST_CODES = frozenset({"50036", "50037"})
"""A place/amend refused because its ``expTime`` header had passed: OKX did not process it.

50036 "The expTime can't be earlier than the current system time", 50037 "Order expired"
(OKX's error table). A proven refusal (:class:`BrokerError`), never an unknown outcome."""

_AUTH = (
    "50100",  # API frozen
    "50101",  # APIKey does not match current environment (live key on demo or vice versa)
    "50102",  # timestamp request expired
    "50103",  # OK-ACCESS-KEY empty
    "50104",  # OK-ACCESS-PASSPHRASE empty
    "50105",  # OK-ACCESS-PASSPHRASE incorrect
    "50106",  # OK-ACCESS-SIGN empty
    "50107",  # OK-ACCESS-TIMESTAMP empty
    "50110",  # IP not in the key's allow-list
    "50111",  # invalid OK-ACCESS-KEY
    "50112",  # invalid OK-ACCESS-TIMESTAMP
    "50113",  # invalid signature
    "50114",  # invalid authorization
    "50119",  # API key doesn't exist (wrong region host)
    "50120",  # API key lacks the permission
    "60004",  # WS: invalid timestamp
    "60005",  # WS: invalid apiKey
    "60006",  # WS: timestamp request expired
    "60007",  # WS: invalid sign
    "60009",  # WS: login failed
    "60011",  # WS: please log in
    "60024",  # WS: wrong passphrase
    "60032",  # WS: API key doesn't exist
)
_RATE = (
    "50011",  # rate limit reached / too many requests
    "50061",  # sub-account order rate limit (1,000 new+amend per 2 s)
    "60014",  # WS: requests too frequent
)
_UNAVAILABLE = (
    "50001",  # service temporarily unavailable
    "50013",  # system is busy
    "50026",  # system error
    "51054",  # getting information timed out, try again later (read-only)
    "64008",  # WS: connection will soon be closed for a service upgrade
)
_TIMEOUT = (
    # Unknown outcome: OKX itself says the order may or may not exist.
    "50004",  # endpoint request timeout (does not mean success or failure)
    "51149",  # order timed out, please try again later
)
_INSUFFICIENT = (
    "51008",  # order failed: insufficient {ccy} balance (and sub-codes 51008_xxxx)
    "51119",  # insufficient margin
    "51127",  # available balance is 0
    "51131",  # insufficient balance
    "51502",  # amend failed: insufficient margin
    "59200",  # insufficient account balance
)
_NOT_FOUND = (
    "51400",  # cancel failed: order does not exist (or already filled/canceled)
    "51401",  # cancel failed: order already canceled
    "51402",  # cancel failed: order already completed
    "51503",  # amend failed: order does not exist / already filled or canceled
    "51509",  # amend failed: order canceled
    "51510",  # amend failed: order completed
    "51603",  # order does not exist
)
_DUPLICATE = ("51016",)  # client order id already exists: the order is already there
_INVALID = (
    "50000",  # body can not be empty
    "50002",  # JSON format error
    "50014",  # parameter {0} can not be empty
    "50015",  # either parameter {0} or {1} is required
    "50016",  # parameter {0} does not match parameter {1}
    "50024",  # parameters can not exist at the same time
    "50025",  # parameter count exceeds the limit
    "51000",  # parameter {x} error
    "51001",  # instrument ID does not exist
    "51003",  # either client order ID or order ID is required
    "51004",  # order amount exceeds current tier limit
    "51005",  # order amount exceeds the limit
    "51006",  # order price is not within the price limit
    "51010",  # operation not supported under the current account mode (tdMode)
    "51015",  # instrument ID does not match instrument type
    "51020",  # order amount should be greater than the min available amount
    "51021",  # instrument to be listed
    "51022",  # instrument suspended
    "51120",  # order quantity is less than the minimum
    "51121",  # order quantity must be a multiple of the lot size
    "51122",  # order price should be higher than the min price
    "51124",  # only limit orders during call auction
    "51133",  # reduce-only unavailable for spot in multi-currency margin
    "51139",  # reduce-only unavailable for spot in simple (spot) mode
    "51150",  # precision of size or price exceeds the limit
    "51201",  # market order value too large
    "51202",  # market order amount exceeds the max
    "51203",  # order amount exceeds the limit
    "51204",  # limit order price can not be empty
    "51205",  # reduce-only not available
    "51500",  # amend: either price or size is required
    "51506",  # amend unavailable for this order type
    "51511",  # amend price does not meet the post-only requirement
    "54109",  # trading not activated for this pair
)

ERROR_TABLE: Mapping[str, type[AutotraderError]] = {
    **dict.fromkeys(EXPIRED_REQUEST_CODES, BrokerError),
    **dict.fromkeys(_AUTH, AuthenticationError),
    **dict.fromkeys(_RATE, RateLimited),
    **dict.fromkeys(_UNAVAILABLE, BrokerUnavailable),
    **dict.fromkeys(_TIMEOUT, RequestTimeout),
    **dict.fromkeys(_INSUFFICIENT, InsufficientFunds),
    **dict.fromkeys(_NOT_FOUND, OrderNotFound),
    **dict.fromkeys(_DUPLICATE, DuplicateClientOrderId),
    **dict.fromkeys(_INVALID, InvalidOrder),
}
"""OKX code family → core error class. Codes not listed become a plain :class:`BrokerError`."""


def _family(code: str) -> str:
    """``"51008_1000"`` → ``"51008"``."""
    return code.split("_", 1)[0].strip()


def error_for_code(
    code: str | int,
    message: str = "",
    *,
    sub_code: str | None = None,
    http_status: int | None = None,
    retry_after: float | None = None,
) -> AutotraderError:
    """Build the typed error for one OKX code (top-level ``code`` or per-item ``sCode``).

    Args:
        code: The OKX code, verbatim (``"51008"`` or ``"51008_1000"``).
        message: OKX's ``msg``/``sMsg``, kept verbatim on the exception.
        sub_code: A separate ``subCode`` field, appended to the kept code.
        http_status: The HTTP status, shown in the message.
        retry_after: Seconds from a Retry-After header (rate limits only).
    """
    text = str(code)
    family = _family(text)
    kept = f"{text}_{sub_code}" if sub_code and "_" not in text else text
    cls = ERROR_TABLE.get(family, BrokerError)
    where = f" (HTTP {http_status})" if http_status is not None else ""
    summary = f"OKX refused the request{where}: {message or 'code ' + kept}"
    if cls is RateLimited:
        wait = retry_after if retry_after is not None else RATE_LIMIT_WINDOW_SECONDS
        return RateLimited(summary, retry_after=wait, broker=BROKER, code=kept, broker_message=message)
    if cls is RequestTimeout:
        summary = f"OKX timed out internally{where}: the outcome is unknown, look the order up ({message})"
    return cls(summary, broker=BROKER, code=kept, broker_message=message)


def failed_items(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The items of an order operation's ``data`` whose ``sCode`` is not ``"0"``."""
    data = body.get("data")
    if not isinstance(data, list):
        return []
    return [
        item for item in data if isinstance(item, Mapping) and str(item.get("sCode", "0")) not in ("0", "")
    ]


def error_from_envelope(
    body: Any, *, http_status: int | None = None, retry_after: float | None = None
) -> AutotraderError | None:
    """The typed error an OKX envelope carries, or ``None`` when it reports success.

    Per-item ``sCode`` wins over the top-level ``code`` (``"1"``/``"2"`` only say
    that some item failed). A success envelope whose single item failed is also
    an error: OKX's item codes are authoritative.
    """
    if not isinstance(body, Mapping) or "code" not in body:
        return None
    code = str(body["code"])
    failures = failed_items(body)
    if failures:
        item = failures[0]
        sub = item.get("subCode")
        return error_for_code(
            str(item["sCode"]),
            str(item.get("sMsg", "")),
            sub_code=str(sub) if sub not in (None, "") else None,
            http_status=http_status,
            retry_after=retry_after,
        )
    if code == "0":
        return None
    return error_for_code(code, str(body.get("msg", "")), http_status=http_status, retry_after=retry_after)
