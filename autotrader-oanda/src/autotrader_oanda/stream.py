"""The transaction stream: chunked HTTP JSON lines, heartbeats, reconnect and catch-up.

``GET {stream host}/v3/accounts/{id}/transactions/stream`` never ends; each
line is a Transaction or ``{"type":"HEARTBEAT","lastTransactionID":...}``
(about every 5 s; protocols.md §4.5). OANDA has no WebSocket API.

Nothing is lost:

* every transaction id seen (stream, catch-up or REST) advances
  :attr:`TransactionStream.last_transaction_id`;
* after each (re)connect, once the stream's headers are in, the gap is filled
  with ``GET /transactions/sinceid?id=<last seen>`` before any stream line is
  read, and stream lines at or below the last seen id are skipped;
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
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from decimal import Decimal
from typing import Any, cast

import anyio
import httpx
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
from autotrader_core.rest import parse_retry_after
from autotrader_core.skipping import PARSE_ERRORS, BadItemLog
from autotrader_core.transports import HttpReply

from autotrader_oanda.auth import auth_headers
from autotrader_oanda.errors import BROKER, map_http_error
from autotrader_oanda.http import OandaHttp
from autotrader_oanda.parsing import TransactionTranslator, transaction_id
from autotrader_oanda.settings import OandaSettings

__all__ = ["StreamInterrupted", "TransactionStream"]

logger = logging.getLogger(__name__)

_MAX_CATCH_UP_PAGES = 100


_NO_FILL_TYPES = frozenset(
    {"ORDER_CANCEL", "HEARTBEAT", "CLIENT_CONFIGURE", "TRANSFER_FUNDS", "DAILY_FINANCING"}
)
"""Transaction types that never carry a fill: skipping one of them is no fill alert."""


class StreamInterrupted(TransientError):
    """The stream ended, went silent or sent an unreadable line; the stream reconnects."""


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
        on_reconnected: Called once per successful reconnect (the new stream answered 200),
            with what ended the previous connection; never for the first connection.
        on_wait: Called as ``(limiter name, seconds)`` after a wait for the connection
            limiter or a ``Retry-After`` from the stream host.
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
        on_reconnected: Callable[[str], None] | None = None,
        on_wait: Callable[[str, float], None] | None = None,
        bad_items: BadItemLog | None = None,
    ) -> None:
        self._settings = settings
        self._bad_items = bad_items if bad_items is not None else BadItemLog(BROKER)
        self._http = http
        self._translator = translator
        self.last_transaction_id = last_transaction_id
        """Highest transaction id delivered (or skipped as irrelevant) so far."""
        self.reconnects = 0
        """How many times the stream reconnected."""
        self.last_error: str | None = None
        """Why the latest connection ended."""
        self.last_reconnect_delay: float | None = None
        """Seconds the latest reconnect waited (set before ``on_reconnect`` is called)."""
        self.connections = 0
        """Connections opened (successful responses)."""
        self._on_reconnect = on_reconnect
        self._on_reconnected = on_reconnected
        self._on_wait = on_wait
        self._lost_reason: str | None = None
        """What ended the last connection that answered 200; reported once the next one does."""
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._closed = False
        self._heard_from_server = False
        self.connect_limiter = RateLimiter(
            "oanda-stream-connections", capacity=2, per_seconds=1.0, on_wait=on_wait
        )
        """OANDA throttles new connections to 2 per second per IP: every (re)connect takes a token."""

    @property
    def path(self) -> str:
        """Path of the transaction stream for this account."""
        return f"/v3/accounts/{self._settings.account_id}/transactions/stream"

    def _http_client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self._settings.stream_url,
                # Reads are bounded by the heartbeat watchdog, not by httpx.
                timeout=httpx.Timeout(self._settings.request_timeout, read=None),
                transport=self._transport,
            )
        return self._client

    async def aclose(self) -> None:
        """Stop the stream; :meth:`events` returns at its next step. Safe to call twice."""
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` was called."""
        return self._closed

    def reconnect_delay(self, attempt: int) -> float:
        """Seconds to wait before reconnect number ``attempt`` (0-based): doubling, capped, jittered."""
        ceiling = min(
            self._settings.reconnect_max_delay, self._settings.reconnect_initial_delay * 2.0**attempt
        )
        return ceiling * (0.5 + random.random() / 2)  # jitter: never a thundering herd of reconnects

    async def events(self) -> AsyncGenerator[OrderEvent, None]:
        """Core events from the stream (and its catch-ups), until :meth:`aclose`.

        Raises:
            AuthenticationError, BrokerError: the token or account was refused
                (reconnecting cannot help).
        A line or transaction the adapter cannot read is reported (see
        :mod:`autotrader_core.skipping`; a possible fill with an alert) and skipped:
        the stream goes on, and a heartbeat announcing a transaction id beyond the
        last one delivered fetches what a garbled line held (``sinceid``).
        """
        attempt = 0
        while not self._closed:
            try:
                # aclosing: when our consumer stops, the HTTP stream closes now, not at GC time.
                async with aclosing(self._session()) as session:
                    async for event in session:
                        yield event
            except Exception as exc:
                if self.closed:
                    return  # disconnect() closed the client under a read: not a failure
                if not isinstance(exc, TransientError | BrokerError | httpx.HTTPError):
                    raise
                if isinstance(exc, AutotraderError) and not exc.retryable:
                    raise  # bad token, unknown account, broken transaction: reconnecting cannot help
                if self._heard_from_server:
                    attempt = 0  # the connection worked for a while: start the backoff afresh
                self._heard_from_server = False
                self.last_error = f"{type(exc).__name__}: {exc}"
                if self.connections and self._lost_reason is None:  # the first failure after a good stream
                    self._lost_reason = _short_reason(exc)
                delay = self.reconnect_delay(attempt)
                if isinstance(exc, RateLimited) and exc.retry_after:
                    delay = max(delay, exc.retry_after)
                    if self._on_wait is not None:  # OANDA's Retry-After: a rate-limit wait we sleep through
                        self._on_wait(self.connect_limiter.name, delay)
                attempt += 1
                self.reconnects += 1
                self.last_reconnect_delay = delay
                logger.warning("oanda stream interrupted (%s); reconnecting in %.2fs", self.last_error, delay)
                if self._on_reconnect is not None:
                    self._on_reconnect(self.last_error)
                await anyio.sleep(delay)

    async def _session(self) -> AsyncGenerator[OrderEvent, None]:
        await self.connect_limiter.acquire()
        client = self._http_client()
        async with client.stream("GET", self.path, headers=auth_headers(self._settings.token)) as response:
            if response.status_code != 200:
                raise await self._status_error(response)
            self.connections += 1
            reason, self._lost_reason = self._lost_reason, None
            if reason is not None and self._on_reconnected is not None:
                self._on_reconnected(reason)
            # Catch up *after* the stream is open: whatever happens from here on is
            # either in the catch-up reply or on the stream (and de-duplicated by id).
            for event in await self.catch_up():
                yield event
            # httpx's line iterator is an async generator: close it with the response.
            lines_iterator = cast(AsyncGenerator[str, None], response.aiter_lines())
            async with aclosing(lines_iterator) as lines:
                while not self._closed:
                    try:
                        with anyio.fail_after(self._settings.heartbeat_timeout):
                            line = await lines.__anext__()
                    except TimeoutError:
                        raise StreamInterrupted(
                            f"no heartbeat for {self._settings.heartbeat_timeout:g}s (silent stream)",
                            broker=BROKER,
                        ) from None
                    except StopAsyncIteration:
                        raise StreamInterrupted("the stream ended", broker=BROKER) from None
                    except httpx.HTTPError as exc:
                        raise StreamInterrupted(
                            f"stream read failed ({type(exc).__name__})", broker=BROKER
                        ) from None
                    self._heard_from_server = True
                    for event in await self._handle_line(line):
                        yield event

    async def _status_error(self, response: httpx.Response) -> AutotraderError:
        text = (await response.aread()).decode("utf-8", "replace")
        try:
            body: Any = json.loads(text, parse_float=Decimal) if text.strip() else None
        except ValueError:
            body = None
        status = response.status_code
        if status == 429:
            retry = parse_retry_after(response.headers.get("Retry-After"))
            return RateLimited(
                "OANDA refused the stream: too many streams or connections",
                retry_after=retry,
                broker=BROKER,
                code=429,
            )
        if status >= 500:
            return BrokerUnavailable(f"OANDA stream host answered HTTP {status}", broker=BROKER, code=status)
        reply = HttpReply(
            status,
            response.headers.raw,
            text.encode(),
            method=response.request.method,
            url=str(response.request.url),
        )
        mapped = map_http_error(reply, body)
        return mapped or BrokerError(f"OANDA stream answered HTTP {status}", broker=BROKER, code=status)

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


def _short_reason(exc: Exception) -> str:
    """What ended a stream connection, in a few words (for telemetry)."""
    if isinstance(exc, StreamInterrupted):
        return exc.message
    if isinstance(exc, httpx.HTTPError):
        return f"connection lost: {type(exc).__name__}"
    if isinstance(exc, AutotraderError):
        return f"{type(exc).__name__}: {exc.message}"
    return type(exc).__name__
