"""The codec's fast paths and the journal's multi-row insert: the same results as the plain ones."""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from autotrader_core.decimals import loads_exact
from autotrader_core.enums import Liquidity, OrderSide, OrderStatus, OrderType, TimeInForce
from autotrader_core.events import OrderAccepted, OrderFilled, OrderModified, OutcomeResolved, OutcomeUnknown
from autotrader_core.journal import codec
from autotrader_core.journal.codec import CorruptJournal
from autotrader_core.journal.sqlite import SqliteJournal, insert_rows
from autotrader_core.models import Fill, Order, Position
from autotrader_core.resiliency.dead_letter import DeadLetter
from hypothesis import given
from hypothesis import strategies as st

AT = datetime(2026, 12, 6, 10, 0, 0, 123456, tzinfo=UTC)

ORDERS = [
    Order("at-1", "BTCUSDT", OrderSide.BUY, OrderType.MARKET, Decimal("0.001"), created_at=AT, updated_at=AT),
    Order(
        "at-2",
        "ETH-USD",
        OrderSide.SELL,
        OrderType.STOP_LIMIT,
        Decimal("1.50"),
        time_in_force=TimeInForce.IOC,
        limit_price=Decimal("2000.10"),
        stop_price=Decimal("2001E0"),
        post_only=True,
        reduce_only=True,
        broker="okx",
        tag="grid 7",
        status=OrderStatus.PARTIALLY_FILLED,
        broker_order_id="9876",
        filled_quantity=Decimal("0.5"),
        average_fill_price=Decimal("2000.1"),
        fees=Decimal("-0.01"),
        reject_reason=None,
        created_at=AT,
        updated_at=AT,
        accepted_at=AT,
        first_fill_at=AT,
    ),
]

FILLS = [
    Fill("t1", "at-1", "BTCUSDT", OrderSide.BUY, Decimal("0.001"), Decimal("50000"), timestamp=AT),
    Fill(
        "t2",
        "at-2",
        "ETH-USD",
        OrderSide.SELL,
        Decimal("0.5"),
        Decimal("2000.1"),
        Decimal("0.01"),
        "USD",
        Liquidity.MAKER,
        AT,
        "9876",
        "coinbase",
    ),
]


@pytest.mark.parametrize("order", ORDERS, ids=["market", "every-field"])
def test_an_order_decodes_to_what_was_encoded_exactly(order: Order) -> None:
    body = codec.loads(codec.dumps(codec.encode_order(order)))
    decoded = codec.decode_order(body)
    assert decoded == order
    assert str(decoded.quantity) == str(order.quantity)  # "1.50" stays "1.50", exponent included


@pytest.mark.parametrize("fill", FILLS, ids=["taker-defaults", "every-field"])
def test_a_fill_decodes_to_what_was_encoded_exactly(fill: Fill) -> None:
    body = codec.loads(codec.dumps(codec.encode_fill(fill)))
    assert codec.decode_fill(body) == fill


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("quantity", 1.5, "quantity"),  # a float is refused, never taken as money
        ("quantity", "1..5", "quantity"),
        ("filled_quantity", None, "filled_quantity"),
        ("side", "long", "side"),
        ("status", "gone", "status"),
        ("created_at", "yesterday", "created_at"),
        ("limit_price", 2000, "limit_price"),
        ("tag", 7, "tag"),
        ("client_order_id", 12, "client_order_id"),
    ],
)
def test_a_bad_order_field_is_still_refused_and_named(field: str, value: Any, named: str) -> None:
    body = codec.encode_order(ORDERS[1])
    body[field] = value
    with pytest.raises(CorruptJournal, match=named if field not in ("side", "status") else "bad order row"):
        codec.decode_order(body)


def test_a_missing_order_field_is_named() -> None:
    body = codec.encode_order(ORDERS[0])
    del body["fees"]
    with pytest.raises(CorruptJournal, match="fees"):
        codec.decode_order(body)


@pytest.mark.parametrize(("field", "value"), [("price", 50000.0), ("liquidity", "both"), ("timestamp", 3)])
def test_a_bad_fill_field_is_still_refused(field: str, value: Any) -> None:
    body = codec.encode_fill(FILLS[1])
    body[field] = value
    with pytest.raises(CorruptJournal):
        codec.decode_fill(body)


@pytest.mark.parametrize("count", [0, 1, 2, 3, 255, 256, 257, 1000])
def test_insert_rows_writes_every_row_in_order(count: int) -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, body TEXT)")
    rows = [(n, f"row {n}") for n in range(count)]
    insert_rows(conn, "INSERT INTO t (seq, body) VALUES ", rows)
    assert conn.execute("SELECT seq, body FROM t ORDER BY seq").fetchall() == rows


def _bodies() -> list[Any]:
    odd = Order(
        "at-\u00e9",
        "BTCUSDT",
        OrderSide.BUY,
        OrderType.MARKET,
        Decimal("1"),
        tag='t\u00e9st \u2028 \x01 "q" / \\',
    )
    return [
        *(codec.encode_order(o) for o in [*ORDERS, odd]),
        *(codec.encode_fill(f) for f in FILLS),
        codec.encode_event(OrderFilled(FILLS[1])),
        codec.encode_event(OrderAccepted("at-1", "9", AT)),
        codec.encode_event(OrderModified("at-2", quantity=Decimal("2"), limit_price=None, timestamp=AT)),
        codec.encode_outcome(OutcomeUnknown("at-1", "submit", "timeout", AT, ("1", "2"), AT)),
        codec.encode_outcome(OutcomeResolved("at-1", "submit", "found", AT)),
        codec.encode_dead_letter(
            DeadLetter("cancel", "at-1", "BTCUSDT", "RequestTimeout", "no reply", 3, AT, {"side": "buy"})
        ),
        codec.encode_position(Position("BTCUSDT", Decimal("-0.5"), other_fees={"BNB": Decimal("0.001")})),
        {"nested": [1, True, None, {"k": "v"}], "big": 2**62},
    ]


def test_journal_rows_are_written_exactly_as_the_standard_library_would() -> None:
    # The journal's text does not change with the encoder: rows written before and after read alike.
    for body in _bodies():
        assert codec.dumps(body) == json.dumps(body, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize(
    "moment",
    [
        AT,
        AT.replace(microsecond=0),
        AT.replace(microsecond=1),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(999, 5, 5, 1, 2, 3, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, fold=1, tzinfo=UTC),
        datetime(2026, 12, 6, 12, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(2026, 12, 6, 12, 0, tzinfo=timezone(timedelta(seconds=-3601))),
        datetime(2026, 12, 6, 12, 0, 0, 5),
    ],
)
def test_a_timestamp_is_written_as_isoformat_writes_it(moment: datetime) -> None:
    # The fast path (UTC: orjson's RFC 3339) must not change one character of a journal row.
    assert codec.timestamp(moment) == moment.isoformat()
    order = codec.encode_order(
        Order(
            "at-9",
            "BTCUSDT",
            OrderSide.BUY,
            OrderType.MARKET,
            Decimal("1"),
            created_at=moment,
            updated_at=moment,
        )
    )
    assert order["created_at"] == order["updated_at"] == moment.isoformat()


_TIMES = st.one_of(
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(timezones=st.timezones()),
    st.datetimes(),  # naive
)


@given(
    created=_TIMES,
    updated=_TIMES,
    accepted=st.none() | _TIMES,
    first_fill=st.none() | _TIMES,
    quantity=st.decimals(allow_nan=False, allow_infinity=False),
    price=st.none() | st.decimals(allow_nan=False, allow_infinity=False),
    tag=st.none() | st.text(),
    side=st.sampled_from(OrderSide),
    order_type=st.sampled_from(OrderType),
    time_in_force=st.sampled_from(TimeInForce),
    status=st.sampled_from(OrderStatus),
)
def test_an_order_for_orjson_dumps_to_the_same_text(
    created: datetime,
    updated: datetime,
    accepted: datetime | None,
    first_fill: datetime | None,
    quantity: Decimal,
    price: Decimal | None,
    tag: str | None,
    side: OrderSide,
    order_type: OrderType,
    time_in_force: TimeInForce,
    status: OrderStatus,
) -> None:
    # Replies, events and journal intents leave UTC times and enums to orjson: not one
    # character may change.
    order = Order(
        "at-h",
        "BTCUSDT",
        side,
        order_type,
        quantity,
        time_in_force=time_in_force,
        status=status,
        limit_price=price,
        average_fill_price=price,
        tag=tag,
        created_at=created,
        updated_at=updated,
        accepted_at=accepted,
        first_fill_at=first_fill,
    )
    body = codec.encode_order(order)
    plain = codec.dumps(body)
    assert codec.dumps(codec.encode_order(order, for_orjson=True)) == plain
    # the plain body holds JSON values only: no enum (a str subclass), no datetime
    assert {type(v) for v in body.values()} <= {str, bool, type(None)}
    assert plain == json.dumps(codec.encode_order(order), separators=(",", ":"), ensure_ascii=False)


def test_an_order_for_orjson_writes_a_datetime_subclass_by_its_own_isoformat() -> None:
    class Stamp(datetime):
        def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
            return "stamp"

    order = Order("at-s", "BTCUSDT", OrderSide.BUY, OrderType.MARKET, Decimal("1"))
    order.accepted_at = Stamp(2026, 12, 6, tzinfo=UTC)
    body = codec.encode_order(order, for_orjson=True)
    assert body["accepted_at"] == "stamp"
    assert body["created_at"] is order.created_at  # a UTC datetime: left to orjson
    assert body["side"] is OrderSide.BUY  # an enum too: orjson writes its value


@pytest.mark.parametrize("order", ORDERS, ids=["market", "every-field"])
@pytest.mark.anyio
async def test_a_journaled_intent_reads_back_exactly(order: Order, tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "journal.sqlite3", fsync=False)
    await journal.open()
    try:
        await journal.record_intent(order)
    finally:
        await journal.close()
    with sqlite3.connect(tmp_path / "journal.sqlite3") as conn:
        (body,) = conn.execute("SELECT body FROM journal WHERE kind = 'intent'").fetchone()
    assert body == codec.dumps(codec.encode_order(order))


def test_a_datetime_subclass_is_written_by_its_own_isoformat() -> None:
    class Stamp(datetime):
        def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
            return "stamp"

    assert codec.timestamp(Stamp(2026, 12, 6, tzinfo=UTC)) == "stamp"


@given(st.datetimes(timezones=st.just(UTC)))
def test_any_utc_time_is_written_as_isoformat_writes_it(moment: datetime) -> None:
    assert codec.timestamp(moment) == moment.isoformat()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{"quantity": "0.001", "n": 3, "ok": true, "none": null}',
            {"quantity": "0.001", "n": 3, "ok": True, "none": None},
        ),
        ('{"price": 0.1}', {"price": Decimal("0.1")}),
        (
            '{"legs": [{"price": 1e-8}, {"qty": 2.50}]}',
            {"legs": [{"price": Decimal("1e-8")}, {"qty": Decimal("2.50")}]},
        ),
        ('{"big": 123456789012345678901234567890}', {"big": 123456789012345678901234567890}),
    ],
)
def test_exact_json_parses_as_the_standard_library_with_decimal_floats(text: str, expected: Any) -> None:
    body = loads_exact(text)
    assert body == expected == json.loads(text, parse_float=Decimal)
    assert loads_exact(text.encode()) == expected  # bytes too
    assert not any(type(v) is float for v in _leaves(body))
    assert codec.loads(text) == expected


def test_what_only_the_standard_library_reads_is_still_read() -> None:
    assert math.isnan(loads_exact('{"x": NaN}')["x"])  # as json.loads read it before


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def test_a_body_that_is_not_a_json_object_is_a_corrupt_row() -> None:
    with pytest.raises(CorruptJournal, match="not JSON"):
        codec.loads('{"quantity": ')
    with pytest.raises(CorruptJournal, match="not a JSON object"):
        codec.loads("[1, 2]")
