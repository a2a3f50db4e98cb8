""":class:`AdapterConformance`: the base class an adapter's ``tests/test_<broker>_conformance.py`` subclasses."""

from __future__ import annotations

from typing import ClassVar, Literal

from autotrader_conformance.catalogue import CATALOGUE, get_spec
from autotrader_conformance.scenarios import (
    AccountScenarios,
    ConnectionScenarios,
    ErrorScenarios,
    InstrumentScenarios,
    MarketDataScenarios,
    OrderScenarios,
    ResiliencyScenarios,
    StreamScenarios,
)
from autotrader_conformance.scenarios._base import SCENARIO_TESTS
from autotrader_conformance.scenarios.bad_items import BadItemScenarios
from autotrader_conformance.scenarios.faults import FaultScenarios
from autotrader_conformance.scenarios.secrets import SecretScenarios

__all__ = ["AdapterConformance", "override_problems"]


class AdapterConformance(
    ConnectionScenarios,
    InstrumentScenarios,
    AccountScenarios,
    OrderScenarios,
    ErrorScenarios,
    ResiliencyScenarios,
    StreamScenarios,
    FaultScenarios,
    SecretScenarios,
    BadItemScenarios,
    MarketDataScenarios,
):
    """Every conformance scenario, run against one adapter.

    Usage (an adapter's ``tests/test_<broker>_conformance.py``)::

        from pathlib import Path
        from autotrader_conformance import AdapterConformance, Scenario

        class TestBinanceConformance(AdapterConformance):
            recordings = Path(__file__).parent / "recordings"

            def make_adapter(self, scenario: Scenario) -> BinanceAdapter:
                return BinanceAdapter(BinanceSettings(api_key="test-key", api_secret="test-secret",
                                                      ws_url=scenario.ws_url))

    ``pytest tests/`` then runs one test per scenario; ``pytest -rs`` shows why
    any was skipped.
    """

    http_transport: ClassVar[Literal["httpx", "loopback"]] = "httpx"
    """How recorded HTTP is replayed: ``"httpx"`` through pytest-httpx (httpx's stock
    transport only), ``"loopback"`` from a 127.0.0.1 server at ``scenario.base_url``, so an
    adapter whose production transport is not httpx's runs the suite through that transport."""

    def test_no_overrides_DO_NOT_OVERRIDE(self) -> None:
        """Fail if a scenario test was deleted or overridden without an ``xfail`` reason.

        Mandatory scenarios cannot be overridden at all. ``skip_scenarios`` may
        name only known, non-mandatory scenarios, each with a written reason.
        """
        problems = override_problems(type(self))
        assert not problems, "conformance suite tampered with:\n" + "\n".join(f"  - {p}" for p in problems)


def override_problems(cls: type[AdapterConformance]) -> list[str]:
    """What ``cls`` changed that it may not (empty when nothing)."""
    problems: list[str] = []
    try:
        cls.recordings_dir(cls())
    except TypeError as exc:
        problems.append(str(exc))
    for name, scenario_id in SCENARIO_TESTS.items():
        spec = get_spec(scenario_id)
        original = getattr(AdapterConformance, name)
        current = getattr(cls, name, None)
        if current is original:
            continue
        if not callable(current):
            problems.append(f"{name} ({scenario_id}) was deleted")
        elif spec.mandatory:
            problems.append(f"{name} ({scenario_id}) is mandatory and may not be overridden")
        else:
            marks = getattr(current, "pytestmark", [])
            xfails = [mark for mark in marks if mark.name == "xfail" and mark.kwargs.get("reason")]
            if not xfails:
                problems.append(
                    f"{name} ({scenario_id}) is overridden without "
                    "@pytest.mark.xfail(reason=..., strict=True); use skip_scenarios or xfail with a reason"
                )
    for scenario_id, reason in cls.skip_scenarios.items():
        if scenario_id not in CATALOGUE:
            problems.append(f"skip_scenarios names unknown scenario {scenario_id!r}")
        elif CATALOGUE[scenario_id].mandatory:
            problems.append(f"skip_scenarios names {scenario_id}, which is mandatory")
        elif not isinstance(reason, str) or not reason.strip():
            problems.append(f"skip_scenarios[{scenario_id!r}] has no reason")
    for scenario_id, how in cls.own_wire_scenarios.items():
        if scenario_id not in CATALOGUE or CATALOGUE[scenario_id].simulated != "skip":
            problems.append(
                f"own_wire_scenarios names {scenario_id!r}, which the kit does not skip simulated"
            )
        elif not isinstance(how, str) or not how.strip():
            problems.append(f"own_wire_scenarios[{scenario_id!r}] does not say how the adapter plays it")
    return problems
