"""Estimate of the broker's clock, for signed request timestamps.

Brokers refuse signed requests whose timestamp is too far from their own clock
(Binance ``-1021``, OKX ``50102``). :class:`ClockOffset` keeps the offset between
our clock and the broker's, measured the way Hummingbot's ``TimeSynchronizer``
does: each sample compares the server time with the *midpoint* of the round
trip (which cancels symmetric network latency), and the offset is the median of
the last few samples (one slow or asymmetric round trip cannot move it).
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Awaitable, Callable

__all__ = ["ClockOffset", "sync_clock"]


def _anchored_epoch() -> Callable[[], float]:
    """A wall clock (epoch seconds) that cannot jump: monotonic time anchored to the epoch once.

    A local NTP step between two syncs would otherwise shift every timestamp we
    sign; the measured offset absorbs the difference to the broker instead.
    """
    anchor = time.time() - time.monotonic()
    monotonic = time.monotonic

    def now() -> float:
        return monotonic() + anchor

    return now


class ClockOffset:
    """Server clock estimate: ``now_ms()`` is what the broker's clock reads now.

    Args:
        max_samples: How many recent samples the median is taken over.
        time_source: Local clock in epoch seconds (injectable for tests). The
            default is monotonic time anchored to the epoch at construction.
    """

    __slots__ = ("_samples", "_time", "last_rtt_ms", "offset_ms")

    def __init__(self, *, max_samples: int = 5, time_source: Callable[[], float] | None = None) -> None:
        if max_samples < 1:
            raise ValueError(f"max_samples must be at least 1, got {max_samples}")
        self._time = time_source if time_source is not None else _anchored_epoch()
        self._samples: deque[float] = deque(maxlen=max_samples)
        self.offset_ms: int = 0
        """Milliseconds to add to the local clock to get the broker's clock."""
        self.last_rtt_ms: int | None = None
        """Round-trip time of the latest sample (an upper bound on its error × 2)."""

    def local_ms(self) -> int:
        """The local clock in epoch milliseconds, without the offset (use it to time a sync)."""
        return int(self._time() * 1000)

    def now_ms(self) -> int:
        """The broker's clock now, in epoch milliseconds: local time + offset."""
        return int(self._time() * 1000) + self.offset_ms

    def update(self, server_ms: int, sent_ms: int, received_ms: int) -> None:
        """Add one sample and recompute the offset.

        Args:
            server_ms: The server time the broker reported.
            sent_ms: Local time (:meth:`local_ms`) just before the request was sent.
            received_ms: Local time just after the reply arrived.
        """
        if received_ms < sent_ms:
            raise ValueError(f"received_ms ({received_ms}) is before sent_ms ({sent_ms})")
        midpoint = (sent_ms + received_ms) / 2
        self._samples.append(server_ms - midpoint)
        self.last_rtt_ms = received_ms - sent_ms
        self.offset_ms = round(statistics.median(self._samples))

    @property
    def sample_count(self) -> int:
        """Number of samples currently in the median window."""
        return len(self._samples)

    def reset(self) -> None:
        """Forget every sample (offset back to zero), e.g. after the broker's clock jumped."""
        self._samples.clear()
        self.offset_ms = 0
        self.last_rtt_ms = None

    async def sync(self, fetch_server_ms: Callable[[], Awaitable[int]]) -> int:
        """Measure one sample with ``fetch_server_ms`` (a server-time request) and return the offset."""
        sent = self.local_ms()
        server_ms = await fetch_server_ms()
        received = self.local_ms()
        self.update(int(server_ms), sent, received)
        return self.offset_ms

    def __repr__(self) -> str:
        return f"<ClockOffset offset_ms={self.offset_ms} samples={len(self._samples)}>"


async def sync_clock(
    clock: ClockOffset, fetch_server_ms: Callable[[], Awaitable[int]], *, samples: int = 1
) -> int:
    """Take ``samples`` measurements with ``fetch_server_ms`` and return the resulting offset (ms).

    Use a few samples at connect time and one per periodic resync.
    """
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    for _ in range(samples):
        await clock.sync(fetch_server_ms)
    return clock.offset_ms
