"""RateLimiter: weighted token bucket, FIFO fairness, Retry-After blocks, broker usage sync."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest
from autotrader_core.resiliency import RateLimiter
from hypothesis import given, settings
from hypothesis import strategies as st


class FakeTime:
    """A monotonic clock and a sleep that advances it instead of waiting."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()


def make(capacity: float = 10, per_seconds: float = 1.0) -> tuple[RateLimiter, FakeTime]:
    fake = FakeTime()
    return RateLimiter("test", capacity, per_seconds, clock=fake, sleep=fake.sleep), fake


@pytest.mark.anyio
async def test_acquire_within_capacity_never_sleeps() -> None:
    limiter, fake = make(capacity=10)
    waited = [await limiter.acquire() for _ in range(10)]
    assert waited == [0.0] * 10
    assert fake.sleeps == []
    assert limiter.available == pytest.approx(0)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("capacity", "per_seconds", "first", "second", "expected_wait"),
    [
        (10, 1.0, 10, 5, 0.5),  # 10 tokens/s: 5 tokens take 0.5 s
        (1200, 60.0, 1200, 20, 1.0),  # Binance-like weight: 20/s
        (100, 10.0, 98, 4, 0.2),  # 2 left, 2 more needed at 10/s
    ],
)
async def test_waits_exactly_until_enough_tokens_refill(
    capacity: float, per_seconds: float, first: float, second: float, expected_wait: float
) -> None:
    limiter, fake = make(capacity, per_seconds)
    assert await limiter.acquire(first) == 0.0
    waited = await limiter.acquire(second)
    assert waited == pytest.approx(expected_wait)
    assert sum(fake.sleeps) == pytest.approx(expected_wait)


@pytest.mark.anyio
async def test_tokens_refill_with_time_up_to_capacity() -> None:
    limiter, fake = make(capacity=10, per_seconds=1.0)
    await limiter.acquire(10)
    fake.now += 0.3
    assert limiter.available == pytest.approx(3)
    fake.now += 100
    assert limiter.available == pytest.approx(10)


@pytest.mark.anyio
@pytest.mark.parametrize("weight", [11, 10.5, -1])
async def test_impossible_weight_is_a_clear_value_error(weight: float) -> None:
    limiter, _ = make(capacity=10)
    with pytest.raises(ValueError, match="can never be sent"):
        await limiter.acquire(weight)


@pytest.mark.parametrize(("capacity", "per_seconds"), [(0, 1), (-5, 1), (10, 0), (10, float("inf"))])
def test_constructor_rejects_nonsense(capacity: float, per_seconds: float) -> None:
    with pytest.raises(ValueError, match="rate limiter 'x'"):
        RateLimiter("x", capacity, per_seconds)


@pytest.mark.anyio
async def test_block_for_holds_every_request_until_it_ends() -> None:
    limiter, fake = make(capacity=10)
    limiter.block_for(2.5)
    assert limiter.blocked_for == pytest.approx(2.5)
    waited = await limiter.acquire(1)
    assert waited == pytest.approx(2.5)
    assert fake.now == pytest.approx(102.5)
    assert limiter.blocked_for == 0


@pytest.mark.anyio
async def test_shorter_block_never_shortens_a_longer_one() -> None:
    limiter, _ = make()
    limiter.block_for(5)
    limiter.block_for(1)
    limiter.block_for(0)
    limiter.block_for(-3)
    assert limiter.blocked_for == pytest.approx(5)


@pytest.mark.anyio
async def test_block_during_a_wait_extends_it() -> None:
    limiter, fake = make(capacity=10)
    await limiter.acquire(10)
    original_sleep = fake.sleep
    blocked = False

    async def sleep_then_ban(seconds: float) -> None:
        nonlocal blocked
        await original_sleep(seconds)
        if not blocked:
            blocked = True
            limiter.block_for(3)  # e.g. a 418 arrived for another request meanwhile

    limiter._sleep = sleep_then_ban
    waited = await limiter.acquire(1)
    assert waited == pytest.approx(0.1 + 3)


@pytest.mark.anyio
async def test_observe_usage_lowers_available_tokens() -> None:
    limiter, _ = make(capacity=1200, per_seconds=60)
    limiter.observe_usage(1100)
    assert limiter.available == pytest.approx(100)
    waited = await limiter.acquire(120)  # 20 short at 20 tokens/s
    assert waited == pytest.approx(1.0)


@pytest.mark.anyio
async def test_observe_usage_never_hands_out_tokens_from_a_stale_lower_count() -> None:
    limiter, _ = make(capacity=100, per_seconds=60)
    await limiter.acquire(50)
    limiter.observe_usage(10)  # an older reply with a lower count
    assert limiter.available == pytest.approx(50)


@pytest.mark.anyio
async def test_usage_above_capacity_is_debt_paid_back_by_waiting() -> None:
    limiter, _ = make(capacity=10, per_seconds=1)
    limiter.observe_usage(15)  # another process shares our key
    assert limiter.available == pytest.approx(-5)
    assert await limiter.acquire(1) == pytest.approx(0.6)


@pytest.mark.anyio
async def test_waiters_are_served_first_come_first_served() -> None:
    limiter, fake = make(capacity=10, per_seconds=1)
    await limiter.acquire(5)  # 5 tokens left
    order: list[str] = []
    gate = anyio.Event()

    async def gated_sleep(seconds: float) -> None:
        await gate.wait()  # time stands still until the test lets it move
        fake.now += seconds

    limiter._sleep = gated_sleep

    async def take(name: str, weight: float) -> None:
        await limiter.acquire(weight)
        order.append(name)

    with anyio.fail_after(2):  # a lost wake-up would hang the queue forever
        async with anyio.create_task_group() as tg:
            tg.start_soon(take, "heavy", 10)  # must wait 0.5 s
            await anyio.lowlevel.checkpoint()
            tg.start_soon(take, "light-1", 1)  # tokens are there, but it must queue behind "heavy"
            tg.start_soon(take, "light-2", 1)
            for _ in range(5):
                await anyio.lowlevel.checkpoint()
            assert order == []
            assert limiter.statistics().queued == 3
            gate.set()
    assert order == ["heavy", "light-1", "light-2"]
    stats = limiter.statistics()
    assert stats.acquired == 4
    assert stats.waits == 3
    assert stats.queued == 0


@pytest.mark.anyio
async def test_cancelled_head_waiter_hands_its_turn_to_the_next() -> None:
    limiter, fake = make(capacity=10, per_seconds=1)
    await limiter.acquire(10)
    done: list[str] = []

    async def take(name: str, weight: float) -> None:
        await limiter.acquire(weight)
        done.append(name)

    real_sleep = fake.sleep

    async def slow_sleep(seconds: float) -> None:
        await anyio.sleep(0.01)  # real wait so the cancel lands while sleeping
        await real_sleep(seconds)

    limiter._sleep = slow_sleep
    head_scope = anyio.CancelScope()

    async def cancellable_head() -> None:
        with head_scope:
            await take("head", 10)

    with anyio.fail_after(2):  # a lost wake-up would hang "next" forever
        async with anyio.create_task_group() as tg:
            tg.start_soon(cancellable_head)
            await anyio.lowlevel.checkpoint()
            tg.start_soon(take, "next", 1)
            await anyio.lowlevel.checkpoint()
            assert limiter.statistics().queued == 2
            head_scope.cancel()
    assert done == ["next"]
    assert limiter.statistics().queued == 0


@pytest.mark.anyio
async def test_statistics_report_waits_and_time_waited() -> None:
    limiter, _ = make(capacity=10, per_seconds=1)
    await limiter.acquire(10)
    await limiter.acquire(2)
    await limiter.acquire(1)
    limiter.block_for(4)
    stats = limiter.statistics()
    assert stats.name == "test"
    assert (stats.capacity, stats.per_seconds) == (10, 1)
    assert stats.acquired == 3
    assert stats.waits == 2
    assert stats.total_waited == pytest.approx(0.3)
    assert stats.blocked_for == pytest.approx(4)
    assert "test" in repr(limiter)


@pytest.mark.anyio
async def test_waiting_does_not_block_the_event_loop() -> None:
    limiter = RateLimiter("real", capacity=1, per_seconds=0.05)  # real clock and anyio.sleep
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await anyio.sleep(0.005)

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        await limiter.acquire(1)
        waited = await limiter.acquire(1)
        tg.cancel_scope.cancel()
    assert 0.03 <= waited < 0.5
    assert ticks >= 3


@settings(max_examples=150, deadline=None)
@given(
    capacity=st.integers(min_value=1, max_value=50),
    per_seconds=st.sampled_from([0.5, 1.0, 10.0]),
    steps=st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=2, allow_nan=False), st.integers(min_value=0, max_value=50)
        ),
        min_size=1,
        max_size=40,
    ),
)
def test_never_grants_more_than_the_bucket_allows(
    capacity: int, per_seconds: float, steps: list[tuple[float, int]]
) -> None:
    """Token-bucket invariant: weight granted in any span ≤ capacity + rate × span."""

    async def scenario() -> list[tuple[float, int]]:
        limiter, fake = make(capacity, per_seconds)
        grants: list[tuple[float, int]] = []
        for pause, weight in steps:
            fake.now += pause
            await limiter.acquire(min(weight, capacity))
            grants.append((fake.now, min(weight, capacity)))
        return grants

    grants = anyio.run(scenario)
    rate = capacity / per_seconds
    for i in range(len(grants)):
        total = 0
        for j in range(i, len(grants)):
            total += grants[j][1]
            span = grants[j][0] - grants[i][0]
            assert total <= capacity + rate * span + 1e-6


@pytest.mark.anyio
async def test_on_wait_reports_each_wait_and_a_failing_observer_breaks_nothing() -> None:
    seen: list[tuple[str, float]] = []
    limiter = RateLimiter("orders", capacity=1, per_seconds=0.02, on_wait=lambda n, s: seen.append((n, s)))
    await limiter.acquire()
    assert seen == []  # tokens were there: no wait, no report
    await limiter.acquire()
    assert [name for name, _ in seen] == ["orders"]
    assert seen[0][1] > 0

    def broken(name: str, seconds: float) -> None:
        raise RuntimeError("observer bug")

    limiter.on_wait = broken
    assert await limiter.acquire() > 0
