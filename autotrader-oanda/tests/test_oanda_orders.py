"""Core orders → OANDA OrderRequest bodies, and what is refused before send."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from autotrader_core.adapter import OrderChange
from autotrader_core.enums import AssetClass, OrderSide, OrderType, TimeInForce
from autotrader_core.errors import InvalidOrder, UnsupportedFeature
from autotrader_core.models import Instrument, Order
from autotrader_oanda.orders import build_order_request, build_replace_request, order_specifier

EUR_USD = Instrument(
    symbol="EUR_USD",
    asset_class=AssetClass.FX,
    base="EUR",
    quote="USD",
    tick_size=Decimal("0.00001"),
    lot_size=Decimal(1),
    min_quantity=Decimal(1),
    max_quantity=Decimal(100000000),
)


def _order(**overrides: Any) -> Order:
    values: dict[str, Any] = {
        "client_order_id": "at0lim7c1q2w3e1",
        "symbol": "EUR_USD",
        "side": OrderSide.SELL,
        "order_type": OrderType.LIMIT,
        "quantity": Decimal(100),
        "limit_price": Decimal("1.20000"),
    }
    values.update(overrides)
    return Order(**values)


def test_limit_sell_has_negative_units_and_our_client_id() -> None:
    assert build_order_request(_order()) == {
        "order": {
            "type": "LIMIT",
            "instrument": "EUR_USD",
            "units": "-100",
            "price": "1.20000",
            "timeInForce": "GTC",
            "positionFill": "DEFAULT",
            "clientExtensions": {"id": "at0lim7c1q2w3e1"},
        }
    }


def test_market_buy_is_fok_by_default_and_ioc_when_asked() -> None:
    market = _order(side=OrderSide.BUY, order_type=OrderType.MARKET, limit_price=None)
    body = build_order_request(market)["order"]
    assert (body["type"], body["units"], body["timeInForce"]) == ("MARKET", "100", "FOK")
    assert "price" not in body
    ioc = _order(
        side=OrderSide.BUY, order_type=OrderType.MARKET, limit_price=None, time_in_force=TimeInForce.IOC
    )
    assert build_order_request(ioc)["order"]["timeInForce"] == "IOC"


def test_stop_order_day_is_gfd_and_reduce_only_maps_to_position_fill() -> None:
    stop = _order(
        order_type=OrderType.STOP, limit_price=None, stop_price=Decimal("1.1"), time_in_force=TimeInForce.DAY,
        reduce_only=True, tag="exit on breakdown",
    )  # fmt: skip
    body = build_order_request(stop, EUR_USD)["order"]
    assert body["type"] == "STOP"
    assert body["price"] == "1.10000"  # padded to displayPrecision, the exact same value
    assert body["timeInForce"] == "GFD"
    assert body["positionFill"] == "REDUCE_ONLY"
    assert body["clientExtensions"] == {"id": "at0lim7c1q2w3e1", "comment": "exit on breakdown"}


def test_limit_ioc_and_fok_are_sent_as_is() -> None:
    assert build_order_request(_order(time_in_force=TimeInForce.IOC))["order"]["timeInForce"] == "IOC"
    assert build_order_request(_order(time_in_force=TimeInForce.FOK))["order"]["timeInForce"] == "FOK"


def test_decimals_never_go_through_float_or_exponent_notation() -> None:
    body = build_order_request(_order(quantity=Decimal("1E+3"), limit_price=Decimal("0.1")))["order"]
    assert body["units"] == "-1000"
    assert body["price"] == "0.1"


@pytest.mark.parametrize(
    ("overrides", "error", "match"),
    [
        ({"post_only": True}, UnsupportedFeature, "post-only"),
        (
            {"order_type": OrderType.STOP_LIMIT, "stop_price": Decimal("1.1")},
            UnsupportedFeature,
            "stop-limit",
        ),
        ({"order_type": OrderType.STOP, "stop_price": Decimal("1.1")}, UnsupportedFeature, "stop-limit"),
        (
            {"order_type": OrderType.STOP, "limit_price": None, "stop_price": Decimal("1.1"),
             "time_in_force": TimeInForce.IOC},
            UnsupportedFeature,
            "GTC or DAY",
        ),
        ({"limit_price": None}, InvalidOrder, "limit_price"),
        ({"order_type": OrderType.MARKET}, InvalidOrder, "no limit or stop price"),
        ({"order_type": OrderType.STOP, "limit_price": None}, InvalidOrder, "stop_price"),
        ({"symbol": "EURUSD"}, InvalidOrder, "EUR_USD"),
        ({"client_order_id": "has space"}, InvalidOrder, "client order id"),
        ({"quantity": Decimal(0)}, InvalidOrder, "quantity"),
        ({"quantity": Decimal(-5)}, InvalidOrder, "quantity"),
        ({"limit_price": Decimal("NaN")}, InvalidOrder, "finite"),
    ],
)  # fmt: skip
def test_refused_before_send(overrides: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        build_order_request(_order(**overrides))


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"limit_price": Decimal("1.200001")}, "PRICE_PRECISION_EXCEEDED"),
        ({"quantity": Decimal("100.5")}, "UNITS_PRECISION_EXCEEDED"),
        ({"quantity": Decimal("0")}, "quantity"),
        ({"quantity": Decimal("200000000")}, "maximum"),
    ],
)
def test_instrument_rules_are_checked_when_known(overrides: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidOrder, match=match):
        build_order_request(_order(**overrides), EUR_USD)


def test_trailing_zeros_within_precision_are_fine() -> None:
    body = build_order_request(_order(limit_price=Decimal("1.2000000"), quantity=Decimal("100.00")), EUR_USD)
    assert body["order"]["price"] == "1.20000"
    assert body["order"]["units"] == "-100"


def test_replace_sends_the_full_new_terms_without_client_extensions() -> None:
    body = build_replace_request(
        _order(), OrderChange(quantity=Decimal(500000), limit_price=Decimal("1.25000"))
    )
    assert body == {
        "order": {
            "type": "LIMIT",
            "instrument": "EUR_USD",
            "units": "-500000",
            "price": "1.25000",
            "timeInForce": "GTC",
            "positionFill": "DEFAULT",
        }
    }


def test_replace_of_a_partly_filled_order_is_for_the_remainder() -> None:
    order = _order(filled_quantity=Decimal(40))
    body = build_replace_request(order, OrderChange(quantity=Decimal(150)))["order"]
    assert body["units"] == "-110"
    assert body["price"] == "1.20000"
    with pytest.raises(InvalidOrder, match="filled"):
        build_replace_request(order, OrderChange(quantity=Decimal(40)))


@pytest.mark.parametrize(
    ("order", "change", "error"),
    [
        (_order(), OrderChange(), InvalidOrder),
        (
            _order(order_type=OrderType.MARKET, limit_price=None),
            OrderChange(quantity=Decimal(1)),
            InvalidOrder,
        ),
        (_order(), OrderChange(stop_price=Decimal(1)), InvalidOrder),
        (
            _order(order_type=OrderType.STOP, limit_price=None, stop_price=Decimal("1.1")),
            OrderChange(limit_price=Decimal(1)),
            UnsupportedFeature,
        ),
    ],
)
def test_replace_refusals(order: Order, change: OrderChange, error: type[Exception]) -> None:
    with pytest.raises(error):
        build_replace_request(order, change)


def test_order_specifier() -> None:
    assert order_specifier(client_order_id="at0abc") == "@at0abc"
    assert order_specifier(broker_order_id="2304", client_order_id="x") == "2304"
    with pytest.raises(InvalidOrder):
        order_specifier()
    with pytest.raises(InvalidOrder):
        order_specifier(broker_order_id="../summary")
    with pytest.raises(InvalidOrder):
        order_specifier(client_order_id="a/b")
