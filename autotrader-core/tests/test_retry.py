"""retry(): exponential backoff with jitter, retryable errors only, broker-requested waits."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Awaitable, Callable

import pytest
from autotrader_core.errors import (
    AuthenticationError,
    BrokerProtocolError,
    BrokerUnavailable,
    CircuitOpen,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    RateLimited,
    RequestTimeout,
)
from autotrader_core.resiliency import RetryPolicy, attempts_of, retry


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def scripted(*outcomes: BaseException | str) -> tuple[Callable[[], Awaitable[str]], list[int]]:
    """An operation that raises or returns the given outcomes in turn; counts its calls."""
    calls = [0]
    queue = list(outcomes)

    async def fn() -> str:
        calls[0] += 1
        outcome = queue.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return fn, calls


NO_JITTER = RetryPolicy(max_attempts=3, base_delay=0.2, max_delay=5.0, jitter=0.2)


def middle() -> float:
    return 0.5  # rand() = 0.5 → zero jitter offset


@pytest.mark.anyio
async def test_success_first_time_never_sleeps() -> None:
    fn, calls = scripted("ok")
    sleeps = Sleeps()
    assert await retry(fn, NO_JITTER, sleep=sleeps) == "ok"
    assert calls == [1]
    assert sleeps.waits == []


@pytest.mark.anyio
async def test_transient_errors_are_retried_with_exponential_backoff() -> None:
    fn, calls = scripted(RequestTimeout("t"), BrokerUnavailable("503"), "ok")
    sleeps = Sleeps()
    seen: list[tuple[int, str, float]] = []
    result = await retry(
        fn,
        NO_JITTER,
        sleep=sleeps,
        rand=middle,
        on_retry=lambda n, e, d: seen.append((n, type(e).__name__, d)),
    )
    assert result == "ok"
    assert calls == [3]
    assert sleeps.waits == pytest.approx([0.2, 0.4])
    assert seen == [(1, "RequestTimeout", 0.2), (2, "BrokerUnavailable", 0.4)]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "error",
    [
        InvalidOrder("bad price"),
        InsufficientFunds("no money"),
        AuthenticationError("bad key"),
        OrderNotFound("gone"),
        BrokerProtocolError("garbled"),
        ValueError("a bug, not a broker problem"),
        RateLimited("banned long", retry_after=3600, banned=True),
    ],
)
async def test_non_retryable_errors_propagate_at_once(error: Exception) -> None:
    fn, calls = scripted(error, "never reached")
    sleeps = Sleeps()
    with pytest.raises(type(error)) as caught:
        await retry(fn, NO_JITTER, sleep=sleeps)
    assert caught.value is error
    assert calls == [1]
    assert sleeps.waits == []
    assert attempts_of(caught.value) in (1, None)


@pytest.mark.anyio
async def test_last_error_is_raised_when_attempts_run_out() -> None:
    errors = [RequestTimeout(f"t{i}") for i in range(4)]
    fn, calls = scripted(*errors)
    sleeps = Sleeps()
    with pytest.raises(RequestTimeout) as caught:
        await retry(fn, NO_JITTER, sleep=sleeps, rand=middle)
    assert caught.value is errors[2]
    assert calls == [3]
    assert len(sleeps.waits) == 2
    assert attempts_of(caught.value) == 3


@pytest.mark.anyio
async def test_rate_limited_waits_what_the_broker_asked() -> None:
    fn, _ = scripted(RateLimited("slow down", retry_after=1.5), "ok")
    sleeps = Sleeps()
    assert await retry(fn, NO_JITTER, sleep=sleeps, rand=middle) == "ok"
    assert sleeps.waits == [1.5]


@pytest.mark.anyio
async def test_rate_limited_without_retry_after_uses_backoff() -> None:
    fn, _ = scripted(RateLimited("slow down"), "ok")
    sleeps = Sleeps()
    await retry(fn, NO_JITTER, sleep=sleeps, rand=middle)
    assert sleeps.waits == pytest.approx([0.2])


@pytest.mark.anyio
async def test_rate_limited_longer_than_the_policy_allows_gives_up_with_that_error() -> None:
    error = RateLimited("banned", retry_after=120, banned=True)
    fn, calls = scripted(error, "never")
    sleeps = Sleeps()
    with pytest.raises(RateLimited) as caught:
        await retry(fn, RetryPolicy(max_retry_after=60), sleep=sleeps)
    assert caught.value is error
    assert calls == [1]
    assert sleeps.waits == []


@pytest.mark.anyio
async def test_open_circuit_waits_its_retry_in() -> None:
    fn, _ = scripted(CircuitOpen("open", retry_in=2.0), "ok")
    sleeps = Sleeps()
    assert await retry(fn, NO_JITTER, sleep=sleeps) == "ok"
    assert sleeps.waits == [2.0]


@pytest.mark.anyio
async def test_cancellation_is_never_retried() -> None:
    fn, calls = scripted(asyncio.CancelledError(), "never")
    with pytest.raises(asyncio.CancelledError):
        await retry(fn, NO_JITTER, sleep=Sleeps())
    assert calls == [1]


@pytest.mark.anyio
async def test_max_attempts_one_means_no_retry() -> None:
    fn, calls = scripted(RequestTimeout("t"), "ok")
    with pytest.raises(RequestTimeout):
        await retry(fn, RetryPolicy(max_attempts=1), sleep=Sleeps())
    assert calls == [1]


@pytest.mark.anyio
async def test_real_sleep_default_works() -> None:
    fn, calls = scripted(BrokerUnavailable("x"), "ok")
    assert await retry(fn, RetryPolicy(base_delay=0.001, max_delay=0.001)) == "ok"
    assert calls == [2]


@pytest.mark.parametrize(
    ("attempt", "rand", "expected"),
    [
        (1, 0.5, 0.2),
        (2, 0.5, 0.4),
        (3, 0.5, 0.8),
        (5, 0.5, 3.2),
        (6, 0.5, 5.0),  # capped at max_delay
        (20, 0.5, 5.0),
        (1, 0.0, 0.16),  # -20 %
        (1, 1.0, 0.24),  # +20 %
        (6, 1.0, 5.0),  # jitter never exceeds max_delay
    ],
)
def test_backoff_table(attempt: int, rand: float, expected: float) -> None:
    assert NO_JITTER.backoff(attempt, lambda: rand) == pytest.approx(expected)


def test_jitter_stays_within_its_fraction() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=100.0, jitter=0.3)
    rng = random.Random(7)
    delays = [policy.backoff(1, rng.random) for _ in range(2000)]
    assert min(delays) >= 0.7
    assert max(delays) <= 1.3
    assert max(delays) - min(delays) > 0.5  # it really spreads


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"base_delay": -1},
        {"max_delay": -1},
        {"jitter": 1.5},
        {"jitter": -0.1},
        {"max_retry_after": -1},
    ],
)
def test_policy_refuses_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - message varies per field
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_policy_is_frozen_and_has_the_documented_defaults() -> None:
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.base_delay, policy.max_delay, policy.jitter) == (3, 0.2, 5.0, 0.2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.max_attempts = 5  # type: ignore[misc]


def test_attempts_of_unknown_error_is_none() -> None:
    assert attempts_of(RequestTimeout("never retried")) is None
    assert attempts_of(KeyError("builtin")) is None
