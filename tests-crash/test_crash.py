"""A few fast crash scenarios for the normal test run (``run_crash.py`` runs hundreds).

Each kills the engine child with SIGKILL at a different point, or while the broker holds
one of its requests in flight, and checks the books.
"""

from __future__ import annotations

import pytest
from crashkit.harness import run_scenario


@pytest.mark.parametrize(
    "kills",
    [
        ["submit.before_send:2"],  # intent durable, request never left: must be sent again, once
        ["submit.after_send:2"],  # broker has it, reply never counted: must be adopted, not re-sent
        ["stream.fill:2", "cancel.after_send:1"],  # mid-fill, then a cancel whose reply was lost
    ],
    ids=["before-send", "after-send-before-ack", "mid-fill-then-cancel"],
)
def test_kill_points_leave_books_exact(kills: list[str]) -> None:
    result = run_scenario(11, kills=kills)
    assert result.killed == len(kills), result
    assert result.ok, result.violations


def test_random_kill_scenario() -> None:
    result = run_scenario(3, crashes=2)
    assert result.ok, (result.kills, result.violations)


def test_checks_catch_a_lost_journal() -> None:
    # Sabotage: the journal disappears after the crash, so sent orders are forgotten and
    # the plan sends them again. The checks must see the duplicates (proof they can fail).
    result = run_scenario(5, kills=["submit.after_send:3"], lose_journal=True)
    assert result.killed == 1
    assert any("exists 2 times at the broker" in v for v in result.violations), result.violations


# -- held in flight (issue 14): the broker holds a request while the engine is SIGKILLed ---------
@pytest.mark.parametrize(
    ("seed", "kills", "guarantee"),
    [
        # The held submit lands right after the restarted engine was told "no such order".
        pytest.param(11, ["held.before_land:2/race/now"], "expiry:2", id="race-expiry"),
        pytest.param(12, ["held.before_land:2/race/now"], "none", id="race-no-guarantee"),
        pytest.param(13, ["held.before_land:3/race/now"], "idempotency_key", id="race-idempotency-key"),
        pytest.param(
            14,
            ["held.before_land:1/race/now", "held.reply_lost:2/now"],
            "expiry:2",
            id="race-then-reply-lost",
        ),
        # Held past its window, so it will be refused; but closing it before the window
        # provably passed (by the broker's clock) is a guess.
        pytest.param(15, ["held.before_land:2/late/now"], "expiry:2", id="late-closed-too-early"),
        # Issue 14 item 3: the five above failed before the resolver (recovery closed a pending
        # order as NEVER_SENT at once); these five held before and must keep holding.
        pytest.param(16, ["held.reply_lost:2/now"], "expiry", id="reply-lost"),
        pytest.param(17, ["held.reply_lost:3/after"], "none", id="reply-lost-no-guarantee"),
        pytest.param(18, ["held.before_land:2/inside/after"], "expiry", id="landed-before-restart"),
        pytest.param(19, ["held.before_land:2/late/after"], "expiry", id="expired-before-restart"),
        pytest.param(20, ["held.before_land:1/cancel/inside/now"], "none", id="held-cancel"),
        # The modify executed, its reply was lost, and the order filled at its new terms while
        # the engine was down: recovery adopts the broker's terms before the missed fills close
        # it (mismatched 2 of 5 runs before).
        pytest.param(12, ["held.reply_lost:1/modify/now"], "expiry", id="modify-reply-lost"),
    ],
)
def test_held_in_flight_kills_leave_books_exact(seed: int, kills: list[str], guarantee: str) -> None:
    result = run_scenario(seed, kills=kills, guarantee=guarantee)
    if result.killed != len(kills) or len(result.holds) != len(kills):
        # Not an expected failure: the scenario did not run as planned (xfail only takes AssertionError).
        raise RuntimeError(
            f"planned {kills}, killed {result.killed}, held {result.holds}: {result.violations}"
        )
    assert result.ok, (result.holds, result.violations)
