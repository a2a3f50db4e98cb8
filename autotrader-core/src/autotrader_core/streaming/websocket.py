"""A :class:`~autotrader_core.streaming.Carrier` over a WebSocket (the ``websockets`` library).

``websockets`` is imported when a connection opens, so an adapter that only
places orders never loads it (install it with ``pip install 'autotrader-core[websockets]'``
or through the adapter's own dependency).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from autotrader_core.errors import AuthenticationError, ConfigurationError
from autotrader_core.streaming.carrier import StreamLost

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

__all__ = ["WebSocketCarrier"]

# websockets dumps every frame at DEBUG, and private-stream frames carry keys and signatures.
# Its records go to this logger, kept at INFO so a global DEBUG cannot leak them.
FRAMES_LOGGER = logging.getLogger("autotrader_core.streaming.frames")
FRAMES_LOGGER.setLevel(logging.INFO)


class WebSocketCarrier:
    """One WebSocket connection.

    Args:
        url: ``wss://...``.
        headers: Extra handshake headers (an API key header, for example).
        ping_interval: Seconds between protocol-level pings (``None``: no pings;
            use a :class:`~autotrader_core.streaming.Heartbeat` for text pings).
        ping_timeout: Seconds to wait for the pong before the connection counts as dead.
        open_timeout: Seconds for TCP + TLS + the WebSocket handshake.
        max_size: Largest accepted frame, in bytes.
        broker: Adapter name put on the errors.
    """

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        open_timeout: float = 10.0,
        max_size: int = 2**22,
        broker: str | None = None,
    ) -> None:
        self.url = url
        self._headers = dict(headers or {})
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._open_timeout = open_timeout
        self._max_size = max_size
        self._broker = broker
        self._ws: ClientConnection | None = None

    async def open(self) -> None:
        """Connect; a refused handshake with 401/403 is an :class:`AuthenticationError`."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI

        try:
            self._ws = await connect(
                self.url,
                additional_headers=self._headers or None,
                ping_interval=self._ping_interval,
                ping_timeout=self._ping_timeout,
                open_timeout=self._open_timeout,
                close_timeout=2,
                max_size=self._max_size,
                logger=FRAMES_LOGGER,
            )
        except InvalidURI as exc:
            raise ConfigurationError(f"bad stream URL: {exc}", broker=self._broker) from None
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise AuthenticationError(
                    f"the stream host refused the credentials (HTTP {status})",
                    broker=self._broker,
                    code=status,
                ) from None
            raise StreamLost(f"websocket handshake refused (HTTP {status})", broker=self._broker) from None
        except (InvalidHandshake, OSError, TimeoutError) as exc:
            raise StreamLost(
                f"websocket connect failed ({type(exc).__name__})", broker=self._broker
            ) from None

    async def recv(self) -> str | bytes:
        """The next message (text as ``str``, binary as ``bytes``)."""
        from websockets.exceptions import ConnectionClosed

        try:
            return await self._open_connection().recv()
        except ConnectionClosed as exc:
            raise StreamLost(f"websocket closed ({_close_code(exc)})", broker=self._broker) from None

    async def send(self, frame: str | bytes) -> None:
        """Send one message."""
        from websockets.exceptions import ConnectionClosed

        try:
            await self._open_connection().send(frame)
        except ConnectionClosed as exc:
            raise StreamLost(f"websocket closed ({_close_code(exc)})", broker=self._broker) from None

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()

    def _open_connection(self) -> ClientConnection:
        if self._ws is None:
            raise StreamLost("the websocket is not open", broker=self._broker)
        return self._ws


def _close_code(exc: Exception) -> str:
    received = getattr(exc, "rcvd", None)
    code = getattr(received, "code", None)
    return f"code {code}" if code is not None else "no close frame"
