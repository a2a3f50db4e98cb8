"""RiskChecks: every rule refuses before send, with a stable reason and a message that says what to fix."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest
from autotrader_core.capabilities import Capabilities
from autotrader_core.enums import AssetClass, OrderSide, OrderType, TimeInForce, TradingState
from autotrader_core.errors import InvalidOrder, RiskRejected, UnsupportedFeature
from autotrader_core.models import Instrument, Order
from autotrader_core.risk import RiskChecks, RiskLimits
from hypothesis import given, settings
from hypothesis import strategies as st

BTC = Instrument(
    symbol="BTCUSDT",
    asset_class=AssetClass.CRYPTO_SPOT,
    base="BTC",
    quote="USDT",
    tick_size=D("0.01"),
    lot_size=D("0.00001"),
    min_quantity=D("0.0001"),
    min_notional=D("5"),
    max_quantity=D("9000"),
    market_lot_size=D("0.001"),
)
SWAP = Instrument(
    symbol="BTC-USD-SWAP",
    asset_class=AssetClass.CRYPTO_PERPETUAL,
    base="BTC",
    quote="USD",
    tick_size=D("0.1"),
    lot_size=D("1"),
    min_quantity=D("1"),
    min_notional=D("0"),
    multiplier=D("0.01"),
)
CAPS = Capabilities(
    order_types=frozenset({OrderType.MARKET, OrderType.LIMIT}),
    time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC}),
    asset_classes=frozenset({AssetClass.CRYPTO_SPOT}),
    post_only=False,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def order(**overrides: Any) -> Order:
    fields: dict[str, Any] = {
        "client_order_id": "at1",
        "symbol": "BTCUSDT",
        "side": OrderSide.BUY,
        "order_type": OrderType.LIMIT,
        "quantity": D("0.01"),
        "limit_price": D("50000.00"),
    }
    fields.update(overrides)
    if fields["order_type"] is OrderType.MARKET and "limit_price" not in overrides:
        fields["limit_price"] = None
    return Order(**fields)


def checks(limits: RiskLimits | None = None, *, clock: FakeClock | None = None) -> RiskChecks:
    risk = RiskChecks(limits, clock=clock or FakeClock())
    risk.set_instruments([BTC, SWAP])
    return risk


def rejected(risk: RiskChecks, o: Order, **kwargs: Any) -> RiskRejected:
    kwargs.setdefault("position", D(0))
    kwargs.setdefault("open_orders", 0)
    with pytest.raises(RiskRejected) as caught:
        risk.check(o, **kwargs)
    return caught.value


def passes(risk: RiskChecks, o: Order, **kwargs: Any) -> None:
    kwargs.setdefault("position", D(0))
    kwargs.setdefault("open_orders", 0)
    risk.check(o, **kwargs)


def test_a_valid_order_passes_every_check() -> None:
    risk = checks(
        RiskLimits(
            max_order_notional=D("1000"),
            max_position=D("1"),
            max_open_orders=10,
            max_orders_per_second=100,
            price_band=D("0.05"),
        )
    )
    risk.check(order(), position=D("0.5"), open_orders=3, capabilities=CAPS, reference_price=D("50100"))


def test_risk_rejected_is_an_invalid_order_with_a_reason() -> None:
    error = rejected(checks(), order(symbol="NOPE"))
    assert isinstance(error, InvalidOrder)
    assert error.reason == RiskChecks.UNKNOWN_INSTRUMENT == "UNKNOWN_INSTRUMENT"


# -- trading state ---------------------------------------------------------------------------


def test_halted_refuses_everything_even_a_reducing_order() -> None:
    risk = checks()
    risk.trading_state = TradingState.HALTED
    error = rejected(risk, order(side=OrderSide.SELL), position=D("1"))
    assert error.reason == RiskChecks.TRADING_HALTED
    assert error.message.startswith("trading is halted")


@pytest.mark.parametrize(
    ("position", "side", "quantity", "allowed"),
    [
        ("0.5", OrderSide.SELL, "0.3", True),
        ("0.5", OrderSide.SELL, "0.5", True),  # to flat
        ("0.5", OrderSide.SELL, "0.6", False),  # would flip short
        ("0.5", OrderSide.BUY, "0.1", False),  # grows
        ("-1", OrderSide.BUY, "1", True),
        ("-1", OrderSide.SELL, "0.1", False),
        ("0", OrderSide.BUY, "0.1", False),
        ("0", OrderSide.SELL, "0.1", False),
    ],
)
def test_reducing_allows_only_orders_that_shrink_the_position(
    position: str, side: OrderSide, quantity: str, allowed: bool
) -> None:
    risk = checks()
    risk.trading_state = TradingState.REDUCING
    o = order(side=side, quantity=D(quantity))
    if allowed:
        passes(risk, o, position=D(position))
    else:
        error = rejected(risk, o, position=D(position))
        assert error.reason == RiskChecks.TRADING_REDUCING


def test_reducing_message_says_what_is_allowed() -> None:
    risk = checks()
    risk.trading_state = "reducing"
    error = rejected(risk, order(side=OrderSide.SELL, quantity=D("0.6")), position=D("0.5"))
    assert "only a sell of at most 0.5" in error.message


def test_trading_state_setter_refuses_unknown_states() -> None:
    risk = checks()
    with pytest.raises(ValueError, match="'paused'"):
        risk.trading_state = "paused"
    assert risk.trading_state is TradingState.ACTIVE


# -- capabilities ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"order_type": OrderType.STOP, "limit_price": None, "stop_price": D("49000")}, "stop orders"),
        ({"time_in_force": TimeInForce.FOK}, "time in force fok"),
        ({"post_only": True}, "post-only"),
    ],
)
def test_undeclared_capabilities_are_refused(overrides: dict[str, Any], match: str) -> None:
    with pytest.raises(UnsupportedFeature, match=match):
        checks().check(order(broker="binance", **overrides), position=D(0), open_orders=0, capabilities=CAPS)


def test_capabilities_are_not_checked_when_not_given() -> None:
    passes(checks(), order(time_in_force=TimeInForce.FOK))


# -- instrument rules --------------------------------------------------------------------------


def test_instrument_rules_apply_only_once_instruments_are_loaded() -> None:
    risk = RiskChecks()
    passes(risk, order(symbol="ANY", limit_price=D("1.23456789")))
    risk.set_instruments([BTC])
    assert risk.instrument("BTCUSDT") is BTC
    assert risk.instrument("ETHUSDT") is None
    assert rejected(risk, order(symbol="ETHUSDT")).reason == RiskChecks.UNKNOWN_INSTRUMENT


@pytest.mark.parametrize(
    ("overrides", "reason", "message"),
    [
        (
            {"limit_price": D("100.123")},
            RiskChecks.PRICE_TICK,
            "price 100.123 is not a multiple of tick size 0.01 for BTCUSDT; nearest valid price: 100.12",
        ),
        (
            {"order_type": OrderType.STOP_LIMIT, "limit_price": D("100.00"), "stop_price": D("100.005")},
            RiskChecks.PRICE_TICK,
            "stop price 100.005 is not a multiple of tick size 0.01 for BTCUSDT; "
            "nearest valid stop price: 100.01",
        ),
        (
            {"quantity": D("0.012345")},
            RiskChecks.QUANTITY_STEP,
            "quantity 0.012345 is not a multiple of lot size 0.00001 for BTCUSDT; "
            "nearest valid quantity: 0.01235",
        ),
        (
            {"order_type": OrderType.MARKET, "quantity": D("0.0155")},
            RiskChecks.QUANTITY_STEP,
            "quantity 0.0155 is not a multiple of market lot size 0.001 for BTCUSDT; "
            "nearest valid quantity: 0.016",
        ),
        (
            {"quantity": D("0.00005"), "limit_price": D("200000.00")},
            RiskChecks.MIN_QUANTITY,
            "quantity 0.00005 is below the minimum 0.0001 for BTCUSDT",
        ),
        (
            {"quantity": D("9000.5"), "limit_price": D("1.00")},
            RiskChecks.MAX_QUANTITY,
            "quantity 9000.5 is above the maximum 9000 for BTCUSDT; split the order",
        ),
        (
            {"quantity": D("0.0002"), "limit_price": D("20000.00")},
            RiskChecks.MIN_NOTIONAL,
            "order notional 4 (price 20000.00 × quantity 0.0002) is below the minimum 5 for BTCUSDT; "
            "use a quantity of at least 0.00025",
        ),
    ],
)
def test_instrument_rule_violations_say_what_to_fix(
    overrides: dict[str, Any], reason: str, message: str
) -> None:
    error = rejected(checks(), order(**overrides))
    assert error.reason == reason
    assert error.message == message


def test_lot_size_nearest_value_is_never_zero() -> None:
    error = rejected(checks(), order(symbol="BTC-USD-SWAP", quantity=D("0.4"), limit_price=D("50000.0")))
    assert error.message.endswith("nearest valid quantity: 1")


def test_market_order_uses_the_market_lot_size() -> None:
    passes(checks(), order(order_type=OrderType.MARKET, quantity=D("0.010")), reference_price=D("50000"))


def test_market_order_min_notional_uses_the_reference_price_and_skips_without_one() -> None:
    small = order(order_type=OrderType.MARKET, quantity=D("0.001"))
    assert rejected(checks(), small, reference_price=D("1000")).reason == RiskChecks.MIN_NOTIONAL
    passes(checks(), small)  # no price known: the broker will judge


def test_contract_multiplier_counts_in_notional() -> None:
    risk = checks(RiskLimits(max_order_notional=D("1000")))
    # 3 contracts × 0.01 BTC × 50000 = 1500 USD
    error = rejected(risk, order(symbol="BTC-USD-SWAP", quantity=D("3"), limit_price=D("50000.0")))
    assert error.reason == RiskChecks.MAX_ORDER_NOTIONAL
    assert "reduce the quantity to at most 2" in error.message
    passes(risk, order(symbol="BTC-USD-SWAP", quantity=D("2"), limit_price=D("50000.0")))


# -- account limits --------------------------------------------------------------------------


def test_max_order_notional() -> None:
    risk = checks(RiskLimits(max_order_notional=D("10000")))
    error = rejected(risk, order(quantity=D("0.3")))
    assert error.reason == RiskChecks.MAX_ORDER_NOTIONAL
    assert "exceeds the limit 10000; reduce the quantity to at most 0.20000" in error.message
    passes(risk, order(quantity=D("0.2")))


def test_max_order_notional_refuses_a_market_order_it_cannot_price() -> None:
    risk = checks(RiskLimits(max_order_notional=D("10000")))
    market = order(order_type=OrderType.MARKET, quantity=D("0.010"))
    error = rejected(risk, market)
    assert error.reason == RiskChecks.NO_PRICE  # refused, and it says why (issue 16)
    assert "no reference price" in error.message
    passes(risk, market, reference_price=D("50000"))


def test_a_missing_price_refuses_an_opening_order_and_says_why() -> None:
    risk = checks(RiskLimits(price_band=D("0.05"), max_order_notional=D("10000")))
    limit = order(order_type=OrderType.LIMIT, limit_price=D("50000.00"), quantity=D("0.010"))
    error = rejected(risk, limit, price_missing="the last quote for BTCUSDT is 7.0s old (max 5s)")
    assert error.reason == RiskChecks.NO_PRICE
    assert "±5% price band" in error.message and "7.0s old" in error.message
    market = order(order_type=OrderType.MARKET, quantity=D("0.010"))
    assert (
        "7.0s old" in rejected(risk, market, price_missing="the last quote for BTCUSDT is 7.0s old").message
    )
    assert risk.needs_price(limit) and risk.needs_price(market)
    assert not checks(RiskLimits()).needs_price(market)


@pytest.mark.parametrize(
    ("position", "side", "reduce_only", "allowed"),
    [
        (D("0.02"), OrderSide.SELL, False, True),  # closes a long: getting out stays possible
        (D("-0.02"), OrderSide.BUY, False, True),
        (D("0"), OrderSide.SELL, True, True),  # reduce-only at the broker
        (D("0.005"), OrderSide.SELL, False, False),  # would flip the position: it opens one
        (D("0.02"), OrderSide.BUY, False, False),  # adds to it
    ],
)
def test_an_order_that_only_reduces_passes_without_a_price(
    position: D, side: OrderSide, reduce_only: bool, allowed: bool
) -> None:
    risk = checks(RiskLimits(price_band=D("0.05"), max_order_notional=D("10000")))
    market = order(order_type=OrderType.MARKET, side=side, quantity=D("0.010"), reduce_only=reduce_only)
    if allowed:
        passes(risk, market, position=position)
        strict = checks(RiskLimits(max_order_notional=D("10000"), reducing_without_price=False))
        assert rejected(strict, market, position=position).reason == RiskChecks.NO_PRICE
    else:
        assert rejected(risk, market, position=position).reason == RiskChecks.NO_PRICE


@pytest.mark.parametrize(
    ("position", "side", "quantity", "allowed"),
    [
        ("0.8", OrderSide.BUY, "0.2", True),  # exactly at the limit
        ("0.8", OrderSide.BUY, "0.3", False),
        ("0.8", OrderSide.SELL, "1.8", True),  # flips to -1.0
        ("0.8", OrderSide.SELL, "1.9", False),  # flips beyond -1
        ("1.5", OrderSide.SELL, "0.2", True),  # over the limit already, but shrinking
        ("1.5", OrderSide.BUY, "0.01", False),
        ("-1.5", OrderSide.BUY, "0.5", True),
    ],
)
def test_max_position_applies_to_the_projected_position(
    position: str, side: OrderSide, quantity: str, allowed: bool
) -> None:
    risk = checks(RiskLimits(max_position=D("1")))
    o = order(side=side, quantity=D(quantity), limit_price=D("50000.00"))
    if allowed:
        passes(risk, o, position=D(position))
    else:
        error = rejected(risk, o, position=D(position))
        assert error.reason == RiskChecks.MAX_POSITION


def test_max_position_message_and_per_symbol_override() -> None:
    risk = checks(RiskLimits(max_position=D("1"), max_position_by_symbol={"BTC-USD-SWAP": D("100")}))
    error = rejected(risk, order(quantity=D("0.5")), position=D("0.8"))
    assert error.message == (
        "position in BTCUSDT would be 1.3 after this buy of 0.5, beyond the limit ±1; "
        "at most 0.2 can be bought now"
    )
    passes(risk, order(symbol="BTC-USD-SWAP", quantity=D("50"), limit_price=D("50000.0")), position=D("40"))


def test_max_open_orders() -> None:
    risk = checks(RiskLimits(max_open_orders=5))
    passes(risk, order(), open_orders=4)
    error = rejected(risk, order(), open_orders=5)
    assert error.reason == RiskChecks.MAX_OPEN_ORDERS
    assert "cancel some" in error.message


@pytest.mark.parametrize(
    ("overrides", "allowed"),
    [
        ({"limit_price": D("105.00")}, True),
        ({"limit_price": D("95.00")}, True),
        ({"limit_price": D("105.01")}, False),
        ({"limit_price": D("94.99")}, False),
        (
            {"order_type": OrderType.STOP_LIMIT, "limit_price": D("100.00"), "stop_price": D("120.00")},
            False,
        ),
    ],
)
def test_price_band_around_the_reference_price(overrides: dict[str, Any], allowed: bool) -> None:
    risk = checks(RiskLimits(price_band=D("0.05")))
    o = order(quantity=D("1"), **overrides)
    if allowed:
        passes(risk, o, reference_price=D("100"))
    else:
        error = rejected(risk, o, reference_price=D("100"))
        assert error.reason == RiskChecks.PRICE_BAND
        assert "allowed range 95.00..105.00" in error.message


def test_price_band_is_never_skipped_without_a_reference_price() -> None:
    # It used to be skipped silently (issue 16): a band the user set must hold or refuse.
    error = rejected(
        checks(RiskLimits(price_band=D("0.05"))), order(quantity=D("1"), limit_price=D("500.00"))
    )
    assert error.reason == RiskChecks.NO_PRICE


def test_order_rate_counts_only_orders_that_passed() -> None:
    clock = FakeClock()
    risk = checks(RiskLimits(max_orders_per_second=3), clock=clock)
    for _ in range(3):
        passes(risk, order())
        clock.now += 0.1
    rejected(risk, order(symbol="NOPE"))  # refused for another reason: not counted
    error = rejected(risk, order())
    assert error.reason == RiskChecks.MAX_ORDER_RATE
    clock.now = 1.0  # the first order left the 1 s window
    passes(risk, order())
    assert rejected(risk, order()).reason == RiskChecks.MAX_ORDER_RATE


def test_fractional_order_rate_widens_the_window() -> None:
    clock = FakeClock()
    risk = checks(RiskLimits(max_orders_per_second=0.5), clock=clock)
    passes(risk, order())
    clock.now = 1.9
    assert rejected(risk, order()).reason == RiskChecks.MAX_ORDER_RATE
    clock.now = 2.0
    passes(risk, order())


@pytest.mark.parametrize(
    ("limits", "match"),
    [
        (RiskLimits(max_orders_per_second=0), "max_orders_per_second"),
        (RiskLimits(max_orders_per_second=float("nan")), "max_orders_per_second"),
        (RiskLimits(price_band=D("-0.1")), "price_band"),
    ],
)
def test_nonsense_limits_are_refused(limits: RiskLimits, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RiskChecks(limits)


def test_limits_can_change_at_run_time() -> None:
    risk = checks()
    passes(risk, order(), open_orders=50)
    risk.limits = RiskLimits(max_open_orders=10)
    assert rejected(risk, order(), open_orders=50).reason == RiskChecks.MAX_OPEN_ORDERS
    assert "max_open_orders=10" in repr(risk)


def test_reason_codes_are_stable() -> None:
    assert {
        RiskChecks.TRADING_HALTED,
        RiskChecks.TRADING_REDUCING,
        RiskChecks.UNKNOWN_INSTRUMENT,
        RiskChecks.PRICE_TICK,
        RiskChecks.QUANTITY_STEP,
        RiskChecks.MIN_QUANTITY,
        RiskChecks.MAX_QUANTITY,
        RiskChecks.MIN_NOTIONAL,
        RiskChecks.MAX_ORDER_NOTIONAL,
        RiskChecks.MAX_POSITION,
        RiskChecks.MAX_OPEN_ORDERS,
        RiskChecks.MAX_ORDER_RATE,
        RiskChecks.PRICE_BAND,
    } == {
        "TRADING_HALTED",
        "TRADING_REDUCING",
        "UNKNOWN_INSTRUMENT",
        "PRICE_TICK",
        "QUANTITY_STEP",
        "MIN_QUANTITY",
        "MAX_QUANTITY",
        "MIN_NOTIONAL",
        "MAX_ORDER_NOTIONAL",
        "MAX_POSITION",
        "MAX_OPEN_ORDERS",
        "MAX_ORDER_RATE",
        "PRICE_BAND",
    }


@settings(max_examples=300, deadline=None)
@given(
    units=st.integers(min_value=1, max_value=10**9),
    tick=st.sampled_from(["0.01", "0.5", "0.00001", "1", "25"]),
    offset=st.sampled_from(["0", "0.001", "0.000001", "0.3"]),
)
def test_tick_check_accepts_exact_multiples_and_its_suggestion_is_valid(
    units: int, tick: str, offset: str
) -> None:
    step = D(tick)
    price = units * step + D(offset)
    instrument = Instrument("X", AssetClass.FX, "A", "B", tick_size=step, lot_size=D("1"))
    risk = RiskChecks()
    risk.set_instruments([instrument])
    candidate = order(symbol="X", quantity=D("1"), limit_price=price)
    if price % step == 0:
        passes(risk, candidate)
        return
    error = rejected(risk, candidate)
    assert error.reason == RiskChecks.PRICE_TICK
    suggested = D(error.message.rsplit("nearest valid price: ", 1)[1])
    assert abs(suggested - price) <= step / 2
    passes(risk, order(symbol="X", quantity=D("1"), limit_price=suggested))
