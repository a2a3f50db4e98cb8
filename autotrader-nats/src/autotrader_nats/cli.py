"""``autotrader gateway --broker NAME``: serve one account over NATS; ``autotrader nats-permissions``:
what a strategy's NATS user may do (both an ``autotrader.commands`` plugin)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import get_args

import anyio
from autotrader_core.control import AccountId
from autotrader_core.errors import AutotraderError, ConfigurationError
from autotrader_core.gc_tuning import tune_for_serving
from autotrader_core.plugins import PluginManager
from autotrader_core.settings import EngineSettings, validation_summary
from autotrader_core.snapshots import CompactionPolicy
from pydantic import ValidationError

from autotrader_nats.budgets import GatewaySettings
from autotrader_nats.event_loop import (
    EventLoopChoice,
    EventLoopName,
    anyio_backend_options,
    resolve_event_loop,
)
from autotrader_nats.gateway import AccountGateway
from autotrader_nats.permissions import server_config
from autotrader_nats.settings import NatsSettings
from autotrader_nats.wire import AccountNames

__all__ = ["add_commands"]


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``gateway`` and ``nats-permissions`` to the ``autotrader`` command line."""
    permissions = subparsers.add_parser(
        "nats-permissions",
        help="print the NATS permissions of strategy users (nats-server configuration)",
        description="Print, for each strategy, the permissions that keep its NATS user to its own "
        "subjects on one account, as nats-server configuration variables.",
    )
    permissions.add_argument("strategies", nargs="+", metavar="STRATEGY", help="strategy names (owners)")
    permissions.add_argument("--broker", required=True, help="adapter name, as the gateway's --broker")
    permissions.add_argument(
        "--environment",
        required=True,
        help="the account's environment (live, testnet, paper …), as the gateway prints it when ready: "
        "autotrader.<broker>.<environment>.<account>",
    )
    permissions.add_argument("--account", default="default", help="account label, as the gateway's --account")
    permissions.set_defaults(func=_cmd_permissions)

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
    parser.add_argument(
        "--web",
        action="store_true",
        help="serve the operator page for the whole account (needs autotrader-nats[web])",
    )
    parser.add_argument("--web-host", help="page interface (default: AUTOTRADER_WEB_HOST or 127.0.0.1)")
    parser.add_argument("--web-port", type=int, help="page port (default: AUTOTRADER_WEB_PORT or 8765)")
    parser.add_argument(
        "--loop",
        choices=get_args(EventLoopChoice),
        help="event loop (default: AUTOTRADER_GATEWAY_EVENT_LOOP or auto: uvloop when installed, "
        "pip install 'autotrader-nats[uvloop]')",
    )
    parser.set_defaults(func=_cmd_gateway)


def _cmd_permissions(args: argparse.Namespace) -> int:
    names = AccountNames(AccountId(args.broker, args.environment, args.account))
    print(server_config(names, list(args.strategies)), end="")
    return 0


def _cmd_gateway(args: argparse.Namespace) -> int:
    if args.web:
        try:  # autotrader-web is optional: imported only when the page is asked for
            import autotrader_nats.web  # noqa: F401
        except ImportError as exc:
            print(
                f"autotrader gateway --web needs autotrader-web ({exc}): pip install 'autotrader-nats[web]'",
                file=sys.stderr,
            )
            return 2
    gateway_settings = GatewaySettings()
    try:
        loop = resolve_event_loop(args.loop or gateway_settings.event_loop)
    except ConfigurationError as exc:
        print(f"autotrader gateway: {exc}", file=sys.stderr)
        return 2
    try:
        nats_settings = NatsSettings() if not args.servers else NatsSettings(servers=args.servers.split(","))
    except ValidationError as exc:  # from the environment or .env: which setting, not a traceback
        raise ConfigurationError(
            f"invalid NATS settings (AUTOTRADER_NATS_*): {validation_summary(exc)}"
        ) from None
    try:
        return anyio.run(
            _gateway, args, gateway_settings, nats_settings, loop, backend_options=anyio_backend_options(loop)
        )
    except BaseExceptionGroup as group:
        # The gateway runs in a task group: a refusal it raises (another gateway holds the
        # account, NATS refused the credentials) comes wrapped; the CLI prints it in one line.
        raise _the_one_error(group) from None


def _the_one_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The group's :class:`AutotraderError` when it is all the group holds, else the group."""
    errors, others = group.split(AutotraderError)
    if errors is None or others is not None:
        return group
    found: BaseException = errors
    while isinstance(found, BaseExceptionGroup):
        found = found.exceptions[0]
    return found


async def _gateway(
    args: argparse.Namespace,
    gateway_settings: GatewaySettings,
    nats_settings: NatsSettings,
    loop: EventLoopName,
) -> int:
    manager = PluginManager().load_entry_points()
    adapter = manager.create_adapter(args.broker)
    settings = EngineSettings() if args.data_dir is None else EngineSettings(data_dir=args.data_dir)
    compaction = CompactionPolicy(max_records=args.compact_after) if args.compact_after > 0 else None
    gateway = AccountGateway(
        adapter,
        nats_settings=nats_settings,
        settings=settings,
        account=args.account,
        plugins=manager,
        compaction=compaction,
        budgets=gateway_settings.budgets,
    )

    def ready() -> None:
        tune_for_serving()  # this process serves the gateway alone (see autotrader_core.gc_tuning)
        print(f"gateway {gateway.account} ready on {gateway.names.prefix} (event loop: {loop})", flush=True)

    stopped = anyio.Event()
    async with anyio.create_task_group() as tg:

        async def stop_on_signals() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for signum in signals:
                    print(f"signal {signum}: stopping (open orders stay at the broker)", file=sys.stderr)
                    await gateway.stop()
                    stopped.set()
                    return

        tg.start_soon(stop_on_signals)
        if args.web:
            from autotrader_nats.web import serve_gateway, web_settings

            page = web_settings(args.web_host, args.web_port)
            await serve_gateway(gateway, page, ready=ready, stopped=stopped)
        else:
            await gateway.run(ready=ready)
        tg.cancel_scope.cancel()
    return 0
