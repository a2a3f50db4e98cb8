"""The private stream: order updates and fills, on the core's reconnecting stream.

The core's :class:`~autotrader_core.streaming.ReconnectingStream` runs connect →
log in → subscribe → catch up → read, with backoff, heartbeat-silence detection
and telemetry; this module only says what the venue's frames are.

REPLACE: the template venue's stream is one WebSocket: a signed ``login``, a
``subscribe`` to the ``orders`` and ``fills`` channels, then pushes
``{"channel": "fills" | "orders", "data": {...}}``; ``{"op": "ping"}`` is answered
with ``{"op": "pong"}``; ``{"op": "maintenance"}`` announces a disconnect.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from autotrader_core.adapter import AdapterTelemetry
from autotrader_core.errors import AuthenticationError, BrokerProtocolError
from autotrader_core.events import OrderEvent, OrderFilled
from autotrader_core.models import Fill
from autotrader_core.resiliency.retry import RetryPolicy
from autotrader_core.skipping import PARSE_ERRORS, BadItemLog
from autotrader_core.streaming import Carrier, Gap, Heartbeat, Reconnect, ReconnectingStream, WebSocketCarrier

from autotrader_template.auth import stream_login
from autotrader_template.errors import BROKER
from autotrader_template.parsing import parse_fill, parse_order_update

__all__ = ["CATCH_UP_OVERLAP", "Frame", "PrivateStream"]

Frame = str | bytes
"""What the WebSocket carries."""

CATCH_UP_OVERLAP = 5.0
"""Seconds the catch-up reaches back before the gap (clock differences; the OMS de-duplicates)."""


class PrivateStream:
    """Order updates and fills for one account, reconnecting until closed.

    Args:
        url: The private WebSocket URL.
        credentials: Returns ``(api_key, api_secret)``; called per login, never stored.
        now_ms: The venue's clock (the REST client's, synced at connect) for the login.
        fills_since: The catch-up: every fill since a datetime (``adapter.get_fills``).
        bad_items: Where a frame that cannot be parsed is reported (and skipped).
        telemetry: The adapter's telemetry, looked up per report.
        backoff: First reconnect wait in seconds.
    """

    def __init__(
        self,
        *,
        url: str,
        credentials: Callable[[], tuple[str, str]],
        now_ms: Callable[[], int],
        fills_since: Callable[[datetime], Awaitable[list[Fill]]],
        bad_items: BadItemLog,
        telemetry: Callable[[], AdapterTelemetry],
        backoff: float = 0.5,
    ) -> None:
        self._credentials = credentials
        self._now_ms = now_ms
        self._fills_since = fills_since
        self._bad_items = bad_items
        self.stream: ReconnectingStream[Frame, OrderEvent] = ReconnectingStream(
            lambda: WebSocketCarrier(url, ping_interval=None, broker=BROKER),
            self._decode,
            name=f"{BROKER}-private",
            log_in=self._log_in,
            subscribe=self._subscribe,
            catch_up=self._catch_up,
            heartbeat=Heartbeat(silence=30, ping=json.dumps({"op": "ping"}), pong_timeout=5),
            policy=RetryPolicy(max_attempts=1, base_delay=backoff, max_delay=30.0, jitter=0.5),
            telemetry=telemetry,
        )

    async def _log_in(self, carrier: Carrier[Frame]) -> None:
        key, secret = self._credentials()
        await carrier.send(json.dumps(stream_login(key, secret, self._now_ms())))
        reply = await _reply_to(carrier, "login")
        if reply.get("ok") is not True:  # a bad key ends the stream: reconnecting cannot fix it
            code = reply.get("code")
            raise AuthenticationError("the template venue refused the stream login", broker=BROKER, code=code)

    async def _subscribe(self, carrier: Carrier[Frame]) -> list[Frame]:
        await carrier.send(json.dumps({"op": "subscribe", "channels": ["orders", "fills"]}))
        early: list[Frame] = []
        reply = await _reply_to(carrier, "subscribe", early)
        if reply.get("ok") is not True:
            raise BrokerProtocolError("the subscription was refused", payload=reply, broker=BROKER)
        return early  # pushes that came before the ack: decoded after the catch-up

    async def _catch_up(self, gap: Gap) -> list[OrderEvent]:
        # Everything since the old connection last handed a frame over, with overlap.
        since = (gap.since or 0.0) - CATCH_UP_OVERLAP
        fills = await self._fills_since(datetime.fromtimestamp(since, tz=UTC))
        return [OrderFilled(fill) for fill in fills]

    def _decode(self, frame: Frame) -> list[OrderEvent]:
        try:
            message = _loads(frame)
            if message.get("op") == "maintenance":
                raise Reconnect("maintenance notice")
            channel = message.get("channel")
            if channel == "fills":
                return [OrderFilled(parse_fill(message["data"]))]
            if channel == "orders":
                return parse_order_update(message["data"])
            return []  # pong, acks
        except PARSE_ERRORS as exc:  # one bad frame never ends the stream: report it, skip it
            self._bad_items.report("stream frame", frame, exc, may_hold_fill=True)
            return []


async def _reply_to(carrier: Carrier[Frame], op: str, early: list[Frame] | None = None) -> dict[str, Any]:
    """The venue's answer to ``op``; other frames before it are kept in ``early``."""
    while True:
        frame = await carrier.recv()
        message = _loads(frame)
        if message.get("op") == op:
            return message
        if early is not None and "channel" in message:
            early.append(frame)


def _loads(frame: Frame) -> dict[str, Any]:
    try:
        message = json.loads(frame, parse_float=Decimal)
    except ValueError:
        raise BrokerProtocolError("stream frame is not JSON", payload=frame, broker=BROKER) from None
    if not isinstance(message, dict):
        raise BrokerProtocolError("stream frame is not a JSON object", payload=message, broker=BROKER)
    return message
