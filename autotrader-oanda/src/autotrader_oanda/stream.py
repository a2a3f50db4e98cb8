"""The transaction stream: chunked HTTP JSON lines on the core's reconnecting stream.

``GET {stream host}/v3/accounts/{id}/transactions/stream`` never ends; each
line is a Transaction or ``{"type":"HEARTBEAT","lastTransactionID":...}``
(about every 5 s; protocols.md §4.5). OANDA has no WebSocket API.

The connection loop (connect, backoff with jitter, telemetry, clean close) is the
core's :class:`~autotrader_core.streaming.ReconnectingStream` over a
:class:`~autotrader_core.streaming.LineStreamCarrier`; this module adds what is
OANDA's. Nothing is lost:

* every transaction id seen (stream, catch-up or REST) advances
  :attr:`TransactionStream.last_transaction_id`;
* after each (re)connect, once the stream's headers are in, the gap is filled
  with ``GET /transactions/sinceid?id=<last seen>`` before any stream line is
  read (the stream's catch-up, also on the first connection), and stream lines
  at or below the last seen id are skipped;
* a heartbeat whose ``lastTransactionID`` is ahead of us proves a gap and
  triggers the same catch-up;
* no line within ``heartbeat_timeout`` (a silent, half-open stream) → drop the
  connection and reconnect with exponential backoff and jitter.

Streams are limited to 20 per IP and new connections to 2 per second: one
stream per adapter, and a connection limiter paces reconnects.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import AsyncGenerator, Callable, Mapping
from decimal import Decimal
from typing import Any

import anyio
import httpx
from autotrader_core.adapter import AdapterTelemetry
from autotrader_core.errors import (
    AutotraderError,
    BrokerError,
    BrokerProtocolError,
    BrokerUnavailable,
    RateLimited,
    TransientError,
)
from autotrader_core.events import OrderEvent
from autotrader_core.resiliency.rate_limit import RateLimiter
from autotrader_core.resiliency.retry import RetryPolicy
from autotrader_core.rest import parse_retry_after
from autotrader_core.skipping import PARSE_ERRORS, BadItemLog
from autotrader_core.streaming import Gap, LineStreamCarrier, Reconnect, ReconnectingStream, StreamLost
from autotrader_core.transports import HttpReply

from autotrader_oanda.auth import auth_headers
from autotrader_oanda.errors import BROKER, map_http_error
from autotrader_oanda.http import OandaHttp
from autotrader_oanda.parsing import TransactionTranslator, transaction_id
from autotrader_oanda.settings import OandaSettings

__all__ = ["StreamInterrupted", "TransactionStream"]

logger = logging.getLogger(__name__)

_MAX_CATCH_UP_PAGES = 100

CONNECTIONS = "oanda-stream-connections"
"""Name of the connection limiter; also the stream's name in logs and rate-limit telemetry."""

_NO_FILL_TYPES = frozenset(
    {"ORDER_CANCEL", "HEARTBEAT", "CLIENT_CONFIGURE", "TRANSFER_FUNDS", "DAILY_FINANCING"}
)
"""Transaction types that never carry a fill: skipping one of them is no fill alert."""


class StreamInterrupted(TransientError):
    """The stream ended, went silent or sent an unreadable line; the stream reconnects."""


def _half_random() -> float:
    # With jitter 0.5, rand/2 makes each wait 50-100 % of its doubling ceiling, as it always was:
    # never more than the ceiling, never a thundering herd of reconnects.
    return random.random() / 2


class _TransactionLines(LineStreamCarrier):
    """The line carrier with OANDA's silence rule: no line (not even a heartbeat) for
    ``silence`` seconds ends the connection. The reasons keep the words the adapter
    has always reported (``"no heartbeat for 15s (silent stream)"``)."""

    def __init__(self, url: str, *, silence: float, **options: Any) -> None:
        super().__init__(url, **options)
        self._silence = silence

    async def recv(self) -> str:
        with anyio.move_on_after(self._silence):
            try:
                return await super().recv()
            except StreamLost as exc:
                raise Reconnect(exc.message) from None  # "stream read failed (...)", unprefixed
        raise Reconnect(f"no heartbeat for {self._silence:g}s (silent stream)")


class TransactionStream:
    """One account's transaction stream, as core order events.

    Args:
        settings: Stream host, token, account, heartbeat timeout, reconnect delays.
        http: REST client used for the ``sinceid`` catch-up.
        translator: Shared with the REST path, so a transaction already reported
            by a REST reply is not reported again.
        last_transaction_id: Where to start (the account's ``lastTransactionID`` at connect).
        transport: httpx transport override (default: the stock one).
        on_reconnect: Called with the reason before each reconnect attempt.
        on_wait: Called as ``(limiter name, seconds)`` after a wait for the connection limiter.
        telemetry: The adapter's telemetry (looked up on every report): reconnects
            (never for the first connection) and ``Retry-After`` waits of the stream host.
        bad_items: Where unreadable lines and transactions are reported.
    """

    def __init__(
        self,
        settings: OandaSettings,
        http: OandaHttp,
        translator: TransactionTranslator,
        *,
        last_transaction_id: int,
        transport: httpx.AsyncBaseTransport | None = None,
        on_reconnect: Callable[[str], None] | None = None,
        on_wait: Callable[[str, float], None] | None = None,
        telemetry: Callable[[], AdapterTelemetry] | None = None,
        bad_items: BadItemLog | None = None,
    ) -> None:
        self._settings = settings
        self._bad_items = bad_items if bad_items is not None else BadItemLog(BROKER)
        self._http = http
        self._translator = translator
        self.last_transaction_id = last_transaction_id
        """Highest transaction id delivered (or skipped as irrelevant) so far."""
        self._on_reconnect = on_reconnect
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self.connect_limiter = RateLimiter(CONNECTIONS, capacity=2, per_seconds=1.0, on_wait=on_wait)
        """OANDA throttles new connections to 2 per second per IP: every (re)connect takes a token."""
        self._policy = RetryPolicy(
            max_attempts=1,  # not used: the stream reconnects until closed
            base_delay=settings.reconnect_initial_delay,
            max_delay=settings.reconnect_max_delay,
            jitter=0.5,
        )
        self._stream: ReconnectingStream[str, OrderEvent] = ReconnectingStream(
            self._carrier,
            self._handle_line,
            name=CONNECTIONS,
            catch_up=self._catch_up_gap,
            catch_up_first=True,  # resume from a known transaction id, on the first connection too
            before_connect=self.connect_limiter.acquire,
            handshake_timeout=settings.request_timeout,
            policy=self._policy,
            telemetry=telemetry,
            sleep=self._backoff,
            rand=_half_random,
        )

    @property
    def path(self) -> str:
        """Path of the transaction stream for this account."""
        return f"/v3/accounts/{self._settings.account_id}/transactions/stream"

    def reconnect_delay(self, attempt: int) -> float:
        """Seconds to wait before reconnect number ``attempt`` (0-based): doubling, capped, jittered."""
        return self._policy.backoff(attempt + 1, _half_random)

    @property
    def reconnects(self) -> int:
        """How many times the stream reconnected (every failed connection or attempt counts)."""
        return len(self._stream.delays)

    @property
    def last_reconnect_delay(self) -> float | None:
        """Seconds the latest reconnect waited (set before ``on_reconnect`` is called)."""
        return self._stream.delays[-1] if self._stream.delays else None

    @property
    def last_error(self) -> str | None:
        """Why the latest connection ended."""
        return self._stream.last_error

    @property
    def connections(self) -> int:
        """Connections opened (answered 200 and caught up)."""
        return self._stream.connections

    def _http_client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                # Reads are bounded by the heartbeat watchdog, not by httpx.
                timeout=httpx.Timeout(self._settings.request_timeout, read=None),
                transport=self._transport,
            )
        return self._client

    def _carrier(self) -> _TransactionLines:
        return _TransactionLines(
            self._settings.stream_url + self.path,
            silence=self._settings.heartbeat_timeout,
            headers=auth_headers(self._settings.token),
            client=self._http_client(),
            status_error=self._status_error,
            broker=BROKER,
        )

    async def _backoff(self, delay: float) -> None:
        """The stream's wait before a reconnect: tell ``on_reconnect`` first."""
        if self._on_reconnect is not None:
            self._on_reconnect(self.last_error or "connection lost")
        await anyio.sleep(delay)

    async def aclose(self) -> None:
        """Stop the stream; :meth:`events` returns at its next step. Safe to call twice."""
        await self._stream.aclose()
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` was called."""
        return self._stream.closed

    def events(self) -> AsyncGenerator[OrderEvent, None]:
        """Core events from the stream (and its catch-ups), until :meth:`aclose`.

        Raises:
            AuthenticationError, BrokerError: the token or account was refused
                (reconnecting cannot help).
        A line or transaction the adapter cannot read is reported (see
        :mod:`autotrader_core.skipping`; a possible fill with an alert) and skipped:
        the stream goes on, and a heartbeat announcing a transaction id beyond the
        last one delivered fetches what a garbled line held (``sinceid``).
        """
        return self._stream.events()

    async def _handle_line(self, line: str) -> list[OrderEvent]:
        if not line.strip():
            return []
        try:
            message = json.loads(line, parse_float=Decimal)
            if not isinstance(message, dict):
                raise BrokerProtocolError("stream line is not a JSON object", payload=line, broker=BROKER)
        except ValueError as exc:
            # Reported and skipped. A torn line ends its connection anyway (reconnect and catch
            # up); a transaction garbled in a live stream comes back through the next heartbeat's
            # lastTransactionID (catch-up below).
            self._bad_items.report("stream line", line, exc, may_hold_fill=True)
            return []
        if message.get("type") == "HEARTBEAT":
            latest = transaction_id(message.get("lastTransactionID"), payload=message)
            if latest > self.last_transaction_id:
                return await self.catch_up()  # something was created that we have not seen
            return []
        return self._deliver(message)

    def _deliver(self, tx: dict[str, Any]) -> list[OrderEvent]:
        tx_id = transaction_id(tx.get("id"), payload=tx)
        if tx_id <= self.last_transaction_id:
            return []  # already delivered by a catch-up
        try:
            events = self._translator.events(tx, once=True)
        except PARSE_ERRORS as exc:  # one transaction off the format never ends the stream
            kind = tx.get("type")
            self._bad_items.report(
                f"{kind} transaction" if isinstance(kind, str) else "transaction",
                tx,
                exc,
                may_hold_fill=kind not in _NO_FILL_TYPES,
            )
            events = []
        self.last_transaction_id = tx_id
        return events

    async def _catch_up_gap(self, gap: Gap) -> list[OrderEvent]:
        # OANDA numbers every transaction: the gap is "after the last id seen", not a time span.
        return await self.catch_up()

    async def catch_up(self) -> list[OrderEvent]:
        """Events of every transaction after :attr:`last_transaction_id` (``/transactions/sinceid``)."""
        events: list[OrderEvent] = []
        for _ in range(_MAX_CATCH_UP_PAGES):
            reply = await self._http.transactions_since(self.last_transaction_id)
            transactions = reply.get("transactions")
            if not isinstance(transactions, list):
                raise BrokerProtocolError(
                    "sinceid reply has no transactions list", payload=reply, broker=BROKER
                )
            if not all(isinstance(tx, dict) for tx in transactions):
                raise BrokerProtocolError(
                    "sinceid transactions must be objects", payload=reply, broker=BROKER
                )
            ordered = sorted(transactions, key=lambda tx: transaction_id(tx.get("id"), payload=tx))
            for tx in ordered:
                events.extend(self._deliver(tx))
            latest = reply.get("lastTransactionID")
            if (
                not ordered
                or latest is None
                or transaction_id(latest, payload=reply) <= self.last_transaction_id
            ):
                break
        return events

    def _status_error(self, status: int, body: bytes, headers: Mapping[str, str]) -> AutotraderError:
        """A refused stream request → the error the stream acts on (OANDA's error table for 4xx)."""
        return _status_error(status, body, headers, url=self._settings.stream_url + self.path)


def _status_error(status: int, body: bytes, headers: Mapping[str, str], *, url: str) -> AutotraderError:
    if status == 429:
        return RateLimited(
            "OANDA refused the stream: too many streams or connections",
            retry_after=parse_retry_after(headers.get("Retry-After")),
            broker=BROKER,
            code=429,
        )
    if status >= 500:
        return BrokerUnavailable(f"OANDA stream host answered HTTP {status}", broker=BROKER, code=status)
    text = body.decode("utf-8", "replace")
    try:
        parsed: Any = json.loads(text, parse_float=Decimal) if text.strip() else None
    except ValueError:
        parsed = None
    raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    reply = HttpReply(status, raw_headers, body, method="GET", url=url)
    mapped = map_http_error(reply, parsed)
    return mapped or BrokerError(f"OANDA stream answered HTTP {status}", broker=BROKER, code=status)
