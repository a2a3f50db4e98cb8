"""Circuit breaker: stop hammering a broker that is down, probe it gently when it may be back.

Closed → (``failure_threshold`` consecutive transport failures, or a ban) →
open: calls are refused locally with :class:`~autotrader_core.errors.CircuitOpen`
→ (after ``reset_timeout``, or the ban's ``retry_after`` if longer) → half-open:
exactly one trial call goes through; success closes the circuit, failure
re-opens it.

Only transport-level failures count (``TransientError``, ``BrokerProtocolError``)
plus bans. A business refusal (invalid order, insufficient funds, order not
found) proves the broker is up and resets the count.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from autotrader_core.errors import (
    AutotraderError,
    BrokerProtocolError,
    CircuitOpen,
    RateLimited,
    TransientError,
)

__all__ = ["BreakerState", "BreakerStats", "CircuitBreaker"]

T = TypeVar("T")
logger = logging.getLogger(__name__)


class BreakerState(StrEnum):
    """State of a circuit breaker."""

    CLOSED = "closed"
    """Calls go through."""
    OPEN = "open"
    """Calls are refused locally."""
    HALF_OPEN = "half_open"
    """One trial call is allowed to test the broker."""


@dataclass(frozen=True, slots=True)
class BreakerStats:
    """Snapshot of a breaker for status displays."""

    name: str
    state: BreakerState
    consecutive_failures: int
    failure_threshold: int
    calls: int
    """Calls let through (trials included)."""
    failures: int
    """Calls that failed in a way that counts (transport, protocol, ban)."""
    refused: int
    """Calls refused locally with ``CircuitOpen``."""
    times_opened: int
    retry_in: float
    """Seconds until a trial is allowed (0 unless open)."""
    last_failure: str | None
    """Type and message of the latest counted failure."""


class CircuitBreaker:
    """Trips after consecutive transport failures; refuses calls while open.

    Args:
        name: Shown in errors, statistics and state-change callbacks.
        failure_threshold: Consecutive counted failures that open the circuit.
        reset_timeout: Seconds the circuit stays open before a trial call.
        clock: Monotonic clock in seconds (injectable for tests).
        on_state_change: Called as ``(name, new_state)`` with the state's string
            value (``"closed"``, ``"open"``, ``"half_open"``) on every change.
    """

    def __init__(
        self,
        name: str,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_state_change: Callable[[str, str], None] | None = None,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be at least 1, got {failure_threshold}")
        if reset_timeout < 0:
            raise ValueError(f"reset_timeout must not be negative, got {reset_timeout}")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._on_state_change = on_state_change
        self._state = BreakerState.CLOSED
        self._generation = 0  # bumped on each state change: stale results don't move the state
        self._open_until = 0.0
        self._trial_running = False
        self._consecutive = 0
        self._calls = 0
        self._failures = 0
        self._refused = 0
        self._times_opened = 0
        self._last_failure: str | None = None

    @property
    def state(self) -> BreakerState:
        """Current state (an open circuit whose timeout passed reads as half-open)."""
        return self._current_state()

    @staticmethod
    def counts_as_failure(error: BaseException) -> bool:
        """Whether ``error`` says the broker is unreachable or broken (not a business refusal)."""
        if isinstance(error, RateLimited):
            return error.banned
        return isinstance(error, (TransientError, BrokerProtocolError))

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``fn`` through the breaker.

        Raises:
            CircuitOpen: without calling ``fn``, while open (or while a half-open
                trial is already running).
        """
        state = self._state
        if state is BreakerState.OPEN:  # only an open circuit's state moves with the clock
            state = self._current_state()
        trial = False
        if state is BreakerState.OPEN:
            self._refused += 1
            retry_in = max(0.0, self._open_until - self._clock())
            raise CircuitOpen(
                f"circuit {self.name!r} is open after {self._consecutive} consecutive failure(s)"
                f" (last: {self._last_failure}); nothing was sent; next trial in {retry_in:.1f}s",
                retry_in=retry_in,
            )
        if state is BreakerState.HALF_OPEN:
            if self._trial_running:
                self._refused += 1
                raise CircuitOpen(
                    f"circuit {self.name!r} is half-open and a trial call is running; nothing was sent",
                    retry_in=min(1.0, self.reset_timeout),
                )
            self._trial_running = True
            trial = True
        generation = self._generation
        self._calls += 1
        try:
            result = await fn()
        except BaseException as exc:
            if trial:
                self._trial_running = False
            if self.counts_as_failure(exc):
                self._failed(exc, generation)
            elif isinstance(exc, AutotraderError):
                self._succeeded(generation)  # the broker answered: it is reachable
            raise
        if trial:
            self._trial_running = False
        if generation == self._generation and self._state is BreakerState.CLOSED:
            self._consecutive = 0  # _succeeded for a closed circuit, inlined: every order passes here
        else:
            self._succeeded(generation)
        return result

    def _current_state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() >= self._open_until:
            self._set_state(BreakerState.HALF_OPEN)
        return self._state

    def _succeeded(self, generation: int) -> None:
        if generation != self._generation:
            return  # started before the last state change: says nothing about now
        self._consecutive = 0
        if self._state is BreakerState.HALF_OPEN:
            self._set_state(BreakerState.CLOSED)

    def _failed(self, error: BaseException, generation: int) -> None:
        self._failures += 1
        self._last_failure = f"{type(error).__name__}: {error}"[:300]
        if generation != self._generation:
            return
        self._consecutive += 1
        ban = (error.retry_after or 0.0) if isinstance(error, RateLimited) else 0.0
        if (
            self._state is BreakerState.HALF_OPEN
            or self._consecutive >= self.failure_threshold
            or isinstance(error, RateLimited)
        ):
            self._open(max(self.reset_timeout, ban))

    def _open(self, seconds: float) -> None:
        self._open_until = self._clock() + seconds
        self._times_opened += 1
        self._set_state(BreakerState.OPEN)

    def trip(self, seconds: float | None = None) -> None:
        """Open the circuit now, for ``seconds`` (default ``reset_timeout``)."""
        self._open(self.reset_timeout if seconds is None else seconds)

    def reset(self) -> None:
        """Close the circuit now and forget the failure count."""
        self._consecutive = 0
        self._trial_running = False
        if self._state is not BreakerState.CLOSED:
            self._set_state(BreakerState.CLOSED)

    def _set_state(self, state: BreakerState) -> None:
        previous, self._state = self._state, state
        self._generation += 1
        if state is previous:
            return
        logger.log(
            logging.WARNING if state is BreakerState.OPEN else logging.INFO,
            "circuit breaker %s: %s -> %s",
            self.name,
            previous.value,
            state.value,
        )
        if self._on_state_change is not None:
            try:
                self._on_state_change(self.name, state.value)
            except Exception:  # a broken listener must not break order flow
                logger.exception("circuit breaker %s: on_state_change callback failed", self.name)

    def statistics(self) -> BreakerStats:
        """A snapshot of the breaker's state and counters."""
        state = self._current_state()
        retry_in = max(0.0, self._open_until - self._clock()) if state is BreakerState.OPEN else 0.0
        return BreakerStats(
            name=self.name,
            state=state,
            consecutive_failures=self._consecutive,
            failure_threshold=self.failure_threshold,
            calls=self._calls,
            failures=self._failures,
            refused=self._refused,
            times_opened=self._times_opened,
            retry_in=retry_in,
            last_failure=self._last_failure,
        )

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.name!r} state={self._state.value} failures={self._consecutive}>"
