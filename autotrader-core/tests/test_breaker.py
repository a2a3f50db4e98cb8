"""CircuitBreaker: opens on transport failures only, refuses while open, one trial when half-open."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import anyio.lowlevel
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
from autotrader_core.resiliency import BreakerState, CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def failing(error: BaseException) -> Callable[[], Awaitable[str]]:
    async def fn() -> str:
        raise error

    return fn


def state_of(breaker: CircuitBreaker) -> BreakerState:
    """Read the state through a call so the type checker does not narrow it between awaits."""
    return breaker.state


async def ok() -> str:
    return "ok"


def make(threshold: int = 3, reset: float = 10.0) -> tuple[CircuitBreaker, FakeClock, list[tuple[str, str]]]:
    clock = FakeClock()
    changes: list[tuple[str, str]] = []
    breaker = CircuitBreaker(
        "binance-rest",
        failure_threshold=threshold,
        reset_timeout=reset,
        clock=clock,
        on_state_change=lambda name, state: changes.append((name, state)),
    )
    return breaker, clock, changes


async def fail_times(breaker: CircuitBreaker, n: int, error: Exception | None = None) -> None:
    for _ in range(n):
        with pytest.raises(type(error) if error else BrokerUnavailable):
            await breaker.call(failing(error or BrokerUnavailable("503")))


@pytest.mark.anyio
async def test_closed_breaker_passes_results_through() -> None:
    breaker, _, changes = make()
    assert await breaker.call(ok) == "ok"
    assert state_of(breaker) is BreakerState.CLOSED
    assert changes == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    "error", [BrokerUnavailable("503"), RequestTimeout("timeout"), BrokerProtocolError("garbled")]
)
async def test_consecutive_transport_failures_open_the_circuit(error: Exception) -> None:
    breaker, _, changes = make(threshold=3)
    await fail_times(breaker, 2, error)
    assert state_of(breaker) is BreakerState.CLOSED
    await fail_times(breaker, 1, error)
    assert state_of(breaker) is BreakerState.OPEN
    assert changes == [("binance-rest", "open")]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "error",
    [
        InvalidOrder("bad tick"),
        InsufficientFunds("no money"),
        OrderNotFound("gone"),
        AuthenticationError("bad key"),
        RateLimited("429", retry_after=1),
    ],
)
async def test_business_refusals_never_count_and_reset_the_streak(error: Exception) -> None:
    breaker, _, _ = make(threshold=3)
    await fail_times(breaker, 2)
    for _ in range(10):
        with pytest.raises(type(error)):
            await breaker.call(failing(error))
    await fail_times(breaker, 2)  # streak restarted by the broker answering
    assert state_of(breaker) is BreakerState.CLOSED
    assert breaker.statistics().consecutive_failures == 2


@pytest.mark.anyio
async def test_success_resets_the_streak() -> None:
    breaker, _, _ = make(threshold=3)
    await fail_times(breaker, 2)
    await breaker.call(ok)
    await fail_times(breaker, 2)
    assert state_of(breaker) is BreakerState.CLOSED


@pytest.mark.anyio
async def test_open_circuit_refuses_without_calling() -> None:
    breaker, clock, _ = make(threshold=1, reset=10)
    await fail_times(breaker, 1)
    clock.now += 4
    called = False

    async def spy() -> str:
        nonlocal called
        called = True
        return "sent"

    with pytest.raises(CircuitOpen, match="nothing was sent") as caught:
        await breaker.call(spy)
    assert not called
    assert caught.value.retry_in == pytest.approx(6)
    assert caught.value.retryable
    assert breaker.statistics().refused == 1


@pytest.mark.anyio
async def test_half_open_trial_success_closes() -> None:
    breaker, clock, changes = make(threshold=1, reset=10)
    await fail_times(breaker, 1)
    clock.now += 10
    assert state_of(breaker) is BreakerState.HALF_OPEN
    assert await breaker.call(ok) == "ok"
    assert state_of(breaker) is BreakerState.CLOSED
    assert [state for _, state in changes] == ["open", "half_open", "closed"]


@pytest.mark.anyio
async def test_half_open_trial_failure_reopens_for_a_full_timeout() -> None:
    breaker, clock, changes = make(threshold=2, reset=10)
    await fail_times(breaker, 2)
    clock.now += 10
    await fail_times(breaker, 1)  # a single failure in half-open is enough
    assert state_of(breaker) is BreakerState.OPEN
    assert breaker.statistics().retry_in == pytest.approx(10)
    assert [state for _, state in changes] == ["open", "half_open", "open"]


@pytest.mark.anyio
async def test_half_open_lets_exactly_one_trial_through() -> None:
    breaker, clock, _ = make(threshold=1, reset=5)
    await fail_times(breaker, 1)
    clock.now += 5
    release = anyio.Event()
    trial_calls = 0
    refused: list[CircuitOpen] = []

    async def slow_trial() -> str:
        nonlocal trial_calls
        trial_calls += 1
        await release.wait()
        return "ok"

    async def second() -> None:
        try:
            await breaker.call(ok)
        except CircuitOpen as exc:
            refused.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(breaker.call, slow_trial)
        await anyio.lowlevel.checkpoint()
        tg.start_soon(second)
        tg.start_soon(second)
        await anyio.lowlevel.checkpoint()
        release.set()
    assert trial_calls == 1
    assert len(refused) == 2
    assert "trial call is running" in str(refused[0])
    assert state_of(breaker) is BreakerState.CLOSED


@pytest.mark.anyio
async def test_business_reply_to_the_trial_proves_the_broker_is_back() -> None:
    breaker, clock, _ = make(threshold=1, reset=5)
    await fail_times(breaker, 1)
    clock.now += 5
    with pytest.raises(InvalidOrder):
        await breaker.call(failing(InvalidOrder("bad qty")))
    assert state_of(breaker) is BreakerState.CLOSED


@pytest.mark.anyio
async def test_cancelled_trial_frees_the_slot_and_stays_half_open() -> None:
    breaker, clock, _ = make(threshold=1, reset=5)
    await fail_times(breaker, 1)
    clock.now += 5

    async def hang() -> str:
        await anyio.sleep_forever()
        return "never"

    with anyio.move_on_after(0.01):
        await breaker.call(hang)
    assert state_of(breaker) is BreakerState.HALF_OPEN
    assert await breaker.call(ok) == "ok"  # the next caller gets the trial
    assert state_of(breaker) is BreakerState.CLOSED


@pytest.mark.anyio
async def test_ban_opens_at_once_for_at_least_the_ban() -> None:
    breaker, clock, changes = make(threshold=5, reset=10)
    with pytest.raises(RateLimited):
        await breaker.call(failing(RateLimited("418", retry_after=120, banned=True)))
    assert state_of(breaker) is BreakerState.OPEN
    clock.now += 60
    with pytest.raises(CircuitOpen) as caught:
        await breaker.call(ok)
    assert caught.value.retry_in == pytest.approx(60)
    clock.now += 60
    assert state_of(breaker) is BreakerState.HALF_OPEN
    assert changes[0] == ("binance-rest", "open")


@pytest.mark.anyio
async def test_results_of_calls_started_before_opening_do_not_move_the_state() -> None:
    breaker, clock, _ = make(threshold=1, reset=5)
    release = anyio.Event()

    async def slow_ok() -> str:
        await release.wait()
        return "late"

    async with anyio.create_task_group() as tg:
        tg.start_soon(breaker.call, slow_ok)
        await anyio.lowlevel.checkpoint()
        await fail_times(breaker, 1)  # opens while slow_ok is in flight
        clock.now += 5  # half-open now
        assert state_of(breaker) is BreakerState.HALF_OPEN
        release.set()
    assert state_of(breaker) is BreakerState.HALF_OPEN  # the stale success did not close it


@pytest.mark.anyio
async def test_statistics_and_manual_controls() -> None:
    breaker, _, changes = make(threshold=2, reset=10)
    await breaker.call(ok)
    await fail_times(breaker, 2)
    with pytest.raises(CircuitOpen):
        await breaker.call(ok)
    stats = breaker.statistics()
    assert stats.name == "binance-rest"
    assert stats.state is BreakerState.OPEN
    assert (stats.calls, stats.failures, stats.refused, stats.times_opened) == (3, 2, 1, 1)
    assert stats.last_failure is not None
    assert stats.last_failure.startswith("BrokerUnavailable")
    breaker.reset()
    assert state_of(breaker) is BreakerState.CLOSED
    breaker.trip(3)
    assert breaker.statistics().retry_in == pytest.approx(3)
    assert [s for _, s in changes] == ["open", "closed", "open"]
    assert "binance-rest" in repr(breaker)


@pytest.mark.anyio
async def test_a_broken_listener_does_not_break_the_breaker() -> None:
    def explode(name: str, state: str) -> None:
        raise RuntimeError("listener bug")

    breaker = CircuitBreaker("x", failure_threshold=1, on_state_change=explode)
    with pytest.raises(BrokerUnavailable):
        await breaker.call(failing(BrokerUnavailable("503")))
    assert state_of(breaker) is BreakerState.OPEN


def test_state_is_a_string_for_status_displays() -> None:
    breaker = CircuitBreaker("x")
    assert str(breaker.state) == "closed"
    assert breaker.state == "closed"


@pytest.mark.parametrize(("threshold", "reset"), [(0, 1.0), (1, -1.0)])
def test_constructor_refuses_nonsense(threshold: int, reset: float) -> None:
    with pytest.raises(ValueError, match="must"):
        CircuitBreaker("x", failure_threshold=threshold, reset_timeout=reset)
