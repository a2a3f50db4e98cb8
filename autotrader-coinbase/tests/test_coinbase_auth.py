"""JWT signer: every header field and claim checked against a throwaway key made here."""

from __future__ import annotations

import base64
from typing import Any

import jwt
import pytest
from autotrader_coinbase.auth import JwtSigner, build_jwt, load_signing_key, rest_uri
from autotrader_core.errors import ConfigurationError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

KEY_NAME = "organizations/11111111-2222-3333-4444-555555555555/apiKeys/66666666-7777-8888-9999-000000000000"


def _ec_pem(key: ec.EllipticCurvePrivateKey, fmt: serialization.PrivateFormat) -> str:
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


@pytest.fixture
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _decode(
    token: str, public_key: object, *, algorithm: str = "ES256"
) -> tuple[dict[str, Any], dict[str, Any]]:
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(
        token,
        public_key,  # type: ignore[arg-type]
        algorithms=[algorithm],
        options={"verify_nbf": False, "verify_exp": False},
    )
    return header, claims


def test_rest_uri_is_method_host_path_without_query() -> None:
    assert rest_uri("post", "api.coinbase.com", "/api/v3/brokerage/orders") == (
        "POST api.coinbase.com/api/v3/brokerage/orders"
    )
    assert rest_uri(
        "GET", "api.coinbase.com", "/api/v3/brokerage/orders/historical/batch?order_status=OPEN"
    ) == ("GET api.coinbase.com/api/v3/brokerage/orders/historical/batch")


def test_rest_jwt_verifies_with_public_key_and_has_every_claim(ec_key: ec.EllipticCurvePrivateKey) -> None:
    signer = JwtSigner(
        KEY_NAME, _ec_pem(ec_key, serialization.PrivateFormat.TraditionalOpenSSL), now=lambda: 1_700_000_000
    )
    token = signer.rest_token("POST", "api.coinbase.com", "/api/v3/brokerage/orders")
    header, claims = _decode(token, ec_key.public_key())
    assert header["alg"] == "ES256"
    assert header["kid"] == KEY_NAME
    assert header["typ"] == "JWT"
    assert len(header["nonce"]) == 32
    assert int(header["nonce"], 16) >= 0
    assert claims == {
        "sub": KEY_NAME,
        "iss": "cdp",
        "nbf": 1_700_000_000,
        "exp": 1_700_000_120,
        "uri": "POST api.coinbase.com/api/v3/brokerage/orders",
    }


def test_ws_jwt_has_no_uri_claim(ec_key: ec.EllipticCurvePrivateKey) -> None:
    signer = JwtSigner(KEY_NAME, _ec_pem(ec_key, serialization.PrivateFormat.PKCS8), now=lambda: 42)
    header, claims = _decode(signer.ws_token(), ec_key.public_key())
    assert "uri" not in claims
    assert claims == {"sub": KEY_NAME, "iss": "cdp", "nbf": 42, "exp": 162}
    assert header["kid"] == KEY_NAME


def test_each_token_has_a_fresh_nonce_and_signature(ec_key: ec.EllipticCurvePrivateKey) -> None:
    signer = JwtSigner(KEY_NAME, _ec_pem(ec_key, serialization.PrivateFormat.PKCS8), now=lambda: 42)
    tokens = [signer.rest_token("GET", "api.coinbase.com", "/api/v3/brokerage/accounts") for _ in range(3)]
    nonces = {jwt.get_unverified_header(t)["nonce"] for t in tokens}
    assert len(nonces) == 3
    assert len(set(tokens)) == 3


def test_token_signed_by_another_key_does_not_verify(ec_key: ec.EllipticCurvePrivateKey) -> None:
    signer = JwtSigner(KEY_NAME, _ec_pem(ec_key, serialization.PrivateFormat.PKCS8), now=lambda: 42)
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(jwt.InvalidSignatureError):
        _decode(signer.ws_token(), other.public_key())


def test_real_time_token_is_currently_valid(ec_key: ec.EllipticCurvePrivateKey) -> None:
    import time

    signer = JwtSigner(
        KEY_NAME, _ec_pem(ec_key, serialization.PrivateFormat.PKCS8), now=lambda: int(time.time())
    )
    claims = jwt.decode(signer.ws_token(), ec_key.public_key(), algorithms=["ES256"])  # checks nbf and exp
    assert claims["exp"] - claims["nbf"] == 120


def test_pem_with_literal_backslash_n_from_env_var_is_accepted(ec_key: ec.EllipticCurvePrivateKey) -> None:
    pem = _ec_pem(ec_key, serialization.PrivateFormat.TraditionalOpenSSL).replace("\n", "\\n")
    assert load_signing_key(pem).algorithm == "ES256"


def test_ed25519_keys_sign_with_eddsa() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = key.public_key()
    pub_raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    for text in (base64.b64encode(seed).decode(), base64.b64encode(seed + pub_raw).decode()):
        signing_key = load_signing_key(text)
        assert signing_key.algorithm == "EdDSA"
        token = build_jwt(key_name=KEY_NAME, signing_key=signing_key, now=5, nonce="ab", uri=None)
        header, claims = _decode(token, public, algorithm="EdDSA")
        assert header["alg"] == "EdDSA"
        assert claims["sub"] == KEY_NAME


def test_p384_key_is_refused_clearly() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(ConfigurationError, match="P-256"):
        load_signing_key(_ec_pem(key, serialization.PrivateFormat.PKCS8))


@pytest.mark.parametrize(
    "bad", ["", "not a key", "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----"]
)
def test_garbage_key_raises_configuration_error_without_echoing_it(bad: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_signing_key(bad)
    if bad:
        assert bad not in str(info.value)


def test_signer_repr_never_shows_the_private_key(ec_key: ec.EllipticCurvePrivateKey) -> None:
    pem = _ec_pem(ec_key, serialization.PrivateFormat.PKCS8)
    signer = JwtSigner(KEY_NAME, pem, now=lambda: 0)
    body = pem.splitlines()[1]
    assert body not in repr(signer)
    assert body not in repr(load_signing_key(pem))


def test_empty_key_name_is_refused(ec_key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(ConfigurationError, match="key name"):
        JwtSigner("", _ec_pem(ec_key, serialization.PrivateFormat.PKCS8), now=lambda: 0)


def _segments(token: str) -> list[bytes]:
    return [base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)) for part in token.split(".")]


def test_ed25519_token_is_byte_identical_to_pyjwt() -> None:
    """Ed25519 signatures are deterministic: our minting must produce exactly PyJWT's token."""
    key = ed25519.Ed25519PrivateKey.generate()
    ours = build_jwt(
        key_name=KEY_NAME,
        signing_key=load_signing_key(_pkcs8(key)),
        now=1_700_000_000,
        nonce="ab" * 16,
        uri="GET h/p",
    )
    reference = jwt.encode(
        {"sub": KEY_NAME, "iss": "cdp", "nbf": 1_700_000_000, "exp": 1_700_000_120, "uri": "GET h/p"},
        key,
        algorithm="EdDSA",
        headers={"kid": KEY_NAME, "nonce": "ab" * 16},
    )
    assert ours == reference


def test_es256_token_has_pyjwts_header_and_claims_and_a_raw_64_byte_signature(
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    signing_key = load_signing_key(_ec_pem(ec_key, serialization.PrivateFormat.PKCS8))
    ours = build_jwt(key_name=KEY_NAME, signing_key=signing_key, now=1_700_000_000, nonce="cd" * 16, uri=None)
    reference = jwt.encode(
        {"sub": KEY_NAME, "iss": "cdp", "nbf": 1_700_000_000, "exp": 1_700_000_120},
        ec_key,
        algorithm="ES256",
        headers={"kid": KEY_NAME, "nonce": "cd" * 16},
    )
    assert ours.split(".")[:2] == reference.split(".")[:2]  # same JSON, byte for byte
    assert len(_segments(ours)[2]) == 64  # r ‖ s, 32 bytes each (JWS), never DER
    _decode(ours, ec_key.public_key())  # verifies


def _pkcs8(key: ed25519.Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
