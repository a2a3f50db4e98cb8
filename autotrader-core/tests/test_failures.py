"""FailureTracker: failure rates per operation over a sliding window."""

from __future__ import annotations

import pytest
from autotrader_core.resiliency import FailureTracker, OperationStats


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_unknown_operation_has_no_failures() -> None:
    tracker = FailureTracker()
    assert tracker.failure_rate("submit") == 0.0
    assert tracker.count("submit") == 0


def test_rate_and_counts_per_operation() -> None:
    clock = FakeClock()
    tracker = FailureTracker(window=60, clock=clock)
    for ok in (True, True, False, True):
        tracker.record("submit", ok=ok)
    tracker.record_failure("cancel")
    tracker.record_success("cancel")
    assert tracker.failure_rate("submit") == pytest.approx(0.25)
    assert tracker.count("submit") == 4
    assert tracker.failures("submit") == 1
    assert tracker.failure_rate("cancel") == pytest.approx(0.5)
    assert tracker.snapshot() == {
        "cancel": OperationStats("cancel", successes=1, failures=1),
        "submit": OperationStats("submit", successes=3, failures=1),
    }


def test_old_outcomes_slide_out_of_the_window() -> None:
    clock = FakeClock()
    tracker = FailureTracker(window=10, clock=clock)
    tracker.record_failure("submit")
    tracker.record_failure("submit")
    clock.now = 5
    tracker.record_success("submit")
    assert tracker.failure_rate("submit") == pytest.approx(2 / 3)
    clock.now = 10  # the two failures at t=0 are now exactly one window old
    assert tracker.count("submit") == 1
    assert tracker.failure_rate("submit") == 0.0
    clock.now = 15
    assert tracker.count("submit") == 0
    assert tracker.failure_rate("submit") == 0.0


def test_memory_cap_keeps_counts_consistent() -> None:
    clock = FakeClock()
    tracker = FailureTracker(window=60, clock=clock, max_events=3)
    for ok in (False, False, True, True, True):
        tracker.record("submit", ok=ok)
    assert tracker.stats("submit") == OperationStats("submit", successes=3, failures=0)


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window"):
        FailureTracker(window=0)
