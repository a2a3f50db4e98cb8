"""Ctrl-C on a strategy script connected through the gateway: it stops itself, never the account."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import anyio
import nats
import pytest
from autotrader_core.enums import OrderStatus
from autotrader_core.settings import EngineSettings
from autotrader_nats import NatsSettings, connect_gateway
from autotrader_nats.wire import loads
from nats.js.errors import KeyNotFoundError
from nats_gateway_main import make_gateway
from nats_kit import HERE, NatsServer

pytestmark = pytest.mark.anyio


async def test_ctrl_c_cancels_only_this_strategys_orders_and_the_account_trades_on(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    gateway = make_gateway(nats_server.url, tmp_path / "data")
    proc: subprocess.Popen[str] | None = None
    async with anyio.create_task_group() as tg:
        ready = anyio.Event()
        tg.start_soon(lambda: gateway.run(ready=ready.set))
        with anyio.fail_after(20):
            await ready.wait()
        try:
            async with connect_gateway(
                "paper", "paper", owner="beta", nats_settings=NatsSettings(servers=[nats_server.url])
            ) as beta:
                theirs = await beta.submit_order(
                    "BTCUSDT", "buy", Decimal("0.01"), order_type="limit", limit_price=Decimal("40000")
                )
                script = [sys.executable, str(HERE / "nats_run_strategy_main.py"), nats_server.url, "alpha"]
                proc = await anyio.to_thread.run_sync(
                    lambda: subprocess.Popen(
                        script, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                    )
                )
                assert proc.stdout is not None
                line = await anyio.to_thread.run_sync(proc.stdout.readline)
                assert line.startswith("placed "), line
                mine = line.split()[1]
                at_broker = {r.client_order_id for r in await gateway.engine.adapter.get_open_orders()}
                assert {mine, theirs.client_order_id} <= at_broker
                await anyio.sleep(0.5)  # the script is now waiting in engine.run()

                os.kill(proc.pid, signal.SIGINT)  # Ctrl-C
                rest, err = await anyio.to_thread.run_sync(lambda: proc.communicate(timeout=15))

                assert proc.returncode == 0, err
                assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
                assert "returned" in rest  # run() returned normally; the script went on
                assert f"cancelled 1 open order(s) of this strategy: {mine}" in err, err
                assert "NOT halted" in err
                at_broker = {r.client_order_id for r in await gateway.engine.adapter.get_open_orders()}
                assert mine not in at_broker  # cancelled at the broker
                assert theirs.client_order_id in at_broker  # the other strategy's order untouched
                # The account is not halted and its kill switch was not engaged.
                assert gateway.control.trading_state.value == "active"
                nc = await nats.connect(nats_server.url)
                kv = await nc.jetstream().key_value(gateway.names.state_bucket)
                state = await kv.get("trading_state")
                assert loads(state.value or b"{}")["state"] == "active"
                with pytest.raises(KeyNotFoundError):
                    await kv.get("kill")
                await nc.close()
                # ... and the other strategy keeps trading.
                more = await beta.submit_order("BTCUSDT", "buy", Decimal("0.01"))
                assert more.status is OrderStatus.FILLED
                assert beta.orders[theirs.client_order_id].is_open
        finally:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
            await gateway.stop()


async def test_opting_out_leaves_ctrl_c_to_the_script() -> None:
    before = signal.getsignal(signal.SIGINT)

    async def handler_while_running(engine_settings: EngineSettings) -> object:
        engine = connect_gateway("paper", "paper", settings=engine_settings)  # run() needs no connection
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: engine.run(duration=0.3))
            await anyio.sleep(0.1)
            return signal.getsignal(signal.SIGINT)
        raise AssertionError("unreachable: the block returns")  # for mypy: a task group may swallow

    assert await handler_while_running(EngineSettings()) is not before  # the safe default listens
    assert signal.getsignal(signal.SIGINT) is before  # ... only while run() waits
    assert await handler_while_running(EngineSettings(handle_signals=False)) is before
