"""``autotrader gateway --broker NAME``: serve one account over NATS (an ``autotrader.commands`` plugin)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import anyio
from autotrader_core.plugins import PluginManager
from autotrader_core.settings import EngineSettings
from autotrader_core.snapshots import CompactionPolicy

from autotrader_nats.budgets import GatewaySettings
from autotrader_nats.gateway import AccountGateway
from autotrader_nats.settings import NatsSettings

__all__ = ["add_commands"]


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``gateway`` to the ``autotrader`` command line."""
    parser = subparsers.add_parser("gateway", help="serve one broker account over NATS JetStream")
    parser.add_argument("--broker", required=True, help="adapter name (autotrader plugins lists them)")
    parser.add_argument("--account", default="default", help="account label (one gateway per account)")
    parser.add_argument("--data-dir", type=Path, help="where the journal and command log live")
    parser.add_argument("--servers", help="comma-separated NATS URLs (default: AUTOTRADER_NATS_SERVERS)")
    parser.add_argument(
        "--compact-after",
        type=int,
        default=CompactionPolicy().max_records,
        metavar="ROWS",
        help="compact the journal once this many rows follow its last snapshot (0: never)",
    )
    parser.set_defaults(func=_cmd_gateway)


def _cmd_gateway(args: argparse.Namespace) -> int:
    return anyio.run(_gateway, args)


async def _gateway(args: argparse.Namespace) -> int:
    manager = PluginManager().load_entry_points()
    adapter = manager.create_adapter(args.broker)
    settings = EngineSettings() if args.data_dir is None else EngineSettings(data_dir=args.data_dir)
    nats_settings = NatsSettings() if not args.servers else NatsSettings(servers=args.servers.split(","))
    compaction = CompactionPolicy(max_records=args.compact_after) if args.compact_after > 0 else None
    gateway = AccountGateway(
        adapter,
        nats_settings=nats_settings,
        settings=settings,
        account=args.account,
        plugins=manager,
        compaction=compaction,
        budgets=GatewaySettings().budgets,
    )

    def ready() -> None:
        print(f"gateway {gateway.account} ready on {gateway.names.prefix}", flush=True)

    async with anyio.create_task_group() as tg:

        async def stop_on_signals() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for signum in signals:
                    print(f"signal {signum}: stopping (open orders stay at the broker)", file=sys.stderr)
                    await gateway.stop()
                    return

        tg.start_soon(stop_on_signals)
        await gateway.run(ready=ready)
        tg.cancel_scope.cancel()
    return 0
