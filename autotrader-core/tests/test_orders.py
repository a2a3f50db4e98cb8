"""Bad input gets a clear, typed error before anything is sent."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from autotrader_core.enums import OrderSide, OrderType
from autotrader_core.errors import InvalidOrder
from autotrader_core.orders import build_order


def build(**overrides: object) -> object:
    params: dict[str, object] = {
        "client_order_id": "c1",
        "symbol": "BTCUSDT",
        "side": "buy",
        "quantity": D("1"),
    }
    params.update(overrides)
    return build_order(**params)  # type: ignore[arg-type]


def test_valid_limit_order_is_built_with_decimals() -> None:
    order = build(order_type="limit", limit_price="100.5", side="SELL", quantity=3)
    assert order.order_type is OrderType.LIMIT  # type: ignore[attr-defined]
    assert order.side is OrderSide.SELL  # type: ignore[attr-defined]
    assert order.limit_price == D("100.5")  # type: ignore[attr-defined]
    assert order.quantity == D(3)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"quantity": 0.1}, "floats lose precision"),
        ({"quantity": D("NaN")}, "finite"),
        ({"quantity": D("Infinity")}, "finite"),
        ({"quantity": "-1"}, "greater than zero"),
        ({"quantity": 0}, "greater than zero"),
        ({"quantity": "abc"}, "not a decimal"),
        ({"quantity": None}, "must be a Decimal"),
        ({"quantity": True}, "must be a Decimal"),
        ({"symbol": ""}, "symbol"),
        ({"symbol": "BTC USDT"}, "without spaces"),
        ({"symbol": "БТК"}, "ASCII"),
        ({"symbol": 42}, "symbol"),
        ({"side": "long"}, "side must be one of buy, sell"),
        ({"order_type": "iceberg"}, "order_type must be one of"),
        ({"order_type": "limit"}, "needs limit_price"),
        ({"order_type": "stop"}, "needs stop_price"),
        ({"order_type": "stop_limit", "stop_price": "1"}, "needs limit_price"),
        ({"limit_price": "100"}, "takes no limit_price"),
        (
            {"order_type": "limit", "limit_price": "100", "post_only": True, "time_in_force": "ioc"},
            "post_only",
        ),
        ({"post_only": True}, "post_only"),
        ({"order_type": "limit", "limit_price": 1e3}, "floats"),
        ({"time_in_force": "forever"}, "time_in_force"),
        ({"client_order_id": ""}, "client_order_id"),
    ],
)
def test_hostile_input_is_refused_with_a_message_that_says_what_to_fix(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidOrder, match=message):
        build(**overrides)


@pytest.mark.parametrize("flag", ["false", "no", "0", "False", "", "yes", 0, 1, None, "true "])
@pytest.mark.parametrize("field", ["post_only", "reduce_only"])
def test_a_flag_is_a_bool_or_exactly_true_false_never_truthiness(field: str, flag: object) -> None:
    # Issue 14 (11): post_only="false" / "no" / "0" sent a post-only order (bool("false") is True).
    if flag in ("false", "False"):
        order = build(order_type="limit", limit_price="100", **{field: flag})
        assert getattr(order, field) is False
        return
    with pytest.raises(InvalidOrder, match=f"{field} must be True or False"):
        build(order_type="limit", limit_price="100", **{field: flag})


def test_flags_given_as_text_true_are_read_as_true() -> None:
    order = build(order_type="limit", limit_price="100", post_only="true", reduce_only="TRUE")
    assert order.post_only is True  # type: ignore[attr-defined]
    assert order.reduce_only is True  # type: ignore[attr-defined]


@pytest.mark.parametrize("symbol", [" BTCUSDT", "BTCUSDT ", "BTCUSDT\n", "\tBTCUSDT"])
def test_whitespace_around_a_symbol_is_refused_not_stripped(symbol: str) -> None:
    # Issue 14 (11): " BTCUSDT" used to be stripped silently.
    with pytest.raises(InvalidOrder, match="symbol must be printable ASCII without spaces"):
        build(symbol=symbol)


@pytest.mark.parametrize("price", [" 100", "100 ", "100\n"])
def test_whitespace_around_a_price_is_refused_naming_the_field(price: str) -> None:
    with pytest.raises(InvalidOrder, match="limit_price has leading or trailing whitespace"):
        build(order_type="limit", limit_price=price)
