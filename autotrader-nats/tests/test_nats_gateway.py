"""The gateway in process against a real nats-server: commands, replies, events, KV state, remote strategy."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import nats
import pytest
from autotrader_core import DecisionAction, ExecutionDecision
from autotrader_core.account import AccountId
from autotrader_core.enums import OrderStatus
from autotrader_core.errors import InvalidOrder, RiskRejected
from autotrader_core.models import Balance, Fill, Order, Position
from autotrader_core.strategy import Strategy, StrategyContext
from autotrader_nats import AccountGateway, AccountNames, NatsSettings, RemoteEngine, connect_gateway
from autotrader_nats.wire import dumps
from nats.js import api
from nats_gateway_main import make_gateway, serving
from nats_kit import NatsServer

pytestmark = pytest.mark.anyio


class BuyTheDip(Strategy):
    """The README's strategy, unchanged (its threshold set so that it buys at the paper price)."""

    name = "buy-the-dip"

    def __init__(self) -> None:
        self.fills: list[Fill] = []
        self.updates: list[Order] = []

    async def decide(self, ctx: StrategyContext) -> list[ExecutionDecision]:
        price = ctx.last_price("BTCUSDT")
        if price is not None and price < Decimal("70000") and ctx.position("BTCUSDT").is_flat:
            return [ExecutionDecision(DecisionAction.BUY, "BTCUSDT", Decimal("0.01"))]
        return []

    async def on_fill(self, fill: Fill, position: Position, ctx: StrategyContext) -> None:
        self.fills.append(fill)

    async def on_order_update(self, order: Order, ctx: StrategyContext) -> None:
        self.updates.append(order)


def remote(server: NatsServer, **kw: Any) -> RemoteEngine:
    return connect_gateway(
        "paper", "paper", nats_settings=NatsSettings(servers=[server.url], request_timeout=5), **kw
    )


async def test_the_readme_strategy_runs_through_the_gateway_with_only_its_connect_line_changed(
    gateway: AccountGateway, nats_server: NatsServer
) -> None:
    strategy = BuyTheDip()
    async with remote(nats_server, strategy=strategy) as engine:
        with anyio.fail_after(10):
            while not strategy.fills:
                await anyio.sleep(0.05)
        await engine.run(duration=0.5)
        assert engine.context.position("BTCUSDT").quantity == Decimal("0.01")
    assert len(strategy.fills) == 1  # bought once, then the position is no longer flat
    (order,) = gateway.control.recent_orders()
    assert order.client_order_id == strategy.fills[0].client_order_id
    assert order.status is OrderStatus.FILLED
    assert strategy.updates[-1].status is OrderStatus.FILLED
    assert gateway.control.positions()["BTCUSDT"].quantity == Decimal("0.01")


async def test_errors_come_back_typed_and_bad_input_never_leaves(
    gateway: AccountGateway, nats_server: NatsServer
) -> None:
    async with remote(nats_server) as engine:
        with pytest.raises(InvalidOrder, match="float"):
            await engine.submit_order("BTCUSDT", "buy", 0.01)  # type: ignore[arg-type]
        with pytest.raises(RiskRejected) as refused:
            await engine.submit_order("NOSUCH", "buy", Decimal("1"))
        assert refused.value.reason
        assert gateway.commands_executed == 1  # the float never left the strategy


async def test_same_command_twice_and_resent_after_a_lost_reply_is_one_order(
    gateway: AccountGateway, nats_server: NatsServer
) -> None:
    async with remote(nats_server) as engine:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        command = {
            "id": "atdup1",
            "kind": "submit",
            "owner": "manual",
            "args": {"symbol": "BTCUSDT", "side": "buy", "quantity": "0.01"},
        }
        headers = {"Nats-Msg-Id": "atdup1", "At-Reply-To": "nobody.listens"}  # the reply is lost
        first = await js.publish(gateway.names.commands, dumps(command), headers=headers)
        second = await js.publish(gateway.names.commands, dumps(command), headers=headers)
        assert not first.duplicate and second.duplicate
        await anyio.sleep(
            2.5
        )  # past the dedupe window (2 s in these tests): only the gateway's record stops it
        third = await js.publish(gateway.names.commands, dumps(command), headers=headers)
        assert not third.duplicate
        # the strategy re-sends after the lost reply: same id, one order, and it learns the outcome
        order = await engine.submit_order("BTCUSDT", "buy", Decimal("0.01"), client_order_id="atdup1")
        await nc.close()
    assert order.status is OrderStatus.FILLED
    assert [o.client_order_id for o in gateway.control.recent_orders()] == ["atdup1"]
    assert gateway.commands_executed == 1


async def test_a_halt_in_the_kv_bucket_stops_every_strategy_at_once(
    gateway: AccountGateway, nats_server: NatsServer
) -> None:
    async with remote(nats_server) as engine:
        nc = await nats.connect(nats_server.url)
        kv = await nc.jetstream().key_value(gateway.names.state_bucket)
        await kv.put(
            "trading_state", dumps({"state": "halted", "actor": "ops-laptop", "reason": "maintenance"})
        )
        with anyio.fail_after(5):
            while gateway.control.trading_state.value != "halted":
                await anyio.sleep(0.01)
        with pytest.raises(RiskRejected):
            await engine.submit_order("BTCUSDT", "buy", Decimal("0.01"))
        await engine.command("resume", {})  # a command also sets it, and writes the bucket
        assert gateway.control.trading_state.value == "active"
        entry = await kv.get("trading_state")
        assert b'"active"' in (entry.value or b"")
        await engine.submit_order("BTCUSDT", "buy", Decimal("0.01"))
        await nc.close()


async def test_a_strategy_cancels_only_its_own_orders(
    gateway: AccountGateway, nats_server: NatsServer
) -> None:
    async with remote(nats_server, owner="alpha") as alpha, remote(nats_server, owner="beta") as beta:
        order = await alpha.submit_order(
            "BTCUSDT", "buy", Decimal("0.01"), order_type="limit", limit_price=Decimal("60000")
        )
        assert order.status is OrderStatus.ACCEPTED
        with pytest.raises(InvalidOrder, match="belongs to strategy 'alpha'"):
            await beta.cancel_order(order.client_order_id)
        assert beta.context.open_orders() == []
        canceled = await alpha.cancel_order(order)
        assert canceled.status in (OrderStatus.PENDING_CANCEL, OrderStatus.CANCELED)


async def test_events_carry_the_account_and_replay_from_a_sequence(
    gateway: AccountGateway, nats_server: NatsServer
) -> None:
    async with remote(nats_server, owner="replayer") as engine:
        for _ in range(3):
            await engine.submit_order("BTCUSDT", "buy", Decimal("0.01"))
    seen: list[str] = []

    class Recorder(Strategy):
        name = "replayer"

        async def on_order_update(self, order: Order, ctx: StrategyContext) -> None:
            seen.append(order.client_order_id)

    async with remote(nats_server, strategy=Recorder(), replay_from=1) as again:
        with anyio.fail_after(5):
            while len(set(seen)) < 3:
                await anyio.sleep(0.02)
        assert len(again.orders) == 3
    nc = await nats.connect(nats_server.url)
    msg = await nc.jetstream().get_msg(gateway.names.event_stream, 1)
    assert b'"account":"paper/paper/default"' in (msg.data or b"")
    await nc.close()


def _unused(_: Sequence[object]) -> None:  # keeps Sequence imported for type checkers of helpers
    return None


async def test_cancel_on_disconnect_cancels_at_once_on_a_clean_stop_and_only_that_strategys_orders(
    gateway: AccountGateway, nats_server: NatsServer
) -> None:
    async with remote(nats_server, owner="keeper") as keeper:
        kept = await keeper.submit_order(
            "BTCUSDT", "buy", Decimal("0.01"), order_type="limit", limit_price=Decimal("50000")
        )
        async with remote(nats_server, owner="leaver", cancel_on_disconnect=True) as leaver:
            left = await leaver.submit_order(
                "BTCUSDT", "buy", Decimal("0.01"), order_type="limit", limit_price=Decimal("50000")
            )
            await anyio.sleep(0.5)
            assert gateway.control.order(left.client_order_id).status is OrderStatus.ACCEPTED  # type: ignore[union-attr]
        with anyio.fail_after(3):  # the leave notice: no heartbeat timeout to wait for
            while gateway.control.order(left.client_order_id).status is not OrderStatus.CANCELED:  # type: ignore[union-attr]
                await anyio.sleep(0.02)
        await anyio.sleep(0.5)
        assert gateway.control.order(kept.client_order_id).status is OrderStatus.ACCEPTED  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "past_window",
    [False, True],
    ids=["deduplicated-then-asked-for", "past-the-dedup-window-executed-path"],
)
async def test_a_submit_resent_after_its_order_was_compacted_away_is_answered_not_executed_again(
    nats_server: NatsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, past_window: bool
) -> None:
    monkeypatch.setenv("AT_TEST_COMPACT", "1")  # compact every 50 ms, keeping no finished order
    data = tmp_path / "data"

    async def serve(body: Callable[[AccountGateway], Awaitable[None]]) -> None:
        gw = make_gateway(nats_server.url, data)
        async with anyio.create_task_group() as tg:
            ready = anyio.Event()
            tg.start_soon(lambda: gw.run(ready=ready.set))
            with anyio.fail_after(20):
                await ready.wait()
            await body(gw)
            await gw.stop()

    async def first_run(gw: AccountGateway) -> None:
        async with remote(nats_server) as engine:
            order = await engine.submit_order(
                "BTCUSDT", "buy", Decimal("0.01"), client_order_id="atcompacted1"
            )
        assert order.status is OrderStatus.FILLED
        with anyio.fail_after(10):  # folded into a snapshot: the order lives on as an archived id only
            while await gw.journal.compacted_order("atcompacted1") is None:
                await anyio.sleep(0.05)

    await serve(first_run)
    # As if the gateway had died after executing the submit but before recording its reply.
    with sqlite3.connect(data / "journal-paper-paper.commands.sqlite3") as conn:
        conn.execute("UPDATE commands SET state = 'started', reply = NULL WHERE id = 'atcompacted1'")

    async def second_run(gw: AccountGateway) -> None:
        assert gw.engine.oms.get("atcompacted1") is None  # not in memory after the restart
        if past_window:  # JetStream stores the re-sent command: the gateway's own records answer it
            await anyio.sleep(2.5)
        async with remote(nats_server) as engine:
            again = await engine.submit_order(
                "BTCUSDT", "buy", Decimal("0.01"), client_order_id="atcompacted1"
            )
        assert again.status is OrderStatus.FILLED and again.filled_quantity == Decimal("0.01")
        assert gw.commands_executed == 0  # answered from the archive, never sent again

    await serve(second_run)


@pytest.mark.parametrize("kind", ["submit", "cancel"])
async def test_a_fresh_command_lost_on_its_way_is_sent_again_and_executed_once(
    gateway: AccountGateway, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    # A fresh command goes out without waiting for JetStream's acknowledgement; when it never
    # got stored (here: dropped on the way), the silence is asked about and it goes again.
    monkeypatch.setattr("autotrader_nats.remote._QUIET_ASK", 0.3)
    async with remote(nats_server) as engine:
        resting = await engine.submit_order(
            "BTCUSDT", "buy", Decimal("0.01"), order_type="limit", limit_price=Decimal("1000")
        )
        executed = gateway.commands_executed
        publish = engine._nc.publish
        dropped: list[bytes] = []

        async def lossy(subject: str, payload: bytes = b"", **kw: Any) -> None:
            if subject == gateway.names.commands_of(engine.owner) and not dropped:
                dropped.append(payload)  # lost: never reaches the server
                return
            await publish(subject, payload, **kw)

        monkeypatch.setattr(engine._nc, "publish", lossy)
        with anyio.fail_after(10):
            if kind == "submit":
                order = await engine.submit_order("BTCUSDT", "buy", Decimal("0.01"))
                assert order.status is OrderStatus.FILLED
            else:
                order = await engine.cancel_order(resting)
                assert order.client_order_id == resting.client_order_id
    assert dropped, "the first publish was not the command"
    assert gateway.commands_executed == executed + 1, "the command ran exactly once"
    if kind == "submit":
        assert gateway.control.order(order.client_order_id) is not None


async def test_a_strategy_hears_the_accounts_balances_and_reads_them_again_after_a_reconnect(
    gateway: AccountGateway, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def at_gateway() -> set[tuple[str, Decimal, Decimal]]:
        return {(b.asset, b.total, b.available) for b in gateway.control.balances()}

    async def until_the_strategy_has_them(engine: RemoteEngine) -> None:
        with anyio.fail_after(5):
            while {(b.asset, b.total, b.available) for b in engine.balances} != at_gateway():
                await anyio.sleep(0.02)

    async with remote(nats_server, owner="balances") as engine:
        await until_the_strategy_has_them(engine)  # from the snapshot
        moved = [Balance("USDT", Decimal("123.45"), Decimal("100.5"))]
        monkeypatch.setattr(gateway.control, "balances", lambda: moved)
        await until_the_strategy_has_them(engine)  # from the account's events, as they are published
        # Balances published while the connection was down never come again: a reconnect reads them.
        engine.balances = []
        await engine._on_reconnected()
        await until_the_strategy_has_them(engine)


async def test_a_gateway_takes_over_the_command_stream_an_earlier_version_made(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    # Before strategies had subjects of their own, the stream held `cmd` only and the gateway's
    # consumer read `cmd` only: commands on `cmd.<strategy>` would be stored nowhere.
    names = AccountNames(AccountId("paper", "paper", "default"))
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await js.add_stream(name=names.command_stream, subjects=[names.commands], storage=api.StorageType.FILE)
    await js.add_consumer(
        names.command_stream,
        durable_name="gateway",
        filter_subject=names.commands,
        deliver_subject="an-old-gateways-inbox",
        ack_policy=api.AckPolicy.ALL,
    )
    await nc.close()
    async with (
        serving(make_gateway(nats_server.url, tmp_path / "data")),
        remote(nats_server, owner="alpha") as engine,
    ):
        with anyio.fail_after(10):
            order = await engine.submit_order("BTCUSDT", "buy", Decimal("0.01"))  # on cmd.alpha
            flatten = await engine.command("flatten", {})  # on cmd, as before
    assert order.status is OrderStatus.FILLED
    assert flatten["ok"]
