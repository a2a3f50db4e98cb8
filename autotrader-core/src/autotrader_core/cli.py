"""The ``autotrader`` command line.

* ``autotrader plugins`` — adapters found, versions, capabilities, load errors
  (exit status 1 when a plugin failed to load);
* ``autotrader paper`` (alias ``demo``) — a paper session with the sample strategy,
  showing live orders, fills, positions and PnL, ending with a summary;
* ``autotrader sessions`` — the running sessions ``kill`` can reach (pid, start, broker);
* ``autotrader kill`` — engage the kill switch of every running session (``--pid N``: only
  that one; or, with ``--broker``, cancel every open order at that broker directly);
* ``autotrader unknown`` / ``autotrader settle`` — orders of unknown outcome in a stopped
  engine's journal, and an operator's audited decision about one (:mod:`.unknown_cli`).

Installed packages add their own subcommands (``quotes``, ``gateway``, ``web``, ...) through
the entry-point group ``autotrader.commands``: each entry point names a callable that takes
the subparsers object and adds its parsers, each with ``set_defaults(func=...)`` where
``func(args) -> int`` runs the command::

    [project.entry-points."autotrader.commands"]
    web = "autotrader_web.cli:add_commands"

A command plugin that fails to load is reported on stderr; the core's commands still work.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from decimal import Decimal
from functools import partial
from importlib.metadata import entry_points
from typing import Protocol, TextIO

import anyio
from pydantic import ValidationError

from autotrader_core.engine import ExecutionEngine
from autotrader_core.errors import AutotraderError, ConfigurationError
from autotrader_core.kill_switch import KillReport, kill_on_signals
from autotrader_core.logs import configure_logging
from autotrader_core.models import utc_now
from autotrader_core.plugins import PluginManager
from autotrader_core.risk import RiskChecks, RiskLimits
from autotrader_core.samples import MeanReversionDemo
from autotrader_core.sessions import running_sessions, signal_session, signal_sessions
from autotrader_core.settings import EngineSettings, validation_summary
from autotrader_core.unknown_cli import add_commands as add_unknown_commands

__all__ = ["COMMAND_GROUP", "CommandProvider", "main"]

COMMAND_GROUP = "autotrader.commands"
"""Entry-point group of packages that add ``autotrader`` subcommands."""


class CommandProvider(Protocol):
    """What an ``autotrader.commands`` entry point names: adds parsers to ``subparsers``."""

    def __call__(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser], /) -> None: ...


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``autotrader`` command; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    json_logs = bool(getattr(args, "log_json", False))
    if args.verbose:
        level = logging.DEBUG
    elif json_logs:
        level = logging.INFO  # the order-event audit trail is logged at INFO
    else:
        level = logging.WARNING
    configure_logging(json_output=json_logs, level=level)
    try:
        return int(args.func(args))
    except AutotraderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autotrader", description=__doc__.splitlines()[0] if __doc__ else ""
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    plugins = sub.add_parser("plugins", help="list installed adapters and plugin load errors")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    plugins.set_defaults(func=_cmd_plugins)

    for name in ("paper", "demo"):
        paper = sub.add_parser(name, help="run a paper-trading session with the sample strategy")
        paper.add_argument(
            "--seconds",
            type=_seconds_between(0.0, _MAX_SESSION, low_open=True),
            default=15.0,
            help=f"session length, more than 0 and at most {_MAX_SESSION:g} (default 15)",
        )
        paper.add_argument("--symbol", default="BTCUSDT", help="a paper instrument (default BTCUSDT)")
        paper.add_argument("--seed", type=int, default=7, help="price path seed (same seed, same run)")
        paper.add_argument(
            "--interval",
            type=_seconds_between(_MIN_INTERVAL, _MAX_INTERVAL),
            default=0.1,
            help=f"decision interval in seconds, {_MIN_INTERVAL:g} to {_MAX_INTERVAL:g} (default 0.1)",
        )
        paper.add_argument(
            "--log-json", action="store_true", help="log every order event as a JSON line on stderr"
        )
        paper.set_defaults(func=_cmd_paper)

    sessions = sub.add_parser("sessions", help="list the running sessions `autotrader kill` can reach")
    sessions.set_defaults(func=_cmd_sessions)

    kill = sub.add_parser("kill", help="engage the kill switch")
    target = kill.add_mutually_exclusive_group()
    target.add_argument("--pid", type=int, help="only this session (see `autotrader sessions`)")
    target.add_argument(
        "--broker", help="cancel every open order at this broker directly (settings from env)"
    )
    kill.set_defaults(func=_cmd_kill)
    add_unknown_commands(sub)  # `unknown` and `settle`: orders of unknown outcome, stopped engine
    _add_plugin_commands(sub)
    return parser


_MAX_SESSION = 86_400.0
"""Longest ``paper --seconds``: a day (a longer paper run is a typo, not a plan)."""
_MIN_INTERVAL, _MAX_INTERVAL = 0.01, 60.0
"""Bounds of ``paper --interval``: 0 would spin the event loop, over a minute is not a demo."""


def _seconds_between(low: float, high: float, *, low_open: bool = False) -> Callable[[str], float]:
    """An argparse ``type``: a finite number of seconds in range, else a message saying what is valid."""
    valid = f"more than {low:g}" if low_open else f"at least {low:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value > high or value < low or (low_open and value == low):
            raise argparse.ArgumentTypeError(
                f"{text!r} is not valid: give seconds, {valid} and at most {high:g}"
            )
        return value

    return parse


def _add_plugin_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Let installed packages add subcommands (entry-point group ``autotrader.commands``)."""
    for ep in entry_points(group=COMMAND_GROUP):
        try:
            provider: CommandProvider = ep.load()
            provider(sub)
        except Exception as exc:  # a broken plugin must not take the core's commands down
            print(
                f"failed to load autotrader command plugin {ep.name} ({ep.value}): {exc!r}", file=sys.stderr
            )


# -- plugins ---------------------------------------------------------------------------
def _cmd_plugins(args: argparse.Namespace) -> int:
    manager = PluginManager().load_entry_points()
    adapters = manager.adapters()
    if args.json:
        payload = {
            "adapters": [
                {
                    "name": info.name,
                    "version": info.version,
                    "description": info.description,
                    "features": sorted(f.value for f in info.capabilities.features),
                    "asset_classes": sorted(a.value for a in info.capabilities.asset_classes),
                    "test_environments": list(info.capabilities.test_environments),
                }
                for info in adapters.values()
            ],
            "load_errors": [
                {"group": e.group, "name": e.name, "value": e.value, "error": e.error}
                for e in manager.load_errors
            ],
            "commands": _command_plugins(),
        }
        print(json.dumps(payload, indent=2))
        return 1 if manager.load_errors else 0
    if not adapters and manager.load_errors:
        print(f"no adapter loaded: {len(manager.load_errors)} plugin(s) failed to load (errors on stderr)")
    elif not adapters:
        print(
            "no adapters installed (from a clone of autotrader: pip install -e ./autotrader-paper; "
            "see the README's Install section)"
        )
    for info in adapters.values():
        caps = info.capabilities
        print(f"{info.name} {info.version}  {info.description}")
        print(f"    {caps.summary()}")
        print(f"    asset classes: {', '.join(sorted(a.value for a in caps.asset_classes))}")
        if caps.test_environments:
            print(f"    test environments: {', '.join(caps.test_environments)}")
        for note in caps.notes:
            print(f"    note: {note}")
    for command in _command_plugins():
        print(f"command: autotrader {command['name']}  ({command['distribution']} {command['version']})")
    for error in manager.load_errors:
        print(f"failed to load {error.name} ({error.value}): {error.error}", file=sys.stderr)
    return 1 if manager.load_errors else 0  # a broken install must fail a script or CI step


def _command_plugins() -> list[dict[str, str]]:
    """Subcommands installed packages add (entry-point group ``autotrader.commands``)."""
    found = []
    for ep in entry_points(group=COMMAND_GROUP):
        dist = ep.dist
        found.append(
            {
                "name": ep.name,
                "distribution": dist.name if dist is not None else "?",
                "version": dist.version if dist is not None else "?",
            }
        )
    return found


# -- paper -------------------------------------------------------------------------------
def _cmd_paper(args: argparse.Namespace) -> int:
    return anyio.run(_paper_session, args)


async def _paper_session(args: argparse.Namespace) -> int:
    manager = PluginManager().load_entry_points()
    info = manager.adapter_info("paper")
    try:
        settings = info.settings_cls(seed=args.seed)  # type: ignore[call-arg]
        engine_settings = EngineSettings(decision_interval=args.interval, order_timeout=5.0)
    except ValidationError as exc:  # from the environment or .env: say which setting, not a traceback
        raise ConfigurationError(f"invalid settings: {validation_summary(exc)}") from None
    # Refuse a symbol the paper broker does not trade before anything starts (it would quote None for ever).
    symbols = [str(getattr(i, "symbol", i)) for i in getattr(settings, "instruments", [])]
    if symbols and args.symbol not in symbols:
        raise ConfigurationError(
            f"the paper broker has no instrument {args.symbol!r}; valid symbols: {', '.join(symbols)}"
        )
    adapter = info.factory(settings)
    strategy = MeanReversionDemo(args.symbol)
    engine = ExecutionEngine(
        adapter,
        strategy=strategy,
        plugins=manager,
        settings=engine_settings,
        risk=RiskChecks(RiskLimits(max_open_orders=20, max_position=Decimal("1"))),
    )
    display = _StatusDisplay(sys.stdout, args.symbol)
    started = time.monotonic()
    async with engine, anyio.create_task_group() as tg:
        # Ctrl-C, SIGTERM and `autotrader kill` (which finds the session in data_dir) engage the kill switch.
        tg.start_soon(partial(kill_on_signals, engine.kill_switch, data_dir=engine.settings.data_dir))
        with anyio.move_on_after(args.seconds):
            while engine.running:
                await _cancel_stale_orders(engine)
                display.show(engine, time.monotonic() - started)
                await anyio.sleep(0.5)
        tg.cancel_scope.cancel()
    display.summary(engine, strategy, engine.kill_switch.report, time.monotonic() - started)
    if engine.journal_failure is not None:  # trading was halted: a script or CI step must see it
        print(f"error: the journal failed, trading was halted: {engine.journal_failure}", file=sys.stderr)
        return 1
    return 0


async def _cancel_stale_orders(engine: ExecutionEngine, max_age: float = 3.0) -> None:
    cutoff = utc_now() - timedelta(seconds=max_age)
    for order in engine.oms.open_orders():
        if order.created_at < cutoff and order.status.value in ("accepted", "partially_filled"):
            try:
                await engine.cancel_order(order)
            except AutotraderError as exc:
                logging.getLogger(__name__).warning("cancel failed: %s", exc)


class _StatusDisplay:
    """Live status: redraws in place on a terminal, prints a line a second otherwise."""

    def __init__(self, out: TextIO, symbol: str) -> None:
        self.out = out
        self.symbol = symbol
        self.tty = out.isatty()
        self._last_line = 0.0

    def show(self, engine: ExecutionEngine, elapsed: float) -> None:
        status = engine.status()
        position = engine.oms.position(self.symbol)
        price = engine.adapter.last_price(self.symbol)
        line = (
            f"[{elapsed:5.1f}s] {self.symbol} {price}  orders {status.orders_total} "
            f"(open {status.open_orders}, filled {status.orders_filled})  fills {status.fills_total}  "
            f"position {position.quantity}  realized PnL {position.realized_pnl:.4f}"
        )
        if not self.tty:
            if elapsed - self._last_line >= 1.0:
                self._last_line = elapsed
                print(line, file=self.out, flush=True)
            return
        lines = [line, ""]
        recent = engine.oms.completed_orders()[-5:]
        for order in engine.oms.open_orders()[-5:] + recent:
            price_text = order.limit_price if order.limit_price is not None else "MKT"
            lines.append(
                f"  {order.client_order_id}  {order.side.value:<4} {order.quantity} @ {price_text}  "
                f"{order.status.value:<16} filled {order.filled_quantity}"
            )
        self.out.write("\x1b[H\x1b[J" + "\n".join(lines) + "\n")
        self.out.flush()

    def summary(
        self, engine: ExecutionEngine, strategy: MeanReversionDemo, kill: KillReport | None, elapsed: float
    ) -> None:
        status = engine.status()
        position = engine.oms.position(self.symbol)
        print("", file=self.out)
        print(f"paper session summary ({elapsed:.1f}s, strategy {strategy.name})", file=self.out)
        print(
            f"  orders        {status.orders_total} (filled {status.orders_filled}, "
            f"rejected {status.orders_rejected}, open {status.open_orders})",
            file=self.out,
        )
        print(f"  fills         {status.fills_total}  fill rate {status.fill_rate:.0%}", file=self.out)
        latency = status.average_fill_latency
        print(
            f"  fill latency  {'-' if latency is None else f'{latency * 1000:.1f} ms'} average", file=self.out
        )
        print(f"  notional      {status.filled_notional:.2f}  fees {status.commission:.6f}", file=self.out)
        print(
            f"  position      {position.quantity} {self.symbol} @ {position.average_price:.2f}", file=self.out
        )
        print(f"  realized PnL  {position.realized_pnl:.6f} (net of fees)", file=self.out)
        if kill is not None:
            print(
                f"  kill switch   {kill.reason}: canceled {kill.canceled}, "
                f"flatten orders {len(kill.flatten_orders)}, {kill.elapsed * 1000:.0f} ms",
                file=self.out,
            )
        self.out.flush()


# -- sessions ----------------------------------------------------------------------------
def _cmd_sessions(args: argparse.Namespace) -> int:
    data_dir = EngineSettings().data_dir
    found = running_sessions(data_dir)
    if not found:
        print(f"no running autotrader session registered in {data_dir}")
        return 0
    rows = [("PID", "STARTED (UTC)", "BROKER", "COMMAND")] + [
        (str(s.pid), s.started_at or "?", s.broker or "?", s.command or "?") for s in found
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3]
        )
    return 0


# -- kill --------------------------------------------------------------------------------
def _cmd_kill(args: argparse.Namespace) -> int:
    if args.broker:
        return anyio.run(_cancel_all_at_broker, args.broker)
    data_dir = EngineSettings().data_dir
    if args.pid is not None:
        session = signal_session(data_dir, args.pid)
        if session is None:
            running = ", ".join(str(s.pid) for s in running_sessions(data_dir)) or "none"
            print(
                f"pid {args.pid} is not a running autotrader session registered in {data_dir} "
                f"(running: {running}); nothing was signalled",
                file=sys.stderr,
            )
            return 1
        print(f"kill switch requested for session pid {session.pid}")
        return 0
    signalled = signal_sessions(data_dir)
    if not signalled:
        print(
            f"no running autotrader session registered in {data_dir} "
            "(use --broker NAME to cancel at a broker directly)"
        )
        return 1
    for session in signalled:
        print(f"kill switch requested for session pid {session.pid}")
    return 0


async def _cancel_all_at_broker(broker: str) -> int:
    manager = PluginManager().load_entry_points()
    adapter = manager.create_adapter(broker)
    await adapter.connect()
    failures = 0
    try:
        from autotrader_core.models import Order

        for report in await adapter.get_open_orders():
            order = Order(
                client_order_id=report.client_order_id or "",
                symbol=report.symbol,
                side=report.side,
                order_type=report.order_type,
                quantity=report.quantity,
                broker_order_id=report.broker_order_id,
            )
            try:
                await adapter.cancel_order(order)
                print(f"canceled {report.symbol} {report.client_order_id or report.broker_order_id}")
            except AutotraderError as exc:
                failures += 1
                print(f"failed to cancel {report.broker_order_id}: {exc}", file=sys.stderr)
    finally:
        await adapter.disconnect()
    return 1 if failures else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
