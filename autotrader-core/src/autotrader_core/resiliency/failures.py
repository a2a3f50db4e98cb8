"""Failure rates per operation over a sliding time window.

Feeds alerts and status displays ("30 % of cancels failed in the last minute")
with nothing but counters: each operation keeps a deque of recent outcomes that
is pruned as the window slides.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from autotrader_core.errors import BrokerProtocolError, CircuitOpen, TransientError

__all__ = ["TRANSPORT_FAILURES", "FailureTracker", "OperationStats"]

TRANSPORT_FAILURES = (TransientError, CircuitOpen, BrokerProtocolError)
"""What counts as a failed broker request: transport trouble, never a broker's refusal (a
refusal is a healthy answer). Every tracked request catches exactly these."""


@dataclass(frozen=True, slots=True)
class OperationStats:
    """Outcomes of one operation inside the window."""

    operation: str
    successes: int
    failures: int

    @property
    def count(self) -> int:
        """Outcomes recorded in the window."""
        return self.successes + self.failures

    @property
    def failure_rate(self) -> float:
        """Failures / outcomes (0.0 when nothing was recorded)."""
        return self.failures / self.count if self.count else 0.0


class _Window:
    __slots__ = ("events", "failures")

    def __init__(self, maxlen: int | None) -> None:
        self.events: deque[tuple[float, bool]] = deque(maxlen=maxlen)
        self.failures = 0


class FailureTracker:
    """Successes and failures per operation over the last ``window`` seconds.

    Args:
        window: Width of the sliding window in seconds.
        clock: Monotonic clock in seconds (injectable for tests).
        max_events: Cap on outcomes kept per operation (memory bound under floods);
            the oldest go first.
    """

    def __init__(
        self,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_events: int | None = 100_000,
    ) -> None:
        if window <= 0:
            raise ValueError(f"window must be positive, got {window}")
        self.window = window
        self._clock = clock
        self._max_events = max_events
        self._ops: dict[str, _Window] = {}

    def record(self, operation: str, *, ok: bool) -> None:
        """Record one outcome of ``operation``."""
        win = self._ops.get(operation)
        if win is None:
            win = self._ops[operation] = _Window(self._max_events)
        now = self._clock()
        events = win.events
        if events and events[0][0] <= now - self.window:  # the call only when something left the window
            self._prune(win, now)
        if events.maxlen is not None and len(events) == events.maxlen and not events[0][1]:
            win.failures -= 1  # the append below pushes out the oldest (a failure)
        events.append((now, ok))
        if not ok:
            win.failures += 1

    def record_success(self, operation: str) -> None:
        """Record a success of ``operation``."""
        self.record(operation, ok=True)

    def record_failure(self, operation: str) -> None:
        """Record a failure of ``operation``."""
        self.record(operation, ok=False)

    def _prune(self, win: _Window, now: float) -> None:
        horizon = now - self.window
        events = win.events
        while events and events[0][0] <= horizon:
            _, ok = events.popleft()
            if not ok:
                win.failures -= 1

    def stats(self, operation: str) -> OperationStats:
        """Successes and failures of ``operation`` inside the window."""
        win = self._ops.get(operation)
        if win is None:
            return OperationStats(operation, 0, 0)
        self._prune(win, self._clock())
        return OperationStats(operation, len(win.events) - win.failures, win.failures)

    def failure_rate(self, operation: str) -> float:
        """Fraction of ``operation``'s outcomes in the window that failed (0.0 if none)."""
        return self.stats(operation).failure_rate

    def count(self, operation: str) -> int:
        """Outcomes of ``operation`` recorded inside the window."""
        return self.stats(operation).count

    def failures(self, operation: str) -> int:
        """Failures of ``operation`` inside the window."""
        return self.stats(operation).failures

    def snapshot(self) -> dict[str, OperationStats]:
        """Stats of every operation seen so far."""
        return {op: self.stats(op) for op in sorted(self._ops)}
