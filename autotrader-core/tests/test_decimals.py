"""Decimal conversions refuse floats and never hide a broken payload."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from autotrader_core.decimals import (
    decimal_from_wire,
    optional_decimal_from_wire,
    require_decimal,
    round_to_step,
    wire_field,
)
from autotrader_core.errors import BrokerProtocolError, InvalidOrder


def test_wire_strings_become_exact_decimals() -> None:
    assert decimal_from_wire("0.10000000", field="p") == D("0.1")
    assert decimal_from_wire(5, field="p") == D(5)
    assert optional_decimal_from_wire("", field="p") is None


@pytest.mark.parametrize(
    "value", [0.1, "abc", "NaN", None, True, [1], "\u0669\u0669", "\uff11\uff12", "1_000"]
)
def test_bad_wire_values_raise_protocol_errors_with_the_payload(value: object) -> None:
    with pytest.raises(BrokerProtocolError, match="payload"):
        decimal_from_wire(value, field="price", payload={"price": value})


@pytest.mark.parametrize(
    "text",
    [
        "\u0669\u0669",  # Arabic-Indic 99: Decimal() reads it as 99
        "\uff11\uff12",  # full-width 12
        "1_5",  # Decimal() reads it as 15
        "0.\u0661",
    ],
)
def test_user_quantities_must_be_plain_ascii_numbers(text: str) -> None:
    with pytest.raises(InvalidOrder, match="plain decimal number"):
        require_decimal(text, field="quantity")


def test_ordinary_user_numbers_still_parse() -> None:
    assert require_decimal("1.50", field="quantity") == D("1.5")
    assert require_decimal("1e3", field="quantity") == D(1000)
    assert require_decimal("+.5", field="quantity") == D("0.5")


def test_missing_field_is_a_protocol_error_not_a_key_error() -> None:
    with pytest.raises(BrokerProtocolError, match="missing field 'orderId'"):
        wire_field({"status": "NEW"}, "orderId")


@pytest.mark.parametrize(
    ("value", "step", "mode", "expected"),
    [
        ("100.123", "0.01", "nearest", "100.12"),
        ("100.125", "0.01", "nearest", "100.13"),
        ("0.0019", "0.001", "down", "0.001"),
        ("0.0011", "0.001", "up", "0.002"),
        ("1234", "10", "nearest", "1230"),
    ],
)
def test_round_to_step(value: str, step: str, mode: str, expected: str) -> None:
    result = round_to_step(D(value), D(step), mode=mode)
    assert result == D(expected) and str(result) == expected


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://API.Binance.com:443/api/v3", "api.binance.com"),
        ("wss://ws-api.binance.com./ws-api/v3", "ws-api.binance.com"),
        ("127.0.0.1:8080", "127.0.0.1"),
        ("https://user:pw@api-fxtrade.oanda.com", "api-fxtrade.oanda.com"),
    ],
)
def test_host_of_normalises_what_the_live_guard_compares(url: str, host: str) -> None:
    from autotrader_core.settings import host_of

    assert host_of(url) == host


@pytest.mark.parametrize("text", [" 1.50", "1.50 ", "\t101", "101\n", " 1 "])
def test_surrounding_whitespace_in_a_number_is_refused_not_stripped(text: str) -> None:
    # Issue 14 (11): " 101" used to become 101 without a word.
    with pytest.raises(InvalidOrder, match="limit_price has leading or trailing whitespace"):
        require_decimal(text, field="limit_price")
