"""The anti-tampering guard (langchain-tests style)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from autotrader_conformance import AdapterConformance, Scenario
from autotrader_conformance.base import override_problems
from memory_adapter import MemoryAdapter


class _Good(AdapterConformance):
    recordings = Path("recordings")

    def make_adapter(self, scenario: Scenario) -> MemoryAdapter:
        return MemoryAdapter()


def test_an_untouched_subclass_has_no_problem() -> None:
    assert override_problems(_Good) == []


def test_forgetting_recordings_is_reported() -> None:
    class NoRecordings(AdapterConformance):
        pass

    (problem,) = override_problems(NoRecordings)
    assert "must set `recordings" in problem


def test_xfail_with_reason_is_the_only_allowed_override() -> None:
    class Overrides(_Good):
        @pytest.mark.xfail(reason="broker quirk #12", strict=True)
        async def test_ord_05_modify(self, conformance_scenario: Scenario) -> None:
            raise AssertionError

        async def test_ord_06_stop_limit(self, conformance_scenario: Scenario) -> None:
            pass

        async def test_con_01_connect_disconnect(self, conformance_scenario: Scenario) -> None:
            pass

    problems = sorted(override_problems(Overrides))
    assert len(problems) == 2
    assert problems[0].startswith("test_con_01_connect_disconnect (TC-CON-01) is mandatory")
    assert problems[1].startswith(
        "test_ord_06_stop_limit (TC-ORD-06) is overridden without @pytest.mark.xfail"
    )


def test_skip_scenarios_are_checked() -> None:
    class BadSkips(_Good):
        skip_scenarios: ClassVar[dict[str, str]] = {"TC-NOPE-01": "x", "TC-BAL-01": "no", "TC-RES-04": ""}

    problems = override_problems(BadSkips)
    assert any("unknown scenario 'TC-NOPE-01'" in p for p in problems)
    assert any("TC-BAL-01, which is mandatory" in p for p in problems)
    assert any("skip_scenarios['TC-RES-04'] has no reason" in p for p in problems)


def test_own_wire_scenarios_are_checked() -> None:
    class BadOwnWire(_Good):
        own_wire_scenarios: ClassVar[dict[str, str]] = {
            "TC-BAL-01": "x",
            "TC-BAD-01": " ",
            "TC-BAD-02": "tws",
        }

    problems = override_problems(BadOwnWire)
    assert any("'TC-BAL-01', which the kit does not skip simulated" in p for p in problems)
    assert any("own_wire_scenarios['TC-BAD-01'] does not say how" in p for p in problems)
    assert len(problems) == 2  # TC-BAD-02 with a reason is fine
