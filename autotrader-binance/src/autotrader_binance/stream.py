"""The private stream: user data over the Binance WebSocket API (protocols.md §1.5).

The listenKey endpoints are retired; user data now comes from a WebSocket API
connection:

* Ed25519 key: ``session.logon`` (signed), then ``userDataStream.subscribe``;
* any key type: ``userDataStream.subscribe.signature`` (signed, no logon).

Events arrive wrapped as ``{"subscriptionId": N, "event": {...}}``. The loop runs on
the core's :class:`~autotrader_core.streaming.ReconnectingStream`: the log-on and the
subscription are its handshake steps, the catch-up for the gap runs after every
reconnect, and the connection is renewed on ``serverShutdown`` /
``eventStreamTerminated`` and before Binance's 24 h limit without a wait, and with
the configured backoff whenever it drops. A ``-1021`` reply resyncs the clock before
the next attempt. Ping frames from Binance are answered by ``websockets`` (pong echoes
the payload); our own protocol pings detect a dead connection (no silence timeout: a
quiet account sends no event for hours).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from itertools import count
from typing import Any

import anyio
from autotrader_core.adapter import AdapterTelemetry
from autotrader_core.clock import ClockOffset
from autotrader_core.errors import (
    AuthenticationError,
    AutotraderError,
    BrokerProtocolError,
    BrokerUnavailable,
)
from autotrader_core.events import OrderEvent
from autotrader_core.resiliency.retry import RetryPolicy
from autotrader_core.streaming import Carrier, CatchUp, Reconnect, ReconnectingStream, WebSocketCarrier

from autotrader_binance.auth import Signer, ws_signature_payload
from autotrader_binance.errors import BROKER

__all__ = ["StreamConfig", "UserDataStream"]

logger = logging.getLogger(__name__)

_AUTH_CODES = frozenset({-1002, -1022, -2014, -2015})
_CLOCK_CODES = frozenset({-1021})

Frame = str | bytes


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

    def retry_policy(self) -> RetryPolicy:
        """The reconnect backoff: ``backoff_initial`` doubling to ``backoff_max``, ±50 % jitter."""
        return RetryPolicy(
            max_attempts=1, base_delay=self.backoff_initial, max_delay=self.backoff_max, jitter=0.5
        )


class UserDataStream:
    """One account's user data stream, reconnecting until :meth:`aclose`.

    Args:
        url: WebSocket API URL.
        api_key: The API key.
        signer: Signs the logon/subscribe request (Ed25519 → logon + subscribe).
        clock: Server clock estimate for the signed ``timestamp``.
        on_event: Turns one inner event object (``executionReport`` …) into core events.
        catch_up: What happened while the connection was away (called after each reconnect).
        resync_clock: Awaited before the next attempt after a ``-1021`` reply.
        config: Timing knobs.
        on_bad_frame: Called with a frame that is not a JSON object (it is skipped); without
            it, such a frame replaces the connection.
        telemetry: The adapter's telemetry (looked up on every report).
    """

    def __init__(
        self,
        *,
        url: str,
        api_key: str,
        signer: Signer,
        clock: ClockOffset,
        on_event: Callable[[dict[str, Any]], list[OrderEvent]],
        catch_up: CatchUp[OrderEvent] | None = None,
        resync_clock: Callable[[], Awaitable[Any]] | None = None,
        config: StreamConfig | None = None,
        on_bad_frame: Callable[[Any, BrokerProtocolError], object] | None = None,
        telemetry: Callable[[], AdapterTelemetry] | None = None,
    ) -> None:
        self._url = url
        self._api_key = api_key
        self._signer = signer
        self._clock = clock
        self._on_event = on_event
        self._resync_clock = resync_clock
        self._on_bad_frame = on_bad_frame
        self.config = config = config or StreamConfig()
        self._ids = count(1)
        self._resync_pending = False
        self.subscription_id: int | None = None
        ed25519 = signer.key_type == "ed25519"
        self._stream: ReconnectingStream[Frame, OrderEvent] = ReconnectingStream(
            self._connect,
            self._decode,
            name="binance-user-data",
            log_in=self._log_on if ed25519 else None,
            subscribe=self._subscribe,
            catch_up=catch_up,
            max_age=config.max_age,
            before_connect=self._before_connect,
            handshake_timeout=2 * config.reply_timeout,  # at most two calls: logon, subscribe
            policy=config.retry_policy(),
            telemetry=telemetry,
        )

    @property
    def is_closed(self) -> bool:
        """True once :meth:`aclose` was called."""
        return self._stream.closed

    @property
    def connections(self) -> int:
        """Successful subscriptions so far (1 after the first connect)."""
        return self._stream.connections

    @property
    def reconnects(self) -> int:
        """Reconnects so far."""
        return self._stream.reconnects

    async def aclose(self) -> None:
        """Stop: :meth:`events` ends and the open connection is closed; safe to call twice."""
        await self._stream.aclose()

    def events(self) -> AsyncGenerator[OrderEvent, None]:
        """Core events from every connection and catch-up, in order, until :meth:`aclose`.

        Raises:
            AuthenticationError: Binance refused the key; reconnecting cannot help.
            ConfigurationError: The stream URL is malformed.
        """
        return self._stream.events()

    # -- one connection -----------------------------------------------------------------
    def _connect(self) -> Carrier[Frame]:
        config = self.config
        return WebSocketCarrier(
            self._url,
            ping_interval=config.ping_interval or None,
            ping_timeout=config.ping_timeout or None,
            open_timeout=config.reply_timeout,
            max_size=2**22,
            broker=BROKER,
        )

    async def _before_connect(self) -> None:
        if not (self._resync_pending and self._resync_clock is not None):
            return
        try:
            await self._resync_clock()  # -1021: the next signature needs the fresh offset
        except (AutotraderError, OSError, TimeoutError) as exc:  # asked again before the next attempt
            logger.warning("binance user stream: clock resync failed (%s)", type(exc).__name__)
        else:
            self._resync_pending = False

    def _signed_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "apiKey": self._api_key,
            "timestamp": self._clock.now_ms(),
            "recvWindow": self.config.recv_window_ms,
        }
        params["signature"] = self._signer.sign(ws_signature_payload(params))
        return params

    async def _log_on(self, carrier: Carrier[Frame]) -> None:
        await self._call(carrier, "session.logon", self._signed_params())

    async def _subscribe(self, carrier: Carrier[Frame]) -> None:
        if self._signer.key_type == "ed25519":  # the logged-on session is the authority
            result = await self._call(carrier, "userDataStream.subscribe", None)
        else:
            result = await self._call(carrier, "userDataStream.subscribe.signature", self._signed_params())
        sub = result.get("subscriptionId") if isinstance(result, dict) else None
        self.subscription_id = int(sub) if isinstance(sub, (int, Decimal)) else None

    async def _call(self, carrier: Carrier[Frame], method: str, params: dict[str, Any] | None) -> Any:
        request_id = f"at-{next(self._ids)}"
        frame: dict[str, Any] = {"id": request_id, "method": method}
        if params is not None:
            frame["params"] = params
        await carrier.send(json.dumps(frame, separators=(",", ":")))
        with anyio.fail_after(self.config.reply_timeout):
            while True:
                try:
                    message = _loads(await carrier.recv())
                except BrokerProtocolError as exc:  # a reply off the documented format: start clean
                    logger.error("binance user stream: %s", exc)
                    raise Reconnect("protocol error") from None
                if message.get("id") != request_id:
                    continue  # an event or a reply to something else: not ours
                if message.get("status") == 200:
                    return message.get("result")
                self._raise_for_reply(message)

    def _decode(self, raw: Frame) -> list[OrderEvent]:
        try:
            message = _loads(raw)
        except BrokerProtocolError as exc:
            if self._on_bad_frame is None:  # nobody to tell: start clean
                logger.error("binance user stream: %s", exc)
                raise Reconnect("protocol error") from None
            self._on_bad_frame(raw, exc)  # one garbage frame: report it, keep the connection
            return []
        event = message.get("event")
        if isinstance(event, dict):
            kind = event.get("e")
            if kind == "serverShutdown":
                logger.info("binance user stream: serverShutdown, reconnecting")
                raise Reconnect("binance announced a server shutdown", immediate=True)
            if kind == "eventStreamTerminated":
                logger.info("binance user stream: eventStreamTerminated, resubscribing")
                raise Reconnect("binance terminated the event stream", immediate=True)
            return self._on_event(event)
        if "status" in message and message.get("status") != 200:
            self._raise_for_reply(message)
        return []

    def _raise_for_reply(self, message: dict[str, Any]) -> None:
        error = message.get("error") if isinstance(message.get("error"), dict) else {}
        assert isinstance(error, dict)
        code = error.get("code")
        msg = error.get("msg")
        status = message.get("status")
        if code in _CLOCK_CODES:
            self._resync_pending = True
            raise Reconnect("timestamp outside recvWindow; clock resynced")
        if code in _AUTH_CODES or status in (401, 403):
            raise AuthenticationError(
                "Binance refused the user data stream credentials",
                broker=BROKER,
                code=code,
                broker_message=msg,
            )
        raise BrokerUnavailable(
            f"Binance user data stream request failed (status {status})",
            broker=BROKER,
            code=code,
            broker_message=msg,
        )


def _loads(raw: Frame) -> dict[str, Any]:
    try:
        message = json.loads(raw, parse_float=Decimal)
    except ValueError:
        raise BrokerProtocolError("stream frame is not JSON", payload=raw, broker=BROKER) from None
    if not isinstance(message, dict):
        raise BrokerProtocolError("stream frame is not a JSON object", payload=message, broker=BROKER)
    return message
