"""autotrader-conformance: the shared conformance suite for autotrader broker adapters.

An adapter's ``tests/test_<broker>_conformance.py``::

    from pathlib import Path
    from autotrader_conformance import AdapterConformance, Scenario

    class TestMyBrokerConformance(AdapterConformance):
        recordings = Path(__file__).parent / "recordings"   # None: the adapter is its own broker
        def make_adapter(self, scenario: Scenario) -> MyBrokerAdapter:
            return MyBrokerAdapter(MyBrokerSettings(api_key="test-key", ws_url=scenario.ws_url))

The adapter guide (scenario catalogue, recording schema, recipes) ships with the kit:
``python -m autotrader_conformance.guide`` prints it.
"""

from __future__ import annotations

import pytest

# Before the scenario modules are imported, so their plain asserts get pytest's rewriting.
pytest.register_assert_rewrite("autotrader_conformance.scenarios", "autotrader_conformance.session")

from autotrader_conformance.base import AdapterConformance  # noqa: E402
from autotrader_conformance.capabilities import requires  # noqa: E402
from autotrader_conformance.catalogue import CATALOGUE, ScenarioSpec  # noqa: E402
from autotrader_conformance.faults import FaultPlan, FaultyAdapter, with_faults  # noqa: E402
from autotrader_conformance.recordings import Recording, RecordingError, load_recording  # noqa: E402
from autotrader_conformance.scenario import Scenario  # noqa: E402
from autotrader_conformance.session import ScenarioSession  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "CATALOGUE",
    "AdapterConformance",
    "FaultPlan",
    "FaultyAdapter",
    "Recording",
    "RecordingError",
    "Scenario",
    "ScenarioSession",
    "ScenarioSpec",
    "__version__",
    "load_recording",
    "requires",
    "with_faults",
]
