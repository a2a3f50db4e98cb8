"""Request signing: pure functions, tested against the venue's documented vector.

REPLACE: the template venue signs ``timestamp + METHOD + path?query + body`` with
HMAC-SHA256 (hex) and sends key, timestamp and signature as headers; the stream's
login signs ``timestamp + "GET" + "/v1/stream"``. Write your venue's exact recipe
here, and test it against the example its documentation gives.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from autotrader_core.rest import RequestSigner, RestRequest

__all__ = ["STREAM_PATH", "make_signer", "sign", "signature_payload", "stream_login"]

STREAM_PATH = "/v1/stream"
"""What the stream login signs in place of a request target."""


def signature_payload(timestamp_ms: int, method: str, target: str, body: str | None) -> str:
    """The exact text the venue signs: ``timestamp + METHOD + path?query + body``."""
    return f"{timestamp_ms}{method.upper()}{target}{body or ''}"


def sign(secret: str, payload: str) -> str:
    """Hex HMAC-SHA256 of ``payload`` with ``secret``."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def make_signer(api_key: str, secret: str) -> RequestSigner:
    """A :data:`~autotrader_core.rest.RequestSigner` adding the venue's three auth headers.

    ``RestClient`` calls it after the rate limiter, so the signed timestamp is fresh;
    it signs ``request.target`` and ``request.body``, the very text that is sent.
    """

    def signer(request: RestRequest) -> None:
        payload = signature_payload(request.timestamp_ms, request.method, request.target, request.body)
        request.headers["TV-KEY"] = api_key
        request.headers["TV-TIMESTAMP"] = str(request.timestamp_ms)
        request.headers["TV-SIGNATURE"] = sign(secret, payload)

    return signer


def stream_login(api_key: str, secret: str, timestamp_ms: int) -> dict[str, Any]:
    """The private stream's login frame."""
    signature = sign(secret, signature_payload(timestamp_ms, "GET", STREAM_PATH, None))
    return {"op": "login", "key": api_key, "timestamp": timestamp_ms, "signature": signature}
