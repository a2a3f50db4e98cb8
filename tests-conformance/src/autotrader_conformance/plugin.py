"""The pytest plugin (entry point ``pytest11``): markers, the scenario fixture, skip decisions.

Inert unless a collected test class subclasses
:class:`~autotrader_conformance.AdapterConformance` (singer-sdk style): the
hooks return at once for every other test, and the fixture is only set up for
the kit's scenario tests. While such a test runs (setup, call and teardown), the
loopback guard (:mod:`autotrader_conformance.network_guard`) refuses every
connection that is not to a loopback address or a unix socket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from autotrader_conformance.base import AdapterConformance
from autotrader_conformance.capabilities import REQUIRES_MARK, SCENARIO_MARK, missing_feature_reason
from autotrader_conformance.catalogue import CATALOGUE, get_spec
from autotrader_conformance.http_loopback import HttpLoopbackServer
from autotrader_conformance.http_replay import HttpReplay
from autotrader_conformance.inflight.scenarios import InflightConformance
from autotrader_conformance.line_stream_replay import LineStreamReplayServer
from autotrader_conformance.network_guard import loopback_only
from autotrader_conformance.replays import decide_scenario
from autotrader_conformance.scenario import Scenario
from autotrader_conformance.summary import FAULT_SCENARIOS, FIGURES, SummaryTable, render
from autotrader_conformance.ws_replay import WsReplayServer

__all__ = [
    "conformance_scenario",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_runtest_makereport",
    "pytest_runtest_protocol",
    "pytest_runtest_setup",
    "pytest_terminal_summary",
]

_SUMMARY = pytest.StashKey[SummaryTable]()
_SCENARIO = pytest.StashKey[Scenario]()

_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _is_conformance(item: pytest.Item) -> bool:
    cls = getattr(item, "cls", None)
    return isinstance(cls, type) and issubclass(cls, AdapterConformance)


def _is_inflight(item: pytest.Item) -> bool:
    cls = getattr(item, "cls", None)
    return isinstance(cls, type) and issubclass(cls, InflightConformance)


def _not_loopback(request: httpx.Request) -> bool:
    """pytest-httpx must leave the kit's loopback replay servers alone."""
    return request.url.host not in _LOOPBACK


def pytest_configure(config: pytest.Config) -> None:
    """Register the kit's markers."""
    config.addinivalue_line(
        "markers", f"{SCENARIO_MARK}(id): the autotrader conformance scenario this test plays"
    )
    config.addinivalue_line(
        "markers", f"{REQUIRES_MARK}(*features): skip unless the adapter declares these capabilities"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Let loopback requests through pytest-httpx in conformance tests (unless the test says otherwise)."""
    for item in items:
        if not (_is_conformance(item) or _is_inflight(item)):
            continue
        if not any("should_mock" in mark.kwargs for mark in item.iter_markers("httpx_mock")):
            item.add_marker(pytest.mark.httpx_mock(should_mock=_not_loopback))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    """Run a conformance test under the loopback guard: no connection leaves the machine."""
    if not (_is_conformance(item) or _is_inflight(item)):
        return (yield)

    def refused(message: str, on_test_thread: bool) -> None:
        # Fail the scenario with the guard's message even if the adapter swallows the error.
        scenario = item.stash.get(_SCENARIO, None)
        if scenario is None:
            return
        if on_test_thread:
            scenario.monitor.fail(message)
        else:  # a resolver thread: no cancelling from here; the session reports it at the end
            scenario.monitor.failures.append(message)

    with loopback_only(refused):
        return (yield)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip scenarios the adapter cannot run, with the reason, before any fixture starts."""
    if not _is_conformance(item):
        return
    instance = getattr(item, "instance", None)
    if not isinstance(instance, AdapterConformance):
        return
    cls = type(instance)
    if cls.test_no_overrides_DO_NOT_OVERRIDE is not AdapterConformance.test_no_overrides_DO_NOT_OVERRIDE:
        pytest.fail(f"{cls.__name__} overrides test_no_overrides_DO_NOT_OVERRIDE", pytrace=False)
    features = instance.adapter_capabilities().features
    scenario_mark = item.get_closest_marker(SCENARIO_MARK)
    if scenario_mark is None:  # an adapter's own test marked with requires(...)
        for mark in item.iter_markers(REQUIRES_MARK):
            for feature in mark.args:
                if feature not in features:
                    pytest.skip(missing_feature_reason(feature))
        return
    spec = get_spec(scenario_mark.args[0])
    decision = decide_scenario(
        spec,
        features,
        skip_scenarios=cls.skip_scenarios,
        recordings=instance.recordings_dir(),
        own_wire=cls.own_wire_scenarios,
    )
    if decision.action == "skip":
        pytest.skip(decision.reason)
    # "fail" decisions surface in the test body (reported as FAILED, not as a setup error).


@pytest.fixture
async def conformance_scenario(request: pytest.FixtureRequest, anyio_backend: Any) -> AsyncIterator[Scenario]:
    """The scenario of the running conformance test, with its replays running.

    Recorded mode: the HTTP exchanges are loaded into ``httpx_mock`` and the
    stream replay (WebSocket or HTTP lines) listens on 127.0.0.1; their URLs are
    on the scenario for ``make_adapter``.
    """
    instance = request.instance
    if not isinstance(instance, AdapterConformance):
        raise TypeError("conformance_scenario is only for AdapterConformance subclasses")
    mark = request.node.get_closest_marker(SCENARIO_MARK)
    if mark is None:
        raise TypeError(f"{request.node.name} has no {SCENARIO_MARK} mark")
    # Fault and secret scenarios play the recording (and simulated values) of the scenario they build on.
    scenario = instance.prepare_scenario(get_spec(get_spec(mark.args[0]).recording_id))
    request.node.stash[_SCENARIO] = scenario  # its monitor's refused repeats go into the summary
    async with AsyncExitStack() as stack:
        if scenario.is_recorded and scenario.setup_error is None:
            if instance.http_transport == "loopback":  # the adapter's own transport, over a real socket
                server = await stack.enter_async_context(HttpLoopbackServer(scenario.http, scenario.monitor))
                scenario.base_url, scenario.http_replay = server.url, server.replay
            else:
                replay = HttpReplay(request.getfixturevalue("httpx_mock"), scenario.http, scenario.monitor)
                replay.install()
                scenario.http_replay = replay
            if scenario.stream is not None:
                if scenario.stream.kind == "websocket":
                    ws = await stack.enter_async_context(WsReplayServer(scenario.stream, scenario.monitor))
                    scenario.ws_url, scenario.stream_server = ws.url, ws
                else:
                    lines = await stack.enter_async_context(
                        LineStreamReplayServer(scenario.stream, scenario.monitor)
                    )
                    scenario.stream_url, scenario.stream_server = lines.url, lines
        yield scenario


def _is_fault_scenario(scenario_id: str) -> bool:
    return scenario_id in FAULT_SCENARIOS or CATALOGUE[scenario_id].group == "faults"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Count every fault scenario's outcome and figures for the summary table."""
    report = yield
    if _is_inflight(item):
        _count_inflight(item, report)
        return report
    mark = item.get_closest_marker(SCENARIO_MARK) if _is_conformance(item) else None
    if mark is None:
        return report
    scenario = item.stash.get(_SCENARIO, None)
    refused = scenario.monitor.refused_repeats if scenario is not None and report.when == "call" else 0
    cls = getattr(item, "cls", None)
    name = cls.__name__ if cls is not None else item.nodeid
    if not _is_fault_scenario(mark.args[0]):
        if refused:
            item.config.stash.setdefault(_SUMMARY, SummaryTable()).refused_repeats(name, refused)
        return report
    outcome = None
    if report.when == "call" or (report.when == "setup" and not report.passed):
        outcome = "skipped" if report.skipped else ("passed" if report.passed else "failed")
    if outcome is not None:
        table = item.config.stash.setdefault(_SUMMARY, SummaryTable())
        fills = 0
        instance = getattr(item, "instance", None)
        if outcome == "passed" and mark.args[0] == "TC-STR-02" and isinstance(instance, AdapterConformance):
            fills = _expected_fill_count(instance, mark.args[0])
        table.outcome(name, mark.args[0], outcome, item.stash.get(FIGURES, None), fills, refused)
    return report


def _count_inflight(item: pytest.Item, report: pytest.TestReport) -> None:
    """Count an in-flight scenario (``TC-INF-*``): an xfail is a known open defect, counted apart."""
    if not (report.when == "call" or (report.when == "setup" and not report.passed)):
        return
    if hasattr(report, "wasxfail") and report.skipped:
        outcome = "xfailed"
    else:
        outcome = "skipped" if report.skipped else ("passed" if report.passed else "failed")
    callspec = getattr(item, "callspec", None)
    scenario_id = str(callspec.params.get("scenario_id", item.name)) if callspec is not None else item.name
    cls = getattr(item, "cls", None)
    name = cls.__name__ if cls is not None else item.nodeid
    table = item.config.stash.setdefault(_SUMMARY, SummaryTable())
    table.outcome(name, scenario_id, outcome, item.stash.get(FIGURES, None), 0)


def _expected_fill_count(instance: AdapterConformance, scenario_id: str) -> int:
    try:
        expected = instance.prepare_scenario(get_spec(scenario_id)).expect.get("fills", [])
    except Exception:  # a figure for the table, never a reason to fail the run
        return 0
    return len(expected) if isinstance(expected, list) else 0


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Print the fault-suite table: per adapter test class, scenarios, faults, orders, fills, losses, duplicates."""
    table = config.stash.get(_SUMMARY, None)
    if table is None or not table.tallies:
        return
    terminalreporter.section("autotrader fault suite")
    for line in render(table.tallies):
        terminalreporter.write_line(line)
    losses = sum(t.figures.losses for t in table.tallies.values())
    duplicates = sum(t.figures.duplicates for t in table.tallies.values())
    terminalreporter.write_line(
        f"losses {losses} (must be 0), duplicates {duplicates} (must be 0); "
        "scenarios: TC-FLT-* plus TC-ERR-05, TC-RES-01..04, TC-STR-02 and TC-INF-* (in-flight); "
        "duplicates include repeated requests the replay refused in any scenario"
    )
    xfailed = sum(t.xfailed for t in table.tallies.values())
    if xfailed:
        known = [t.known for t in table.tallies.values()]
        terminalreporter.write_line(
            f"known open defects (xfail, not in the totals above): {xfailed} scenarios, "
            f"losses {sum(k.losses for k in known)}, duplicates {sum(k.duplicates for k in known)}, "
            f"state mismatches {sum(k.state_mismatches for k in known)}, "
            f"position mismatches {sum(k.position_mismatches for k in known)}"
        )
