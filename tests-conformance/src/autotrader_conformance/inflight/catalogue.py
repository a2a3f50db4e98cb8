"""The in-flight scenarios (``TC-INF-*``): what each proves and which fault it uses.

Faults (see :meth:`~autotrader_conformance.inflight.scenarios.InflightConformance.plan_fault`):

* ``lost`` — the venue executes the request, the reply never comes (the client times out);
* ``late`` — the venue executes at once (its stream reports it), the reply comes late
  but inside the client's timeout;
* ``held`` — a gateway holds the request past the client's timeout; it lands *inside*
  the venue's re-send guarantee (e.g. Binance ``recvWindow``) and executes;
* ``expired`` — held past the guarantee: the venue refuses it when it lands;
* ``clock_lag`` — held while the venue's clock runs behind the one the client synced
  to: it lands after the client's own reckoning of the window, and executes;
* ``lost_stream_late`` / ``lost_stream_twice`` — reply lost, and the stream delivers every
  event after the client's timeout / twice;
* ``trickled`` / ``oversized`` / ``reset`` — the venue executes; its reply comes a byte at a
  time, or is 64 MB, or the connection is reset instead.

Every command must also return within ``command_deadline`` seconds.

Each runs with the private stream on and off (``[stream]`` / ``[no-stream]``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CI_SCENARIOS", "FAULTS", "INFLIGHT_CATALOGUE", "OPERATIONS", "InflightSpec"]

FAULTS = (
    "lost",
    "late",
    "held",
    "expired",
    "clock_lag",
    "lost_stream_late",
    "lost_stream_twice",
    "trickled",
    "oversized",
    "reset",
)
"""Fault kinds a scenario can use."""
OPERATIONS = ("submit", "modify_replace", "modify_native", "cancel")
"""Operations a fault can be planned for (``modify_*``: the request a modify sends)."""


@dataclass(frozen=True, slots=True)
class InflightSpec:
    """One in-flight scenario.

    Attributes:
        id: ``TC-INF-nn``.
        title: What it proves.
        operation: The command under fault: ``submit``, ``modify_replace``, ``modify_native``,
            ``cancel``, or ``watcher`` (a submit whose hold outlasts ``order_timeout``).
        fault: One of :data:`FAULTS`.
        needs_expiry: Runs only for an adapter whose re-send guarantee is an expiry.
    """

    id: str
    title: str
    operation: str
    fault: str
    needs_expiry: bool = False


_SPECS = (
    InflightSpec("TC-INF-01", "submit, reply lost: one order, engine = venue", "submit", "lost"),
    InflightSpec(
        "TC-INF-02", "submit, reply late (stream first): one order, engine = venue", "submit", "late"
    ),
    InflightSpec(
        "TC-INF-03", "submit held past the client's timeout, lands inside the guarantee", "submit", "held"
    ),
    InflightSpec(
        "TC-INF-04",
        "submit held past the guarantee (refused on landing): at most one order",
        "submit",
        "expired",
    ),
    InflightSpec(
        "TC-INF-05",
        "market submit held while the venue's clock lags: a 'not found' is no proof, no second fill",
        "submit",
        "clock_lag",
    ),
    InflightSpec("TC-INF-06", "cancel-replace modify, reply lost", "modify_replace", "lost"),
    InflightSpec("TC-INF-07", "cancel-replace modify, reply late", "modify_replace", "late"),
    InflightSpec("TC-INF-08", "cancel-replace modify held past the guarantee", "modify_replace", "expired"),
    InflightSpec("TC-INF-09", "native modify (amend), reply lost", "modify_native", "lost"),
    InflightSpec("TC-INF-10", "native modify (amend), reply late", "modify_native", "late"),
    InflightSpec("TC-INF-11", "native modify (amend) held past the guarantee", "modify_native", "expired"),
    InflightSpec("TC-INF-12", "cancel, reply lost", "cancel", "lost"),
    InflightSpec("TC-INF-13", "cancel, reply late", "cancel", "late"),
    InflightSpec("TC-INF-14", "cancel held past the guarantee", "cancel", "expired"),
    InflightSpec(
        "TC-INF-15",
        "watcher vs submit: order_timeout shorter than the hold, the held submit lands",
        "watcher",
        "held",
    ),
    InflightSpec(
        "TC-INF-16",
        "cancel-replace modify, reply lost and the stream's events late: the old order's cancel is no cancel",
        "modify_replace",
        "lost_stream_late",
    ),
    InflightSpec(
        "TC-INF-17",
        "submit, reply lost and every stream event delivered twice",
        "submit",
        "lost_stream_twice",
    ),
    InflightSpec(
        "TC-INF-18",
        "submit reply trickled a byte at a time: the request's overall deadline ends it, one order",
        "submit",
        "trickled",
    ),
    InflightSpec(
        "TC-INF-19",
        "submit reply oversized (64 MB): the reply size limit stops reading, one order",
        "submit",
        "oversized",
    ),
    InflightSpec("TC-INF-20", "submit, connection reset after the venue executed", "submit", "reset"),
)

INFLIGHT_CATALOGUE: dict[str, InflightSpec] = {spec.id: spec for spec in _SPECS}
"""Every in-flight scenario by id."""

CI_SCENARIOS = frozenset({"TC-INF-01", "TC-INF-06", "TC-INF-12", "TC-INF-15"})
"""The few (stream on) that run in CI for a class of tier ``"ci"``; the rest need ``AUTOTRADER_INFLIGHT=full``."""
