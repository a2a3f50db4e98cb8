"""Request signing for Binance Spot (protocols.md §1.2): pure functions, no I/O.

REST: the signature payload is the query string exactly as sent, every name and
value percent-encoded (UTF-8) *before* signing (mandatory since 2026-01-15,
otherwise ``-1022``). We build that string ourselves and send those very bytes,
so what we sign is what Binance receives.

WebSocket API: every ``params`` field except ``signature`` (``apiKey`` included),
sorted by name, joined as ``name=value`` with ``&``, not percent-encoded.

Key types: HMAC-SHA256 (hex digest) and Ed25519 (base64 of the 64-byte signature).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from autotrader_core.errors import ConfigurationError
from autotrader_core.rest import encode_query as _encode_query

if TYPE_CHECKING:  # cryptography is imported when an Ed25519 key is loaded (HMAC users never pay for it)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "Ed25519Signer",
    "HmacSigner",
    "Signer",
    "encode_query",
    "load_ed25519_key",
    "rest_signature_payload",
    "signer_from_credentials",
    "ws_signature_payload",
]


def encode_query(params: Sequence[tuple[str, str]]) -> str:
    """``k=v&k=v`` with names and values percent-encoded as UTF-8, as Binance's own sample does.

    This is :func:`autotrader_core.rest.encode_query` (``urllib.parse.urlencode``'s
    output, faster): the same function that builds the query string and form body
    the core ``RestClient`` sends, so the signed payload is the wire text.
    """
    return _encode_query(params)


def rest_signature_payload(query: str, body: str | None) -> str:
    """REST payload: the query string immediately followed by the body (no separator)."""
    return query + (body or "")


def ws_signature_payload(params: Mapping[str, object]) -> str:
    """WebSocket API signature payload: params except ``signature``, sorted by name, not encoded."""
    return "&".join(f"{name}={_ws_value(params[name])}" for name in sorted(params) if name != "signature")


def _ws_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Signer(Protocol):
    """Signs a payload string and returns the ``signature`` parameter value."""

    key_type: str

    def sign(self, payload: str) -> str:
        """Signature of ``payload`` (UTF-8), as Binance expects it in the ``signature`` field."""
        ...


class HmacSigner:
    """HMAC-SHA256 signer: lower-case hex digest.

    Args:
        secret: The API secret key (case-sensitive).
    """

    key_type = "hmac"
    __slots__ = ("_key",)

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ConfigurationError("Binance HMAC secret is empty", broker="binance")
        self._key = secret.encode("utf-8")

    def sign(self, payload: str) -> str:
        """Hex HMAC-SHA256 of ``payload``."""
        return hmac.new(self._key, payload.encode("utf-8"), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "<HmacSigner secret=**********>"


class Ed25519Signer:
    """Ed25519 signer: base64 of the 64-byte signature (88 characters).

    Args:
        private_key: A loaded Ed25519 private key (see :func:`load_ed25519_key`).
    """

    key_type = "ed25519"
    __slots__ = ("_key",)

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key

    def sign(self, payload: str) -> str:
        """Base64 Ed25519 signature of ``payload``."""
        return base64.b64encode(self._key.sign(payload.encode("utf-8"))).decode("ascii")

    def __repr__(self) -> str:
        return "<Ed25519Signer key=**********>"


def load_ed25519_key(pem: str | bytes, passphrase: str | None = None) -> Ed25519PrivateKey:
    """Load an Ed25519 private key from PEM (PKCS#8) text.

    Raises:
        ConfigurationError: not a PEM key, wrong passphrase, or not an Ed25519 key
            (the key material never appears in the message).
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    data = pem.encode("utf-8") if isinstance(pem, str) else pem
    try:
        key = load_pem_private_key(data, password=passphrase.encode("utf-8") if passphrase else None)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"Binance private key could not be loaded as PEM ({type(exc).__name__}); "
            "expected an Ed25519 PKCS#8 PEM key and, if encrypted, its passphrase",
            broker="binance",
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(
            f"Binance private key is {type(key).__name__}, expected an Ed25519 key "
            "(RSA keys are not supported by this adapter)",
            broker="binance",
        )
    return key


def signer_from_credentials(
    *,
    api_secret: str | None = None,
    private_key_pem: str | bytes | None = None,
    passphrase: str | None = None,
) -> Signer:
    """Build the signer for the key type the credentials describe (Ed25519 wins when given).

    Raises:
        ConfigurationError: no usable secret.
    """
    if private_key_pem is not None:
        return Ed25519Signer(load_ed25519_key(private_key_pem, passphrase))
    if api_secret is not None:
        return HmacSigner(api_secret)
    raise ConfigurationError("Binance needs an HMAC secret or an Ed25519 private key", broker="binance")
