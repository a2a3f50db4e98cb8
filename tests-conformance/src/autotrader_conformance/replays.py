"""Run / skip decisions for scenarios that play another scenario's traffic, or an optional recording.

Fault and secret scenarios (``ScenarioSpec.replays``) need no recording of
their own: they replay the recording of the scenario they build on (``TC-ORD-02``
for an order lifecycle, say) and the kit injects the faults on top. They run
whenever that scenario runs, and are skipped with the reason when it cannot:

* the adapter lacks a feature, or lists the scenario (or the replayed one) in
  ``skip_scenarios``;
* the replayed scenario's recording is missing (that scenario fails on its own
  account; the derived one says why it cannot run).

A scenario with ``recording_optional`` (e.g. ``TC-FLT-05``, a stale-clock refusal
only some brokers can produce) is skipped, with the reason, when its file is absent.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

from autotrader_core.capabilities import Feature

from autotrader_conformance.capabilities import Decision, decide
from autotrader_conformance.catalogue import ScenarioSpec, get_spec

__all__ = ["decide_scenario"]


def decide_scenario(
    spec: ScenarioSpec,
    features: Collection[Feature],
    *,
    skip_scenarios: Mapping[str, str],
    recordings: Path | None,
    own_wire: Collection[str] = (),
) -> Decision:
    """Like :func:`~autotrader_conformance.capabilities.decide`, aware of ``replays`` and optional recordings."""
    if spec.replays is None:
        decision = decide(
            spec, features, skip_scenarios=skip_scenarios, recordings=recordings, own_wire=own_wire
        )
        if (
            decision.action == "fail"
            and spec.recording_optional
            and recordings is not None
            and not (recordings / spec.file_name).is_file()
        ):
            return Decision(
                "skip",
                f"{spec.id}: no recording {spec.file_name} in {recordings} (optional: record it where the "
                f"broker has this reply; {spec.title})",
            )
        return decision
    own = decide(spec, features, skip_scenarios=skip_scenarios, recordings=None, own_wire=own_wire)
    if own.action != "run":
        return own
    base = get_spec(spec.replays)
    played = decide(base, features, skip_scenarios=skip_scenarios, recordings=recordings, own_wire=own_wire)
    if played.action == "run":
        return played
    if played.action == "skip":
        return Decision("skip", f"{spec.id}: replays {base.id}, which is skipped ({played.reason})")
    return Decision("skip", f"{spec.id}: replays {base.id}, which cannot run: {played.reason}")
