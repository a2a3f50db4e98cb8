"""The private stream: user data over the Binance WebSocket API (protocols.md §1.5).

The listenKey endpoints are retired; user data now comes from a WebSocket API
connection:

* Ed25519 key: ``session.logon`` (signed), then ``userDataStream.subscribe``;
* any key type: ``userDataStream.subscribe.signature`` (signed, no logon).

Events arrive wrapped as ``{"subscriptionId": N, "event": {...}}``. The
connection is renewed on ``serverShutdown`` / ``eventStreamTerminated``, before
Binance's 24 h limit, and whenever it drops, with exponential backoff; every
(re)connection is reported to the consumer (:class:`Connected`) so that it can
run a catch-up query for what happened in the gap. Ping frames from Binance are
answered by ``websockets`` (pong echoes the payload); our own pings detect a
dead connection.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from itertools import count
from typing import TYPE_CHECKING, Any

import anyio
from autotrader_core.clock import ClockOffset
from autotrader_core.errors import (
    AuthenticationError,
    BrokerProtocolError,
    BrokerUnavailable,
    ConfigurationError,
)

from autotrader_binance.auth import Signer, ws_signature_payload
from autotrader_binance.errors import BROKER

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

__all__ = ["Connected", "StreamConfig", "UserDataStream"]

logger = logging.getLogger(__name__)
# websockets dumps every frame at DEBUG; ours carry the API key and signatures. Its records go to
# this logger, kept at INFO so a global DEBUG setting cannot leak them (lower it explicitly to debug).
_frames_logger = logging.getLogger(f"{__name__}.frames")
_frames_logger.setLevel(logging.INFO)

_AUTH_CODES = frozenset({-1002, -1022, -2014, -2015})
_CLOCK_CODES = frozenset({-1021})


@dataclass(frozen=True, slots=True)
class Connected:
    """Yielded after every successful subscribe.

    Attributes:
        reconnect: False for the first connection, True afterwards.
        gap_started_ms: Local epoch ms when the previous connection was lost
            (``None`` on the first connection): catch up from there.
    """

    reconnect: bool
    gap_started_ms: int | None


@dataclass(frozen=True, slots=True)
class StreamConfig:
    """Timing knobs of the stream (defaults follow Binance's documented limits)."""

    max_age: float = 23.5 * 3600
    """Renew the connection after this many seconds (Binance closes it at 24 h)."""
    ping_interval: float = 20.0
    """Seconds between our own pings (``None``-like 0 disables)."""
    ping_timeout: float = 20.0
    reply_timeout: float = 10.0
    """Seconds to wait for the logon / subscribe reply."""
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    recv_window_ms: int = 5000


class UserDataStream:
    """One account's user data stream, reconnecting until :meth:`close`.

    Args:
        url: WebSocket API URL.
        api_key: The API key.
        signer: Signs the logon/subscribe request (Ed25519 → logon + subscribe).
        clock: Server clock estimate for the signed ``timestamp``.
        resync_clock: Called after a ``-1021`` reply before the next attempt.
        config: Timing knobs.
    """

    def __init__(
        self,
        *,
        url: str,
        api_key: str,
        signer: Signer,
        clock: ClockOffset,
        resync_clock: Callable[[], Awaitable[Any]] | None = None,
        config: StreamConfig | None = None,
        on_bad_frame: Callable[[Any, BrokerProtocolError], object] | None = None,
    ) -> None:
        self._url = url
        self._on_bad_frame = on_bad_frame
        self._api_key = api_key
        self._signer = signer
        self._clock = clock
        self._resync_clock = resync_clock
        self.config = config or StreamConfig()
        self._ids = count(1)
        self._closed = False
        self._ws: ClientConnection | None = None
        self.connections = 0
        """Successful subscriptions so far (1 after the first connect)."""
        self.subscription_id: int | None = None

    @property
    def is_closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    async def close(self) -> None:
        """Stop: the iterator of :meth:`events` ends after the current connection closes."""
        self._closed = True
        ws = self._ws
        if ws is not None:
            await ws.close()

    async def events(self) -> AsyncIterator[Connected | dict[str, Any]]:
        """Yield :class:`Connected` markers and inner event objects (``executionReport`` …)."""
        # Imported when a stream starts: placing orders alone never pays for websockets.
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

        failures = 0
        gap_started: int | None = None
        while not self._closed:
            try:
                async with connect(
                    self._url,
                    ping_interval=self.config.ping_interval or None,
                    ping_timeout=self.config.ping_timeout or None,
                    max_size=2**22,
                    open_timeout=self.config.reply_timeout,
                    logger=_frames_logger,
                ) as ws:
                    self._ws = ws
                    await self._subscribe(ws)
                    failures = 0
                    self.connections += 1
                    yield Connected(reconnect=self.connections > 1, gap_started_ms=gap_started)
                    async for event in self._read(ws):
                        yield event
                    reason = "renewing the connection"
            except AuthenticationError:
                raise
            except _ClockSkew:
                reason = "timestamp outside recvWindow; clock resynced"
                if self._resync_clock is not None:
                    await self._resync_clock()
            except (ConnectionClosed, OSError, TimeoutError, InvalidHandshake, BrokerUnavailable) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            except BrokerProtocolError as exc:  # a frame off the documented format: start clean
                logger.error("binance user stream: %s", exc)
                reason = "protocol error"
            except InvalidURI as exc:
                raise ConfigurationError(f"bad Binance stream URL: {exc}", broker=BROKER) from None
            finally:
                self._ws = None
            if gap_started is None or failures == 0:
                gap_started = int(time.time() * 1000)
            if self.is_closed:
                return
            delay = 0.0 if reason == "renewing the connection" and failures == 0 else self._backoff(failures)
            failures += 1
            logger.warning("binance user stream reconnecting in %.2fs (%s)", delay, reason)
            await anyio.sleep(delay)

    def _backoff(self, failures: int) -> float:
        base = min(self.config.backoff_max, self.config.backoff_initial * float(2 ** min(failures, 16)))
        return base * (0.5 + random.random() / 2)  # jitter: avoid reconnect storms

    async def _read(self, ws: ClientConnection) -> AsyncIterator[dict[str, Any]]:
        deadline = time.monotonic() + self.config.max_age
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                logger.info(
                    "binance user stream: %.0fs connection age reached, renewing", self.config.max_age
                )
                return
            with anyio.move_on_after(remaining):
                raw = await ws.recv()
            if time.monotonic() >= deadline:
                return
            try:
                message = _loads(raw)
            except BrokerProtocolError as exc:  # one garbage frame: report it, keep the connection
                if self._on_bad_frame is None:
                    raise
                self._on_bad_frame(raw, exc)
                continue
            event = message.get("event")
            if isinstance(event, dict):
                kind = event.get("e")
                if kind == "serverShutdown":
                    logger.info("binance user stream: serverShutdown, reconnecting")
                    return
                if kind == "eventStreamTerminated":
                    logger.info("binance user stream: eventStreamTerminated, resubscribing")
                    return
                yield event
            elif "status" in message and message.get("status") != 200:
                _raise_for_reply(message)

    async def _subscribe(self, ws: ClientConnection) -> None:
        params: dict[str, Any] = {
            "apiKey": self._api_key,
            "timestamp": self._clock.now_ms(),
            "recvWindow": self.config.recv_window_ms,
        }
        params["signature"] = self._signer.sign(ws_signature_payload(params))
        if self._signer.key_type == "ed25519":
            await self._call(ws, "session.logon", params)
            result = await self._call(ws, "userDataStream.subscribe", None)
        else:
            result = await self._call(ws, "userDataStream.subscribe.signature", params)
        sub = result.get("subscriptionId") if isinstance(result, dict) else None
        self.subscription_id = int(sub) if isinstance(sub, (int, Decimal)) else None

    async def _call(self, ws: ClientConnection, method: str, params: dict[str, Any] | None) -> Any:
        request_id = f"at-{next(self._ids)}"
        frame: dict[str, Any] = {"id": request_id, "method": method}
        if params is not None:
            frame["params"] = params
        await ws.send(json.dumps(frame, separators=(",", ":")))
        with anyio.fail_after(self.config.reply_timeout):
            while True:
                message = _loads(await ws.recv())
                if message.get("id") != request_id:
                    continue  # an event or a reply to something else: not ours
                if message.get("status") == 200:
                    return message.get("result")
                _raise_for_reply(message)


class _ClockSkew(Exception):
    """A stream request was refused with -1021."""


def _loads(raw: str | bytes) -> dict[str, Any]:
    try:
        message = json.loads(raw, parse_float=Decimal)
    except ValueError:
        raise BrokerProtocolError("stream frame is not JSON", payload=raw, broker=BROKER) from None
    if not isinstance(message, dict):
        raise BrokerProtocolError("stream frame is not a JSON object", payload=message, broker=BROKER)
    return message


def _raise_for_reply(message: dict[str, Any]) -> None:
    error = message.get("error") if isinstance(message.get("error"), dict) else {}
    assert isinstance(error, dict)
    code = error.get("code")
    msg = error.get("msg")
    status = message.get("status")
    if code in _CLOCK_CODES:
        raise _ClockSkew(msg)
    if code in _AUTH_CODES or status in (401, 403):
        raise AuthenticationError(
            "Binance refused the user data stream credentials", broker=BROKER, code=code, broker_message=msg
        )
    raise BrokerUnavailable(
        f"Binance user data stream request failed (status {status})",
        broker=BROKER,
        code=code,
        broker_message=msg,
    )
