"""The private ``user`` channel on ``wss://advanced-trade-ws-user.coinbase.com`` (protocols.md §3.5).

Runs on the core's :class:`~autotrader_core.streaming.ReconnectingStream`. Per
connection: subscribe to ``user`` and ``heartbeats`` (the subscribe handshake),
each message carrying a *fresh* JWT (no ``uri`` claim), and wait for the first
answer; then read. The ``heartbeats`` channel ticks every second, so silence
longer than ``heartbeat_timeout`` means a dead connection (the stream's
heartbeat detector replaces it). Reconnects back off with jitter and report to
the adapter's telemetry; after each reconnect the catch-up hook (the adapter's
REST re-read of fills, see :mod:`autotrader_coinbase.fills`) runs before any
frame of the new connection.

The stream yields :class:`StreamCaughtUp` with the catch-up's events,
:class:`StreamOrders` for user-channel order updates, :class:`StreamHeartbeat`
for heartbeats and :class:`StreamGap` when ``sequence_num`` skips or a user
message cannot be read (something was lost: catch up again). Unreadable frames
are reported and skipped, never a reason to drop the connection (the same
snapshot would fail again after a reconnect).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from autotrader_core.errors import AuthenticationError, BrokerProtocolError
from autotrader_core.events import OrderEvent
from autotrader_core.resiliency.retry import RetryPolicy
from autotrader_core.skipping import BadItemLog
from autotrader_core.streaming import Gap, Heartbeat, Reconnect, ReconnectingStream, WebSocketCarrier

from autotrader_coinbase.errors import BROKER
from autotrader_coinbase.parsing import UserOrderUpdate, parse_user_message

if TYPE_CHECKING:
    from autotrader_core.adapter import AdapterTelemetry
    from autotrader_core.streaming import Carrier

__all__ = [
    "StreamCaughtUp",
    "StreamGap",
    "StreamHeartbeat",
    "StreamItem",
    "StreamOrders",
    "UserStream",
    "subscribe_message",
]

logger = logging.getLogger(__name__)

MAX_AUTH_FAILURES = 3
"""Consecutive authentication failures (each with a fresh JWT) before giving up."""

Frame = str | bytes


@dataclass(frozen=True, slots=True)
class StreamCaughtUp:
    """What the catch-up after a reconnect found (fills and order changes missed while away)."""

    events: list[OrderEvent]


@dataclass(frozen=True, slots=True)
class StreamOrders:
    """Order updates from one ``user`` message (snapshot or update events)."""

    updates: list[UserOrderUpdate]


@dataclass(frozen=True, slots=True)
class StreamHeartbeat:
    """A ``heartbeats`` message: the connection is alive."""


@dataclass(frozen=True, slots=True)
class StreamGap:
    """``sequence_num`` jumped from ``last`` to ``received``: something was missed."""

    last: int
    received: int


StreamItem = StreamCaughtUp | StreamOrders | StreamHeartbeat | StreamGap
"""What :meth:`UserStream.items` yields."""


def subscribe_message(channel: str, jwt_token: str | None, product_ids: Sequence[str]) -> str:
    """One subscribe message (one channel per message, as the docs require)."""
    message: dict[str, Any] = {"type": "subscribe", "channel": channel}
    if product_ids and channel == "user":
        message["product_ids"] = list(product_ids)
    if jwt_token is not None:
        message["jwt"] = jwt_token
    return json.dumps(message, separators=(",", ":"))


class UserStream:
    """Reconnecting reader of the user channel.

    Args:
        url: WebSocket URL.
        token: Mints a fresh WS JWT per subscribe message (``None`` → unauthenticated).
        catch_up: Called after every reconnect, once subscribed, with the stretch the
            lost connection may have missed; its events come out as :class:`StreamCaughtUp`
            before anything the new connection carries.
        product_ids: Products for the ``user`` subscription (empty = all).
        heartbeat_timeout: Silence (seconds) after which the connection is replaced.
        max_backoff: Cap of the reconnect delay (seconds).
        initial_backoff: First reconnect delay (seconds).
        bad_items: Where unreadable frames and order entries are reported.
        telemetry: The adapter's telemetry, looked up on each report (reconnects).
    """

    def __init__(
        self,
        url: str,
        *,
        token: Callable[[], str | None],
        catch_up: Callable[[Gap], Awaitable[list[OrderEvent]]] | None = None,
        product_ids: Sequence[str] = (),
        heartbeat_timeout: float = 10.0,
        max_backoff: float = 30.0,
        initial_backoff: float = 0.5,
        bad_items: BadItemLog | None = None,
        telemetry: Callable[[], AdapterTelemetry] | None = None,
    ) -> None:
        self.url = url
        self._bad_items = bad_items if bad_items is not None else BadItemLog(BROKER)
        self._token = token
        self._catch_up = catch_up
        self._product_ids = tuple(product_ids)
        self._auth_failures = 0
        self._last_sequence: int | None = None
        self._stream: ReconnectingStream[Frame, StreamItem] = ReconnectingStream(
            self._connect,
            self._decode,
            name="coinbase-user",
            subscribe=self._subscribe,
            catch_up=self._reconnected if catch_up is not None else None,
            heartbeat=Heartbeat(silence=heartbeat_timeout),
            handshake_timeout=heartbeat_timeout,  # an unanswered subscribe is silence too
            policy=RetryPolicy(max_attempts=1, base_delay=initial_backoff, max_delay=max_backoff, jitter=0.5),
            telemetry=telemetry,
        )

    @property
    def connections(self) -> int:
        """Successful subscribes so far (reconnects = connections - 1)."""
        return self._stream.connections

    def items(self) -> AsyncGenerator[StreamItem, None]:
        """Stream items, reconnecting, until :meth:`aclose`.

        Raises:
            AuthenticationError: the broker refused :data:`MAX_AUTH_FAILURES` fresh tokens in a row.
        """
        return self._stream.events()

    async def aclose(self) -> None:
        """Stop now: also close the open connection so a pending read returns at once."""
        await self._stream.aclose()

    # -- one connection ----------------------------------------------------------------------
    def _connect(self) -> Carrier[Frame]:
        return WebSocketCarrier(
            self.url, ping_interval=20, ping_timeout=20, open_timeout=10, max_size=2**24, broker=BROKER
        )

    async def _subscribe(self, carrier: Carrier[Frame]) -> list[Frame]:
        """Send both subscribes (a fresh JWT each) and wait for Coinbase's first answer.

        Returns the frames read, the answer included (a ``user`` snapshot can come first).
        """
        self._last_sequence = None
        for channel in ("user", "heartbeats"):
            await carrier.send(subscribe_message(channel, self._token(), self._product_ids))
        read: list[Frame] = []
        while True:
            frame = await carrier.recv()
            read.append(frame)
            try:
                message = _json_object(frame)
            except BrokerProtocolError:
                continue  # reported when decoded
            self._raise_for_error(message)
            if message.get("channel") in ("subscriptions", "user", "heartbeats"):
                self._auth_failures = 0
                return read

    async def _reconnected(self, gap: Gap) -> list[StreamItem]:
        assert self._catch_up is not None  # only installed with a catch-up
        return [StreamCaughtUp(await self._catch_up(gap))]

    def _raise_for_error(self, message: dict[str, Any]) -> None:
        if message.get("type") != "error":
            return
        text = str(message.get("message", ""))
        if "auth" in text.lower():
            self._auth_failures += 1
            if self._auth_failures >= MAX_AUTH_FAILURES:
                raise AuthenticationError(
                    "Coinbase refused the user-stream JWT repeatedly: check the key, its "
                    "permissions and the clock",
                    broker=BROKER,
                    broker_message=text,
                )
        raise Reconnect(f"stream error: {text}")

    def _decode(self, frame: Frame) -> list[StreamItem]:
        try:
            message = _json_object(frame)
        except BrokerProtocolError as exc:  # reported and skipped; the stream goes on
            self._bad_items.report("stream frame", frame, exc, may_hold_fill=True)
            return []
        self._raise_for_error(message)
        items: list[StreamItem] = []
        sequence = message.get("sequence_num")
        last = self._last_sequence
        if isinstance(sequence, int):
            if last is not None and sequence > last + 1:
                items.append(StreamGap(last, sequence))
            if last is None or sequence > last:
                self._last_sequence = last = sequence
        kind = message.get("channel")
        if kind == "user":
            skipped = self._bad_items.total
            try:
                updates = parse_user_message(message, bad_items=self._bad_items)
            except BrokerProtocolError as exc:
                # Skip it, but what it said is lost: ask for a REST catch-up.
                logger.error("coinbase user stream: unreadable user message: %s", str(exc)[:300])
                items.append(StreamGap(last or 0, last or 0))
                return items
            if updates:
                items.append(StreamOrders(updates))
            if self._bad_items.total != skipped:
                # An order entry was unreadable (reported): a REST catch-up recovers it.
                items.append(StreamGap(last or 0, last or 0))
        elif kind == "heartbeats":
            items.append(StreamHeartbeat())
        return items


def _json_object(raw: Frame) -> dict[str, Any]:
    try:
        message = json.loads(raw, parse_float=Decimal)
    except ValueError:
        raise BrokerProtocolError("user stream frame is not JSON", payload=raw, broker=BROKER) from None
    if not isinstance(message, dict):
        raise BrokerProtocolError("user stream frame is not an object", payload=raw, broker=BROKER)
    return message
