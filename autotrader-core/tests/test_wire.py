"""Wire readers: typed values from broker payloads, or a typed error naming the field and the payload."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from autotrader_core.enums import OrderSide, OrderType
from autotrader_core.errors import BrokerProtocolError
from autotrader_core.wire import WireFieldError, WireReader, datetime_from_epoch_ms, datetime_from_rfc3339

FILL = WireReader("okx", "fill")
SIDES = {"buy": OrderSide.BUY, "sell": OrderSide.SELL}


def refused(call: Any, *args: Any) -> WireFieldError:
    with pytest.raises(WireFieldError) as raised:
        call(*args)
    return raised.value


def test_the_error_names_broker_kind_and_field_and_keeps_the_payload() -> None:
    payload = {"px": 1.5}
    error = refused(FILL.decimal, payload, "px")
    assert isinstance(error, BrokerProtocolError)  # existing `except BrokerProtocolError` still catch it
    assert (error.broker, error.kind, error.field, error.payload) == ("okx", "fill", "px", payload)
    assert str(error).startswith("fill field 'px' must be a finite decimal string, got 1.5")
    assert "broker=okx" in str(error)


@pytest.mark.parametrize(
    ("value", "expected"), [("0.1", Decimal("0.1")), (5, Decimal(5)), (Decimal("2.50"), Decimal("2.50"))]
)
def test_decimal_reads_strings_and_integers_exactly(value: object, expected: Decimal) -> None:
    assert FILL.decimal({"px": value}, "px") == expected


@pytest.mark.parametrize("value", [0.1, True, "abc", "NaN", "Infinity", "1_000", "١٢", None, [1]])
def test_decimal_refuses_floats_non_numbers_and_non_finite(value: object) -> None:
    assert refused(FILL.decimal, {"px": value}, "px").field == "px"


def test_a_missing_field_is_refused_by_name() -> None:
    error = refused(FILL.decimal, {}, "px")
    assert str(error).startswith("fill field 'px' is missing")


@pytest.mark.parametrize("value", [None, "", "missing"])
def test_optional_readers_map_absent_values_to_none(value: object) -> None:
    payload = {} if value == "missing" else {"x": value}
    assert FILL.optional_decimal(payload, "x") is None
    assert FILL.optional_integer(payload, "x") is None
    assert FILL.optional_text(payload, "x") is None
    assert FILL.optional_epoch_ms(payload, "x") is None
    assert FILL.optional_rfc3339(payload, "x") is None


def test_optional_readers_still_refuse_bad_values() -> None:
    refused(FILL.optional_decimal, {"x": 1.5}, "x")
    refused(FILL.optional_rfc3339, {"x": "yesterday"}, "x")


@pytest.mark.parametrize(("value", "expected"), [(7, 7), ("42", 42), ("-3", -3), (Decimal("12"), 12)])
def test_integer_accepts_integers_integral_numbers_and_digit_strings(value: object, expected: int) -> None:
    assert FILL.integer({"n": value}, "n") == expected


@pytest.mark.parametrize("value", [True, 1.0, Decimal("1.5"), "1.0", "", " 1", "٣", None])
def test_integer_refuses_everything_else(value: object) -> None:
    refused(FILL.integer, {"n": value}, "n")


def test_text_and_non_empty_text() -> None:
    assert FILL.text({"s": "x"}, "s") == "x"
    assert FILL.text({"s": ""}, "s") == ""
    assert "must not be empty" in str(refused(lambda: FILL.text({"s": ""}, "s", non_empty=True)))
    refused(FILL.text, {"s": 5}, "s")


def test_enum_by_table_and_by_member_value() -> None:
    assert FILL.enum({"side": "sell"}, "side", SIDES) is OrderSide.SELL
    assert FILL.enum({"side": "Buy"}, "side", {"BUY": OrderSide.BUY}, fold_case=True) is OrderSide.BUY
    assert "unknown value 'hold'" in str(refused(FILL.enum, {"side": "hold"}, "side", SIDES))
    assert FILL.enum_member({"type": OrderType.LIMIT.value}, "type", OrderType) is OrderType.LIMIT
    refused(FILL.enum_member, {"type": "iceberg"}, "type", OrderType)


@pytest.mark.parametrize(
    ("value", "expected"), [(True, True), (False, False), ("true", True), ("FALSE", False)]
)
def test_boolean_reads_real_booleans_and_the_two_documented_strings(value: object, expected: bool) -> None:
    assert FILL.boolean({"b": value}, "b") is expected


@pytest.mark.parametrize("value", ["yes", "0", "1", 1, 0, None, ""])
def test_boolean_refuses_what_bool_would_read_loosely(value: object) -> None:
    refused(FILL.boolean, {"b": value}, "b")


def test_epoch_milliseconds() -> None:
    expected = datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)
    assert FILL.epoch_ms({"ts": "1714564800123"}, "ts") == expected
    assert FILL.epoch_ms({"ts": 1714564800123}, "ts") == expected
    refused(FILL.epoch_ms, {"ts": "1714564800.123"}, "ts")
    refused(FILL.epoch_ms, {"ts": "9" * 30}, "ts")  # out of range: typed, not OverflowError
    # The integer fast path keeps the same edges: the largest representable time, then typed refusals.
    assert FILL.epoch_ms({"ts": 253_402_300_799_999}, "ts").year == 9999
    refused(FILL.epoch_ms, {"ts": 253_402_300_800_000}, "ts")
    refused(FILL.epoch_ms, {"ts": 10**30}, "ts")
    refused(FILL.epoch_ms, {"ts": True}, "ts")
    assert FILL.epoch_ms({"ts": -1000}, "ts") == datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert datetime_from_epoch_ms(0) == datetime(1970, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "2016-10-24T21:48:18.593753865Z",
            datetime(2016, 10, 24, 21, 48, 18, 593753, tzinfo=UTC),
        ),  # truncated
        (
            "2016-10-24T21:48:18.9999999Z",
            datetime(2016, 10, 24, 21, 48, 18, 999999, tzinfo=UTC),
        ),  # not rounded up
        ("2024-01-01T01:00:00+01:00", datetime(2024, 1, 1, 0, 0, tzinfo=UTC)),
        ("2024-01-01T00:00:00.5z", datetime(2024, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_rfc3339_reads_any_fraction_and_offset_into_utc(text: str, expected: datetime) -> None:
    assert FILL.rfc3339({"t": text}, "t") == expected


@pytest.mark.parametrize("text", ["2024-01-01T00:00:00", "2024-01-01", "soon", 1714564800])
def test_rfc3339_refuses_times_without_offset_dates_and_non_strings(text: object) -> None:
    refused(FILL.rfc3339, {"t": text}, "t")
    with pytest.raises(WireFieldError):
        datetime_from_rfc3339(text, field="t")


def test_positional_fields_are_read_by_index() -> None:
    tws = WireReader("ibkr", "execution")
    fields = ["11", "1", "AAPL", "150.25"]
    assert tws.decimal(fields, 3) == Decimal("150.25")
    assert tws.integer(fields, 1) == 1
    error = refused(tws.decimal, fields, 9)
    assert error.field == 9 and "execution field 9 is missing" in str(error)
    refused(tws.decimal, fields, -1)  # no counting from the end: a short message is a short message


def test_shapes() -> None:
    assert FILL.array({"a": [1]}, "a") == [1]
    refused(FILL.array, {"a": {}}, "a")
    assert FILL.mapping({"a": 1}) == {"a": 1}
    with pytest.raises(BrokerProtocolError, match="fill must be a JSON object"):
        FILL.mapping([1])
    reader = WireReader("binance")
    assert reader.of("order").kind == "order" and reader.of("order").broker == "binance"
    assert str(refused(reader.text, {}, "s")).startswith("field 's' is missing")
