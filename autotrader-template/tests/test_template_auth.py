"""Signing: the venue's documented vector, and what the signer puts on a request."""

from __future__ import annotations

from autotrader_core.rest import RestRequest
from autotrader_template.auth import make_signer, sign, signature_payload, stream_login

# REPLACE with the example from your venue's documentation (key, payload, expected signature).
DOC_SECRET = "vector-secret"
DOC_PAYLOAD = '1764000000000POST/v1/orders{"symbol":"BTCUSD"}'
DOC_SIGNATURE = "35e9e6c87281d0c35cb890da7d68a5ceecb19a7df017eaa326210b7d11b8a0fa"


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
