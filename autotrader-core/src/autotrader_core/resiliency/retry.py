"""Retry with exponential backoff and jitter, for retryable errors only.

``retry`` is for *idempotent* operations (queries, cancels by id). A new order
is never re-sent blindly: submissions go through
:func:`~autotrader_core.resiliency.submit.submit_with_lookup`, which asks the
broker about the order before any re-send.
"""

from __future__ import annotations

import contextlib
import math
import random
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio

from autotrader_core.errors import CircuitOpen, RateLimited

__all__ = ["OnRetry", "RetryPolicy", "Sleep", "attempts_of", "record_attempts", "retry"]

T = TypeVar("T")

Sleep = Callable[[float], Awaitable[None]]
"""An async sleep (``anyio.sleep`` or a test double)."""

OnRetry = Callable[[int, BaseException, float], None]
"""Called before each wait as ``(attempt that failed, its error, seconds about to wait)``."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry.

    Args:
        max_attempts: Total tries including the first (1 = never retry).
        base_delay: Wait after the first failure; doubles after each further one.
        max_delay: Cap on the backoff wait.
        jitter: Random spread as a fraction of the wait (0.2 = ±20 %), so many
            clients recovering together do not retry in lockstep.
        max_retry_after: Longest broker-requested wait (``Retry-After``, an open
            breaker's ``retry_in``) worth waiting for; longer ones give up at once
            with the broker's error.
    """

    max_attempts: int = 3
    base_delay: float = 0.2
    max_delay: float = 5.0
    jitter: float = 0.2
    max_retry_after: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if not (self.base_delay >= 0 and self.max_delay >= 0 and self.max_retry_after >= 0):
            raise ValueError("base_delay, max_delay and max_retry_after must not be negative")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter is a fraction between 0 and 1, got {self.jitter}")

    def backoff(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based), jitter included."""
        base = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        spread = base * self.jitter * (2.0 * rand() - 1.0)
        return max(0.0, min(self.max_delay, base + spread))

    def delay_after(
        self, error: BaseException, attempt: int, rand: Callable[[], float] = random.random
    ) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to give up.

        Gives up when ``error`` is not retryable, when ``attempt`` was the last one,
        or when the broker asks for a wait longer than ``max_retry_after``.
        """
        if not getattr(error, "retryable", False) or attempt >= self.max_attempts:
            return None
        requested: float | None = None
        if isinstance(error, RateLimited):
            requested = error.retry_after
        elif isinstance(error, CircuitOpen):
            requested = error.retry_in
        if requested is not None and math.isfinite(requested):
            return None if requested > self.max_retry_after else max(0.0, requested)
        return self.backoff(attempt, rand)


_ATTEMPTS: weakref.WeakKeyDictionary[BaseException, int] = weakref.WeakKeyDictionary()


def record_attempts(error: BaseException, attempts: int) -> None:
    """Remember that ``attempts`` were made before giving up with ``error`` (see :func:`attempts_of`)."""
    with contextlib.suppress(TypeError):  # built-in exception types have no weak references
        _ATTEMPTS[error] = attempts


def attempts_of(error: BaseException) -> int | None:
    """How many attempts were made before ``error`` was given up on (``None`` if unknown)."""
    try:
        return _ATTEMPTS.get(error)
    except TypeError:
        return None


async def retry(
    fn: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    on_retry: OnRetry | None = None,
    sleep: Sleep = anyio.sleep,
    rand: Callable[[], float] = random.random,
) -> T:
    """Call ``fn`` until it succeeds, retrying only errors whose ``retryable`` is true.

    A :class:`~autotrader_core.errors.RateLimited` waits the broker's
    ``retry_after`` instead of the backoff (or gives up if that is longer than
    ``policy.max_retry_after``). The last error is re-raised when attempts run out;
    :func:`attempts_of` tells how many were made.
    """
    attempt = 1
    while True:
        try:
            return await fn()
        except Exception as exc:
            delay = policy.delay_after(exc, attempt, rand)
            if delay is None:
                record_attempts(exc, attempt)
                raise
            if on_retry is not None:
                on_retry(attempt, exc, delay)
        await sleep(delay)
        attempt += 1
