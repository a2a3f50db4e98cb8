"""ClockOffset: RTT-midpoint samples, median of the last N, server-time sync."""

from __future__ import annotations

import time

import pytest
from autotrader_core.clock import ClockOffset, sync_clock


class FakeTime:
    """Epoch seconds under test control."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_offset_is_server_time_minus_round_trip_midpoint() -> None:
    clock = ClockOffset(time_source=FakeTime())
    clock.update(server_ms=10_500, sent_ms=10_000, received_ms=10_200)
    assert clock.offset_ms == 400  # 10_500 - 10_100
    assert clock.last_rtt_ms == 200


def test_now_ms_is_local_time_plus_offset() -> None:
    fake = FakeTime(1_700_000_000.0)
    clock = ClockOffset(time_source=fake)
    assert clock.now_ms() == 1_700_000_000_000
    clock.update(server_ms=1_700_000_001_250, sent_ms=1_700_000_000_000, received_ms=1_700_000_000_000)
    assert clock.now_ms() == 1_700_000_001_250
    fake.now += 2
    assert clock.now_ms() == 1_700_000_003_250
    assert clock.local_ms() == 1_700_000_002_000


def test_median_ignores_one_outlier_sample() -> None:
    clock = ClockOffset(time_source=FakeTime())
    for offset in (100, 102, 98, 5_000, 101):
        clock.update(server_ms=offset, sent_ms=0, received_ms=0)
    assert clock.offset_ms == 101


@pytest.mark.parametrize(
    ("max_samples", "offsets", "expected"),
    [
        (1, [10, 20, 30], 30),
        (3, [1_000, 1_000, 1_000, 10, 20], 20),  # the old 1_000s fell out of the window
        (5, [10, 20], 15),  # even count: mean of the two middle samples
    ],
)
def test_only_the_last_n_samples_count(max_samples: int, offsets: list[int], expected: int) -> None:
    clock = ClockOffset(max_samples=max_samples, time_source=FakeTime())
    for offset in offsets:
        clock.update(server_ms=offset, sent_ms=0, received_ms=0)
    assert clock.offset_ms == expected
    assert clock.sample_count == min(max_samples, len(offsets))


def test_negative_offset_when_local_clock_is_ahead() -> None:
    clock = ClockOffset(time_source=FakeTime())
    clock.update(server_ms=9_000, sent_ms=10_000, received_ms=10_100)
    assert clock.offset_ms == -1_050


def test_received_before_sent_is_refused() -> None:
    clock = ClockOffset(time_source=FakeTime())
    with pytest.raises(ValueError, match="before sent_ms"):
        clock.update(server_ms=1, sent_ms=10, received_ms=5)
    assert clock.sample_count == 0


def test_max_samples_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_samples"):
        ClockOffset(max_samples=0)


def test_reset_forgets_samples() -> None:
    clock = ClockOffset(time_source=FakeTime())
    clock.update(server_ms=500, sent_ms=0, received_ms=0)
    clock.reset()
    assert (clock.offset_ms, clock.sample_count, clock.last_rtt_ms) == (0, 0, None)


@pytest.mark.anyio
async def test_sync_measures_round_trip_around_the_fetch() -> None:
    fake = FakeTime(1000.0)
    clock = ClockOffset(time_source=fake)

    async def fetch_server_ms() -> int:
        fake.now += 0.3  # 300 ms round trip; server stamps its time mid-way
        return 1_000_000 + 150 + 2_000

    offset = await clock.sync(fetch_server_ms)
    assert offset == 2_000
    assert clock.last_rtt_ms == 300


@pytest.mark.anyio
async def test_sync_clock_takes_the_requested_number_of_samples() -> None:
    fake = FakeTime(0.0)
    clock = ClockOffset(time_source=fake)
    calls = 0
    offsets = iter([50, 60, 5_000])

    async def fetch_server_ms() -> int:
        nonlocal calls
        calls += 1
        return clock.local_ms() + next(offsets)

    assert await sync_clock(clock, fetch_server_ms, samples=3) == 60
    assert calls == 3
    with pytest.raises(ValueError, match="samples"):
        await sync_clock(clock, fetch_server_ms, samples=0)


def test_default_time_source_tracks_the_wall_clock() -> None:
    clock = ClockOffset()
    assert abs(clock.now_ms() - time.time() * 1000) < 1_000
    first = clock.now_ms()
    assert clock.now_ms() >= first  # monotonic: never goes backwards
