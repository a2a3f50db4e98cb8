"""Weighted token bucket that also obeys the broker's own signals.

One limiter per metered scope of a broker (e.g. Binance's request weight per
minute, and a second one for orders per 10 s), shared by every path that talks
to that broker. Besides its own bucket it honours what the broker says:
``Retry-After`` and bans (:meth:`RateLimiter.block_for`) and the usage headers
(:meth:`RateLimiter.observe_usage`), which Hummingbot's throttler ignores.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

__all__ = ["RateLimiter", "RateLimiterStats"]

logger = logging.getLogger(__name__)

_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class RateLimiterStats:
    """A snapshot of one limiter's state and history."""

    name: str
    capacity: float
    per_seconds: float
    available: float
    """Tokens available right now (negative while paying back observed usage)."""
    queued: int
    """Callers waiting in :meth:`RateLimiter.acquire` right now."""
    acquired: int
    """Successful acquisitions so far."""
    waits: int
    """Acquisitions that had to wait."""
    total_waited: float
    """Seconds spent waiting, summed over all acquisitions."""
    blocked_for: float
    """Seconds until a ``block_for`` (Retry-After / ban) ends; 0 when not blocked."""


class RateLimiter:
    """Weighted token bucket: ``capacity`` tokens per ``per_seconds``, refilled continuously.

    ``acquire`` takes tokens without sleeping when they are there (the hot path),
    otherwise queues the caller: waiters are served strictly first come, first
    served, so a heavy request is never starved by a stream of light ones.

    Args:
        name: Shown in statistics and messages.
        capacity: Bucket size (and the most one request may weigh).
        per_seconds: Time to refill an empty bucket completely.
        clock: Monotonic clock in seconds (injectable for tests).
        sleep: Async sleep (injectable for tests).
    """

    def __init__(
        self,
        name: str,
        capacity: float,
        per_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        on_wait: Callable[[str, float], None] | None = None,
    ) -> None:
        if not capacity > 0 or not math.isfinite(capacity):
            raise ValueError(f"rate limiter {name!r}: capacity must be a positive number, got {capacity}")
        if not per_seconds > 0 or not math.isfinite(per_seconds):
            raise ValueError(f"rate limiter {name!r}: per_seconds must be positive, got {per_seconds}")
        self.name = name
        """Shown in statistics and messages."""
        self.capacity = float(capacity)
        """Bucket size: the most tokens available at once."""
        self.per_seconds = float(per_seconds)
        """Seconds to refill an empty bucket."""
        self._rate = self.capacity / self.per_seconds
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity
        self._last = clock()
        self._blocked_until = -math.inf
        self._waiters: deque[anyio.Event] = deque()
        self._acquired = 0
        self._waits = 0
        self._total_waited = 0.0
        self.on_wait = on_wait
        """Called as ``(name, seconds)`` after every acquire that had to wait (metrics, alerts).

        Adapters usually set it to their ``telemetry.rate_limit_wait``; it must return quickly.
        """

    async def acquire(self, weight: float = 1) -> float:
        """Take ``weight`` tokens, waiting (without blocking the event loop) until they are there.

        Returns:
            Seconds waited (``0.0`` when the tokens were available at once).

        Raises:
            ValueError: ``weight`` is negative or larger than the capacity (it could never be served).
        """
        if weight > self.capacity or weight < 0:
            raise ValueError(
                f"rate limiter {self.name!r}: weight {weight} is outside 0..{self.capacity:g} "
                f"(capacity per {self.per_seconds:g}s); a request this heavy can never be sent"
            )
        # Fast path: nobody queued, not blocked, enough tokens. No await, no allocation.
        if not self._waiters:
            now = self._clock()
            if now >= self._blocked_until:
                if now > self._last:
                    tokens = self._tokens + (now - self._last) * self._rate
                    self._tokens = tokens if tokens < self.capacity else self.capacity
                    self._last = now
                if self._tokens >= weight:
                    self._tokens -= weight
                    self._acquired += 1
                    return 0.0
        return await self._acquire_queued(weight)

    async def _acquire_queued(self, weight: float) -> float:
        start = self._clock()
        turn = anyio.Event()  # set by the previous head when it leaves
        self._waiters.append(turn)
        try:
            if self._waiters[0] is not turn:
                await turn.wait()
            while True:
                now = self._clock()
                self._refill(now)
                delay = max(self._blocked_until - now, (weight - self._tokens) / self._rate)
                if delay <= _EPSILON:
                    break
                await self._sleep(delay)  # re-check after: block_for may have moved the goal
            self._tokens -= weight
        finally:
            was_head = self._waiters[0] is turn
            self._waiters.remove(turn)
            if was_head and self._waiters:
                self._waiters[0].set()
        waited = max(0.0, self._clock() - start)
        self._acquired += 1
        self._waits += 1
        self._total_waited += waited
        if self.on_wait is not None and waited > 0:
            try:
                self.on_wait(self.name, waited)
            except Exception:  # an observer's bug must never break the request path
                logger.exception("rate limiter %s: on_wait callback failed", self.name)
        return waited

    def _refill(self, now: float) -> None:
        if now > self._last:
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self._rate)
            self._last = now

    def block_for(self, seconds: float) -> None:
        """Send nothing for ``seconds`` from now (a ``Retry-After`` or a ban).

        A longer block already in force is kept; a shorter one never shortens it.
        """
        if seconds <= 0 or math.isnan(seconds):
            return
        until = self._clock() + seconds
        if until > self._blocked_until:
            self._blocked_until = until

    def observe_usage(self, used: float) -> None:
        """Align with the broker's count of what we used in its window (e.g. ``X-MBX-USED-WEIGHT-1M``).

        Only ever lowers the available tokens: replies arrive out of order under
        concurrency, so an older, lower count must not hand out tokens we spent.
        Usage at or above capacity leaves the bucket empty (or in debt) so the
        next callers wait for the refill.
        """
        now = self._clock()
        self._refill(now)
        allowed = self.capacity - used
        if allowed < self._tokens:
            self._tokens = allowed

    @property
    def available(self) -> float:
        """Tokens available now (may be negative after :meth:`observe_usage`)."""
        self._refill(self._clock())
        return self._tokens

    @property
    def blocked_for(self) -> float:
        """Seconds until the current block ends; 0 when not blocked."""
        return max(0.0, self._blocked_until - self._clock())

    def statistics(self) -> RateLimiterStats:
        """A snapshot of the limiter's state and counters."""
        return RateLimiterStats(
            name=self.name,
            capacity=self.capacity,
            per_seconds=self.per_seconds,
            available=self.available,
            queued=len(self._waiters),
            acquired=self._acquired,
            waits=self._waits,
            total_waited=self._total_waited,
            blocked_for=self.blocked_for,
        )

    def __repr__(self) -> str:
        return (
            f"<RateLimiter {self.name!r} {self.capacity:g}/{self.per_seconds:g}s "
            f"available={self.available:.2f} queued={len(self._waiters)}>"
        )
