"""Serving the control plane with uvicorn on the engine's own event loop.

The control seam is not thread-safe, so the server is not started on a thread of
its own: :meth:`ControlPlane.serve` is a task in the same anyio task group (and so
the same asyncio loop) as the engine. uvicorn's own signal handling is switched off:
the engine's ``kill_on_signals`` owns SIGINT and SIGTERM.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Generator

import anyio
import uvicorn
from anyio.abc import TaskStatus
from autotrader_core.control import EngineControl
from autotrader_core.plugins import PluginManager
from starlette.applications import Starlette

from autotrader_web.api import create_app
from autotrader_web.hub import LiveHub
from autotrader_web.seam import OrderOwners, TradingStateActions
from autotrader_web.settings import WebSettings

__all__ = ["ControlPlane"]

logger = logging.getLogger(__name__)

_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})

_IDLE_REFRESH_SECONDS = 1.0
"""Without observer hooks (an engine with no plugin manager), the page refreshes this often."""


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers (the engine's kill switch owns the signals)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """Leave SIGINT and SIGTERM to ``kill_on_signals``."""
        yield


class ControlPlane:
    """The web page and API for one engine, served on loopback by default.

    Args:
        control: The engine's control seam (``engine.control``).
        settings: Address, tokens and limits; ``WebSettings()`` (the environment) by default.
        plugins: The engine's plugin manager; the live hub registers there so the page
            updates as fills and order events happen. Without one the page refreshes
            every second.
        actions: Performs halt, reducing-only, resume and kill; ``control`` by default.
            An account gateway passes one that reaches every process of the account.
        owners: Names the strategy owning each order (a gateway serving many strategies).

    .. code-block:: python

        plane = ControlPlane(engine.control, settings, plugins=engine.plugins)
        async with engine, anyio.create_task_group() as tg:
            url = await tg.start(plane.serve)
            ...
            plane.stop()
    """

    def __init__(
        self,
        control: EngineControl,
        settings: WebSettings | None = None,
        *,
        plugins: PluginManager | None = None,
        actions: TradingStateActions | None = None,
        owners: OrderOwners | None = None,
    ) -> None:
        self.settings = settings if settings is not None else WebSettings()
        self.hub = LiveHub()
        """Change notifications and recent alerts (registered on ``plugins``)."""
        self._hooked = plugins is not None
        if plugins is not None:
            plugins.register(self.hub, name=f"autotrader-web-live-{id(self.hub):x}")
        self.app: Starlette = create_app(control, self.settings, hub=self.hub, actions=actions, owners=owners)
        """The ASGI application (usable with any ASGI server or test client)."""
        self._server: _Server | None = None
        self._stopping = False
        self.url: str | None = None
        """``http://host:port/`` once serving."""
        self.stopped = anyio.Event()
        """Set when :meth:`serve` has returned."""

    async def serve(self, *, task_status: TaskStatus[str] = anyio.TASK_STATUS_IGNORED) -> None:
        """Bind, report the URL through ``task_status``, serve until :meth:`stop`."""
        host, port = self.settings.host, self.settings.port
        if host not in _LOOPBACK:
            logger.warning(
                "operator page bound to %s: reachable from that network; put it behind TLS "
                "(a reverse proxy) so bearer tokens never cross a network in clear text",
                host,
            )
        if not self.settings.read_tokens and not self.settings.control_tokens:
            logger.warning(
                "no AUTOTRADER_WEB_READ_TOKENS or AUTOTRADER_WEB_CONTROL_TOKENS configured: "
                "every API request will be refused"
            )
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family)
        sock.setblocking(False)
        bound_port = sock.getsockname()[1]
        shown = f"[{host}]" if family == socket.AF_INET6 else host
        self.url = f"http://{shown}:{bound_port}/"
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=3,
            proxy_headers=False,
        )
        server = self._server = _Server(config)
        try:
            async with anyio.create_task_group() as tg:
                if not self._hooked:
                    tg.start_soon(self._refresh)
                task_status.started(self.url)
                if self._stopping:
                    server.should_exit = True
                await server.serve(sockets=[sock])
                tg.cancel_scope.cancel()
        finally:
            sock.close()
            self.hub.close()
            self.stopped.set()

    def stop(self) -> None:
        """End every live stream and shut the server down (``serve`` returns)."""
        self._stopping = True
        self.hub.close()
        if self._server is not None:
            self._server.should_exit = True

    async def _refresh(self) -> None:
        while True:
            await anyio.sleep(_IDLE_REFRESH_SECONDS)
            self.hub.touch()
