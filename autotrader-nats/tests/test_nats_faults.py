"""Faults with a real nats-server and real processes: duplicates, SIGKILLed gateway, server restart,
killed strategy, a second gateway for one account."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import anyio
import nats
import pytest
from autotrader_core.enums import OrderStatus
from autotrader_core.models import Fill, Order, Position
from autotrader_core.strategy import Strategy, StrategyContext
from autotrader_nats import NatsSettings, connect_gateway
from autotrader_nats.event_loop import EventLoopChoice
from autotrader_nats.wire import dumps, loads
from fault_kit import (
    NAMES,
    collect_outcomes,
    crash_broker,
    intents,
    send_submits,
    settled,
    snapshots,
    subscribe_replies,
    wait_for_a_fold,
)
from nats_kit import GatewayProcess, NatsServer, autotrader_command, needs_uvloop, start_strategy_process

pytestmark = pytest.mark.anyio


async def test_a_second_gateway_for_the_same_account_refuses_naming_the_first(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    first = GatewayProcess(nats_server.url, tmp_path / "data")
    first.start()
    try:
        second = GatewayProcess(nats_server.url, tmp_path / "data")
        second.start(wait_ready=False)
        code, output = second.finish()
        assert code == 2
        assert "ConfigurationError" in output and f"pid {first.process.pid}" in output  # type: ignore[union-attr]
        # `autotrader gateway` says so in a line (it printed an exception group's traceback before)
        data = str(tmp_path / "data")
        command = autotrader_command(
            "gateway", "--broker", "paper", "--data-dir", data, "--servers", nats_server.url
        )
        with anyio.fail_after(60):
            done = await anyio.run_process(command, check=False, cwd=tmp_path)
        err = done.stderr.decode()
        assert done.returncode == 2, err
        assert err.startswith("error: ") and f"pid {first.process.pid}" in err, err  # type: ignore[union-attr]
        assert "Traceback" not in err
    finally:
        first.kill()


@pytest.fixture
def broker() -> Iterator[int]:
    """The crash tests' loopback paper broker, in a thread of this process: it survives the gateway."""
    with crash_broker() as served:
        yield served.port


@pytest.mark.parametrize(
    ("compacting", "fresh", "loop"),
    [
        (False, False, "asyncio"),
        (True, False, "asyncio"),
        (False, True, "asyncio"),
        (True, True, "asyncio"),
        pytest.param(False, True, "uvloop", marks=needs_uvloop),
    ],
    ids=[
        "journal",
        "journal-compacting",
        "journal-fresh",
        "journal-compacting-fresh",
        "journal-fresh-uvloop",
    ],
)
async def test_gateway_sigkilled_mid_flight_recovers_and_executes_every_command_once(
    nats_server: NatsServer,
    tmp_path: Path,
    broker: int,
    compacting: bool,
    fresh: bool,
    loop: EventLoopChoice,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # fresh: the commands come marked as a RemoteEngine's fresh submits are (run unclaimed, recorded
    # behind: the kill lands between their send and their record); re-sent ones come unmarked.
    # loop: the gateway process's event loop (`autotrader gateway --loop`).
    if compacting:  # the gateway folds its journal every 50 ms, keeping no finished order in memory
        monkeypatch.setenv("AT_TEST_COMPACT", "1")
    data = tmp_path / "data"
    gateway = GatewayProcess(nats_server.url, data, [str(broker)], loop=loop)
    gateway.start()
    assert f"ready (event loop: {loop})" in gateway.output()
    cids = [f"atkill{i}" for i in range(80)]
    nc = await nats.connect(nats_server.url)
    try:
        replies = await subscribe_replies(nc)
        await send_submits(nc, cids, once=fresh)
        with anyio.fail_after(20):
            while len(replies) < 10:
                await anyio.sleep(0.002)
        gateway.kill(signal.SIGKILL)  # mid-flight: some executed, some in flight, the rest queued
        executed_before = len(replies)
        assert executed_before < len(cids), "the gateway finished before the kill: nothing was in flight"
        await send_submits(nc, cids[:5])  # a strategy re-sends after its timeout: same ids
        gateway.start()  # recovers from its journal, resumes the command stream
        await collect_outcomes(nc, cids, replies, within=30)
        if compacting:
            try:
                await wait_for_a_fold(data, within=30)
            except TimeoutError:
                pytest.fail("the gateway never compacted its journal")
    finally:
        await nc.close()
        gateway.kill(signal.SIGKILL)
    assert all(replies[c]["ok"] for c in cids), [replies[c] for c in cids if not replies[c]["ok"]]
    assert all(settled(replies[c]) for c in cids), [
        (c, replies[c]["order"]["status"], replies[c]["order"].get("reject_reason"))
        for c in cids
        if not settled(replies[c])
    ]
    counted = intents(data)
    assert set(counted) == set(cids), "a command was lost"
    assert max(counted.values()) == 1, "a command was executed twice"
    if compacting:
        assert snapshots(data) == 1, "a compaction left more than one snapshot"


@pytest.mark.parametrize(
    ("fresh", "loop"),
    [(False, "asyncio"), (True, "asyncio"), pytest.param(True, "uvloop", marks=needs_uvloop)],
    ids=["ids-given", "fresh-ids", "fresh-ids-uvloop"],
)
async def test_nats_server_restarted_mid_flight_loses_and_doubles_nothing(
    nats_server: NatsServer, tmp_path: Path, broker: int, fresh: bool, loop: EventLoopChoice
) -> None:
    # fresh: the engine makes the ids, so its submits go marked "once" (run unclaimed at the
    # gateway); a delivery the restart repeats must still never make a second order.
    # loop: the gateway process's event loop (its reconnect runs on it).
    data = tmp_path / "data"
    gateway = GatewayProcess(nats_server.url, data, [str(broker)], loop=loop)
    gateway.start()
    assert f"ready (event loop: {loop})" in gateway.output()
    outcomes: dict[str, Order] = {}
    fills: set[str] = set()

    class Flood(Strategy):
        name = "flood"

        async def on_fill(self, fill: Fill, position: Position, ctx: StrategyContext) -> None:
            fills.add(fill.client_order_id)

    try:
        async with connect_gateway(
            "paper",
            "paper",
            strategy=Flood(),
            nats_settings=NatsSettings(servers=[nats_server.url], request_timeout=40),
        ) as engine:

            async def place(i: int) -> None:
                order = await engine.submit_order(
                    "BTCUSDT", "buy", Decimal("0.001"), client_order_id=None if fresh else f"atrs{i}"
                )
                outcomes[order.client_order_id] = order

            async with anyio.create_task_group() as tg:
                for i in range(60):
                    tg.start_soon(place, i)
                    if i == 20:
                        await anyio.sleep(0.05)
                        nats_server.stop(signal.SIGKILL)  # commands in flight, events unpublished
                        await anyio.sleep(0.3)
                        nats_server.start()  # same port, same file storage
            with anyio.move_on_after(20):  # and every fill event reaches the strategy
                while not fills.issuperset(outcomes):
                    await anyio.sleep(0.05)
            missing = sorted(set(outcomes) - fills)
            assert not missing, f"fill events never reached the strategy: {missing}"
    finally:
        gateway.kill(signal.SIGKILL)
    assert len(outcomes) == 60
    assert all(o.status is OrderStatus.FILLED for o in outcomes.values()), Counter(
        o.status for o in outcomes.values()
    )
    counted = intents(data)
    assert set(counted) == set(outcomes) and max(counted.values()) == 1


async def test_a_killed_strategy_leaves_its_orders_and_a_restart_replays_what_it_missed(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    gateway = GatewayProcess(nats_server.url, tmp_path / "data")
    gateway.start()
    strategy = start_strategy_process(nats_server.url)
    try:
        assert strategy.stdout is not None
        placed = strategy.stdout.readline().split()
        assert placed[0] == "placed" and placed[2] == "accepted", placed
        cid = placed[1]
        strategy.send_signal(signal.SIGKILL)
        strategy.wait(10)
        async with connect_gateway(
            "paper", "paper", owner="ops", nats_settings=NatsSettings(servers=[nats_server.url])
        ) as ops:
            snapshot = loads(
                (await ops._nc.request(NAMES.service("snapshot"), dumps({"owner": "rester"}), timeout=5)).data
            )
            assert [o["client_order_id"] for o in snapshot["orders"]] == [cid]  # still working at the broker
            await ops.command(
                "cancel", {"client_order_id": cid, "any_owner": True}
            )  # while the strategy is away
        seen: list[Order] = []

        class Rester(Strategy):
            name = "rester"

            async def on_order_update(self, order: Order, ctx: StrategyContext) -> None:
                seen.append(order)

        async with connect_gateway(
            "paper", "paper", strategy=Rester(), nats_settings=NatsSettings(servers=[nats_server.url])
        ) as again:
            with anyio.fail_after(10):
                while not any(o.client_order_id == cid and o.status is OrderStatus.CANCELED for o in seen):
                    await anyio.sleep(0.02)
            assert again.context.open_orders() == []
    finally:
        if strategy.poll() is None:
            strategy.kill()
            strategy.wait(10)
        gateway.kill(signal.SIGKILL)


async def test_a_killed_strategy_that_asked_for_cancel_on_disconnect_has_its_orders_cancelled(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    gateway = GatewayProcess(nats_server.url, tmp_path / "data")
    gateway.start()
    strategy = start_strategy_process(nats_server.url, "--cancel-on-disconnect")
    try:
        assert strategy.stdout is not None
        placed = strategy.stdout.readline().split()
        assert placed[0] == "placed" and placed[2] == "accepted", placed
        cid = placed[1]
        async with connect_gateway(
            "paper", "paper", owner="ops", nats_settings=NatsSettings(servers=[nats_server.url])
        ) as ops:

            async def resting() -> list[str]:
                reply = await ops._nc.request(
                    NAMES.service("snapshot"), dumps({"owner": "rester"}), timeout=5
                )
                return [o["client_order_id"] for o in loads(reply.data)["orders"]]

            await anyio.sleep(1.5)  # heartbeats flowing: the live strategy's order stays
            assert await resting() == [cid]
            strategy.send_signal(signal.SIGKILL)  # no goodbye: only the missing heartbeats tell
            strategy.wait(10)
            killed_at = time.monotonic()
            with anyio.fail_after(10):
                while await resting():
                    await anyio.sleep(0.1)
            assert time.monotonic() - killed_at < 5  # 3 missed 1 s heartbeats, then the cancel
        assert "cancel-on-disconnect" in gateway.output() and "heartbeats stopped" in gateway.output()
    finally:
        if strategy.poll() is None:
            strategy.kill()
            strategy.wait(10)
        gateway.kill(signal.SIGKILL)
