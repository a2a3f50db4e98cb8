"""The operator page on a gateway (``autotrader gateway --web``) against a real nats-server.

One page for every strategy of the account: orders show their owning strategy, and a halt,
resume or kill from the page goes through the gateway's trading-state path, so it lands
in the KV bucket every process watches and a remote strategy's next submit is refused.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import nats
import pytest
from autotrader_core.cli import main
from autotrader_core.control import AccountId
from autotrader_core.enums import OrderStatus
from autotrader_core.errors import RiskRejected
from autotrader_nats import AccountGateway, NatsSettings, RemoteEngine, connect_gateway
from autotrader_nats.web import serve_gateway
from autotrader_nats.wire import AccountNames, loads
from autotrader_web import WebSettings
from nats_gateway_main import make_gateway
from nats_kit import NatsServer
from pydantic import SecretStr

pytestmark = pytest.mark.anyio

CONTROL = "control-token-alice-0123456789"
READ = "read-token-wallboard-0123456789"


@dataclass
class PagedGateway:
    gateway: AccountGateway
    client: httpx.AsyncClient
    url: str
    out: io.StringIO

    async def post(self, path: str, body: dict[str, Any] | None = None, token: str = CONTROL) -> Any:
        return await self.client.post(path, json=body or {}, headers={"Authorization": f"Bearer {token}"})

    async def get(self, path: str, token: str = CONTROL) -> Any:
        response = await self.client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
async def paged(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[PagedGateway]:
    """A gateway serving its page the way ``autotrader gateway --web`` does (real HTTP on loopback)."""
    gateway = make_gateway(nats_server.url, tmp_path / "data")
    settings = WebSettings(
        _env_file=None,  # type: ignore[call-arg]
        host="127.0.0.1",
        port=0,
        control_tokens={"alice": SecretStr(CONTROL)},
        read_tokens={"wallboard": SecretStr(READ)},
        heartbeat_seconds=1.0,
    )
    out = io.StringIO()
    stopped = anyio.Event()  # what Ctrl-C sets in `autotrader gateway --web`
    async with anyio.create_task_group() as tg:
        ready = anyio.Event()
        tg.start_soon(lambda: serve_gateway(gateway, settings, ready=ready.set, out=out, stopped=stopped))
        with anyio.fail_after(20):
            await ready.wait()
            while "operator page" not in out.getvalue():
                await anyio.sleep(0.01)
        url = out.getvalue().split("operator page for paper/paper/default: ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        assert CONTROL not in out.getvalue()  # configured tokens are never printed
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            yield PagedGateway(gateway, client, url, out)
        await gateway.stop()
        stopped.set()


def remote(server: NatsServer, owner: str) -> RemoteEngine:
    return connect_gateway(
        "paper", "paper", owner=owner, nats_settings=NatsSettings(servers=[server.url], request_timeout=5)
    )


async def resting(engine: RemoteEngine, price: str = "60000") -> str:
    order = await engine.submit_order(
        "BTCUSDT", "buy", Decimal("0.01"), order_type="limit", limit_price=Decimal(price)
    )
    assert order.status is OrderStatus.ACCEPTED
    return order.client_order_id


async def test_one_page_shows_every_strategys_orders_with_their_owner(
    paged: PagedGateway, nats_server: NatsServer
) -> None:
    async with remote(nats_server, "alpha") as alpha, remote(nats_server, "beta") as beta:
        a = await resting(alpha)
        b = await resting(beta, "59000")
        orders = (await paged.get("/api/orders", READ))["orders"]
        assert {o["client_order_id"]: o["strategy"] for o in orders} == {a: "alpha", b: "beta"}
        state = await paged.get("/api/state")
        assert {o["client_order_id"]: o["strategy"] for o in state["open_orders"]} == {a: "alpha", b: "beta"}
        assert state["status"]["account_label"] == "paper/paper/default"
        assert (await paged.get(f"/api/orders/{b}"))["strategy"] == "beta"
        # An action on the page acts for the whole account: the operator cancels beta's order.
        response = await paged.post(f"/api/orders/{b}/cancel")
        assert response.status_code == 200, response.text
        with anyio.fail_after(5):
            while beta.context.open_orders():
                await anyio.sleep(0.02)  # beta hears of it through the gateway's events
        assert [o.client_order_id for o in alpha.context.open_orders()] == [a]
        # Cancel all from the page: every strategy's orders, at the broker too.
        c = await resting(beta, "58000")
        response = await paged.post("/api/actions/cancel-all")
        assert response.status_code == 200 and set(response.json()["requested"]) == {a, c}
        with anyio.fail_after(5):
            while alpha.context.open_orders() or beta.context.open_orders():
                await anyio.sleep(0.02)
        assert await paged.gateway.engine.adapter.get_open_orders() == []


async def test_a_halt_from_the_page_reaches_the_bucket_and_every_strategy(
    paged: PagedGateway, nats_server: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    nc = await nats.connect(nats_server.url)
    kv = await nc.jetstream().key_value(paged.gateway.names.state_bucket)
    try:
        async with remote(nats_server, "alpha") as alpha:
            response = await paged.post("/api/actions/halt", {"reason": "maintenance"})
            assert response.status_code == 200, response.text
            assert response.json()["trading_state"] == "halted"
            entry = loads((await kv.get("trading_state")).value or b"{}")
            assert entry == {"state": "halted", "actor": "web:alice", "reason": "maintenance"}
            with pytest.raises(RiskRejected):
                await alpha.submit_order("BTCUSDT", "buy", Decimal("0.01"))

            response = await paged.post("/api/actions/resume")
            assert response.status_code == 200, response.text
            entry = loads((await kv.get("trading_state")).value or b"{}")
            assert entry["state"] == "active" and entry["actor"] == "web:alice"
            order = await alpha.submit_order("BTCUSDT", "buy", Decimal("0.01"))
            assert order.status is OrderStatus.FILLED

            with caplog.at_level(logging.WARNING, logger="autotrader.audit"):
                response = await paged.post("/api/actions/kill", {"reason": "drill"})
                assert response.status_code == 200, response.text
                killed = loads((await kv.get("kill")).value or b"{}")
                assert killed == {"actor": "web:alice", "reason": "drill"}
                await anyio.sleep(0.5)  # the gateway's watcher sees its own key: no second kill
            kills = [r for r in caplog.records if r.name == "autotrader.audit" and r.action == "kill"]  # type: ignore[attr-defined]
            assert len(kills) == 1 and kills[0].actor == "web:alice"  # type: ignore[attr-defined]
            report = paged.gateway.control.kill_report
            assert report is not None and "web:alice" in report.reason
            assert paged.gateway.control.trading_state.value == "halted"
            assert report.flatten_orders  # alpha's position was closed for the account
        # The kill stopped the gateway; the page stays up and shows it until Ctrl-C.
        with anyio.fail_after(5):
            while "page stays up" not in paged.out.getvalue():
                await anyio.sleep(0.02)
        status = await paged.get("/api/status", READ)
        assert status["killed"] is True and status["trading_state"] == "halted"
        refused = await paged.post("/api/actions/resume")
        assert refused.status_code == 409 and "kill switch" in refused.json()["message"]
        assert loads((await kv.get("trading_state")).value or b"{}")["state"] == "active"  # not written
    finally:
        await nc.close()


async def test_a_read_only_token_cannot_halt_the_account(
    paged: PagedGateway, nats_server: NatsServer
) -> None:
    response = await paged.post("/api/actions/halt", {"reason": "x"}, token=READ)
    assert response.status_code == 403 and response.json()["error"] == "forbidden"
    assert paged.gateway.control.trading_state.value == "active"


def test_gateway_web_without_autotrader_web_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "autotrader_web.cli", None)  # as if autotrader-web were not installed
    monkeypatch.delitem(sys.modules, "autotrader_nats.web", raising=False)
    assert main(["gateway", "--broker", "paper", "--web"]) == 2
    err = capsys.readouterr().err
    assert "autotrader-nats[web]" in err and "autotrader-web" in err


def test_the_gateway_command_offers_the_page(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["gateway", "--help"])
    out = capsys.readouterr().out
    assert "--web" in out and "--web-port" in out


async def test_autotrader_gateway_web_serves_the_page_until_sigterm(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    command = [
        str(Path(sys.executable).parent / "autotrader"),
        *("gateway", "--broker", "paper", "--web", "--web-port", "0"),
        *("--servers", nats_server.url, "--data-dir", str(tmp_path / "data")),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOTRADER_WEB_")}
    proc = await anyio.to_thread.run_sync(
        lambda: subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path
        )
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        with anyio.fail_after(30):
            while not any(" ready on " in line for line in lines):
                line = await anyio.to_thread.run_sync(proc.stdout.readline)
                assert line, f"the gateway ended: {lines} {proc.stderr.read() if proc.stderr else ''}"
                lines.append(line)
        url = next(line.split(": ", 1)[1].strip() for line in lines if line.startswith("operator page for "))
        token = next(line.rsplit(": ", 1)[1].strip() for line in lines if "control token" in line)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            status = (await client.get("/api/status", headers=headers)).json()
            assert status["account_label"] == "paper/paper/default" and status["connected"] is True
            halted = await client.post("/api/actions/halt", json={"reason": "cli"}, headers=headers)
            assert halted.status_code == 200 and halted.json()["actor"] == "web:operator"
            assert (await client.get("/api/status")).status_code == 401
        nc = await nats.connect(nats_server.url)
        kv = await nc.jetstream().key_value(AccountNames(AccountId("paper", "paper", "default")).state_bucket)
        assert loads((await kv.get("trading_state")).value or b"{}")["state"] == "halted"
        await nc.close()
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
        await anyio.to_thread.run_sync(lambda: proc.wait(timeout=15))
    assert proc.returncode == 0
