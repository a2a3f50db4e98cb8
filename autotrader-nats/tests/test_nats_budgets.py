"""Per-strategy risk budgets at the gateway, against a real nats-server: refused with a typed error, nothing sent."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import anyio
import pytest
from autotrader_core.enums import OrderSide, OrderStatus
from autotrader_core.errors import RiskRejected
from autotrader_core.events import OrderFilled
from autotrader_core.models import Fill, Order
from autotrader_nats import (
    AccountGateway,
    GatewaySettings,
    NatsSettings,
    RemoteEngine,
    StrategyBudget,
    connect_gateway,
)
from autotrader_nats import gateway as gateway_module
from autotrader_nats.budgets import STRATEGY_NOTIONAL, STRATEGY_ORDER_RATE, STRATEGY_POSITION, BudgetBook
from nats_kit import NatsServer
from pydantic import ValidationError

pytestmark = pytest.mark.anyio

BUDGETS = {
    "capped": {"max_position": "0.003"},
    "thin": {"max_open_notional": "400"},
    "slow": {"max_orders_per_second": 3},
}


@pytest.fixture(autouse=True)
def _budgets(monkeypatch: pytest.MonkeyPatch) -> None:
    # Set before the gateway fixture builds the gateway, as `autotrader gateway` reads them.
    monkeypatch.setenv("AUTOTRADER_GATEWAY_BUDGETS", json.dumps(BUDGETS))


def remote(server: NatsServer, owner: str) -> RemoteEngine:
    return connect_gateway(
        "paper", "paper", owner=owner, nats_settings=NatsSettings(servers=[server.url], request_timeout=5)
    )


def sent(gateway: AccountGateway) -> set[str]:
    return {o.client_order_id for o in gateway.engine.oms}


async def test_a_position_budget_refuses_what_would_pass_it_and_allows_reducing(
    gateway: AccountGateway, nats_server: NatsServer
) -> None:
    async with remote(nats_server, "capped") as capped, remote(nats_server, "free") as free:
        first = await capped.submit_order("BTCUSDT", "buy", Decimal("0.002"))
        assert first.status is OrderStatus.FILLED
        with pytest.raises(RiskRejected) as refused:
            await capped.submit_order("BTCUSDT", "buy", Decimal("0.002"), client_order_id="atover1")
        assert refused.value.reason == STRATEGY_POSITION and "0.004" in str(refused.value)
        assert "atover1" not in sent(gateway)  # refused before anything was journaled or sent
        reduced = await capped.submit_order("BTCUSDT", "sell", Decimal("0.002"))  # reducing: always allowed
        assert reduced.status is OrderStatus.FILLED
        again = await capped.submit_order("BTCUSDT", "sell", Decimal("0.003"))  # -0.003: at the limit
        assert again.status is OrderStatus.FILLED
        # Another strategy on the same account has its own (here: no) budget.
        big = await free.submit_order("BTCUSDT", "buy", Decimal("0.01"))
        assert big.status is OrderStatus.FILLED
    assert gateway.budgets.position("capped", "BTCUSDT") == Decimal("-0.003")


async def test_an_open_notional_budget_counts_resting_orders(
    gateway: AccountGateway, nats_server: NatsServer
) -> None:
    async with remote(nats_server, "thin") as thin:
        resting = await thin.submit_order(
            "BTCUSDT", "buy", Decimal("0.005"), order_type="limit", limit_price=Decimal("60000")
        )
        assert resting.status is OrderStatus.ACCEPTED  # 300 of 400
        with pytest.raises(RiskRejected) as refused:
            await thin.submit_order(
                "BTCUSDT", "buy", Decimal("0.002"), order_type="limit", limit_price=Decimal("60000")
            )
        assert refused.value.reason == STRATEGY_NOTIONAL
        await thin.cancel_order(resting)
        freed = await thin.submit_order(
            "BTCUSDT", "buy", Decimal("0.002"), order_type="limit", limit_price=Decimal("60000")
        )
        assert freed.status is OrderStatus.ACCEPTED


async def test_an_order_rate_budget_refuses_the_excess_in_a_burst(
    gateway: AccountGateway, nats_server: NatsServer
) -> None:
    outcomes: list[Order | RiskRejected] = []
    async with remote(nats_server, "slow") as slow:

        async def place() -> None:
            try:
                outcomes.append(await slow.submit_order("BTCUSDT", "buy", Decimal("0.0002")))
            except RiskRejected as exc:
                outcomes.append(exc)

        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(place)
        refused = [o for o in outcomes if isinstance(o, RiskRejected)]
        assert len(refused) == 3 and all(r.reason == STRATEGY_ORDER_RATE for r in refused)
        await anyio.sleep(1.05)
        later = await slow.submit_order("BTCUSDT", "buy", Decimal("0.0002"))  # a new second, a new budget
        assert later.status is OrderStatus.FILLED


def test_budgets_are_validated_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOTRADER_GATEWAY_BUDGETS", json.dumps({"grid": {"max_position": "0.5"}}))
    assert GatewaySettings().budgets == {"grid": StrategyBudget(max_position=Decimal("0.5"))}
    for bad in ({"grid": {"max_position": "-1"}}, {"grid": {"max_positon": "1"}}):
        monkeypatch.setenv("AUTOTRADER_GATEWAY_BUDGETS", json.dumps(bad))
        with pytest.raises(ValidationError):
            GatewaySettings()


def test_a_restarted_gateway_starts_each_position_from_the_recovered_orders() -> None:
    book = BudgetBook({"capped": StrategyBudget(max_position=Decimal("1"))})
    filled: dict[str, Any] = {"symbol": "BTCUSDT", "order_type": "market", "quantity": Decimal("0.4")}
    bought = Order("at1", side=OrderSide.BUY, filled_quantity=Decimal("0.4"), **filled)
    sold = Order("at2", side=OrderSide.SELL, filled_quantity=Decimal("0.1"), **filled)
    other = Order("at3", side=OrderSide.BUY, filled_quantity=Decimal("0.4"), **filled)
    book.load([("capped", bought), ("capped", sold), ("free", other)])
    assert book.position("capped", "BTCUSDT") == Decimal("0.3") and book.position("free", "BTCUSDT") == 0
    with pytest.raises(RiskRejected, match=r"position to 1\.1"):
        book.check(
            "capped",
            symbol="BTCUSDT",
            side=OrderSide.BUY,
            quantity=Decimal("0.8"),
            price=None,
            open_orders=[],
            last_price=lambda _: Decimal("100"),
        )


async def test_a_gateway_keeps_few_finished_owners_and_reads_a_forgotten_one_back_for_a_late_fill(
    gateway: AccountGateway, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A gateway runs for months: the owners of finished orders must not pile up in memory; a
    # late fill of an order whose owner was forgotten still counts in that strategy's budget.
    monkeypatch.setattr(gateway_module, "_FINISHED_OWNERS_KEPT", 2)
    async with remote(nats_server, "capped") as capped:
        done = [await capped.submit_order("BTCUSDT", side, Decimal("0.001")) for side in ("buy", "sell") * 3]
    with anyio.fail_after(5):  # every order's events published
        while gateway._outbox:
            await anyio.sleep(0.02)
    assert len(gateway._owners) <= 2  # no order is open: only the last finished ones' owners
    first = done[0].client_order_id
    gateway._owners.pop(first, None)  # forgotten, whatever the order of the publishes was
    before = gateway.budgets.position("capped", "BTCUSDT")
    order = gateway.control.order(first)
    assert order is not None
    late = Fill("late-1", first, "BTCUSDT", OrderSide.BUY, Decimal("0.001"), Decimal("100"))
    gateway._queue_order_event(order, OrderFilled(late))  # as the engine's hook would
    with anyio.fail_after(5):
        while gateway.budgets.position("capped", "BTCUSDT") == before:
            await anyio.sleep(0.02)
    assert gateway.budgets.position("capped", "BTCUSDT") == before + Decimal("0.001")
    assert gateway.owner_of(first) == "capped"  # read back from the command log
