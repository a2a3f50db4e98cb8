"""Signing against the documented OKX vectors (protocols.md §2.2)."""

from __future__ import annotations

import pytest
from autotrader_okx.auth import (
    iso_timestamp,
    rest_auth_headers,
    sign_rest,
    sign_ws_login,
    ws_login_message,
)

SECRET = "22582BD0CFF14C41EDBF1AB98506286D"
TS = "2020-12-08T09:08:57.715Z"
ORDER_BODY = (
    '{"instId":"BTC-USDT","tdMode":"cash","clOrdId":"b15","side":"buy",'
    '"ordType":"limit","px":"2.15","sz":"2"}'
)


def test_get_with_query_matches_documented_vector() -> None:
    assert (
        sign_rest(SECRET, TS, "GET", "/api/v5/account/balance?ccy=BTC")
        == "HiZhvSfMtWJA3uUIVXV3a/bSXNPCWvYFXoGCVS8V4zY="
    )


def test_post_with_body_matches_documented_vector() -> None:
    assert sign_rest(SECRET, TS, "POST", "/api/v5/trade/order", ORDER_BODY) == (
        "dI6rrL9rXW/HdaPKJ/6LC1OgvH4/PYju6R3CqixMTNQ="
    )


def test_method_is_upper_cased_before_signing() -> None:
    assert sign_rest(SECRET, TS, "post", "/api/v5/trade/order", ORDER_BODY) == sign_rest(
        SECRET, TS, "POST", "/api/v5/trade/order", ORDER_BODY
    )


def test_one_changed_body_byte_changes_the_signature() -> None:
    spaced = ORDER_BODY.replace('"sz":"2"', '"sz": "2"')
    assert sign_rest(SECRET, TS, "POST", "/api/v5/trade/order", spaced) != sign_rest(
        SECRET, TS, "POST", "/api/v5/trade/order", ORDER_BODY
    )


def test_ws_login_matches_documented_vector() -> None:
    assert sign_ws_login(SECRET, "1538054050") == "+LdIr8lkkvhr5hoA3g9TMC0+uQJ849ftAcocA/ouu4M="


def test_ws_login_message_shape() -> None:
    message = ws_login_message(api_key="k", secret=SECRET, passphrase="p", timestamp="1538054050")
    assert message == {
        "op": "login",
        "args": [
            {
                "apiKey": "k",
                "passphrase": "p",
                "timestamp": "1538054050",
                "sign": "+LdIr8lkkvhr5hoA3g9TMC0+uQJ849ftAcocA/ouu4M=",
            }
        ],
    }


@pytest.mark.parametrize(
    ("epoch_ms", "expected"),
    [
        (1607418537715, "2020-12-08T09:08:57.715Z"),
        (1607418537000, "2020-12-08T09:08:57.000Z"),  # zero millis are still written
        (1607418537005, "2020-12-08T09:08:57.005Z"),  # padded to three digits
    ],
)
def test_iso_timestamp_has_millisecond_precision_and_z(epoch_ms: int, expected: str) -> None:
    assert iso_timestamp(epoch_ms) == expected


def test_rest_headers_carry_key_sign_timestamp_passphrase() -> None:
    headers = rest_auth_headers(
        api_key="key",
        secret=SECRET,
        passphrase="phrase",
        timestamp=TS,
        method="GET",
        request_path="/api/v5/account/balance?ccy=BTC",
    )
    assert headers == {
        "OK-ACCESS-KEY": "key",
        "OK-ACCESS-SIGN": "HiZhvSfMtWJA3uUIVXV3a/bSXNPCWvYFXoGCVS8V4zY=",
        "OK-ACCESS-TIMESTAMP": TS,
        "OK-ACCESS-PASSPHRASE": "phrase",
    }
