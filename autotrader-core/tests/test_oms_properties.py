"""Property tests: any stream of broker events leaves the OMS legal, exact and replayable.

Streams mix every event type with duplicates, out-of-order and late events, events for
unknown orders, illegal ones and local cancel/modify requests. Checked after every step:

* a finished order never reopens (REJECTED never changes; FILLED stays FILLED);
* an order's filled quantity is the sum of its *distinct* fills (a duplicate counts once),
  and never exceeds its quantity when the stream itself never over-fills;
* each position is the signed sum of distinct fills;
* realized PnL matches an independent reference (exact fractions, cash-flow identity);
* replaying the journal records of the stream (through the codec) rebuilds the same state.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from fractions import Fraction
from typing import Any

import pytest
from autotrader_core.enums import AssetClass, Liquidity, OrderSide, OrderStatus, OrderType
from autotrader_core.errors import IllegalTransition, InvalidOrder
from autotrader_core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderExpired,
    OrderFilled,
    OrderModified,
    OrderModifyRejected,
    OrderRejected,
)
from autotrader_core.journal import codec
from autotrader_core.journal.base import StoredRow, decode_row
from autotrader_core.models import Fill, Instrument, Order
from autotrader_core.oms import OrderManager
from autotrader_core.recovery import apply_entry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.fixture(autouse=True)
def _quiet_oms() -> Iterator[None]:
    """Illegal events are logged by design; thousands of examples need no log capture."""
    oms_logger = logging.getLogger("autotrader_core.oms")
    level = oms_logger.level
    oms_logger.setLevel(logging.CRITICAL)
    yield
    oms_logger.setLevel(level)


T0 = datetime(2026, 1, 1, tzinfo=UTC)
BTC = Instrument("BTCUSDT", AssetClass.CRYPTO_SPOT, "BTC", "USDT", D("0.01"), D("0.001"))
ETH = Instrument("ETHUSDT", AssetClass.CRYPTO_SPOT, "ETH", "USDT", D("0.01"), D("0.001"))
CIDS = ["c0", "c1", "c2", "c3"]
SYMBOL = {"c0": "BTCUSDT", "c1": "BTCUSDT", "c2": "ETHUSDT", "c3": "BTCUSDT"}
QUANTITY = {"c0": D("1.0"), "c1": D("0.5"), "c2": D("2"), "c3": D("0.25")}
SIDE = {"c0": OrderSide.BUY, "c1": OrderSide.SELL, "c2": OrderSide.SELL, "c3": OrderSide.BUY}
TERMINAL = {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}

cids = st.sampled_from([*CIDS, "ghost"])  # "ghost": an order the OMS never heard of
prices = st.integers(9000, 11000).map(lambda n: D(n) / 100)
fees = st.tuples(st.integers(0, 500).map(lambda n: D(n) / 10000), st.sampled_from(["USDT", "BTC", "BNB", ""]))
ts = st.integers(0, 10_000).map(lambda s: T0 + timedelta(seconds=s))


@st.composite
def fills(draw: Any, *, cid: str | None = None, quantity: D | None = None) -> OrderFilled:
    c = cid or draw(cids)
    trade = draw(st.sampled_from([f"t{i}" for i in range(12)]))  # small pool: duplicates happen
    qty = quantity if quantity is not None else D(draw(st.integers(1, 60))) / 100
    fee, currency = draw(fees)
    symbol = SYMBOL.get(c, "BTCUSDT")
    side = SIDE.get(c, OrderSide.BUY)
    return OrderFilled(
        Fill(
            f"{c}-{trade}",
            c,
            symbol,
            side,
            qty,
            draw(prices),
            fee,
            currency,
            Liquidity.TAKER,
            draw(ts),
            None,
            "sim",
        )
    )


def state_events(cid: Any, *, modify_quantity: bool = True) -> Any:
    quantities = [None, D("3"), D("0.75")] if modify_quantity else [None]
    return st.one_of(
        st.builds(OrderAccepted, cid, st.sampled_from([None, "b1", "b2"]), ts),
        st.builds(OrderRejected, cid, st.just("no"), st.none(), ts),
        st.builds(OrderCanceled, cid, st.none(), ts),
        st.builds(OrderExpired, cid, ts),
        st.builds(OrderModified, cid, st.sampled_from(quantities), st.none(), st.none(), st.none(), ts),
        st.builds(OrderCancelRejected, cid, st.just("late"), ts),
        st.builds(OrderModifyRejected, cid, st.just("no"), ts),
    )


steps = st.one_of(
    state_events(cids),
    fills(),
    st.tuples(st.sampled_from(["cancel_request", "modify_request"]), cids),
)


def new_oms() -> OrderManager:
    oms = OrderManager()
    oms.set_instruments([BTC, ETH])
    return oms


def intent(cid: str) -> Order:
    return Order(
        cid,
        SYMBOL[cid],
        SIDE[cid],
        OrderType.LIMIT,
        QUANTITY[cid],
        limit_price=D(100),
        created_at=T0,
        updated_at=T0,
    )


def journal_rows(stream: list[Any]) -> list[StoredRow]:
    """The rows the engine would have journaled for this stream (intents first)."""
    rows: list[StoredRow] = []
    for cid in CIDS:
        rows.append(
            StoredRow(
                len(rows) + 1, "intent", cid, T0.isoformat(), codec.dumps(codec.encode_order(intent(cid)))
            )
        )
    for step in stream:
        if isinstance(step, tuple):
            kind, cid = step
            rows.append(StoredRow(len(rows) + 1, kind, cid, T0.isoformat(), "{}"))
        else:
            rows.append(
                StoredRow(
                    len(rows) + 1,
                    "event",
                    step.client_order_id,
                    T0.isoformat(),
                    codec.dumps(codec.encode_event(step)),
                )
            )
    return rows


def run_live(stream: list[Any], check: bool = True) -> OrderManager:
    """Apply the stream the way the engine does, checking the invariants after every step."""
    oms = new_oms()
    for cid in CIDS:
        oms.add(intent(cid))
    seen: dict[str, Fill] = {}
    for step in stream:
        before = {o.client_order_id: o.status for o in oms}
        if isinstance(step, tuple):
            kind, cid = step
            with contextlib.suppress(IllegalTransition, InvalidOrder):  # refused live too
                (oms.mark_pending_cancel if kind == "cancel_request" else oms.mark_pending_modify)(cid)
        else:
            if isinstance(step, OrderFilled):
                seen.setdefault(step.fill.trade_id, step.fill)
            oms.apply(step)
        if check:
            check_invariants(oms, before, seen)
    return oms


def check_invariants(oms: OrderManager, before: dict[str, OrderStatus], seen: dict[str, Fill]) -> None:
    for order in oms:
        old = before[order.client_order_id]
        if old is OrderStatus.REJECTED:
            assert order.status is OrderStatus.REJECTED
        if old is OrderStatus.FILLED:
            assert order.status is OrderStatus.FILLED
        if old in TERMINAL:
            assert order.status in TERMINAL, (old, order.status)
        mine = [f for f in seen.values() if f.client_order_id == order.client_order_id]
        assert order.filled_quantity == sum((f.quantity for f in mine), D(0))
        assert [f.trade_id for f in oms.fills_for(order.client_order_id)] == [f.trade_id for f in mine]
    for symbol in ("BTCUSDT", "ETHUSDT"):
        signed = sum((f.quantity * f.side.sign for f in seen.values() if f.symbol == symbol), D(0))
        position = oms.position(symbol)
        assert position.quantity == signed
        assert_pnl_matches_reference(position, [f for f in seen.values() if f.symbol == symbol])


def assert_pnl_matches_reference(position: Any, trades: list[Fill]) -> None:
    """Cash-flow identity, in exact fractions: realized = sells − buys + qty × avg − valued fees."""
    base = position.symbol[:3]
    cash = Fraction(0)
    valued_fees = Fraction(0)
    for f in trades:
        notional = Fraction(f.price) * Fraction(f.quantity)
        cash += notional if f.side is OrderSide.SELL else -notional
        if f.fee_currency in ("", "USDT"):
            valued_fees += Fraction(f.fee)
        elif f.fee_currency == base:
            valued_fees += Fraction(f.fee) * Fraction(f.price)
    expected = cash + Fraction(position.quantity) * Fraction(position.average_price) - valued_fees
    assert abs(Fraction(position.realized_pnl) - expected) < Fraction(1, 10**15), (position, expected)
    assert abs(Fraction(position.fees_paid) - valued_fees) < Fraction(1, 10**15)


def snapshot(oms: OrderManager) -> dict[str, Any]:
    return {
        "orders": {
            o.client_order_id: (
                o.status,
                o.filled_quantity,
                o.average_fill_price,
                o.fees,
                o.quantity,
                o.broker_order_id,
                o.reject_reason,
            )
            for o in oms
        },
        "fills": {c: [f.trade_id for f in oms.fills_for(c)] for c in CIDS},
        "positions": {
            s: (p.quantity, p.average_price, p.realized_pnl, p.fees_paid, dict(p.other_fees))
            for s, p in oms.positions().items()
        },
        "orphans": [f.trade_id for f in oms.orphan_fills()],
        "metrics": (oms.metrics.fills_total, oms.metrics.orders_filled, oms.metrics.duplicate_fills),
    }


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.lists(steps, max_size=40))
def test_any_event_stream_keeps_the_oms_legal_and_exact(stream: list[Any]) -> None:
    run_live(stream)


@SETTINGS
@given(st.lists(steps, max_size=40))
def test_replaying_the_journal_rebuilds_the_same_state(stream: list[Any]) -> None:
    live = run_live(stream, check=False)
    replayed = new_oms()
    for row in journal_rows(stream):
        apply_entry(replayed, decode_row(row))
    assert snapshot(replayed) == snapshot(live)


@st.composite
def well_formed(draw: Any) -> list[Any]:
    """Streams that never fill an order beyond its quantity (duplicates and disorder allowed)."""
    remaining = dict(QUANTITY)
    stream: list[Any] = []
    for _ in range(draw(st.integers(0, 30))):
        cid = draw(st.sampled_from(CIDS))
        if remaining[cid] > 0 and draw(st.booleans()):
            qty = min(remaining[cid], D(draw(st.integers(1, 100))) / 100)
            event = draw(fills(cid=cid, quantity=qty))
            if any(isinstance(s, OrderFilled) and s.fill.trade_id == event.fill.trade_id for s in stream):
                continue
            remaining[cid] -= qty
            stream.append(event)
            if draw(st.booleans()):
                stream.insert(draw(st.integers(0, len(stream))), event)  # duplicate, anywhere
        else:
            stream.append(
                draw(
                    st.one_of(
                        state_events(st.just(cid), modify_quantity=False),  # a new quantity is a new contract
                        st.tuples(st.sampled_from(["cancel_request"]), st.just(cid)),
                    )
                )
            )
    return stream


@SETTINGS
@given(well_formed())
def test_well_formed_streams_never_overfill_and_fill_completes_orders(stream: list[Any]) -> None:
    oms = run_live(stream)
    for order in oms:
        assert order.filled_quantity <= order.quantity
        if order.filled_quantity == order.quantity and order.status is not OrderStatus.REJECTED:
            assert order.status is OrderStatus.FILLED
