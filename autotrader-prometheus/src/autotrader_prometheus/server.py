"""The ``/metrics`` HTTP endpoint: prometheus-client's WSGI app served from a daemon thread.

The endpoint runs on its own thread, not on the engine's event loop: a scrape never
competes with order handling, and a stuck event loop can still be scraped (the
``last_status_timestamp_seconds`` gauge then shows it stopped moving).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from socketserver import ThreadingMixIn
from types import TracebackType
from typing import Any, Self
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from autotrader_prometheus.settings import DEFAULT_PORT, PrometheusSettings

__all__ = ["MetricsServer"]

logger = logging.getLogger(__name__)


class _QuietHandler(WSGIRequestHandler):
    """Request handler that does not print one stderr line per scrape."""

    def log_message(self, format: str, *args: Any) -> None:
        return


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    """One thread per scrape so a slow scraper cannot block the next one."""

    daemon_threads = True


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class MetricsServer:
    """Serves ``registry`` in the Prometheus text format on ``http://host:port/metrics``.

    ``start`` binds at once (so a port clash raises there) and serves from a daemon
    thread; ``stop`` closes the socket and joins the thread. Both are idempotent.
    Usable as a context manager.

    Args:
        registry: What to serve.
        host: Interface to bind; loopback by default.
        port: TCP port; ``0`` picks a free one (read it back from :attr:`port`).
        poll_interval: How often the serving thread checks for ``stop`` (seconds).
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        poll_interval: float = 0.05,
    ) -> None:
        self.registry = registry
        self.host = host
        self.requested_port = port
        self.poll_interval = poll_interval
        self._httpd: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, registry: CollectorRegistry, settings: PrometheusSettings) -> MetricsServer:
        """A server bound where ``settings`` say."""
        return cls(registry, host=settings.host, port=settings.port)

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._httpd is not None

    @property
    def port(self) -> int:
        """The bound port (the real one when ``0`` was requested), else the requested one."""
        httpd = self._httpd
        return int(httpd.server_address[1]) if httpd is not None else self.requested_port

    @property
    def url(self) -> str:
        """Full URL of the metrics page."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def start(self) -> None:
        """Bind and start serving (no-op when already running).

        Raises:
            OSError: the address is in use or cannot be bound.
        """
        with self._lock:
            if self._httpd is not None:
                return
            server_class = self._server_class()
            httpd = make_server(
                self.host,
                self.requested_port,
                make_wsgi_app(self.registry),
                server_class=server_class,
                handler_class=_QuietHandler,
            )
            thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": self.poll_interval},
                name=f"autotrader-prometheus:{httpd.server_address[1]}",
                daemon=True,
            )
            thread.start()
            self._httpd, self._thread = httpd, thread
        if not _is_loopback(self.host):
            logger.warning(
                "prometheus endpoint listens on %s: positions and PnL are visible to that network", self.url
            )
        logger.info("prometheus metrics at %s", self.url)

    def _server_class(self) -> type[WSGIServer]:
        family = socket.getaddrinfo(self.host, self.requested_port, type=socket.SOCK_STREAM)[0][0]

        class Server(_ThreadingServer):
            address_family = family

        return Server

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and release the port (no-op when not running)."""
        with self._lock:
            httpd, thread = self._httpd, self._thread
            self._httpd = self._thread = None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<MetricsServer {self.url} {state}>"
