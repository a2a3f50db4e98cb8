"""execDetails + commissionReport -> one fill per execId, whatever the order and repeats."""

from __future__ import annotations

import itertools
from decimal import Decimal

import ibkr_tws_messages as m
import pytest
from autotrader_core.enums import Liquidity
from autotrader_core.models import Fill
from autotrader_ibkr.fills import FillJoiner
from autotrader_ibkr.parsing import ExecutionRecord, parse_commission, parse_execution


def _exec(exec_id: str, shares: str = "10", liquidity: str = "1") -> ExecutionRecord:
    return parse_execution(
        m.exec_details(
            "-1",
            "3",
            m.AAPL,
            exec_id=exec_id,
            time="20251124 09:31:05 US/Eastern",
            account="DU1",
            exchange="ISLAND",
            side="SLD",
            shares=shares,
            price="150.25",
            perm_id="9",
            client_id="1",
            cum_qty=shares,
            avg_price="150.25",
            order_ref="at0x",
            last_liquidity=liquidity,
        )
    )


def _joiner() -> FillJoiner:
    return FillJoiner(lambda record: ("AAPL", record.order_ref))


def _feed(joiner: FillJoiner, messages: list[tuple[str, str]]) -> list[Fill]:
    out = []
    for kind, exec_id in messages:
        if kind == "exec":
            fill = joiner.on_execution(_exec(exec_id))
        else:
            fill = joiner.on_commission(parse_commission(m.commission_report(exec_id, "1.25", "USD")))
        if fill is not None:
            out.append(fill)
    return out


MESSAGES = [("exec", "a"), ("comm", "a"), ("exec", "b"), ("comm", "b")]


@pytest.mark.parametrize("order", list(itertools.permutations(MESSAGES)))
def test_every_arrival_order_gives_each_fill_once_with_its_fee(order: tuple[tuple[str, str], ...]) -> None:
    fills = _feed(_joiner(), list(order))
    assert sorted(f.trade_id for f in fills) == ["a", "b"]
    assert all(f.fee == Decimal("1.25") and f.fee_currency == "USD" for f in fills)


def test_repeats_after_a_reconnect_are_dropped() -> None:
    joiner = _joiner()
    first = _feed(joiner, MESSAGES)
    again = _feed(joiner, [*MESSAGES, ("comm", "a"), ("exec", "a")])
    assert len(first) == 2
    assert again == []
    assert joiner.is_released("a")


def test_flush_releases_a_fill_whose_commission_never_came_and_late_commission_is_ignored() -> None:
    joiner = _joiner()
    assert joiner.on_execution(_exec("a")) is None
    assert joiner.pending() == ["a"]
    fill = joiner.flush("a")
    assert fill is not None
    assert fill.fee == 0
    assert fill.fee_currency == ""
    assert joiner.flush("a") is None
    assert joiner.on_commission(parse_commission(m.commission_report("a", "1", "USD"))) is None


def test_fill_fields() -> None:
    joiner = _joiner()
    joiner.on_execution(_exec("a", shares="7", liquidity="1"))
    fill = joiner.on_commission(parse_commission(m.commission_report("a", "0.35", "USD")))
    assert fill is not None
    assert (fill.quantity, fill.price, fill.side.value, fill.liquidity) == (
        Decimal(7),
        Decimal("150.25"),
        "sell",
        Liquidity.MAKER,
    )
    assert (fill.client_order_id, fill.symbol, fill.broker_order_id, fill.broker) == (
        "at0x",
        "AAPL",
        "3",
        "ibkr",
    )


def test_a_correction_replaces_the_held_execution_and_is_never_a_second_fill() -> None:
    """IBKR: a correction repeats the execution with only the part after the last '.' changed."""
    joiner = _joiner()
    assert joiner.on_execution(_exec("0000e0d5.6734a1b2.01.01", shares="100")) is None
    assert joiner.on_execution(_exec("0000e0d5.6734a1b2.01.02", shares="90")) is None  # corrected, held
    fill = joiner.on_commission(parse_commission(m.commission_report("0000e0d5.6734a1b2.01.02", "1", "USD")))
    assert fill is not None
    assert (fill.trade_id, fill.quantity) == ("0000e0d5.6734a1b2.01", Decimal(90))
    assert joiner.on_execution(_exec("0000e0d5.6734a1b2.01.03", shares="90")) is None  # after release
    assert joiner.is_released("0000e0d5.6734a1b2.01.03")
