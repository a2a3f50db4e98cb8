"""Settings (paper by default, live only when asked) and order validation/building."""

from __future__ import annotations

from decimal import Decimal

import pytest
from autotrader_core.enums import OrderSide, OrderType, TimeInForce
from autotrader_core.errors import ConfigurationError, InvalidOrder, UnsupportedFeature
from autotrader_core.models import Order
from autotrader_ibkr import IbkrAdapter, IbkrSettings
from autotrader_ibkr.orders import build_ib_order, core_status, validate_order, wire_decimal
from autotrader_ibkr.plugin import autotrader_adapters


def test_paper_is_the_default_and_live_ports_need_live(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENVIRONMENT", "PORT", "APPLICATION"):
        monkeypatch.delenv(f"AUTOTRADER_IBKR_{name}", raising=False)
    settings = IbkrSettings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.environment, settings.resolved_port, settings.is_live) == ("paper", 4002, False)
    assert IbkrSettings(application="tws").resolved_port == 7497
    assert IbkrSettings(environment="live").resolved_port == 4001
    assert IbkrSettings(environment="live", application="tws").resolved_port == 7496
    with pytest.raises(ConfigurationError):
        IbkrSettings(port=7496)  # a live TWS port in a paper configuration
    with pytest.raises(ConfigurationError):
        IbkrSettings(port=4002, environment="live")
    assert IbkrSettings(port=14002).resolved_port == 14002


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOTRADER_IBKR_CLIENT_ID", "7")
    monkeypatch.setenv("AUTOTRADER_IBKR_ACCOUNT", "DU7654321")
    settings = IbkrSettings()
    assert (settings.client_id, settings.account) == (7, "DU7654321")


def _order(**kw: object) -> Order:
    values: dict[str, object] = {
        "client_order_id": "at0x",
        "symbol": "AAPL",
        "side": OrderSide.SELL,
        "order_type": OrderType.STOP_LIMIT,
        "quantity": Decimal("100"),
        "limit_price": Decimal("149.50"),
        "stop_price": Decimal("150.00"),
        "time_in_force": TimeInForce.GTC,
    }
    values.update(kw)
    return Order(**values)  # type: ignore[arg-type]


def test_stop_limit_order_travels_as_exact_decimal_text() -> None:
    ib_order = build_ib_order(_order(), order_id=5, account="DU1")
    assert (ib_order.orderType, ib_order.action, ib_order.tif, ib_order.orderRef) == (
        "STP LMT",
        "SELL",
        "GTC",
        "at0x",
    )
    assert (ib_order.totalQuantity, ib_order.lmtPrice, ib_order.auxPrice) == ("100", "149.5", "150")  # type: ignore[comparison-overlap]
    assert (
        build_ib_order(_order(order_type=OrderType.STOP, limit_price=None), order_id=5, account="").orderType
        == "STP"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1E+2"), "100"),
        (Decimal("0.00005"), "0.00005"),
        (Decimal("150.250"), "150.25"),
        (Decimal(7), "7"),
    ],
)
def test_wire_decimal(value: Decimal, text: str) -> None:
    assert wire_decimal(value) == text


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"post_only": True}, UnsupportedFeature),
        ({"reduce_only": True}, UnsupportedFeature),
        ({"quantity": Decimal(0)}, InvalidOrder),
        ({"quantity": 1.5}, InvalidOrder),
        ({"limit_price": None}, InvalidOrder),
        ({"order_type": OrderType.MARKET}, InvalidOrder),  # market order with prices
        ({"client_order_id": ""}, InvalidOrder),
    ],
)
def test_bad_orders_are_refused_before_send(changes: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        validate_order(_order(**changes))


def test_status_map_and_capabilities() -> None:
    assert core_status("PreSubmitted") is core_status("Submitted")
    assert core_status("Cancelled") is core_status("ApiCancelled")
    assert core_status("SomethingNew") is None
    caps = IbkrAdapter.capabilities
    assert caps.native_modify
    assert caps.streaming_fills
    assert caps.broker_positions
    assert caps.fill_history
    assert not caps.post_only
    [info] = autotrader_adapters()
    assert info.name == "ibkr"
    assert info.settings_cls is IbkrSettings
    assert isinstance(info.factory(IbkrSettings()), IbkrAdapter)
