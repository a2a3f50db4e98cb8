"""The whole suite, in recorded mode, against the fictional fakex adapter (see fakex.py)."""

from __future__ import annotations

from pathlib import Path

from autotrader_conformance import AdapterConformance, Scenario
from fakex import FakexAdapter

RECORDINGS = Path(__file__).parent / "recordings_fakex"


class TestFakexConformance(AdapterConformance):
    """fakex passes every scenario it declares (positions are skipped: it declares none)."""

    recordings = RECORDINGS

    def make_adapter(self, scenario: Scenario) -> FakexAdapter:
        """A fresh adapter whose stream points at the scenario's replay server."""
        return FakexAdapter(ws_url=scenario.ws_url)
