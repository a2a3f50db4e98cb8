"""``requires(Feature.X)`` and the run / skip / fail decision for each scenario.

The decision is a pure function so it can be tested on its own:

1. a mandatory scenario listed in ``skip_scenarios`` fails (it cannot be skipped);
2. a capability-gated scenario whose feature the adapter does not declare is
   skipped with ``adapter does not declare <feature>``;
3. a scenario listed in ``skip_scenarios`` is skipped with the adapter's written
   reason; a mandatory scenario needing an undeclared feature fails;
4. a scenario that cannot run without recordings is skipped with its reason;
5. a recorded adapter missing the recording file fails, naming the file to record.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from autotrader_core.capabilities import Feature

from autotrader_conformance.catalogue import ScenarioSpec
from autotrader_conformance.guide import GUIDE_COMMAND

__all__ = ["REQUIRES_MARK", "SCENARIO_MARK", "Decision", "decide", "missing_feature_reason", "requires"]

REQUIRES_MARK = "autotrader_requires"
"""Name of the pytest mark ``requires`` applies."""
SCENARIO_MARK = "conformance_scenario"
"""Name of the pytest mark carrying a scenario id."""


def requires(*features: Feature) -> pytest.MarkDecorator:
    """Mark a test as needing ``features``; skipped with the reason shown when the adapter lacks one.

    Works on the kit's scenarios and on an adapter's own extra tests in its
    ``AdapterConformance`` subclass::

        @requires(Feature.STOP_ORDERS)
        async def test_stop_order_triggers(self, conformance_scenario):
            adapter = self.make_adapter(conformance_scenario)
            ...  # place a stop order and assert it triggers
    """
    for feature in features:
        if not isinstance(feature, Feature):
            raise TypeError(f"requires() takes Feature members, not {feature!r}")
    return pytest.mark.autotrader_requires(*features)


def missing_feature_reason(feature: Feature) -> str:
    """The skip reason shown in ``pytest -rs`` for a missing feature."""
    return f"adapter does not declare {feature.value}"


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one scenario."""

    action: str
    """``"run"``, ``"skip"`` or ``"fail"``."""
    reason: str = ""


def decide(
    spec: ScenarioSpec,
    features: Collection[Feature],
    *,
    skip_scenarios: Mapping[str, str],
    recordings: Path | None,
    own_wire: Collection[str] = (),
) -> Decision:
    """Decide whether ``spec`` runs, is skipped (with a reason) or fails before it starts.

    Args:
        features: What the adapter declares (``Capabilities.features``).
        skip_scenarios: The adapter's explicit bypasses, ``{scenario id: reason}``.
        recordings: The recordings folder, or ``None`` for a simulated adapter.
        own_wire: Scenarios a simulated adapter plays on a wire of its own (a fake server
            replaying transcripts), so they run although the kit has no wire to play them.
    """
    if spec.id in skip_scenarios and spec.mandatory:
        return Decision(
            "fail", f"{spec.id} is mandatory and cannot be skipped; remove it from skip_scenarios"
        )
    if spec.requires is not None and spec.requires not in features:
        return Decision("skip", f"{spec.id}: {missing_feature_reason(spec.requires)}")
    if spec.id in skip_scenarios:
        reason = skip_scenarios[spec.id]
        if not isinstance(reason, str) or not reason.strip():
            return Decision("fail", f"skip_scenarios[{spec.id!r}] needs a written reason")
        return Decision("skip", f"{spec.id}: {reason}")
    for feature in spec.needs:
        if feature not in features:
            if spec.mandatory:
                return Decision(
                    "fail",
                    f"{spec.id} is mandatory and needs {feature.value}, which the adapter does not declare",
                )
            return Decision("skip", f"{spec.id}: {missing_feature_reason(feature)}")
    if recordings is None:
        if spec.simulated == "skip" and spec.id not in own_wire:
            return Decision("skip", f"{spec.id}: {spec.simulated_skip_reason}")
        return Decision("run")
    path = recordings / spec.file_name
    if not path.is_file():
        bypass = (
            ""
            if spec.mandatory
            else (f", or add skip_scenarios = {{{spec.id!r}: '<why this broker cannot>'}} to the test class")
        )
        return Decision(
            "fail",
            f"missing recording {path}: record {spec.id} ({spec.title}) from the broker's test "
            f"environment (see the adapter guide: {GUIDE_COMMAND}){bypass}",
        )
    return Decision("run")
