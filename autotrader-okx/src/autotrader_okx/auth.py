"""OKX v5 request signing (pure functions; protocols.md §2.2).

REST: ``OK-ACCESS-SIGN = base64(HMAC-SHA256(secret, timestamp + METHOD + requestPath + body))``
where ``timestamp`` is ISO-8601 UTC with milliseconds (``2020-12-08T09:08:57.715Z``),
``requestPath`` includes the query string and ``body`` is the exact JSON text sent.

WebSocket login: the same HMAC over ``timestamp + "GET" + "/users/self/verify"`` with
``timestamp`` in Unix *seconds*.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "WS_LOGIN_PATH",
    "iso_timestamp",
    "rest_auth_headers",
    "sign",
    "sign_rest",
    "sign_ws_login",
    "ws_login_message",
]

WS_LOGIN_PATH = "/users/self/verify"
"""Fixed request path in the WebSocket login prehash."""


def iso_timestamp(epoch_ms: int) -> str:
    """Format epoch milliseconds as OKX wants them: ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC)."""
    seconds, millis = divmod(epoch_ms, 1000)
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{millis:03d}Z"


def sign(secret: str, prehash: str) -> str:
    """``base64(HMAC-SHA256(secret, prehash))`` as text."""
    digest = hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def sign_rest(secret: str, timestamp: str, method: str, request_path: str, body: str = "") -> str:
    """Signature of one REST request.

    Args:
        timestamp: The ISO-8601 value also sent in ``OK-ACCESS-TIMESTAMP``.
        method: HTTP method (upper-cased here).
        request_path: Path plus ``?query`` exactly as on the wire.
        body: The exact body text sent (empty for GET).
    """
    return sign(secret, f"{timestamp}{method.upper()}{request_path}{body}")


def rest_auth_headers(
    *,
    api_key: str,
    secret: str,
    passphrase: str,
    timestamp: str,
    method: str,
    request_path: str,
    body: str = "",
) -> dict[str, str]:
    """The four ``OK-ACCESS-*`` headers of a signed REST request."""
    return {
        "OK-ACCESS-KEY": api_key,
        "OK-ACCESS-SIGN": sign_rest(secret, timestamp, method, request_path, body),
        "OK-ACCESS-TIMESTAMP": timestamp,
        "OK-ACCESS-PASSPHRASE": passphrase,
    }


def sign_ws_login(secret: str, timestamp: str) -> str:
    """Signature of the WebSocket ``login`` op (``timestamp`` in Unix seconds, as a string)."""
    return sign(secret, f"{timestamp}GET{WS_LOGIN_PATH}")


def ws_login_message(*, api_key: str, secret: str, passphrase: str, timestamp: str) -> dict[str, Any]:
    """The ``{"op": "login", ...}`` message for the private WebSocket."""
    return {
        "op": "login",
        "args": [
            {
                "apiKey": api_key,
                "passphrase": passphrase,
                "timestamp": timestamp,
                "sign": sign_ws_login(secret, timestamp),
            }
        ],
    }
