"""Average cost and realized PnL, exact to the Decimal."""

from __future__ import annotations

from decimal import Decimal as D

from autotrader_core.enums import OrderSide
from autotrader_core.models import Fill, Position
from autotrader_core.positions import apply_fill_to_position


def fill(
    side: OrderSide, qty: str, price: str, fee: str = "0", fee_ccy: str = "USDT", tid: str = "1"
) -> Fill:
    return Fill(
        trade_id=tid,
        client_order_id="c",
        symbol="BTCUSDT",
        side=side,
        quantity=D(qty),
        price=D(price),
        fee=D(fee),
        fee_currency=fee_ccy,
    )


def test_adding_moves_the_average_price() -> None:
    pos = Position("BTCUSDT")
    apply_fill_to_position(pos, fill(OrderSide.BUY, "1", "100"))
    apply_fill_to_position(pos, fill(OrderSide.BUY, "3", "200"))
    assert pos.quantity == D("4")
    assert pos.average_price == D("175")
    assert pos.realized_pnl == 0


def test_reducing_realizes_pnl_net_of_quote_fees() -> None:
    pos = Position("BTCUSDT")
    apply_fill_to_position(pos, fill(OrderSide.BUY, "2", "100", fee="0.2"), quote_currency="USDT")
    apply_fill_to_position(pos, fill(OrderSide.SELL, "1", "110.5", fee="0.11"), quote_currency="USDT")
    assert pos.quantity == D("1")
    assert pos.average_price == D("100")
    assert pos.realized_pnl == D("10.5") - D("0.2") - D("0.11")
    assert pos.fees_paid == D("0.31")


def test_short_positions_profit_when_price_falls() -> None:
    pos = Position("BTCUSDT")
    apply_fill_to_position(pos, fill(OrderSide.SELL, "2", "100"))
    apply_fill_to_position(pos, fill(OrderSide.BUY, "2", "90"))
    assert pos.quantity == 0
    assert pos.realized_pnl == D("20")
    assert pos.average_price == 0


def test_flip_opens_the_remainder_at_the_fill_price() -> None:
    pos = Position("BTCUSDT")
    apply_fill_to_position(pos, fill(OrderSide.BUY, "1", "100"))
    apply_fill_to_position(pos, fill(OrderSide.SELL, "3", "120"))
    assert pos.quantity == D("-2")
    assert pos.average_price == D("120")
    assert pos.realized_pnl == D("20")


def test_base_currency_fee_is_valued_at_the_fill_price_and_other_fees_are_kept_apart() -> None:
    pos = Position("BTCUSDT")
    apply_fill_to_position(
        pos,
        fill(OrderSide.BUY, "1", "100", fee="0.001", fee_ccy="BTC"),
        base_currency="BTC",
        quote_currency="USDT",
    )
    apply_fill_to_position(
        pos,
        fill(OrderSide.BUY, "1", "100", fee="0.05", fee_ccy="BNB"),
        base_currency="BTC",
        quote_currency="USDT",
    )
    assert pos.fees_paid == D("0.100")
    assert pos.realized_pnl == D("-0.100")
    assert pos.other_fees == {"BNB": D("0.05")}


def test_multiplier_scales_realized_pnl() -> None:
    pos = Position("ESZ6")
    apply_fill_to_position(pos, fill(OrderSide.BUY, "1", "5000"), multiplier=D("50"))
    apply_fill_to_position(pos, fill(OrderSide.SELL, "1", "5010"), multiplier=D("50"))
    assert pos.realized_pnl == D("500")
