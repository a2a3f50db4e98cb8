"""What carries a stream: the small protocol a WebSocket, an HTTP line stream or a socket session meets.

A :class:`Carrier` is one connection. :class:`~autotrader_core.streaming.ReconnectingStream`
asks its factory for a fresh carrier per (re)connection, so a carrier never has to
reconnect by itself: it opens once, moves frames, and reports the end of its
connection as :class:`StreamLost`.

Error contract (what the stream does with what a carrier or a hook raises):

* :class:`Reconnect`, :class:`StreamLost` and every retryable
  :class:`~autotrader_core.errors.AutotraderError` (``BrokerUnavailable``,
  ``RequestTimeout``, ``RateLimited``...), plus ``OSError`` and ``TimeoutError``:
  the connection is replaced after a backoff;
* :class:`~autotrader_core.errors.AuthenticationError`,
  :class:`~autotrader_core.errors.ConfigurationError` and every other
  non-retryable error (a ``BrokerProtocolError`` included): the stream ends and
  the error reaches the consumer; reconnecting cannot fix a bad key or a bad URL.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from autotrader_core.errors import BrokerUnavailable

__all__ = ["Carrier", "Reconnect", "StreamLost"]

F = TypeVar("F")


class Carrier(Protocol[F]):
    """One connection that moves frames of type ``F`` (``str | bytes`` for a WebSocket, ``str`` lines...).

    ``open`` is called once, before anything else; ``close`` may be called at any
    time, more than once, and from another task while ``recv`` waits (it must make
    that ``recv`` return or raise promptly).
    """

    async def open(self) -> None:
        """Connect. Raise :class:`StreamLost` (or another retryable error) when the broker cannot be reached."""
        ...

    async def recv(self) -> F:
        """The next frame. Raise :class:`StreamLost` when the connection ended."""
        ...

    async def send(self, frame: F) -> None:
        """Send one frame (login, subscribe, ping). Raise :class:`StreamLost` when the connection ended."""
        ...

    async def close(self) -> None:
        """Release the connection; safe to call twice."""
        ...


class StreamLost(BrokerUnavailable):
    """The carrier's connection ended or could not be opened; the stream reconnects."""


class Reconnect(Exception):
    """Raised by a stream hook to replace the connection (maintenance notice, gap, renewal...).

    Args:
        reason: What ended the connection; reported through ``AdapterTelemetry.reconnected``.
        immediate: Reconnect without a backoff wait (a planned renewal, not a failure).
    """

    def __init__(self, reason: str, *, immediate: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.immediate = immediate
