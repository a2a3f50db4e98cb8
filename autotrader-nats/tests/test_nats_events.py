"""Events ready together travel in one stream message; the strategy still sees each, in order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import nats
import pytest
from autotrader_core.enums import OrderStatus
from autotrader_core.events import OrderCanceled
from autotrader_core.journal import codec
from autotrader_core.models import Order
from autotrader_core.strategy import Strategy, StrategyContext
from autotrader_nats import AccountGateway, NatsSettings, RemoteEngine, connect_gateway
from autotrader_nats.wire import dumps, event_bodies, join_events, loads
from nats.js.api import AckPolicy
from nats_gateway_main import make_gateway, serving
from nats_kit import NatsServer

pytestmark = pytest.mark.anyio


@pytest.fixture
async def gateway(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[AccountGateway]:
    async with serving(make_gateway(nats_server.url, tmp_path / "data")) as gw:
        yield gw


class Updates(Strategy):
    name = "grouped"

    def __init__(self) -> None:
        self.seen: list[tuple[str, OrderStatus]] = []

    async def on_order_update(self, order: Order, ctx: StrategyContext) -> None:
        self.seen.append((order.client_order_id, order.status))


def remote(server: NatsServer, strategy: Strategy) -> RemoteEngine:
    return connect_gateway(
        "paper", "paper", strategy=strategy, nats_settings=NatsSettings(servers=[server.url])
    )


async def test_events_ready_together_share_a_message_and_each_reaches_the_strategy_in_order(
    gateway: AccountGateway, nats_server: NatsServer
) -> None:
    strategy = Updates()
    async with remote(nats_server, strategy) as engine:
        orders: list[Order] = []

        async def submit() -> None:
            orders.append(await engine.submit_order("BTCUSDT", "buy", Decimal("0.01")))

        async with anyio.create_task_group() as tg:  # a burst: events queue up while others publish
            for _ in range(40):
                tg.start_soon(submit)
        with anyio.fail_after(10):
            while len(strategy.seen) < 80:
                await anyio.sleep(0.01)
        # One ack covers the events before it ("all" policy), yet none is left unacknowledged
        # (it would come again after the ack wait).
        nc = await nats.connect(nats_server.url)
        with anyio.fail_after(3):
            while True:
                consumer = await nc.jetstream().consumer_info(gateway.names.event_stream, "strategy-grouped")
                if consumer.num_ack_pending == 0:
                    break
                await anyio.sleep(0.05)
        await nc.close()
        assert consumer.config.ack_policy == AckPolicy.ALL
        assert consumer.num_redelivered == 0
    for order in orders:  # each order's accept, then its fill
        cid = order.client_order_id
        assert [s for c, s in strategy.seen if c == cid] == [OrderStatus.ACCEPTED, OrderStatus.FILLED]
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    subject = gateway.names.order_events("grouped")
    info = await js.stream_info(gateway.names.event_stream, subjects_filter=subject)
    msg = await js.get_last_msg(gateway.names.event_stream, subject)
    await nc.close()
    assert info.state.subjects is not None
    assert info.state.subjects[subject] < 80  # 80 events, fewer stored messages
    bodies = event_bodies(loads(msg.data or b"{}"))
    assert all(b["account"] == "paper/paper/default" for b in bodies)


async def test_one_bad_event_in_a_message_never_costs_the_others(
    gateway: AccountGateway, nats_server: NatsServer
) -> None:
    strategy = Updates()
    async with remote(nats_server, strategy) as engine:
        order = await engine.submit_order(
            "BTCUSDT", "buy", Decimal("0.01"), order_type="limit", limit_price=Decimal("1000")
        )
        with anyio.fail_after(5):
            while not strategy.seen:
                await anyio.sleep(0.01)
        canceled = codec.encode_order(order)
        canceled.update(status="canceled", updated_at="2999-01-01T00:00:00+00:00")
        account = str(gateway.account)
        payloads = [
            dumps({"account": account, "type": "order", "order": {"nonsense": 1}, "event": {}}),
            dumps(
                {
                    "account": account,
                    "type": "order",
                    "order": canceled,
                    "event": codec.encode_event(OrderCanceled(order.client_order_id)),
                }
            ),
        ]
        nc = await nats.connect(nats_server.url)
        await nc.jetstream().publish(
            gateway.names.order_events("grouped"), join_events(gateway.account, payloads)
        )
        await nc.close()
        with anyio.fail_after(5):
            while engine.orders[order.client_order_id].status is not OrderStatus.CANCELED:
                await anyio.sleep(0.01)


async def test_a_slow_reply_is_waited_for_not_asked_for(
    gateway: AccountGateway, nats_server: NatsServer
) -> None:
    # Under load replies take seconds; asking svc.result every second would add load where
    # there is most. Only a reconnect (a reply may be lost) or 5 s of silence makes it ask.
    adapter: Any = gateway.engine.adapter
    submit = adapter.submit_order

    async def slow_submit(order: Order) -> Any:
        await anyio.sleep(2.5)
        return await submit(order)

    adapter.submit_order = slow_submit
    nc = await nats.connect(nats_server.url)
    asked: list[bytes] = []

    async def record(msg: Any) -> None:
        asked.append(msg.data)

    await nc.subscribe(gateway.names.service("result"), cb=record)
    async with connect_gateway(
        "paper", "paper", nats_settings=NatsSettings(servers=[nats_server.url])
    ) as engine:
        order = await engine.submit_order("BTCUSDT", "buy", Decimal("0.01"))
    await nc.close()
    assert order.status is OrderStatus.FILLED
    assert asked == []
