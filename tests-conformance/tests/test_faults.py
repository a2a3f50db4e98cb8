"""The transport-agnostic fault wrapper."""

from __future__ import annotations

from decimal import Decimal

import pytest
from autotrader_conformance.faults import FaultPlan, with_faults
from autotrader_core.adapter import AdapterTelemetry
from autotrader_core.enums import OrderSide, OrderType
from autotrader_core.errors import BrokerUnavailable, RateLimited, RequestTimeout
from autotrader_core.models import Order
from memory_adapter import MemoryAdapter

pytestmark = pytest.mark.anyio


def _order(cid: str = "c1") -> Order:
    return Order(cid, "ABCUSD", OrderSide.BUY, OrderType.LIMIT, Decimal("1"), limit_price=Decimal("10"))


async def test_wrapper_keeps_name_and_capabilities() -> None:
    wrapped = with_faults(MemoryAdapter())
    assert wrapped.name == "memory"
    assert type(wrapped).capabilities is MemoryAdapter.capabilities
    assert isinstance(wrapped.faults, FaultPlan)


async def test_telemetry_set_on_the_wrapper_reaches_the_wrapped_adapter() -> None:
    """The kit (TC-BAD) and the engine set ``adapter.telemetry``: the adapter under the wrapper must hear it."""
    inner = MemoryAdapter()
    wrapped = with_faults(inner)
    telemetry = AdapterTelemetry()
    wrapped.telemetry = telemetry
    assert inner.telemetry is telemetry
    assert wrapped.telemetry is telemetry


async def test_fault_before_apply_never_reaches_the_broker() -> None:
    inner = MemoryAdapter()
    wrapped = with_faults(inner)
    await wrapped.connect()
    wrapped.faults.fail_next("submit", RequestTimeout("lost"))
    with pytest.raises(RequestTimeout):
        await wrapped.submit_order(_order())
    assert inner.orders == {}
    assert wrapped.submitted == []


async def test_fault_after_apply_reaches_the_broker_and_loses_the_reply() -> None:
    inner = MemoryAdapter()
    wrapped = with_faults(inner)
    await wrapped.connect()
    wrapped.faults.fail_next("submit", BrokerUnavailable("503"), after_apply=True)
    with pytest.raises(BrokerUnavailable):
        await wrapped.submit_order(_order())
    assert "c1" in inner.orders
    assert wrapped.submitted == ["c1"]
    report = await wrapped.get_order(symbol="ABCUSD", client_order_id="c1")
    assert report.broker_order_id == "m1"


async def test_faults_fire_in_order_and_then_stop() -> None:
    wrapped = with_faults(MemoryAdapter())
    wrapped.faults.fail_next("get_balances", RateLimited("slow", retry_after=1.0), times=2)
    for _ in range(2):
        with pytest.raises(RateLimited):
            await wrapped.get_balances()
    assert (await wrapped.get_balances())[0].asset == "USD"
    assert wrapped.calls["get_balances"] == 1


async def test_unknown_operations_are_refused() -> None:
    wrapped = with_faults(MemoryAdapter())
    with pytest.raises(ValueError, match="unknown operation"):
        wrapped.faults.fail_next("teleport")
    with pytest.raises(ValueError, match="at least 1"):
        wrapped.faults.fail_next("submit", times=0)
