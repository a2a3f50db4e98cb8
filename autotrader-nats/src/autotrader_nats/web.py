"""The operator page on a gateway: one page for every strategy of the account.

``autotrader gateway --broker NAME --web`` serves autotrader-web's page and API on the
gateway's engine (:func:`serve_gateway`): every order of every remote strategy, with the
strategy that owns it; cancel, flatten and settle act on the account's one engine. Halt,
reducing-only, resume and kill go through the gateway's trading-state path
(:class:`GatewayTradingState`): the state is applied here and written to the KV bucket
that every process of the account watches, so a halt from the page reaches them all.

This module imports autotrader-web, which this package does not depend on: it is
imported only for ``--web`` (``pip install 'autotrader-nats[web]'``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

import anyio
from autotrader_core.errors import AutotraderError, TransientError
from autotrader_core.kill_switch import KillReport
from autotrader_web.cli import session_tokens
from autotrader_web.server import ControlPlane
from autotrader_web.settings import WebSettings

from autotrader_nats.gateway import AccountGateway

__all__ = ["GatewayTradingState", "gateway_page", "serve_gateway", "web_settings"]


class GatewayTradingState:
    """Halt, reducing-only, resume and kill for the whole account a gateway serves.

    Implements :class:`autotrader_web.seam.TradingStateActions`: each action goes through
    :meth:`AccountGateway.set_trading_state` (or :meth:`AccountGateway.kill`), which applies
    it to the gateway's engine (audited with the actor) and records it in the state bucket.
    """

    def __init__(self, gateway: AccountGateway) -> None:
        self._gateway = gateway

    async def halt(self, *, actor: str, reason: str = "") -> None:
        """Halt the account: every strategy's next order is refused."""
        await self._set("halted", actor, reason)

    async def reducing_only(self, *, actor: str, reason: str = "") -> None:
        """Accept only orders that shrink a position, from every strategy."""
        await self._set("reducing", actor, reason)

    async def resume(self, *, actor: str) -> None:
        """Set the account back to active (refused with ``InvalidOrder`` once the kill switch ran)."""
        await self._set("active", actor, "")

    async def _set(self, state: str, actor: str, reason: str) -> None:
        try:
            await self._gateway.set_trading_state(state, actor=actor, reason=reason)
        except AutotraderError:
            raise
        except Exception as exc:  # NATS unreachable: the gateway's engine has it, the bucket not
            raise TransientError(
                f"trading state {state!r} applied on the gateway's engine, but the state bucket was not "
                f"updated ({type(exc).__name__}); other processes of the account may not see it"
            ) from exc

    async def kill(self, *, actor: str, reason: str = "operator") -> KillReport:
        """Engage the account's kill switch and record it in the state bucket."""
        return await self._gateway.kill(actor=actor, reason=reason)


def gateway_page(gateway: AccountGateway, settings: WebSettings | None = None) -> ControlPlane:
    """The control plane for ``gateway``'s account (serve it with :meth:`ControlPlane.serve`)."""
    return ControlPlane(
        gateway.control,
        settings,
        plugins=gateway.plugins,
        actions=GatewayTradingState(gateway),
        owners=gateway.owner_of,
    )


async def serve_gateway(
    gateway: AccountGateway,
    settings: WebSettings | None = None,
    *,
    ready: Callable[[], None] | None = None,
    out: TextIO = sys.stdout,
    stopped: anyio.Event | None = None,
) -> None:
    """Run ``gateway`` with its operator page until the gateway stops.

    A kill switch stops the gateway (from the page or from the state bucket alike); with
    ``stopped`` the page then stays up, showing the halted account and the kill report,
    until ``stopped`` is set (the command line sets it on Ctrl-C or SIGTERM).

    Without configured tokens a control token named ``operator`` is made up and printed
    (see :func:`autotrader_web.cli.session_tokens`).
    """
    settings, token_hint = session_tokens(settings if settings is not None else WebSettings())
    plane = gateway_page(gateway, settings)
    async with anyio.create_task_group() as tg:
        url = await tg.start(plane.serve)
        print(f"operator page for {gateway.account}: {url}", file=out)
        print(token_hint, file=out, flush=True)
        try:
            await gateway.run(ready=ready)
            if stopped is not None and gateway.control.kill_report is not None:
                print("kill switch engaged: the gateway stopped; the page stays up until Ctrl-C", file=out)
                await stopped.wait()
        finally:
            plane.stop()


def web_settings(host: str | None = None, port: int | None = None) -> WebSettings:
    """``WebSettings()`` from the environment, with the command line's host and port when given."""
    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    return WebSettings(**overrides)  # type: ignore[arg-type]
