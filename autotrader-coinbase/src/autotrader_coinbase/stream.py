"""The private ``user`` channel on ``wss://advanced-trade-ws-user.coinbase.com`` (protocols.md §3.5).

Per connection: subscribe to ``user`` and ``heartbeats`` within 5 s, each
subscribe carrying a *fresh* JWT (no ``uri`` claim); read messages; treat
silence longer than ``heartbeat_timeout`` (heartbeats come every second) as a
dead connection. Reconnect with capped exponential backoff and jitter, minting
new tokens. The stream yields :class:`StreamConnected` after every subscribe
(the adapter runs its catch-up then), :class:`StreamOrders` for user-channel
order updates, :class:`StreamHeartbeat` for heartbeats and :class:`StreamGap`
when ``sequence_num`` skips or a user message cannot be read (something was
lost: catch up again). Unreadable frames are logged and skipped, never a reason
to drop the connection (the same snapshot would fail again after a reconnect).
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import anyio
import websockets
from autotrader_core.errors import AuthenticationError, BrokerProtocolError
from autotrader_core.skipping import BadItemLog

from autotrader_coinbase.errors import BROKER
from autotrader_coinbase.parsing import UserOrderUpdate, parse_user_message

__all__ = [
    "StreamConnected",
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


@dataclass(frozen=True, slots=True)
class StreamConnected:
    """Subscribed on a new connection; ``reconnect`` is False only for the first one."""

    reconnect: bool
    reason: str = ""
    """On a reconnect: what ended the previous subscribed connection (e.g. ``heartbeat timeout``)."""


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


StreamItem = StreamConnected | StreamOrders | StreamHeartbeat | StreamGap
"""What :meth:`UserStream.items` yields."""


def subscribe_message(channel: str, jwt_token: str | None, product_ids: Sequence[str]) -> str:
    """One subscribe message (one channel per message, as the docs require)."""
    message: dict[str, Any] = {"type": "subscribe", "channel": channel}
    if product_ids and channel == "user":
        message["product_ids"] = list(product_ids)
    if jwt_token is not None:
        message["jwt"] = jwt_token
    return json.dumps(message, separators=(",", ":"))


class _ReconnectError(Exception):
    """The connection must be replaced (silence, protocol hiccup)."""


class UserStream:
    """Reconnecting reader of the user channel.

    Args:
        url: WebSocket URL.
        token: Mints a fresh WS JWT per subscribe message (``None`` → unauthenticated).
        product_ids: Products for the ``user`` subscription (empty = all).
        heartbeat_timeout: Silence (seconds) after which the connection is replaced.
        max_backoff: Cap of the reconnect delay (seconds).
        initial_backoff: First reconnect delay (seconds).
    """

    def __init__(
        self,
        url: str,
        *,
        token: Callable[[], str | None],
        product_ids: Sequence[str] = (),
        heartbeat_timeout: float = 10.0,
        max_backoff: float = 30.0,
        initial_backoff: float = 0.5,
        bad_items: BadItemLog | None = None,
    ) -> None:
        self.url = url
        self._bad_items = bad_items if bad_items is not None else BadItemLog(BROKER)
        self._token = token
        self._product_ids = tuple(product_ids)
        self._heartbeat_timeout = heartbeat_timeout
        self._max_backoff = max_backoff
        self._initial_backoff = initial_backoff
        self._closed = False
        self._ws: websockets.ClientConnection | None = None
        self.connections = 0
        """Successful subscribes so far (reconnects = connections - 1)."""

    def is_closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """Stop after the current message; the iterator ends."""
        self._closed = True

    async def aclose(self) -> None:
        """Stop now: also close the open connection so a pending read returns at once."""
        self._closed = True
        ws = self._ws
        if ws is not None:
            await ws.close()

    def _backoff(self, attempt: int) -> float:
        delay: float = min(self._max_backoff, self._initial_backoff * (2**attempt))
        return delay * (0.5 + random.random() / 2)  # jitter: never a reconnect storm

    async def items(self) -> AsyncIterator[StreamItem]:
        """Yield stream items forever (reconnecting) until :meth:`close`.

        Raises:
            AuthenticationError: the broker refused :data:`MAX_AUTH_FAILURES` fresh tokens in a row.
        """
        attempt = 0
        auth_failures = 0
        lost_reason = ""  # what ended the last subscribed connection, until the next one subscribes
        while not self.is_closed():
            received_any = False
            try:
                async with websockets.connect(
                    self.url,
                    open_timeout=10,
                    close_timeout=2,
                    max_size=2**24,
                    ping_interval=20,
                    ping_timeout=20,
                ) as ws:
                    self._ws = ws
                    for channel in ("user", "heartbeats"):
                        await ws.send(subscribe_message(channel, self._token(), self._product_ids))
                    last_sequence: int | None = None
                    subscribed = False
                    while not self.is_closed():
                        raw = await self._receive(ws)
                        try:
                            message = self._decode(raw)
                        except BrokerProtocolError as exc:  # reported and skipped; the stream goes on
                            self._bad_items.report("stream frame", raw, exc, may_hold_fill=True)
                            continue
                        if message.get("type") == "error":
                            text = str(message.get("message", ""))
                            if "auth" in text.lower():
                                auth_failures += 1
                                if auth_failures >= MAX_AUTH_FAILURES:
                                    raise AuthenticationError(
                                        "Coinbase refused the user-stream JWT repeatedly: check the key, its "
                                        "permissions and the clock",
                                        broker=BROKER,
                                        broker_message=text,
                                    )
                            raise _ReconnectError(f"stream error: {text}")
                        received_any = True
                        sequence = message.get("sequence_num")
                        if isinstance(sequence, int):
                            if last_sequence is not None and sequence > last_sequence + 1:
                                yield StreamGap(last_sequence, sequence)
                            if last_sequence is None or sequence > last_sequence:
                                last_sequence = sequence
                        kind = message.get("channel")
                        if not subscribed and kind in ("subscriptions", "user", "heartbeats"):
                            subscribed = True
                            auth_failures = 0
                            attempt = 0
                            reconnect = self.connections > 0
                            self.connections += 1
                            yield StreamConnected(
                                reconnect=reconnect, reason=lost_reason if reconnect else ""
                            )
                            lost_reason = ""
                        if kind == "user":
                            skipped = self._bad_items.total
                            try:
                                updates = parse_user_message(message, bad_items=self._bad_items)
                            except BrokerProtocolError as exc:
                                # Skip it, but what it said is lost: ask for a REST catch-up.
                                logger.error(
                                    "coinbase user stream: unreadable user message: %s", str(exc)[:300]
                                )
                                yield StreamGap(last_sequence or 0, last_sequence or 0)
                                continue
                            if updates:
                                yield StreamOrders(updates)
                            if self._bad_items.total != skipped:
                                # An order entry was unreadable (reported): a REST catch-up recovers it.
                                yield StreamGap(last_sequence or 0, last_sequence or 0)
                        elif kind == "heartbeats":
                            yield StreamHeartbeat()
            except AuthenticationError:
                raise
            except (OSError, TimeoutError, websockets.WebSocketException, _ReconnectError) as exc:
                if self.is_closed():
                    break
                logger.warning(
                    "coinbase user stream: %s; reconnecting", type(exc).__name__ + f": {exc}"[:200]
                )
                if self.connections and not lost_reason:  # the first failure after a good connection
                    lost_reason = (
                        str(exc)
                        if isinstance(exc, _ReconnectError)
                        else f"connection lost: {type(exc).__name__}"
                    )
            finally:
                self._ws = None
            if self.is_closed():
                break
            delay = self._backoff(attempt)
            attempt = 0 if received_any else attempt + 1
            await anyio.sleep(delay)

    async def _receive(self, ws: websockets.ClientConnection) -> str | bytes:
        try:
            with anyio.fail_after(self._heartbeat_timeout):
                return await ws.recv()
        except TimeoutError:
            raise _ReconnectError(
                f"heartbeat timeout (no message for {self._heartbeat_timeout:g}s)"
            ) from None

    @staticmethod
    def _decode(raw: str | bytes) -> dict[str, Any]:
        try:
            message = json.loads(raw, parse_float=Decimal)
        except ValueError:
            raise BrokerProtocolError("user stream frame is not JSON", payload=raw, broker=BROKER) from None
        if not isinstance(message, dict):
            raise BrokerProtocolError("user stream frame is not an object", payload=raw, broker=BROKER)
        return message
