"""Signing: the venue's documented vector, and what the signer puts on a request."""

from __future__ import annotations

from autotrader_core.rest import RestRequest
from autotrader_template.auth import make_signer, sign, signature_payload, stream_login

# REPLACE with the example from your venue's documentation (key, payload, expected signature).
DOC_SECRET = "template-secret"
DOC_PAYLOAD = '1764000000000POST/v1/orders{"symbol":"BTCUSD"}'
DOC_SIGNATURE = "419b22c27b4c486c6eb1bc90c3b6f5bdde01fa6d8ef9d086802d856dd38221a4"


def test_signature_matches_the_documented_vector() -> None:
    payload = signature_payload(1764000000000, "post", "/v1/orders", '{"symbol":"BTCUSD"}')
    assert payload == DOC_PAYLOAD
    assert sign(DOC_SECRET, payload) == DOC_SIGNATURE


def test_signer_signs_the_target_and_body_that_are_sent() -> None:
    request = RestRequest("GET", "/v1/orders", params=[("symbol", "BTCUSD")], timestamp_ms=1764000000000)
    make_signer("key-1", DOC_SECRET)(request)
    assert request.headers["TV-KEY"] == "key-1"
    assert request.headers["TV-TIMESTAMP"] == "1764000000000"
    expected = sign(DOC_SECRET, "1764000000000GET/v1/orders?symbol=BTCUSD")
    assert request.headers["TV-SIGNATURE"] == expected
    assert DOC_SECRET not in repr(request)


def test_stream_login_signs_the_stream_path() -> None:
    frame = stream_login("key-1", DOC_SECRET, 1764000000000)
    assert frame["signature"] == sign(DOC_SECRET, "1764000000000GET/v1/stream")
    assert DOC_SECRET not in str(frame)
