"""The gateway SIGKILLed while the broker holds one of its submits in flight, as a venue's gateway can.

The other fault tests kill the gateway in front of a broker that answers at once. Here the crash
suite's broker (``tests-crash/crashkit``) keeps the n-th submit before its matching engine, or
executes it and loses the reply; the gateway dies while the request is out and a new one starts,
at once or after the request landed. Whatever the request's fate, each command is at most one
order at the broker, its outcome is the broker's (filled if and only if the broker executed it,
"never reached" only once the broker's window guarantees it can no longer execute), nothing is
re-sent that the broker's guarantee does not make safe, and the strategy that sent it hears of
its fill exactly once.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import anyio
import nats
import pytest
from autotrader_core.enums import OrderStatus
from autotrader_core.models import Fill, Order, Position
from autotrader_core.resend import ResendGuarantee
from autotrader_core.strategy import Strategy, StrategyContext
from autotrader_nats import NatsSettings, RemoteEngine, connect_gateway
from fault_kit import (
    CrashBroker,
    HeldRequest,
    HoldMode,
    HoldPlan,
    collect_outcomes,
    crash_broker,
    intents,
    send_submits,
    settled,
    subscribe_replies,
)
from nats_kit import GatewayProcess, NatsServer

pytestmark = pytest.mark.anyio

WINDOW = 5.0
"""The broker's expiry window (seconds): long enough for a restarted gateway to start, on a loaded
machine, while a request is still held inside it."""


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[CrashBroker]:
    """The crash broker with a ``WINDOW``-second expiry, and gateways that declare the same."""
    monkeypatch.setenv("AT_TEST_WINDOW", str(WINDOW))
    with crash_broker(ResendGuarantee.expiry(WINDOW, "crash broker (tests-crash)")) as broker:
        yield broker


def _arm(broker: CrashBroker, plan: HoldPlan | None) -> None:
    broker.call(lambda: broker.server.arm(plan))


async def _until_held(broker: CrashBroker) -> HeldRequest:
    with anyio.fail_after(20):
        await anyio.to_thread.run_sync(broker.server.held_now.wait, 20)
    return broker.call(lambda: broker.server.holds[-1])


async def _until_decided(broker: CrashBroker, request: HeldRequest, within: float) -> str:
    with anyio.fail_after(within):
        while (outcome := broker.call(lambda: request.outcome)) is None:
            await anyio.sleep(0.05)
    return outcome


def _broker_filled(broker: CrashBroker) -> dict[str, Decimal]:
    filled: dict[str, Decimal] = {}
    for fill in broker.call(broker.server.fills):
        filled[fill.client_order_id] = filled.get(fill.client_order_id, Decimal(0)) + fill.quantity
    return filled


# (hold plan, restart: "now" = while the request is held / "landed" = once the broker decided it,
#  the held request's fate at the broker)
SCENARIOS = {
    # Lands inside its window while the restarted gateway recovers: unknown until then, then filled.
    "lands-while-recovering": (HoldPlan(HoldMode.BEFORE_LAND, nth=3, hold=0.75 * WINDOW), "now", "executed"),
    # Landed while no gateway ran: the restarted one finds it at the broker.
    "landed-while-down": (HoldPlan(HoldMode.BEFORE_LAND, nth=3, hold=0.15 * WINDOW), "landed", "executed"),
    # Lands after its window: the broker refuses it; only then may the gateway say it never reached.
    "lands-too-late": (HoldPlan(HoldMode.BEFORE_LAND, nth=3, hold=1.5 * WINDOW), "now", "expired"),
    # Lands right after the restarted gateway was told "no such order": a lookup proves nothing.
    "lands-after-a-lookup": (
        HoldPlan(HoldMode.BEFORE_LAND, nth=3, hold=0.9 * WINDOW, race=True),
        "now",
        "executed",
    ),
    # Executed at once, its reply lost with the gateway.
    "reply-lost": (HoldPlan(HoldMode.REPLY_LOST, nth=3), "now", "executed"),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_a_submit_held_at_the_broker_when_the_gateway_dies_is_one_order_with_the_brokers_outcome(
    nats_server: NatsServer, tmp_path: Path, held: CrashBroker, scenario: str
) -> None:
    plan, restart, fate = SCENARIOS[scenario]
    data = tmp_path / "data"
    gateway = GatewayProcess(nats_server.url, data, [str(held.port)])
    gateway.start()
    cids = [f"athold{i}" for i in range(6)]
    nc = await nats.connect(nats_server.url)
    try:
        replies = await subscribe_replies(nc)
        _arm(held, plan)
        # Marked as a RemoteEngine's fresh submits are: run unclaimed, their record written behind.
        await send_submits(nc, cids, once=True)
        request = await _until_held(held)
        gateway.kill(signal.SIGKILL)  # the held submit is out; the ones behind it are queued or journaled
        killed_at = time.monotonic()
        assert request.client_order_id == cids[2]
        assert request.client_order_id not in replies, "the gateway answered a submit the broker still held"
        if restart == "landed":
            assert await _until_decided(held, request, within=2 * WINDOW) == fate
        gateway.start()
        restarted_in = time.monotonic() - killed_at
        if restart == "now" and plan.mode is HoldMode.BEFORE_LAND and not plan.race:
            # The scenario is a recovery while the request is held: the restart must beat its landing.
            assert restarted_in < plan.hold, (
                f"the gateway took {restarted_in:.2f} s to restart: after the landing"
            )
        try:
            await collect_outcomes(nc, cids, replies, within=6 * WINDOW)
        except TimeoutError:
            pytest.fail(f"no settled outcome for every command: {replies}\n{gateway.output()}")
        assert await _until_decided(held, request, within=3 * WINDOW) == fate
    finally:
        await nc.close()
        gateway.kill(signal.SIGKILL)
    assert all(replies[c]["ok"] for c in cids), [replies[c] for c in cids if not replies[c]["ok"]]
    outcomes = [(c, replies[c]["order"]["status"], replies[c]["order"].get("reject_reason")) for c in cids]
    assert all(settled(replies[c]) for c in cids), outcomes
    at_broker = held.call(lambda: list(held.server.submits))
    assert all(at_broker.count(c) <= 1 for c in cids), f"a second order at the broker: {at_broker}"
    filled = _broker_filled(held)
    for cid in cids:  # the outcome each command was told is the broker's, to the last unit
        order = replies[cid]["order"]
        told = (cid, order["status"], at_broker, held.call(request.describe), outcomes)
        assert (order["status"] == OrderStatus.FILLED.value) == (cid in at_broker), told
        assert Decimal(order["filled_quantity"]) == filled.get(cid, Decimal(0)), told
    held_order = replies[request.client_order_id]["order"]
    expected = OrderStatus.FILLED if fate == "executed" else OrderStatus.REJECTED
    assert held_order["status"] == expected.value, (held_order, held.call(request.describe))
    counted = intents(data)
    assert set(counted) == set(cids) and max(counted.values()) == 1


class Patient(Strategy):
    """Records every fill (with the position after it) and every order update it hears of."""

    name = "patient"

    def __init__(self) -> None:
        self.fills: list[Fill] = []
        self.positions: list[Position] = []
        self.updates: list[Order] = []

    async def on_fill(self, fill: Fill, position: Position, ctx: StrategyContext) -> None:
        self.fills.append(fill)
        self.positions.append(position)

    async def on_order_update(self, order: Order, ctx: StrategyContext) -> None:
        self.updates.append(order)


async def _three_submits_one_held(
    engine: RemoteEngine, held: CrashBroker, gateway: GatewayProcess, plan: HoldPlan, *, restart: str
) -> tuple[HeldRequest, dict[str, Order]]:
    """Three submits at once, the planned one held; the gateway killed once it is, and started again
    at once (``restart="now"``) or once the broker decided it (``"landed"``). What each returned."""
    returned: dict[str, Order] = {}
    _arm(held, plan)

    async def place() -> None:
        order = await engine.submit_order("BTCUSDT", "buy", Decimal("0.001"))
        returned[order.client_order_id] = order

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(place)
        request = await _until_held(held)
        gateway.kill(signal.SIGKILL)
        if restart == "landed":
            assert await _until_decided(held, request, within=2 * WINDOW) == "executed"
        gateway.start()
    assert await _until_decided(held, request, within=3 * WINDOW) == "executed"
    return request, returned


async def _until_every_fill_is_heard(
    strategy: Patient, held: CrashBroker, returned: dict[str, Order]
) -> None:
    """Every order the broker took reaches the strategy's on_fill; then nothing more comes."""
    at_broker = held.call(lambda: list(held.server.submits))
    with anyio.move_on_after(5 * WINDOW):
        while {f.client_order_id for f in strategy.fills} != set(at_broker):
            await anyio.sleep(0.05)
            at_broker = held.call(lambda: list(held.server.submits))
    assert {f.client_order_id for f in strategy.fills} == set(at_broker), (
        f"fills heard: {[f.client_order_id for f in strategy.fills]}; orders at the broker: {at_broker}; "
        f"submit_order returned: {[(o.client_order_id, o.status.value) for o in returned.values()]}"
    )
    await anyio.sleep(0.5)
    trades = sorted(f.trade_id for f in strategy.fills)
    assert trades == sorted(f.trade_id for f in held.call(held.server.fills)), (
        "a fill heard twice, or not made"
    )


def _strategy_connected(server: NatsServer, strategy: Patient) -> RemoteEngine:
    return connect_gateway(
        "paper",
        "paper",
        strategy=strategy,
        nats_settings=NatsSettings(servers=[server.url], request_timeout=10 * WINDOW),
    )


@pytest.mark.parametrize(
    ("plan", "restart"),
    [
        (HoldPlan(HoldMode.BEFORE_LAND, nth=1, hold=0.15 * WINDOW), "landed"),
        (HoldPlan(HoldMode.BEFORE_LAND, nth=2, hold=0.75 * WINDOW), "now"),
    ],
    ids=["settled-while-the-gateway-starts", "answered-just-before-the-kill"],
)
async def test_a_strategy_hears_once_of_every_fill_when_the_gateway_died_with_a_submit_held(
    nats_server: NatsServer, tmp_path: Path, held: CrashBroker, plan: HoldPlan, restart: str
) -> None:
    # What a user sees: on_fill once for every order the broker filled, and the broker's position.
    # settled-while-the-gateway-starts: the first submit, run unclaimed (its record written
    #   behind it), is held when the gateway dies and lands while none runs; the next gateway
    #   settles it (filled) while it starts. Its events used to go to no strategy: the gateway
    #   adopted the owners of open orders only (failed 2 of 2 before).
    # answered-just-before-the-kill: the first order's reply (filled) is out and its events are on
    #   their way to the stream when the second, held, has the gateway killed: they were in memory
    #   only, and the next gateway publishes them again from its journal (failed 5 of 5 before).
    gateway = GatewayProcess(nats_server.url, tmp_path / "data", [str(held.port)])
    gateway.start()
    strategy = Patient()
    try:
        async with _strategy_connected(nats_server, strategy) as engine:
            request, returned = await _three_submits_one_held(engine, held, gateway, plan, restart=restart)
            await _until_every_fill_is_heard(strategy, held, returned)
            cid = request.client_order_id
            assert engine.orders[cid].status is OrderStatus.FILLED
            assert engine.positions["BTCUSDT"].quantity == held.call(held.server.positions)["BTCUSDT"]
    finally:
        gateway.kill(signal.SIGKILL)
    assert strategy.positions[-1].quantity == held.call(held.server.positions)["BTCUSDT"]
    assert any(u.client_order_id == cid and u.status is OrderStatus.FILLED for u in strategy.updates)
