"""A reconnecting stream: connect → log in → subscribe → catch up → read, until closed.

Every adapter's private stream is the same loop around a different carrier and
different frames; this is that loop, written once. The adapter supplies a carrier
factory and small hooks; the stream owns the backoff (``RetryPolicy.backoff``),
heartbeat-silence detection, the catch-up after each reconnect, the
``AdapterTelemetry.reconnected`` report and a clean close::

    stream = ReconnectingStream(
        lambda: WebSocketCarrier(url),
        decode=parse_frame,            # frame -> events (raise Reconnect to start over)
        log_in=log_in,                 # optional: send the login, wait for its reply
        subscribe=subscribe,           # optional: send subscriptions, wait for the acks
        catch_up=fills_since,          # optional: what was missed while away
        heartbeat=Heartbeat(silence=30, ping="ping", pong_timeout=5),
        telemetry=lambda: adapter.telemetry,
        name="okx",
    )
    async for event in stream.events():
        ...

What ends the stream and what reconnects is written down in
:mod:`autotrader_core.streaming.carrier`.
"""

from __future__ import annotations

import inspect
import logging
import math
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

import anyio

from autotrader_core.adapter import AdapterTelemetry
from autotrader_core.errors import AuthenticationError, AutotraderError, ConfigurationError, RateLimited
from autotrader_core.resiliency.retry import RetryPolicy, Sleep
from autotrader_core.streaming.carrier import Carrier, Reconnect, StreamLost

__all__ = [
    "STREAM_RETRY_POLICY",
    "CatchUp",
    "Decode",
    "Gap",
    "Handshake",
    "Heartbeat",
    "ReconnectingStream",
]

logger = logging.getLogger("autotrader_core.streaming")

F = TypeVar("F")
T = TypeVar("T")

STREAM_RETRY_POLICY = RetryPolicy(max_attempts=1, base_delay=0.5, max_delay=30.0, jitter=0.5)
"""Default reconnect backoff: 0.5 s doubling to 30 s, ±50 % jitter (``max_attempts`` is not used:
a stream reconnects until it is closed)."""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """How a dead connection is noticed.

    Attributes:
        silence: Seconds without any frame after which the connection counts as dead.
        ping: When set, sent after ``silence`` seconds without a frame (OKX's ``"ping"``);
            the connection is dead only if no frame follows within ``pong_timeout``.
        pong_timeout: Seconds to wait for any frame after ``ping``.
    """

    silence: float
    ping: object | None = None
    pong_timeout: float = 5.0

    def __post_init__(self) -> None:
        if not (self.silence > 0 and self.pong_timeout > 0):
            raise ValueError("heartbeat silence and pong_timeout must be positive seconds")


@dataclass(frozen=True, slots=True)
class Gap:
    """The stretch a catch-up must cover.

    Attributes:
        connection: Number of the connection now open (1 = the first).
        since: Wall-clock epoch seconds up to which the last healthy connection is known
            to have delivered everything: when its last frame was handled (or when it
            became healthy, if it carried none). Catch up from here, with a little
            overlap for clock differences: a connection that went silent was already
            dead before the silence was noticed. ``None`` on the first connection.
        lost_at: Wall-clock epoch seconds when the loss was noticed (``None`` on the
            first connection). Failed attempts in between move neither time, and a
            failed catch-up leaves both for the next one.
        reason: What ended the previous connection (``None`` on the first).
    """

    connection: int
    since: float | None
    lost_at: float | None
    reason: str | None

    @property
    def is_reconnect(self) -> bool:
        """False for the first connection."""
        return self.since is not None


Handshake = Callable[[Carrier[F]], Awaitable[Iterable[F] | None]]
"""A login or subscribe step: sends its frames and waits for the broker's answer.

Returns the frames it read that belong to the stream (a push that arrived before the
last acknowledgement), or ``None``; they are decoded after the catch-up.
"""

Decode = Callable[[F], Iterable[T] | Awaitable[Iterable[T]]]
"""One frame → the items it carries (often none: acks, pongs). Raise :class:`Reconnect` to start over."""

CatchUp = Callable[[Gap], Awaitable[Iterable[T]]]
"""What happened during ``gap`` (fills, order updates), fetched once the new connection is subscribed."""


class ReconnectingStream(Generic[F, T]):
    """A stream of items that survives dropped, silent and renewed connections.

    Args:
        connect: Makes a new, unopened carrier; called once per (re)connection.
        decode: Turns each frame into items (sync or async).
        name: Used in logs and rate-limit telemetry (e.g. ``"okx-private"``).
        log_in: Optional first step on every connection.
        subscribe: Optional second step on every connection.
        catch_up: Called on every reconnect once subscribed; its items are yielded
            before any frame of the new connection. A failure (other than a bad key
            or setting) reconnects and asks again: the gap stays open until covered.
        catch_up_first: Also call ``catch_up`` on the first connection (OANDA
            resumes from a known transaction id).
        heartbeat: Silence detection; ``None`` relies on the carrier's own.
        max_age: Renew the connection after this many seconds (Binance: under 24 h),
            without a backoff wait.
        before_connect: Awaited before every attempt (a connection limiter: OANDA allows
            two new streams per second).
        handshake_timeout: Seconds log-in and subscribe may take together before the
            connection is replaced.
        policy: Backoff between attempts: ``policy.backoff(n)`` after the n-th
            consecutive failure; back to the first step once a connection is healthy.
        telemetry: The adapter's telemetry, or a callable returning it (looked up
            on every report: the engine installs its own after the adapter is built).
        sleep: Test seam: the backoff wait (``anyio.sleep``).
        rand: Test seam: the jitter's random source.
        wall_clock: Test seam: epoch seconds for :attr:`Gap.since` and :attr:`Gap.lost_at`.
    """

    def __init__(
        self,
        connect: Callable[[], Carrier[F]],
        decode: Decode[F, T],
        *,
        name: str,
        log_in: Handshake[F] | None = None,
        subscribe: Handshake[F] | None = None,
        catch_up: CatchUp[T] | None = None,
        catch_up_first: bool = False,
        heartbeat: Heartbeat | None = None,
        max_age: float | None = None,
        before_connect: Callable[[], Awaitable[object]] | None = None,
        handshake_timeout: float = 30.0,
        policy: RetryPolicy = STREAM_RETRY_POLICY,
        telemetry: AdapterTelemetry | Callable[[], AdapterTelemetry] | None = None,
        sleep: Sleep = anyio.sleep,
        rand: Callable[[], float] = random.random,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if max_age is not None and not max_age > 0:
            raise ValueError("max_age must be positive seconds")
        self._connect = connect
        self._decode = decode
        self.name = name
        self._log_in = log_in
        self._subscribe = subscribe
        self._catch_up = catch_up
        self._catch_up_first = catch_up_first
        self._heartbeat = heartbeat
        self._max_age = max_age
        self._before_connect = before_connect
        self._handshake_timeout = handshake_timeout
        self._policy = policy
        self._telemetry = telemetry
        self._sleep = sleep
        self._rand = rand
        self._wall_clock = wall_clock
        self._closed = False
        self._carrier: Carrier[F] | None = None
        self._wait_scope: anyio.CancelScope | None = None
        self._lost_reason: str | None = None
        self._covered_until = 0.0
        """When the current healthy connection last handed over everything it received."""
        self._gap: tuple[float, float] | None = None
        """``(since, lost_at)`` of the open gap; cleared once a catch-up covered it."""
        self.connections = 0
        """Connections that got through log-in and subscribe (1 + reconnects)."""
        self.reconnects = 0
        """Reconnects reported to telemetry."""
        self.delays: list[float] = []
        """Every backoff wait so far, in seconds (for status pages and tests)."""
        self.last_error: str | None = None
        """Why the latest connection attempt or connection ended (full text, for logs)."""

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` was called."""
        return self._closed

    def _stopping(self) -> bool:
        # A call, not an attribute read: mypy would narrow ``self._closed`` to False inside the loop.
        return self._closed

    async def aclose(self) -> None:
        """Stop: a running :meth:`events` ends without error, the open connection is closed. Idempotent."""
        self._closed = True
        if self._wait_scope is not None:
            self._wait_scope.cancel()
        carrier = self._carrier
        if carrier is not None:
            await _close_quietly(carrier)

    async def events(self) -> AsyncGenerator[T, None]:
        """Items from every connection and catch-up, in order, until :meth:`aclose`.

        Stop with :meth:`aclose`, or read it inside ``contextlib.aclosing`` so that leaving
        the loop early closes the connection at once (not when the generator is collected).

        Raises:
            AuthenticationError, ConfigurationError: the broker refused the
                credentials, or a setting is wrong; reconnecting cannot help.
            AutotraderError: any other non-retryable error a hook or carrier raised.
        """
        failures = 0
        while not self._closed:
            if self._before_connect is not None:
                await self._before_connect()
            carrier = self._connect()
            self._carrier = carrier
            healthy = False
            immediate = False
            try:
                try:
                    await carrier.open()
                    early = await self._handshakes(carrier)
                    gap = self._established()
                    for item in await self._run_catch_up(gap):
                        yield item
                    healthy = True
                    failures = 0
                    self._gap = None
                    self._covered_until = self._wall_clock()
                    for frame in early:
                        for item in await self._items(frame):
                            yield item
                        self._covered_until = self._wall_clock()
                    # The read loop, inline: one generator hop per item, not two (hot path).
                    deadline = math.inf if self._max_age is None else time.monotonic() + self._max_age
                    untimed = deadline == math.inf and self._heartbeat is None
                    while True:
                        frame = await (carrier.recv() if untimed else self._next_frame(carrier, deadline))
                        result = self._decode(frame)
                        if type(result) is not list and inspect.isawaitable(result):
                            result = await result
                        for item in result:
                            yield item
                        self._covered_until = self._wall_clock()  # everything in the frame handed over
                finally:
                    self._carrier = None
                    await _close_quietly(carrier)
            except Exception as exc:
                if self._stopping():
                    return  # aclose() closed the carrier under a read: not a failure
                if not _reconnects(exc):
                    raise
                reason = _reason(exc)
                immediate = isinstance(exc, Reconnect) and exc.immediate
                self.last_error = f"{type(exc).__name__}: {exc}"
                if healthy:
                    self._gap = (self._covered_until, self._wall_clock())
                if self.connections and self._lost_reason is None:  # the first reason wins
                    self._lost_reason = reason
                delay = 0.0 if immediate and healthy else self._delay(exc, failures + 1)
                if not (immediate and healthy):
                    failures += 1
                logger.warning("%s stream: %s; reconnecting in %.2fs", self.name, self.last_error, delay)
                await self._wait(delay)

    # -- one connection --------------------------------------------------------------
    async def _handshakes(self, carrier: Carrier[F]) -> list[F]:
        """Log in, then subscribe; a broker that never answers must not hang the stream."""
        early: list[F] = []
        with anyio.move_on_after(self._handshake_timeout):
            for step in (self._log_in, self._subscribe):
                if step is not None:
                    frames = await step(carrier)
                    early += frames if frames is not None else ()
            return early
        raise Reconnect(f"no answer to log-in / subscribe within {self._handshake_timeout:g}s")

    def _established(self) -> Gap:
        self.connections += 1
        reason, self._lost_reason = self._lost_reason, None
        if self.connections > 1:
            self.reconnects += 1
            self._telemetry_now().reconnected(reason or "connection lost")
        since, lost_at = self._gap if self._gap is not None else (None, None)
        return Gap(self.connections, since, lost_at, reason)

    async def _run_catch_up(self, gap: Gap) -> Iterable[T]:
        if self._catch_up is None or not (gap.is_reconnect or self._catch_up_first):
            return ()
        try:
            return await self._catch_up(gap)
        except (AutotraderError, OSError, TimeoutError) as exc:
            if _fatal(exc):
                raise
            # Never read on with fills possibly missing: the gap stays open and the next
            # connection asks again.
            raise Reconnect(f"catch-up failed: {type(exc).__name__}") from exc

    async def _items(self, frame: F) -> Iterable[T]:
        result = self._decode(frame)
        if type(result) is not list and inspect.isawaitable(result):
            return await result
        return result

    async def _next_frame(self, carrier: Carrier[F], deadline: float) -> F:
        beat = self._heartbeat
        wait = beat.silence if beat is not None else math.inf
        if deadline != math.inf:
            wait = min(wait, deadline - time.monotonic())
        with anyio.move_on_after(wait):
            return await carrier.recv()
        if deadline != math.inf and time.monotonic() >= deadline:
            raise Reconnect("renewing the connection (maximum age)", immediate=True)
        assert beat is not None  # only a heartbeat or the age limit ends the wait
        if beat.ping is None:
            raise Reconnect(f"heartbeat timeout (no frame for {beat.silence:g}s)")
        await carrier.send(beat.ping)  # type: ignore[arg-type]  # the ping is a frame of this carrier
        with anyio.move_on_after(beat.pong_timeout):
            return await carrier.recv()
        raise Reconnect(f"heartbeat timeout (no answer to ping within {beat.pong_timeout:g}s)")

    # -- between connections ---------------------------------------------------------
    def _delay(self, error: BaseException, failures: int) -> float:
        delay = self._policy.backoff(failures, self._rand)
        if isinstance(error, RateLimited) and error.retry_after is not None and error.retry_after > delay:
            delay = error.retry_after  # the broker said how long: wait that, and say so
            self._telemetry_now().rate_limit_wait(self.name, delay)
        self.delays.append(delay)
        return delay

    async def _wait(self, delay: float) -> None:
        with anyio.CancelScope() as scope:  # aclose() cuts the wait short
            self._wait_scope = scope
            if not self._closed:
                await self._sleep(delay)
        self._wait_scope = None

    def _telemetry_now(self) -> AdapterTelemetry:
        telemetry = self._telemetry
        if telemetry is None:
            return _SILENT
        if isinstance(telemetry, AdapterTelemetry):
            return telemetry
        return telemetry()


_SILENT = AdapterTelemetry()


def _fatal(error: BaseException) -> bool:
    """A bad key or a bad setting: no reconnect can fix it."""
    return isinstance(error, AuthenticationError | ConfigurationError)


def _reconnects(error: BaseException) -> bool:
    """Whether the stream replaces the connection after ``error`` (else the stream ends with it)."""
    if isinstance(error, Reconnect):
        return True
    if isinstance(error, AutotraderError):
        return error.retryable and not _fatal(error)
    return isinstance(error, OSError | TimeoutError)


def _reason(error: BaseException) -> str:
    """A short, low-cardinality reason for telemetry (the full text goes to the log)."""
    if isinstance(error, Reconnect):
        return error.reason
    if isinstance(error, RateLimited):
        return "rate limited"
    if isinstance(error, StreamLost):
        return f"connection lost: {error.message}"  # the carrier's own words: "websocket closed (code 1001)"
    return f"connection lost: {type(error).__name__}"


async def _close_quietly(carrier: Carrier[F]) -> None:
    with anyio.CancelScope(shield=True):
        try:
            await carrier.close()
        except Exception as exc:  # closing a broken connection may fail; the stream goes on
            logger.debug("closing a stream carrier failed: %s", exc)
