"""Property test: whatever happens, the cash account stays consistent with the fills."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal as D

from autotrader_core import (
    InsufficientFunds,
    InvalidOrder,
    OrderChange,
    OrderNotFound,
    OrderSide,
)
from autotrader_paper import Simulator
from hypothesis import given, settings
from hypothesis import strategies as st
from paper_support import order, simulator

INITIAL = {"USDT": D(20000), "BTC": D("0.3"), "ETH": D(2)}

submit = st.tuples(
    st.just("submit"),
    st.sampled_from(["buy", "sell"]),
    st.sampled_from(["market", "limit", "stop", "stop_limit"]),
    st.sampled_from(["gtc", "ioc", "fok", "day"]),
    st.integers(1, 30),  # quantity in 0.01 BTC
    st.integers(-12, 12),  # price offset from the quote, in 0.25 %
    st.integers(-12, 12),  # stop offset
    st.booleans(),  # post only
)
cancel = st.tuples(st.just("cancel"), st.integers(0, 50))
modify = st.tuples(st.just("modify"), st.integers(0, 50), st.integers(1, 30), st.integers(-40, 40))
move = st.tuples(st.just("move"), st.integers(-16, 16))
tick = st.tuples(st.just("tick"), st.integers(1, 3))
actions = st.lists(
    st.one_of(submit, submit, submit, cancel, modify, move, move, tick), min_size=5, max_size=40
)


def price_at(sim: Simulator, offset: int) -> D:
    quote = sim.price("BTCUSDT")
    assert quote is not None
    return (quote * (1 + D(offset) / 400)).quantize(D("0.01"))


def check_invariants(sim: Simulator) -> None:
    # what open orders hold is exactly what the account shows as locked
    held: dict[str, D] = defaultdict(D)
    for report in sim.open_orders():
        rec = sim.find(client_order_id=report.client_order_id)
        assert rec.status.is_open
        assert D(0) <= rec.filled_quantity < rec.quantity
        held[rec.lock_asset] += rec.locked
    for balance in sim.balances():
        assert balance.locked == held[balance.asset], balance
        assert balance.available >= 0, balance
    # totals are the initial holdings moved by the fills, to the last decimal
    expected = defaultdict(D, INITIAL)
    for fill in sim.fills():
        inst = sim.instruments[fill.symbol]
        if fill.side is OrderSide.BUY:
            expected[inst.base] += fill.quantity
            expected[inst.quote] -= fill.notional + fill.fee
        else:
            expected[inst.base] -= fill.quantity
            expected[inst.quote] += fill.notional - fill.fee
        assert fill.fee == fill.notional * (
            sim.taker_fee_rate if fill.liquidity == "taker" else sim.maker_fee_rate
        )
    for balance in sim.balances():
        assert balance.total == expected[balance.asset], balance


@settings(max_examples=200, deadline=None)
@given(actions)
def test_balances_always_match_fills_and_open_orders(steps: list[tuple[object, ...]]) -> None:
    sim = simulator(
        initial_balances="USDT=20000,BTC=0.3,ETH=2",
        partial_fill_threshold=D("0.07"),
        slippage_bps=D(3),
    )
    cids: list[str] = []
    for step in steps:
        kind = step[0]
        try:
            if kind == "submit":
                _, side, otype, tif, qty, loff, soff, post = step
                o = order(
                    str(side),
                    str(D(int(qty)) / 100),  # type: ignore[call-overload]
                    kind=str(otype),
                    tif=str(tif),
                    limit=str(price_at(sim, int(loff))) if otype in ("limit", "stop_limit") else None,  # type: ignore[call-overload]
                    stop=str(price_at(sim, int(soff))) if otype in ("stop", "stop_limit") else None,  # type: ignore[call-overload]
                    post_only=bool(post) and otype == "limit" and tif in ("gtc", "day"),
                )
                cids.append(o.client_order_id)
                sim.submit(o)
            elif kind == "cancel" and cids:
                sim.cancel(client_order_id=cids[int(step[1]) % len(cids)])  # type: ignore[call-overload]
            elif kind == "modify" and cids:
                _, index, qty, loff = step
                rec = sim.find(client_order_id=cids[int(index) % len(cids)])  # type: ignore[call-overload]
                change = OrderChange(
                    quantity=D(int(qty)) / 100,  # type: ignore[call-overload]
                    limit_price=price_at(sim, int(loff)) if rec.limit_price is not None else None,  # type: ignore[call-overload]
                )
                sim.modify(change, client_order_id=rec.client_order_id)
            elif kind == "move":
                sim.set_price("BTCUSDT", price_at(sim, int(step[1])))  # type: ignore[call-overload]
            elif kind == "tick":
                sim.advance(int(step[1]))  # type: ignore[call-overload]
        except (InvalidOrder, InsufficientFunds, OrderNotFound):
            pass
        check_invariants(sim)
