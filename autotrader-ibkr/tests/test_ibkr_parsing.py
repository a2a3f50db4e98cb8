"""Raw TWS fields -> records: Decimal from the wire text, typed errors on bad layouts."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import ibkr_tws_messages as m
import pytest
from autotrader_core.errors import BrokerProtocolError
from autotrader_ibkr.parsing import (
    exec_base,
    parse_commission,
    parse_contract_rules,
    parse_error,
    parse_execution,
    parse_ib_time,
    parse_open_order,
    parse_order_status,
    parse_position,
)


def _exec(**kw: str) -> list[str]:
    values = {
        "exec_id": "0000e0d5.6734a1b2.01.01",
        "time": "20251124 09:31:05 US/Eastern",
        "account": "DU1234567",
        "exchange": "ISLAND",
        "side": "BOT",
        "shares": "60",
        "price": "150.25",
        "perm_id": "1376327563",
        "client_id": "1",
        "cum_qty": "60",
        "avg_price": "150.25",
        "order_ref": "at0mkt01",
        "last_liquidity": "2",
    }
    values.update(kw)
    return m.exec_details("-1", "3", m.AAPL, **values)


def test_execution_keeps_the_wire_decimals() -> None:
    record = parse_execution(_exec(price="0.1", shares="0.3"))
    assert record.price == Decimal("0.1")
    assert record.shares == Decimal("0.3")
    assert str(record.price) == "0.1"  # never through float (0.1000000000000000055…)
    assert (record.order_id, record.req_id, record.order_ref, record.perm_id) == (
        3,
        -1,
        "at0mkt01",
        1376327563,
    )
    assert record.contract.con_id == 265598
    assert record.contract.symbol == "AAPL"
    assert record.time == datetime(2025, 11, 24, 14, 31, 5, tzinfo=UTC)


def test_execution_with_unknown_side_is_a_protocol_error_with_payload() -> None:
    fields = _exec(side="BUY")
    with pytest.raises(BrokerProtocolError) as info:
        parse_execution(fields)
    assert info.value.payload == fields


def test_truncated_message_is_a_protocol_error_not_an_index_error() -> None:
    with pytest.raises(BrokerProtocolError):
        parse_execution(_exec()[:15])


def test_non_numeric_price_is_a_protocol_error() -> None:
    with pytest.raises(BrokerProtocolError):
        parse_execution(_exec(price="abc"))


def test_commission_report_and_unset_realized_pnl() -> None:
    record = parse_commission(m.commission_report("x1", "1.0", "USD"))
    assert (record.exec_id, record.commission, record.currency, record.realized_pnl) == (
        "x1",
        Decimal("1.0"),
        "USD",
        None,
    )
    assert parse_commission(m.commission_report("x1", "0.35", "USD", "-12.5")).realized_pnl == Decimal(
        "-12.5"
    )


def test_order_status_fields() -> None:
    record = parse_order_status(m.order_status("3", "Submitted", "60", "40", "150.25", "77", "150.25", "1"))
    assert (record.order_id, record.status, record.filled, record.remaining) == (
        3,
        "Submitted",
        Decimal(60),
        Decimal(40),
    )
    assert record.avg_fill_price == Decimal("150.25")
    assert record.client_id == 1
    assert (
        parse_order_status(m.order_status("3", "PreSubmitted", "0", "40", "0", "77", "0", "1")).avg_fill_price
        is None
    )


def test_open_order_head_in_v178_layout() -> None:
    fields = m.open_order(
        "9",
        m.ES,
        action="SELL",
        quantity="2",
        order_type="STP LMT",
        lmt_price="5800.25",
        aux_price="5801",
        tif="GTC",
        account="DU1234567",
        order_ref="at0stp01",
        client_id="1",
        perm_id="55",
        status="Submitted",
    )
    record = parse_open_order(fields)
    assert (record.order_id, record.action, record.quantity, record.order_type) == (
        9,
        "SELL",
        Decimal(2),
        "STP LMT",
    )
    assert (record.limit_price, record.aux_price, record.tif) == (Decimal("5800.25"), Decimal(5801), "GTC")
    assert (record.order_ref, record.perm_id, record.contract.last_trade) == ("at0stp01", 55, "20251219")


def test_position_and_contract_rules() -> None:
    position = parse_position(m.position("DU1234567", m.ES, "-3", "296312.5"))
    assert (position.quantity, position.avg_cost, position.contract.multiplier) == (
        Decimal(-3),
        Decimal("296312.5"),
        "50",
    )
    rules = parse_contract_rules(
        m.contract_details(
            "4", m.EURUSD, min_tick="0.00005", long_name="EUR", min_size="0.01", size_increment="0.01"
        )
    )
    assert (rules.req_id, rules.con_id, rules.min_tick) == (4, 12087792, Decimal("0.00005"))
    assert (rules.min_size, rules.size_increment, rules.multiplier) == (
        Decimal("0.01"),
        Decimal("0.01"),
        Decimal(1),
    )


def test_error_record() -> None:
    record = parse_error(m.error("7", "201", "Order rejected - reason:X"))
    assert (record.req_id, record.code, record.message) == (7, 201, "Order rejected - reason:X")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20251124 09:31:05 US/Eastern", datetime(2025, 11, 24, 14, 31, 5, tzinfo=UTC)),
        ("20251124  09:31:05", datetime(2025, 11, 24, 14, 31, 5, tzinfo=UTC)),  # zone from settings
        ("1764000000", datetime(2025, 11, 24, 16, 0, tzinfo=UTC)),
        # UTC accounts (nautilus_trader #2359, ib_async #230): used to raise and drop the fill
        ("20251124-14:31:05", datetime(2025, 11, 24, 14, 31, 5, tzinfo=UTC)),
        ("20251124  09:31:05 US/Eastern", datetime(2025, 11, 24, 14, 31, 5, tzinfo=UTC)),
    ],
)
def test_tws_time_formats(text: str, expected: datetime) -> None:
    assert parse_ib_time(text, "US/Eastern") == expected


def test_bad_time_is_a_protocol_error() -> None:
    with pytest.raises(BrokerProtocolError):
        parse_ib_time("yesterday noon")


def test_unreadable_execution_time_keeps_the_execution_with_the_receive_time() -> None:
    received = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    record = parse_execution(_exec(time="24.11.2025 14:31:07"), received_at=received)
    assert (record.time, record.time_unreadable, record.time_text) == (received, True, "24.11.2025 14:31:07")
    assert record.shares == Decimal("60")


def test_exec_base_drops_the_correction_revision() -> None:
    assert exec_base("0000e0d5.6734a1b2.01.02") == "0000e0d5.6734a1b2.01"
    assert exec_base("plain") == "plain"
