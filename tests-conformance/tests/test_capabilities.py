"""The run / skip / fail decision and the requires mark."""

from __future__ import annotations

from pathlib import Path

import pytest
from autotrader_conformance.capabilities import decide, requires
from autotrader_conformance.catalogue import get_spec
from autotrader_core.capabilities import Feature

ALL = frozenset(Feature)


def test_missing_feature_skips_with_the_reason() -> None:
    decision = decide(
        get_spec("TC-POS-01"), ALL - {Feature.BROKER_POSITIONS}, skip_scenarios={}, recordings=None
    )
    assert decision.action == "skip"
    assert decision.reason == "TC-POS-01: adapter does not declare broker_positions"


def test_mandatory_needs_fail_instead_of_skipping() -> None:
    decision = decide(get_spec("TC-ORD-02"), ALL - {Feature.LIMIT_ORDERS}, skip_scenarios={}, recordings=None)
    assert decision.action == "fail"
    assert "mandatory" in decision.reason
    assert "limit_orders" in decision.reason


def test_mandatory_scenarios_cannot_be_bypassed() -> None:
    decision = decide(get_spec("TC-ERR-02"), ALL, skip_scenarios={"TC-ERR-02": "no"}, recordings=None)
    assert decision.action == "fail"
    assert "cannot be skipped" in decision.reason


def test_bypass_needs_a_reason_and_shows_it() -> None:
    spec = get_spec("TC-RES-04")
    assert decide(spec, ALL, skip_scenarios={"TC-RES-04": "  "}, recordings=None).action == "fail"
    decision = decide(spec, ALL, skip_scenarios={"TC-RES-04": "no bans at OKX"}, recordings=Path("/x"))
    assert (decision.action, decision.reason) == ("skip", "TC-RES-04: no bans at OKX")


def test_missing_recording_fails_naming_the_file(tmp_path: Path) -> None:
    decision = decide(get_spec("TC-ORD-02"), ALL, skip_scenarios={}, recordings=tmp_path)
    assert decision.action == "fail"
    assert str(tmp_path / "TC-ORD-02.json") in decision.reason
    assert "skip_scenarios" not in decision.reason  # mandatory: no bypass suggested
    optional = decide(get_spec("TC-RES-01"), ALL, skip_scenarios={}, recordings=tmp_path)
    assert optional.action == "fail"
    assert "skip_scenarios" in optional.reason


def test_present_recording_runs(tmp_path: Path) -> None:
    (tmp_path / "TC-CON-01.json").write_text("{}")
    assert decide(get_spec("TC-CON-01"), ALL, skip_scenarios={}, recordings=tmp_path).action == "run"


def test_simulated_adapters_skip_what_needs_http() -> None:
    decision = decide(get_spec("TC-RES-04"), ALL, skip_scenarios={}, recordings=None)
    assert decision.action == "skip"
    assert "HTTP" in decision.reason
    assert decide(get_spec("TC-RES-02"), ALL, skip_scenarios={}, recordings=None).action == "run"


def test_requires_refuses_non_features() -> None:
    with pytest.raises(TypeError, match="Feature"):
        requires("stop_orders")  # type: ignore[arg-type]
    mark = requires(Feature.STOP_ORDERS).mark
    assert mark.name == "autotrader_requires"
    assert mark.args == (Feature.STOP_ORDERS,)


def test_own_wire_runs_a_scenario_the_kit_skips_when_simulated() -> None:
    """An adapter replaying its own wire (IBKR's fake TWS) runs TC-BAD-01 instead of skipping it."""
    spec = get_spec("TC-BAD-01")
    assert decide(spec, ALL, skip_scenarios={}, recordings=None).action == "skip"
    assert decide(spec, ALL, skip_scenarios={}, recordings=None, own_wire={"TC-BAD-01"}).action == "run"
    other = get_spec("TC-RES-04")  # not named: still skipped
    assert decide(other, ALL, skip_scenarios={}, recordings=None, own_wire={"TC-BAD-01"}).action == "skip"
    bypassed = decide(spec, ALL, skip_scenarios={"TC-BAD-01": "no"}, recordings=None, own_wire={"TC-BAD-01"})
    assert bypassed.action == "skip"  # an explicit bypass still wins
