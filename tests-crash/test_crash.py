"""A few fast crash scenarios for the normal test run (``run_crash.py`` runs hundreds).

Each kills the engine child with SIGKILL at a different point and checks the books.
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
