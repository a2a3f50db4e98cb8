"""Signing: Binance's documented vectors must reproduce exactly (protocols.md §1.2)."""

from __future__ import annotations

import base64

import pytest
from autotrader_binance.auth import (
    Ed25519Signer,
    HmacSigner,
    encode_query,
    load_ed25519_key,
    rest_signature_payload,
    signer_from_credentials,
    ws_signature_payload,
)
from autotrader_core.errors import ConfigurationError
from binance_support import DOC_API_KEY, DOC_SECRET
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

DOC_PARAMS = [
    ("symbol", "LTCBTC"),
    ("side", "BUY"),
    ("type", "LIMIT"),
    ("timeInForce", "GTC"),
    ("quantity", "1"),
    ("price", "0.1"),
    ("recvWindow", "5000"),
    ("timestamp", "1499827319559"),
]


def _pem(seed: bytes = bytes(range(32)), passphrase: bytes | None = None) -> bytes:
    key = Ed25519PrivateKey.from_private_bytes(seed)
    encryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def test_documented_hmac_rest_vector_reproduces_exactly() -> None:
    payload = encode_query(DOC_PARAMS)
    assert payload == (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
        "&recvWindow=5000&timestamp=1499827319559"
    )
    assert HmacSigner(DOC_SECRET).sign(payload) == (
        "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    )


def test_documented_non_ascii_vector_is_percent_encoded_before_signing() -> None:
    params = [("symbol", "１２３４５６"), *DOC_PARAMS[1:]]
    payload = encode_query(params)
    assert payload.startswith("symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY")
    assert HmacSigner(DOC_SECRET).sign(payload) == (
        "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"
    )


def test_rest_payload_is_query_then_body_without_separator() -> None:
    assert rest_signature_payload("a=1&b=2", "c=3") == "a=1&b=2c=3"
    assert rest_signature_payload("a=1", None) == "a=1"


def test_documented_ws_api_vector_sorted_and_includes_api_key() -> None:
    params = {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01000000",
        "price": "52000.00",
        "recvWindow": 100,
        "timestamp": 1645423376532,
        "apiKey": DOC_API_KEY,
        "signature": "ignored",
    }
    payload = ws_signature_payload(params)
    assert payload == (
        f"apiKey={DOC_API_KEY}&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL"
        "&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"
    )
    assert HmacSigner(DOC_SECRET).sign(payload) == (
        "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
    )


def test_ed25519_signature_is_base64_of_64_bytes_and_verifies() -> None:
    signer = Ed25519Signer(load_ed25519_key(_pem()))
    payload = encode_query(DOC_PARAMS)
    signature = signer.sign(payload)
    assert len(signature) == 88
    raw = base64.b64decode(signature, validate=True)
    assert len(raw) == 64
    public = Ed25519PrivateKey.from_private_bytes(bytes(range(32))).public_key()
    public.verify(raw, payload.encode())  # raises InvalidSignature on mismatch
    assert signer.sign(payload) == signature  # Ed25519 is deterministic


def test_encrypted_ed25519_key_needs_its_passphrase() -> None:
    pem = _pem(passphrase=b"correct horse")
    assert isinstance(load_ed25519_key(pem, "correct horse"), Ed25519PrivateKey)
    with pytest.raises(ConfigurationError) as info:
        load_ed25519_key(pem, "wrong")
    assert "correct horse" not in str(info.value)


def test_non_ed25519_or_garbage_key_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="PEM"):
        load_ed25519_key("not a key")
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ConfigurationError, match="expected an Ed25519 key"):
        load_ed25519_key(ec_pem)


def test_signer_reprs_hide_secrets() -> None:
    hmac_signer = HmacSigner(DOC_SECRET)
    ed_signer = Ed25519Signer(load_ed25519_key(_pem()))
    assert DOC_SECRET not in repr(hmac_signer)
    assert "**" in repr(ed_signer)


def test_signer_from_credentials_prefers_ed25519() -> None:
    assert signer_from_credentials(api_secret=DOC_SECRET).key_type == "hmac"
    assert signer_from_credentials(private_key_pem=_pem()).key_type == "ed25519"
    with pytest.raises(ConfigurationError):
        signer_from_credentials()
