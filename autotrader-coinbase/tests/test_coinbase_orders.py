"""Core orders → Coinbase request bodies, and refusals before anything is sent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from autotrader_coinbase.orders import build_create_order_body, build_edit_order_body
from autotrader_core.adapter import OrderChange
from autotrader_core.enums import OrderSide, OrderType, TimeInForce
from autotrader_core.errors import InvalidOrder, UnsupportedFeature
from autotrader_core.models import Order


def _order(**kw: object) -> Order:
    base: dict[str, object] = {
        "client_order_id": "atabc123",
        "symbol": "BTC-USD",
        "side": OrderSide.BUY,
        "order_type": OrderType.LIMIT,
        "quantity": Decimal("0.001"),
        "limit_price": Decimal("10000.00"),
    }
    base.update(kw)
    return Order(**base)  # type: ignore[arg-type]


def test_limit_gtc_body_matches_the_sdk_shape() -> None:
    # protocols.md §3.3: body exactly as coinbase-advanced-py limit_order_gtc builds it
    assert build_create_order_body(_order(client_order_id="0000-00000-000000")) == {
        "client_order_id": "0000-00000-000000",
        "product_id": "BTC-USD",
        "side": "BUY",
        "order_configuration": {
            "limit_limit_gtc": {"base_size": "0.001", "limit_price": "10000.00", "post_only": False}
        },
    }


def test_stop_limit_body_matches_the_sdk_test() -> None:
    # protocols.md §3.3: stop-limit body asserted in the SDK's unit test
    order = _order(
        client_order_id="client_order_id_1",
        symbol="product_id_1",
        order_type=OrderType.STOP_LIMIT,
        quantity=Decimal("1"),
        limit_price=Decimal("100"),
        stop_price=Decimal("90"),
    )
    with pytest.raises(InvalidOrder, match="BTC-USD"):  # our own symbol check
        build_create_order_body(order)
    order.symbol = "BTC-USD"
    assert build_create_order_body(order)["order_configuration"] == {
        "stop_limit_stop_limit_gtc": {
            "base_size": "1",
            "limit_price": "100",
            "stop_price": "90",
            "stop_direction": "STOP_DIRECTION_STOP_UP",
        }
    }


def test_sell_stop_limit_triggers_downwards() -> None:
    order = _order(side=OrderSide.SELL, order_type=OrderType.STOP_LIMIT, stop_price=Decimal("9500"))
    config = build_create_order_body(order)["order_configuration"]["stop_limit_stop_limit_gtc"]
    assert config["stop_direction"] == "STOP_DIRECTION_STOP_DOWN"


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        (
            {"order_type": OrderType.MARKET, "limit_price": None},
            {"market_market_ioc": {"base_size": "0.001"}},
        ),
        (
            {
                "order_type": OrderType.MARKET,
                "limit_price": None,
                "time_in_force": TimeInForce.IOC,
                "side": OrderSide.SELL,
            },
            {"market_market_ioc": {"base_size": "0.001"}},
        ),
        (
            {"post_only": True},
            {"limit_limit_gtc": {"base_size": "0.001", "limit_price": "10000.00", "post_only": True}},
        ),
        (
            {"time_in_force": TimeInForce.IOC},
            {"sor_limit_ioc": {"base_size": "0.001", "limit_price": "10000.00"}},
        ),
        (
            {"time_in_force": TimeInForce.FOK},
            {"limit_limit_fok": {"base_size": "0.001", "limit_price": "10000.00"}},
        ),
        (
            {"quantity": Decimal("1E-8")},
            {"limit_limit_gtc": {"base_size": "0.00000001", "limit_price": "10000.00", "post_only": False}},
        ),
    ],
)
def test_configurations(kw: dict[str, Any], expected: dict[str, Any]) -> None:
    assert build_create_order_body(_order(**kw))["order_configuration"] == expected


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        ({"order_type": OrderType.STOP, "stop_price": Decimal("1")}, UnsupportedFeature),
        ({"order_type": OrderType.MARKET, "time_in_force": TimeInForce.FOK}, UnsupportedFeature),
        ({"time_in_force": TimeInForce.DAY}, UnsupportedFeature),
        ({"reduce_only": True}, UnsupportedFeature),
        (
            {
                "order_type": OrderType.STOP_LIMIT,
                "stop_price": Decimal("1"),
                "time_in_force": TimeInForce.IOC,
            },
            UnsupportedFeature,
        ),
        ({"order_type": OrderType.MARKET, "post_only": True}, InvalidOrder),
        ({"time_in_force": TimeInForce.IOC, "post_only": True}, InvalidOrder),
        ({"limit_price": None}, InvalidOrder),
        ({"limit_price": Decimal("0")}, InvalidOrder),
        ({"quantity": Decimal("-1")}, InvalidOrder),
        ({"quantity": Decimal("NaN")}, InvalidOrder),
        ({"order_type": OrderType.STOP_LIMIT}, InvalidOrder),  # no stop price
        ({"client_order_id": ""}, InvalidOrder),
        ({"symbol": "BTCUSD"}, InvalidOrder),
    ],
)
def test_refused_before_send(kw: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        build_create_order_body(_order(**kw))


def test_float_price_is_refused() -> None:
    with pytest.raises(InvalidOrder):
        build_create_order_body(_order(limit_price=10000.5))


def test_edit_body_sends_new_total_size_and_price() -> None:
    order = _order()
    assert build_edit_order_body(order, OrderChange(limit_price=Decimal("19000.00")), "oid") == {
        "order_id": "oid",
        "price": "19000.00",
        "size": "0.001",
    }
    assert build_edit_order_body(order, OrderChange(quantity=Decimal("0.002")), "oid")["size"] == "0.002"


@pytest.mark.parametrize(
    ("kw", "change", "error"),
    [
        ({"time_in_force": TimeInForce.IOC}, OrderChange(limit_price=Decimal("1")), UnsupportedFeature),
        (
            {"order_type": OrderType.STOP_LIMIT, "stop_price": Decimal("9")},
            OrderChange(limit_price=Decimal("1")),
            UnsupportedFeature,
        ),
        (
            {"order_type": OrderType.MARKET, "limit_price": None},
            OrderChange(quantity=Decimal("1")),
            UnsupportedFeature,
        ),
        ({}, OrderChange(stop_price=Decimal("1")), UnsupportedFeature),
        ({}, OrderChange(), InvalidOrder),
        ({"filled_quantity": Decimal("0.001")}, OrderChange(quantity=Decimal("0.001")), InvalidOrder),
        ({}, OrderChange(limit_price=Decimal("-1")), InvalidOrder),
    ],
)
def test_edit_refusals(kw: dict[str, Any], change: OrderChange, error: type[Exception]) -> None:
    with pytest.raises(error):
        build_edit_order_body(_order(**kw), change, "oid")
