"""Assertions shared by the scenario tests, with messages that say what the adapter got wrong."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

from autotrader_core.adapter import BrokerAdapter
from autotrader_core.enums import OrderStatus
from autotrader_core.errors import AutotraderError
from autotrader_core.events import OrderAccepted, OrderEvent, OrderFilled, OrderRejected
from autotrader_core.models import Fill, Order, OrderReport

from autotrader_conformance.scenario import Scenario, to_decimal

__all__ = [
    "assert_accepted",
    "assert_decimal",
    "assert_fill",
    "assert_fill_list",
    "assert_fills_match",
    "assert_report_matches",
    "assert_resting",
    "check_error",
    "events_of",
    "expect_error",
]

E = TypeVar("E", bound=BaseException)


@dataclass(slots=True)
class Raised(Generic[E]):
    """What :func:`expect_error` caught (``value`` is set once the block raised)."""

    expected: type[E]
    _value: E | None = None

    @property
    def value(self) -> E:
        """The exception raised."""
        if self._value is None:
            raise AssertionError(f"expected {self.expected.__name__}, nothing was raised")
        return self._value


@contextmanager
def expect_error(expected: type[E], what: str) -> Iterator[Raised[E]]:
    """Like ``pytest.raises``, but a wrong exception fails with "expected X, got Y: message".

    ``pytest.raises`` lets another exception through as if it were the adapter's crash,
    without the type the scenario wanted; an adapter author needs both to fix the mapping.
    The failure is an ``AssertionError`` so a replay mismatch, the usual cause of a wrong
    error, is still reported first by the scenario session.
    """
    caught = Raised(expected)
    try:
        yield caught
    except expected as exc:
        caught._value = exc
        return
    except Exception as exc:
        first_line = (str(exc).splitlines() or [""])[0]
        raise AssertionError(
            f"{what}: expected {expected.__name__}, got {type(exc).__name__}: {first_line}"
        ) from exc
    raise AssertionError(f"{what}: expected {expected.__name__}, nothing was raised")


def assert_decimal(value: object, what: str) -> Decimal:
    """``value`` must be a finite Decimal (never a float)."""
    assert isinstance(value, Decimal), f"{what} must be a Decimal, was {type(value).__name__} {value!r}"
    assert value.is_finite(), f"{what} must be finite, was {value!r}"
    return value


def events_of(events: Sequence[OrderEvent], kind: type[Any]) -> list[Any]:
    """Events of one type."""
    return [event for event in events if isinstance(event, kind)]


def assert_fill(fill: Fill, order: Order, adapter: BrokerAdapter) -> None:
    """A fill must belong to ``order`` and carry exact, positive Decimals."""
    assert fill.client_order_id == order.client_order_id, (
        f"fill {fill.trade_id!r} carries client order id {fill.client_order_id!r}, "
        f"expected {order.client_order_id!r}"
    )
    assert fill.symbol == order.symbol, f"fill symbol {fill.symbol!r}, order symbol {order.symbol!r}"
    assert fill.side is order.side, f"fill side {fill.side!r}, order side {order.side!r}"
    assert fill.trade_id, f"fill {fill!r} has no trade id (the OMS de-duplicates on it)"
    assert assert_decimal(fill.quantity, "fill.quantity") > 0, f"fill quantity must be positive: {fill!r}"
    assert assert_decimal(fill.price, "fill.price") > 0, f"fill price must be positive: {fill!r}"
    assert_decimal(fill.fee, "fill.fee")
    assert fill.broker == adapter.name, f"fill.broker is {fill.broker!r}, expected {adapter.name!r}"


def assert_fills_match(fills: Sequence[Fill], scenario: Scenario) -> None:
    """Total quantity, average price, total fee and fee currency equal the scenario's expectation."""
    quantity = sum((fill.quantity for fill in fills), Decimal(0))
    notional = sum((fill.price * fill.quantity for fill in fills), Decimal(0))
    fee = sum((fill.fee for fill in fills), Decimal(0))
    want_quantity = scenario.decimal("fill_quantity")
    want_price = scenario.decimal("fill_price")
    listing = "\n".join(
        f"  {f.trade_id}: {f.quantity} @ {f.price} fee {f.fee} {f.fee_currency}" for f in fills
    )
    assert quantity == want_quantity, (
        f"filled quantity {quantity}, expected {want_quantity}; fills:\n{listing}"
    )
    assert notional == want_price * want_quantity, (
        f"average fill price {notional / quantity if quantity else '-'} (notional {notional}), "
        f"expected {want_price}; fills:\n{listing}"
    )
    assert fee == scenario.decimal("fee"), (
        f"total fee {fee}, expected {scenario.decimal('fee')}; fills:\n{listing}"
    )
    currencies = {fill.fee_currency for fill in fills}
    assert currencies == {scenario.text("fee_currency")}, (
        f"fee currencies {sorted(currencies)}, expected {scenario.text('fee_currency')!r}"
    )


def assert_fill_list(fills: Sequence[Fill], expected: Any, scenario: Scenario) -> None:
    """Each expected fill (trade_id optional) is present exactly once and nothing else is."""
    assert isinstance(expected, list), f"{scenario.id}: expect.fills must be a list"
    assert expected, f"{scenario.id}: expect.fills must not be empty"
    remaining = list(fills)
    for index, want in enumerate(expected):
        what = f"{scenario.id}: expect.fills[{index}]"
        key = (
            to_decimal(want["quantity"], f"{what}.quantity"),
            to_decimal(want["price"], f"{what}.price"),
            to_decimal(want.get("fee", "0"), f"{what}.fee"),
        )
        match = next(
            (
                fill
                for fill in remaining
                if (fill.quantity, fill.price, fill.fee) == key
                and ("trade_id" not in want or str(want["trade_id"]) == fill.trade_id)
                and ("fee_currency" not in want or want["fee_currency"] == fill.fee_currency)
            ),
            None,
        )
        assert match is not None, f"{what} = {want} not among the fills received: {remaining!r}"
        remaining.remove(match)
    assert not remaining, f"{scenario.id}: fills not in the recording's expectation: {remaining!r}"


def assert_report_matches(report: OrderReport, order: Order, adapter: BrokerAdapter, what: str) -> None:
    """The broker's report describes ``order`` with exact terms."""
    assert isinstance(report, OrderReport), f"{what} must return an OrderReport, returned {report!r}"
    if report.client_order_id is not None:
        assert report.client_order_id == order.client_order_id, (
            f"{what}: client order id {report.client_order_id!r}, expected {order.client_order_id!r}"
        )
    if order.broker_order_id is not None and report.broker_order_id is not None:
        assert report.broker_order_id == order.broker_order_id, (
            f"{what}: broker order id {report.broker_order_id!r}, the accept said {order.broker_order_id!r}"
        )
    assert report.symbol == order.symbol, f"{what}: symbol {report.symbol!r}, expected {order.symbol!r}"
    assert report.side is order.side, f"{what}: side {report.side!r}, expected {order.side!r}"
    assert report.order_type is order.order_type, (
        f"{what}: order type {report.order_type!r}, expected {order.order_type!r}"
    )
    assert assert_decimal(report.quantity, f"{what}.quantity") == order.quantity, (
        f"{what}: quantity {report.quantity}, expected {order.quantity}"
    )
    assert_decimal(report.filled_quantity, f"{what}.filled_quantity")
    if order.limit_price is not None:
        assert report.limit_price == order.limit_price, (
            f"{what}: limit price {report.limit_price}, expected {order.limit_price}"
        )
        assert_decimal(report.limit_price, f"{what}.limit_price")
    if order.stop_price is not None:
        assert report.stop_price == order.stop_price, (
            f"{what}: stop price {report.stop_price}, expected {order.stop_price}"
        )
    assert report.broker in ("", adapter.name), f"{what}: broker {report.broker!r}, expected {adapter.name!r}"


def assert_resting(report: OrderReport, what: str) -> None:
    """The order is working and has not traded."""
    assert report.status in (OrderStatus.ACCEPTED, OrderStatus.PENDING_SUBMIT), (
        f"{what}: status {report.status!r}, expected an open, untouched order (accepted)"
    )
    assert report.filled_quantity == 0, f"{what}: filled {report.filled_quantity}, expected 0"


def assert_accepted(events: Sequence[OrderEvent], order: Order) -> None:
    """The submit reply proves acceptance and no fill or rejection."""
    assert events_of(events, OrderAccepted), (
        "submit_order must return OrderAccepted when the broker's reply acknowledges the order; "
        f"returned {events!r}"
    )
    assert not events_of(events, OrderRejected), f"the order was rejected: {events!r}"
    assert not events_of(events, OrderFilled), (
        f"the order filled at once; the scenario's price must keep it resting: {events!r}"
    )
    assert order.broker_order_id, f"OrderAccepted carried no broker order id: {events!r}"


def check_error(
    error: AutotraderError, adapter: BrokerAdapter, scenario: Scenario, *, local_ok: bool = False
) -> None:
    """A broker error names the adapter and keeps the broker's code.

    Args:
        local_ok: The adapter may raise it before sending (then ``broker`` may be unset).
    """
    if not (local_ok and error.broker is None):
        assert error.broker == adapter.name, (
            f"{type(error).__name__}.broker is {error.broker!r}, expected {adapter.name!r}: {error}"
        )
    if "code" in scenario.expect:
        assert error.code == str(scenario.expect["code"]), (
            f"{type(error).__name__}.code is {error.code!r}, the broker's code is {scenario.expect['code']!r}"
        )
