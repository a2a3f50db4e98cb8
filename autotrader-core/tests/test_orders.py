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
