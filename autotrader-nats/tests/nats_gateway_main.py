"""A gateway child process for the fault tests: ``python nats_gateway_main.py NATS_URL DATA_DIR``.

It runs on the event loop ``AUTOTRADER_GATEWAY_EVENT_LOOP`` names, as ``autotrader gateway``
does, and says which in its ``ready`` line.

The paper broker lives inside it (static prices; market orders fill in the reply), the
journal commits every record (``sync=every``), so after a SIGKILL what the journal holds
is what the broker did.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Literal

import anyio
from autotrader_core.adapter import BrokerAdapter
from autotrader_core.resend import ResendGuarantee
from autotrader_core.settings import EngineSettings
from autotrader_core.snapshots import CompactionPolicy
from autotrader_nats import AccountGateway, GatewaySettings, NatsSettings
from autotrader_nats.event_loop import EventLoopName, anyio_backend_options, resolve_event_loop
from autotrader_paper import PaperAdapter, PaperSettings


def make_gateway(
    url: str,
    data_dir: Path,
    broker_port: int | None = None,
    journal_sync: Literal["intent", "every", "off"] = "every",
    nats_settings: NatsSettings | None = None,
) -> AccountGateway:
    """The gateway every fault test runs (``journal_sync``: as the engine's setting; the
    engine's own default, ``"intent"``, for a test of what a production gateway does).

    ``nats_settings``: how to reach the server when it asks for more than its URL (credentials, TLS).

    With ``broker_port``, the paper broker is the crash tests' loopback broker
    (``tests-crash/crashkit``), which lives in the test process and survives the gateway.
    """
    adapter: BrokerAdapter
    if broker_port is not None:
        sys.path.insert(0, str(Path(__file__).parents[2] / "tests-crash"))
        from crashkit.remote import KillPoints, RemotePaperAdapter

        # AT_TEST_WINDOW: the broker's expiry window in seconds (its re-send guarantee), when a
        # test's broker holds requests longer than the crash suite's default window.
        window = os.environ.get("AT_TEST_WINDOW")
        guarantee = (
            None if window is None else ResendGuarantee.expiry(float(window), "crash broker (tests-crash)")
        )
        adapter = RemotePaperAdapter(broker_port, 1, KillPoints(None), guarantee)
        adapter.settings = PaperSettings()  # type: ignore[attr-defined]  # environment "paper", as in process
    else:
        adapter = PaperAdapter(
            PaperSettings(
                quote_source="static",
                tick_interval=0.05,
                initial_balances={"USDT": Decimal(10**9), "BTC": Decimal(1000)},
            )
        )
    return AccountGateway(
        adapter,
        nats_settings=nats_settings or NatsSettings(servers=[url], duplicate_window=2.0),
        settings=EngineSettings(
            data_dir=data_dir, journal_sync=journal_sync, journal_fsync=False, reconcile_interval=0
        ),
        quote_interval=0.1,
        # AT_TEST_COMPACT=1: compact all the time, keeping no finished order (the harshest case).
        compaction=CompactionPolicy(
            max_records=1, max_age=timedelta(0), keep_completed=0, check_interval=0.05
        )
        if os.environ.get("AT_TEST_COMPACT")
        else None,
        budgets=GatewaySettings().budgets,  # AUTOTRADER_GATEWAY_BUDGETS, as `autotrader gateway` reads it
    )


@asynccontextmanager
async def serving(gateway: AccountGateway) -> AsyncIterator[AccountGateway]:
    """Run ``gateway`` in this process until the block ends (for tests in process)."""
    async with anyio.create_task_group() as tg:
        ready = anyio.Event()
        tg.start_soon(lambda: gateway.run(ready=ready.set))
        with anyio.fail_after(20):
            await ready.wait()
        yield gateway
        await gateway.stop()


async def main(loop: EventLoopName) -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stdout)
    gateway = make_gateway(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else None)
    await gateway.run(ready=lambda: print(f"ready (event loop: {loop})", flush=True))


if __name__ == "__main__":
    try:
        loop = resolve_event_loop(GatewaySettings().event_loop)
        anyio.run(main, loop, backend_options=anyio_backend_options(loop))
    except Exception as exc:  # the refusal a second gateway prints is what the test reads
        print(f"error: {type(exc).__name__}: {exc}", flush=True)
        sys.exit(2)
