"""Coinbase CDP API-key authentication: a fresh JWT per request (protocols.md §3.2).

REST requests carry ``Authorization: Bearer <jwt>``; the token is signed with the
key's private key (ES256 for EC P-256 keys, EdDSA for Ed25519 keys) and lives
120 seconds::

    header : {"alg": "ES256", "typ": "JWT", "kid": <key name>, "nonce": <random hex>}
    claims : {"sub": <key name>, "iss": "cdp", "nbf": now, "exp": now + 120,
              "uri": "<METHOD> <host><path>"}

WebSocket subscribe messages carry the same token *without* ``uri``.

The functions here are pure (time and nonce are arguments) so tests can verify
every claim; :class:`JwtSigner` binds them to a loaded key and a clock.

Minting is on the submit path of every order, so the token is assembled here from
the JSON PyJWT would write (same header and claims, byte for byte; tests compare)
and signed with ``cryptography`` directly: less than PyJWT's ``encode`` per token,
same key object, same algorithm, a fresh nonce and signature every time.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from autotrader_core.errors import ConfigurationError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

__all__ = [
    "JWT_ISSUER",
    "JWT_LIFETIME_SECONDS",
    "JwtSigner",
    "SigningKey",
    "build_jwt",
    "load_signing_key",
    "rest_uri",
]

JWT_ISSUER = "cdp"
JWT_LIFETIME_SECONDS = 120

_ES256 = ec.ECDSA(hashes.SHA256())


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A loaded private key and the JWT algorithm it signs with (``ES256`` or ``EdDSA``)."""

    algorithm: str
    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey = field(repr=False)

    def __repr__(self) -> str:
        return f"SigningKey(algorithm={self.algorithm!r})"


def _normalise_pem(text: str) -> str:
    # Keys copied from the CDP JSON file into an env var often keep literal "\n".
    return text.strip().replace("\\n", "\n")


def load_signing_key(private_key: str) -> SigningKey:
    """Load a CDP private key.

    Accepts an EC P-256 PEM (``-----BEGIN EC PRIVATE KEY-----`` or PKCS#8), an
    Ed25519 PKCS#8 PEM, or an Ed25519 key as base64 of the 32-byte seed or the
    64-byte seed‖public key (the format the CDP portal exports for Ed25519).

    Raises:
        ConfigurationError: the text is not a supported private key (the key
            itself never appears in the message).
    """
    text = _normalise_pem(private_key)
    if not text:
        raise ConfigurationError("the Coinbase private key is empty", broker="coinbase")
    if text.startswith("-----BEGIN"):
        try:
            loaded = serialization.load_pem_private_key(text.encode(), password=None)
        except (ValueError, TypeError, binascii.Error):
            raise ConfigurationError(
                "the Coinbase private key is not a readable unencrypted PEM key", broker="coinbase"
            ) from None
        if isinstance(loaded, ec.EllipticCurvePrivateKey):
            if not isinstance(loaded.curve, ec.SECP256R1):
                raise ConfigurationError(
                    f"Coinbase EC keys must use P-256 (ES256), got {loaded.curve.name}", broker="coinbase"
                )
            return SigningKey("ES256", loaded)
        if isinstance(loaded, ed25519.Ed25519PrivateKey):
            return SigningKey("EdDSA", loaded)
        raise ConfigurationError(
            f"unsupported Coinbase key type {type(loaded).__name__}: use an ECDSA P-256 key",
            broker="coinbase",
        )
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) in (32, 64):
        return SigningKey("EdDSA", ed25519.Ed25519PrivateKey.from_private_bytes(raw[:32]))
    raise ConfigurationError(
        "the Coinbase private key is neither a PEM key nor a base64 Ed25519 key", broker="coinbase"
    )


def rest_uri(method: str, host: str, path: str) -> str:
    """The ``uri`` claim: ``"<METHOD> <host><path>"``, path without its query string."""
    return f"{method.upper()} {host}{path.split('?', 1)[0]}"


def build_jwt(
    *,
    key_name: str,
    signing_key: SigningKey,
    now: int,
    nonce: str,
    uri: str | None,
) -> str:
    """Sign one JWT. ``uri=None`` makes a WebSocket token (no ``uri`` claim).

    Args:
        key_name: CDP key name (``sub`` claim and ``kid`` header).
        signing_key: From :func:`load_signing_key`.
        now: Epoch seconds (``nbf``; ``exp`` is ``now + 120``).
        nonce: Random hex for the ``nonce`` header (never reused).
        uri: :func:`rest_uri` for REST, ``None`` for WebSocket.
    """
    claims: dict[str, Any] = {
        "sub": key_name,
        "iss": JWT_ISSUER,
        "nbf": now,
        "exp": now + JWT_LIFETIME_SECONDS,
    }
    if uri is not None:
        claims["uri"] = uri
    # RFC 7515 compact form, as PyJWT writes it: header keys sorted, compact separators.
    header = {"alg": signing_key.algorithm, "kid": key_name, "nonce": nonce, "typ": "JWT"}
    signing_input = _segment(header, sort_keys=True) + b"." + _segment(claims, sort_keys=False)
    key = signing_key.key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(signing_input, _ES256))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")  # JWS wants r ‖ s, not DER
    else:
        signature = key.sign(signing_input)
    return (signing_input + b"." + _b64url(signature)).decode("ascii")


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _segment(part: dict[str, Any], *, sort_keys: bool) -> bytes:
    return _b64url(json.dumps(part, separators=(",", ":"), sort_keys=sort_keys).encode())


class JwtSigner:
    """Mints tokens for one CDP key; ``now`` returns the broker's clock in epoch seconds.

    The key name is an identifier, not a secret; the private key never leaves
    this object and is not in its repr.
    """

    __slots__ = ("_key", "_now", "key_name")

    def __init__(self, key_name: str, private_key: str, *, now: Callable[[], int]) -> None:
        if not key_name:
            raise ConfigurationError("the Coinbase API key name is empty", broker="coinbase")
        self.key_name = key_name
        self._key = load_signing_key(private_key)
        self._now = now

    @property
    def algorithm(self) -> str:
        """``ES256`` or ``EdDSA``."""
        return self._key.algorithm

    def rest_token(self, method: str, host: str, path: str) -> str:
        """A fresh token for one REST request."""
        return build_jwt(
            key_name=self.key_name,
            signing_key=self._key,
            now=self._now(),
            nonce=secrets.token_hex(16),
            uri=rest_uri(method, host, path),
        )

    def ws_token(self) -> str:
        """A fresh token for one WebSocket subscribe/unsubscribe message."""
        return build_jwt(
            key_name=self.key_name,
            signing_key=self._key,
            now=self._now(),
            nonce=secrets.token_hex(16),
            uri=None,
        )

    def __repr__(self) -> str:
        return f"<JwtSigner key_name={self.key_name!r} algorithm={self.algorithm!r}>"
