"""Strategies of one account kept apart by NATS permissions, against a real nats-server.

Each strategy's user has only the permissions docs/deployment-nats.md gives it, as
``autotrader nats-permissions`` prints them: both trade, hear their own fills and replay their own
events. One of them, ``alpha``, then tries from a connection of its own everything another
strategy's subjects or the gateway's trust could give it; ``beta``'s resting order, its
events and its replies stay out of its reach, and the gateway says why it refused what the
server let through.
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import nats
import nats.errors
import pytest
from autotrader_core.account import AccountId
from autotrader_core.enums import OrderStatus
from autotrader_core.errors import RequestTimeout
from autotrader_core.models import Order
from autotrader_nats import AccountGateway, AccountNames, NatsSettings, RemoteEngine, connect_gateway
from autotrader_nats.permissions import variable_name
from autotrader_nats.wire import dumps, loads
from nats.js import api
from nats_gateway_main import make_gateway, serving
from nats_kit import NatsServer, autotrader_command, running
from pydantic import SecretStr

pytestmark = pytest.mark.anyio

NAMES = AccountNames(AccountId("paper", "paper", "default"))
PASSWORD = "pw-7a6b5c4d3e2f"


def _password(user: str) -> str:
    return f"{user}-{PASSWORD}"


def permissions_config() -> str:
    """What ``autotrader nats-permissions --broker paper --environment paper alpha beta`` prints."""
    result = subprocess.run(
        autotrader_command(
            "nats-permissions", "--broker", "paper", "--environment", "paper", "alpha", "beta"
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NatsServer]:
    """A server with a gateway user (everything) and two strategy users, each given its own subjects
    only: the permissions ``autotrader nats-permissions`` prints, used as they are printed."""
    users = [f'  {{ user: gateway, password: "{_password("gateway")}" }}']
    for owner in ("alpha", "beta"):
        users.append(
            f'  {{ user: {owner}, password: "{_password(owner)}", permissions: ${variable_name(owner)} }}'
        )
    config = permissions_config() + "authorization { users = [\n" + "\n".join(users) + "\n] }\n"
    with running(tmp_path, config) as server:
        yield server


def test_the_command_prints_each_strategys_own_subjects_and_no_other() -> None:
    printed = permissions_config()
    alpha, beta = printed.split(f"{variable_name('beta')} = ")  # alpha's block, then beta's
    assert f"{variable_name('alpha')} = " in alpha
    assert '"autotrader.paper.paper.default.cmd.alpha"' in alpha and '"_INBOX.alpha.>"' in alpha
    assert '"autotrader.paper.paper.default.cmd.beta"' in beta and '"_INBOX.beta.>"' in beta
    assert "beta" not in alpha.split(" = ", 1)[1] and "alpha" not in beta
    assert '"autotrader.paper.paper.default.cmd"' not in printed  # the account's subject: granted by hand


def settings_of(server: NatsServer, user: str) -> NatsSettings:
    return NatsSettings(
        servers=[server.url], user=user, password=SecretStr(_password(user)), request_timeout=2
    )


@asynccontextmanager
async def gateway_on(server: NatsServer, folder: Path) -> AsyncIterator[AccountGateway]:
    gateway = make_gateway(server.url, folder / "data", nats_settings=settings_of(server, "gateway"))
    async with serving(gateway):
        yield gateway


def strategy(server: NatsServer, owner: str, **options: Any) -> RemoteEngine:
    return connect_gateway("paper", "paper", owner=owner, nats_settings=settings_of(server, owner), **options)


@dataclass
class Intruder:
    """``alpha``'s own connection: every message it receives and every error the server sends it."""

    nc: Any
    received: list[tuple[str, bytes]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    async def record(self, msg: Any) -> None:
        self.received.append((msg.subject, bytes(msg.data)))

    async def denied(self, what: str) -> None:
        """Wait until the server has told this connection that ``what`` (``publish to "<subject>"``,
        ``subscription to "<subject>"``) was not allowed."""
        with anyio.move_on_after(5):
            while not any(f"permissions violation for {what}".lower() in e.lower() for e in self.errors):
                await anyio.sleep(0.02)
        assert any(f"permissions violation for {what}".lower() in e.lower() for e in self.errors), self.errors

    async def command(self, subject: str, body: dict[str, Any]) -> dict[str, Any]:
        """Publish a command on ``subject`` and wait for the gateway's reply."""
        inbox = f"{NAMES.inbox_prefix('alpha')}.own.{body['id']}"
        sub = await self.nc.subscribe(inbox, max_msgs=1)
        await self.nc.publish(subject, dumps(body), headers={"Nats-Msg-Id": body["id"], "At-Reply-To": inbox})
        reply = await sub.next_msg(timeout=5)
        return loads(reply.data)


@asynccontextmanager
async def intruder(server: NatsServer) -> AsyncIterator[Intruder]:
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    options = settings_of(server, "alpha").connect_options(role="alpha-intruder")
    nc = await nats.connect(**options, error_cb=on_error, inbox_prefix=NAMES.inbox_prefix("alpha"))
    found = Intruder(nc, errors=errors)
    for subject in (
        f"{NAMES.inbox_prefix('alpha')}.>",
        NAMES.quotes,
        NAMES.market_data("*"),
        NAMES.account_events,
    ):
        await nc.subscribe(subject, cb=found.record)  # all it may read
    try:
        yield found
    finally:
        await nc.close()


async def filled(engine: RemoteEngine, quantity: Decimal) -> Order:
    with anyio.fail_after(10):
        order = await engine.submit_order("BTCUSDT", "buy", quantity)
        while (
            order.client_order_id not in engine.orders
            or engine.context.position("BTCUSDT").quantity < quantity
        ):
            await anyio.sleep(0.02)  # its fill event came
    assert order.status is OrderStatus.FILLED
    return order


async def resting(engine: RemoteEngine) -> Order:
    with anyio.fail_after(10):
        return await engine.submit_order(
            "BTCUSDT", "buy", Decimal("0.01"), order_type="limit", limit_price=Decimal("1000")
        )


async def test_strategies_with_only_their_own_permissions_trade_hear_their_fills_and_replay_them(
    server: NatsServer, tmp_path: Path
) -> None:
    async with gateway_on(server, tmp_path):
        async with strategy(server, "alpha") as alpha, strategy(server, "beta") as beta:
            mine = await filled(alpha, Decimal("0.01"))
            theirs = await filled(beta, Decimal("0.02"))
            assert set(alpha.orders) == {mine.client_order_id}
            assert set(beta.orders) == {theirs.client_order_id}
            assert alpha.balances  # the account's balances reach a strategy without the stream's consumers
        # A restarted alpha replays its own events from the start of the stream, and only those.
        async with strategy(server, "alpha", replay_from=1) as again:
            with anyio.fail_after(10):
                while mine.client_order_id not in again.orders:
                    await anyio.sleep(0.02)
            assert again.orders[mine.client_order_id].status is OrderStatus.FILLED
            assert theirs.client_order_id not in again.orders


async def test_a_strategy_cannot_act_for_another_or_for_the_account(
    server: NatsServer, tmp_path: Path
) -> None:
    async with (
        gateway_on(server, tmp_path) as gateway,
        strategy(server, "beta", cancel_on_disconnect=True) as beta,
        intruder(server) as alpha,
    ):
        target = (await resting(beta)).client_order_id
        cancel = {"kind": "cancel", "args": {"client_order_id": target}}

        # Another strategy's subject, and the account's: the server does not let them through.
        await alpha.nc.publish(NAMES.commands_of("beta"), dumps({"id": "x1", "owner": "beta", **cancel}))
        await alpha.denied(f'publish to "{NAMES.commands_of("beta")}"')
        await alpha.nc.publish(NAMES.commands, dumps({"id": "x2", "owner": "beta", **cancel}))
        await alpha.denied(f'publish to "{NAMES.commands}"')

        # Its own subject: the gateway takes the owner from the subject, whatever the body says.
        as_beta = await alpha.command(NAMES.commands_of("alpha"), {"id": "x3", "owner": "beta", **cancel})
        assert not as_beta["ok"]
        assert as_beta["error"]["type"] == "InvalidOrder"
        assert "acts for strategy 'alpha' only" in as_beta["error"]["message"]
        any_owner = {"kind": "cancel", "args": {"client_order_id": target, "any_owner": True}}
        granted = await alpha.command(NAMES.commands_of("alpha"), {"id": "x4", "owner": "alpha", **any_owner})
        assert "account's subject" in granted["error"]["message"]
        mine = await alpha.command(NAMES.commands_of("alpha"), {"id": "x5", "owner": "alpha", **cancel})
        assert "belongs to strategy 'beta'" in mine["error"]["message"]
        for kind in ("flatten", "resume"):
            wide = await alpha.command(
                NAMES.commands_of("alpha"), {"id": f"x-{kind}", "owner": "alpha", "kind": kind, "args": {}}
            )
            assert f"a {kind} of the account" in wide["error"]["message"]

        # A heartbeat saying "beta is leaving" (beta asked for cancel-on-disconnect).
        await alpha.nc.publish(
            NAMES.heartbeats("beta"), dumps({"owner": "beta", "timeout": 1, "leaving": True})
        )
        await alpha.denied(f'publish to "{NAMES.heartbeats("beta")}"')
        await alpha.nc.publish(
            NAMES.heartbeats("alpha"), dumps({"owner": "beta", "timeout": 1, "leaving": True})
        )
        await alpha.nc.flush()

        # A remote strategy asking for more than its own orders goes to the account's subject:
        # not granted, so the gateway never sees it and the outcome is a timeout, never a cancel.
        async with strategy(server, "alpha") as engine:
            with pytest.raises(RequestTimeout):
                await engine.command("cancel", {"client_order_id": target, "any_owner": True})

        await anyio.sleep(0.5)
        order = gateway.control.order(target)
        assert order is not None and order.status is OrderStatus.ACCEPTED
        with anyio.fail_after(5):  # beta itself still can
            await beta.cancel_order(target)


async def test_a_strategy_cannot_read_another_strategys_orders_events_or_replies(
    server: NatsServer, tmp_path: Path
) -> None:
    async with gateway_on(server, tmp_path), intruder(server) as alpha:
        js = alpha.nc.jetstream(timeout=1)
        # Subscribing to beta's events or inbox is refused by the server.
        await alpha.nc.subscribe(NAMES.order_events("beta"), cb=alpha.record)
        await alpha.denied(f'subscription to "{NAMES.order_events("beta")}"')
        await alpha.nc.subscribe(f"{NAMES.inbox_prefix('beta')}.>", cb=alpha.record)
        await alpha.denied(f'subscription to "{NAMES.inbox_prefix("beta")}.>"')
        # So is a consumer of them: by any name, by beta's own, or unnamed (the filter in the body).
        for config in (
            api.ConsumerConfig(name="spy", filter_subject=NAMES.order_events("beta")),
            api.ConsumerConfig(name=NAMES.event_consumer("beta"), filter_subject=NAMES.order_events("beta")),
            api.ConsumerConfig(name=NAMES.event_consumer("alpha"), filter_subject=NAMES.order_events("beta")),
            api.ConsumerConfig(filter_subject=NAMES.order_events("beta")),
        ):
            with pytest.raises(nats.errors.TimeoutError):  # a denied request has no answer
                await js.add_consumer(NAMES.event_stream, config)

        async with strategy(server, "beta") as beta:
            theirs = await filled(beta, Decimal("0.01"))
            open_one = await resting(beta)

            # beta's services: refused by the server on beta's subjects, by the gateway on alpha's.
            with pytest.raises(nats.errors.TimeoutError):
                await alpha.nc.request(NAMES.service("snapshot", "beta"), dumps({"owner": "beta"}), timeout=1)
            for owner in ("beta", "*"):
                reply = await alpha.nc.request(
                    NAMES.service("snapshot", "alpha"), dumps({"owner": owner}), timeout=2
                )
                assert loads(reply.data)["error"]["type"] == "InvalidOrder"
            own = loads(
                (await alpha.nc.request(NAMES.service("snapshot", "alpha"), dumps({"owner": "alpha"}))).data
            )
            assert own["orders"] == []
            for cid in (theirs.client_order_id, open_one.client_order_id):
                result = await alpha.nc.request(
                    NAMES.service("result", "alpha"), dumps({"id": cid}), timeout=2
                )
                assert loads(result.data) == {"unknown": True}
            own_result = await beta._nc.request(
                NAMES.service("result", "beta"), dumps({"id": theirs.client_order_id}), timeout=2
            )
            assert loads(own_result.data)["order"]["client_order_id"] == theirs.client_order_id

        await alpha.nc.flush()
        leaked = [subject for subject, data in alpha.received if theirs.client_order_id.encode() in data]
        leaked += [subject for subject, data in alpha.received if open_one.client_order_id.encode() in data]
        assert leaked == []
        assert any(
            subject == NAMES.account_events for subject, _ in alpha.received
        )  # it does hear the account
