"""The in-flight harness: a stateful loopback venue, a fault proxy in front of it, the three checks.

* :mod:`.venue` — :class:`LoopbackVenue`, the base a venue for one wire subclasses;
* :mod:`.faults` — the proxy's script (hold, drop, delay, reset, trickle, oversize; stream faults);
* :mod:`.binance` — :class:`BinanceVenue`;
* :mod:`.checks` — orders per client order id, engine = venue, position = fills;
* :mod:`.scenarios` — :class:`InflightConformance`, the ``TC-INF-*`` scenarios.
"""

from __future__ import annotations

from autotrader_conformance.inflight.catalogue import CI_SCENARIOS, INFLIGHT_CATALOGUE, InflightSpec
from autotrader_conformance.inflight.checks import InflightChecks, InflightResult, VenueView
from autotrader_conformance.inflight.faults import FaultRule, FaultScript, StreamFaults
from autotrader_conformance.inflight.scenarios import InflightConformance, InflightRun, per_transport
from autotrader_conformance.inflight.venue import LoopbackVenue, VenueClock, VenueFill, VenueOrder
from autotrader_conformance.inflight.wire import VenueReply, VenueRequest

__all__ = [
    "CI_SCENARIOS",
    "INFLIGHT_CATALOGUE",
    "FaultRule",
    "FaultScript",
    "InflightChecks",
    "InflightConformance",
    "InflightResult",
    "InflightRun",
    "InflightSpec",
    "LoopbackVenue",
    "StreamFaults",
    "VenueClock",
    "VenueFill",
    "VenueOrder",
    "VenueReply",
    "VenueRequest",
    "VenueView",
    "per_transport",
]
