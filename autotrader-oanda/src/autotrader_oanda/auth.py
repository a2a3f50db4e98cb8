"""Request authentication: OANDA v20 uses a bearer token and no request signing.

There is nothing to sign (no timestamp, nonce or HMAC: protocols.md §4.2), so
this module only builds the headers every request carries. The token is read
from its ``SecretStr`` at the last moment and never stored in plain text
elsewhere.
"""

from __future__ import annotations

from pydantic import SecretStr

__all__ = ["DATETIME_FORMAT", "auth_headers", "redact"]

DATETIME_FORMAT = "RFC3339"
"""Sent as ``Accept-Datetime-Format``: timestamps come back as RFC 3339 strings with nanoseconds."""


def auth_headers(token: SecretStr) -> dict[str, str]:
    """Headers for every REST and streaming request.

    Raises:
        ValueError: the token is empty or contains whitespace (a pasted newline would
            otherwise become a confusing 401).
    """
    raw = token.get_secret_value()
    if not raw or any(ch.isspace() for ch in raw):
        raise ValueError("OANDA token must be a non-empty string without whitespace")
    return {
        "Authorization": f"Bearer {raw}",
        "Accept-Datetime-Format": DATETIME_FORMAT,
    }


def redact(headers: dict[str, str]) -> dict[str, str]:
    """Copy of ``headers`` safe to log: the bearer token is replaced by ``***``."""
    return {
        key: ("Bearer ***" if key.lower() == "authorization" else value) for key, value in headers.items()
    }
