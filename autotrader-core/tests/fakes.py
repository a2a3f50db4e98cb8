"""The scriptable in-memory broker for the engine's tests: the kit's testing helper, re-exported.

One copy for every test suite (``autotrader_conformance.testing``); this module stays so the
tests' ``from .fakes import FakeBroker`` keeps working.
"""

from __future__ import annotations

from autotrader_conformance.testing import BTC, FakeBroker, RecordingTelemetry

__all__ = ["BTC", "FakeBroker", "RecordingTelemetry"]
