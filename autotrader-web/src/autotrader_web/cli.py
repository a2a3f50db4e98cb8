"""``autotrader web``: the operator page for a paper demo session.

Registered through the core's ``autotrader.commands`` entry-point group::

    autotrader web --paper --seconds 120

runs the paper adapter with the sample strategy (``MeanReversionDemo``) — the same
session as ``autotrader paper`` — and serves the page and the API on
``http://127.0.0.1:8765/`` until the time is up or Ctrl-C engages the kill switch.
An engine of your own gets the page through :class:`~autotrader_web.server.ControlPlane`.
"""

from __future__ import annotations

import argparse
import math
import secrets
import sys
from decimal import Decimal
from typing import Any, TextIO

import anyio
from autotrader_core.engine import ExecutionEngine
from autotrader_core.kill_switch import kill_on_signals
from autotrader_core.plugins import PluginManager
from autotrader_core.risk import RiskChecks, RiskLimits
from autotrader_core.samples import MeanReversionDemo
from autotrader_core.settings import EngineSettings
from pydantic import SecretStr

from autotrader_web.server import ControlPlane
from autotrader_web.settings import WebSettings

__all__ = ["add_commands", "run_paper_session", "session_tokens"]


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``autotrader web`` to the ``autotrader`` command (entry point ``autotrader.commands``)."""
    web = subparsers.add_parser("web", help="serve the operator page and control API (with --paper: a demo)")
    web.add_argument(
        "--paper",
        action="store_true",
        help="run the paper demo session (like `autotrader paper`) with the page",
    )
    web.add_argument(
        "--seconds", type=float, default=0.0, help="session length; 0 (default) runs until Ctrl-C"
    )
    web.add_argument("--symbol", default="BTCUSDT")
    web.add_argument("--seed", type=int, default=7, help="price path seed")
    web.add_argument("--interval", type=float, default=0.2, help="decision interval in seconds")
    web.add_argument("--host", help="interface to bind (default: AUTOTRADER_WEB_HOST or 127.0.0.1)")
    web.add_argument(
        "--port", type=int, help="port (default: AUTOTRADER_WEB_PORT or 8765; 0 picks a free one)"
    )
    web.set_defaults(func=_cmd_web)


def _cmd_web(args: argparse.Namespace) -> int:
    if not args.paper:
        print(
            "autotrader web serves an engine in this process: use --paper for the demo session, or "
            "autotrader_web.ControlPlane in your own program (see the autotrader-web README)",
            file=sys.stderr,
        )
        return 2
    overrides: dict[str, Any] = {}
    if args.host is not None:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    settings = WebSettings(**overrides)
    return anyio.run(
        run_paper_session, settings, args.seconds, args.symbol, args.seed, args.interval, sys.stdout
    )


def session_tokens(settings: WebSettings) -> tuple[WebSettings, str]:
    """The settings to serve with and what to print about signing in.

    Without configured tokens, a control token named ``operator`` is made up for this
    session and the hint shows it (only then: configured tokens are never printed).
    """
    if not settings.read_tokens and not settings.control_tokens:
        made_up = secrets.token_urlsafe(24)
        settings = settings.model_copy(update={"control_tokens": {"operator": SecretStr(made_up)}})
        return settings, f"control token for this session (paste it into the page's sign-in box): {made_up}"
    names = ", ".join(sorted([*settings.control_tokens, *settings.read_tokens]))
    return settings, f"sign in with one of the configured tokens ({names})"


async def run_paper_session(
    settings: WebSettings,
    seconds: float = 0.0,
    symbol: str = "BTCUSDT",
    seed: int = 7,
    interval: float = 0.2,
    out: TextIO = sys.stdout,
) -> int:
    """Run the paper demo with the page served; returns the exit code.

    Without configured tokens, a control token named ``operator`` is made up for this
    session and printed (only then: configured tokens are never printed).
    """
    settings, token_hint = session_tokens(settings)
    manager = PluginManager().load_entry_points()
    info = manager.adapter_info("paper")
    adapter = info.factory(info.settings_cls(seed=seed))  # type: ignore[call-arg]
    engine = ExecutionEngine(
        adapter,
        strategy=MeanReversionDemo(symbol),
        plugins=manager,
        settings=EngineSettings(decision_interval=interval, order_timeout=5.0),
        risk=RiskChecks(RiskLimits(max_open_orders=20, max_position=Decimal("1"))),
    )
    plane = ControlPlane(engine.control, settings, plugins=manager)
    async with engine, anyio.create_task_group() as tg:
        url = await tg.start(plane.serve)
        print(f"operator page: {url}", file=out)
        print(token_hint, file=out)
        print(
            "API: curl -H 'Authorization: Bearer <token>' "
            + f"{url}api/status   (Ctrl-C: kill switch, then exit)",
            file=out,
            flush=True,
        )

        async def on_signal() -> None:
            # Ctrl-C, SIGTERM and `autotrader kill` engage the kill switch, then the session ends.
            await kill_on_signals(engine.kill_switch, data_dir=engine.settings.data_dir)
            plane.stop()

        tg.start_soon(on_signal)
        with anyio.move_on_after(seconds if seconds > 0 else math.inf):
            await plane.stopped.wait()
        plane.stop()
        await plane.stopped.wait()
        tg.cancel_scope.cancel()
    status = engine.status()
    print(
        f"session over: orders {status.orders_total}, fills {status.fills_total}, "
        f"trading state {engine.control.trading_state.value}",
        file=out,
    )
    return 0
