"""The hooks an adapter's test class implements, and the machinery every scenario shares."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import anyio
import pytest
from autotrader_core.adapter import BrokerAdapter
from autotrader_core.capabilities import Capabilities, Feature
from autotrader_core.resiliency import RetryPolicy

from autotrader_conformance.capabilities import SCENARIO_MARK, decide, requires
from autotrader_conformance.catalogue import ScenarioSpec, get_spec
from autotrader_conformance.faults import FaultPlan, with_faults
from autotrader_conformance.recordings import RecordingError, load_recording, validate_values
from autotrader_conformance.scenario import Scenario
from autotrader_conformance.session import ScenarioSession

__all__ = ["SCENARIO_TESTS", "ScenarioBase", "scenario"]

F = TypeVar("F", bound=Callable[..., Any])

SCENARIO_TESTS: dict[str, str] = {}
"""Test method name → scenario id, for every scenario test the kit ships."""

_UNSET: Any = object()


def scenario(scenario_id: str) -> Callable[[F], F]:
    """Mark a test method as the kit's test of ``scenario_id`` (marks, anyio, requires)."""
    spec = get_spec(scenario_id)

    def mark(fn: F) -> F:
        SCENARIO_TESTS[fn.__name__] = scenario_id
        marked: F = getattr(pytest.mark, SCENARIO_MARK)(scenario_id)(fn)
        marked = pytest.mark.anyio(marked)
        if spec.requires is not None:
            marked = requires(spec.requires)(marked)
        return marked

    return mark


class ScenarioBase:
    """Hooks and shared machinery; :class:`~autotrader_conformance.AdapterConformance` is the public face.

    Subclasses set:

    * ``recordings``: folder of ``<scenario id>.json`` files, or ``None`` for an
      adapter that is its own broker (paper), whose scenarios run against it;
    * ``skip_scenarios`` (optional): ``{scenario id: reason}`` for non-mandatory
      scenarios the broker cannot do; the reason is shown in ``pytest -rs``;
    * ``own_wire_scenarios`` (optional, ``recordings = None`` only): ``{scenario id: how}``
      for scenarios the kit skips in simulated mode for want of a wire, which this
      adapter plays on a wire of its own (a fake server replaying its transcripts);
    * ``scenario_timeout`` (optional): seconds before a scenario fails as hung.

    and implement :meth:`make_adapter` (plus :meth:`scenario_input` and
    :meth:`expected` when ``recordings`` is ``None``).
    """

    recordings: ClassVar[Path | None]
    skip_scenarios: ClassVar[Mapping[str, str]] = {}
    own_wire_scenarios: ClassVar[Mapping[str, str]] = {}
    scenario_timeout: ClassVar[float] = 10.0
    _capabilities_cache: ClassVar[dict[type, Capabilities]] = {}

    @pytest.fixture
    def anyio_backend(self) -> str:
        """The replay servers run on asyncio."""
        return "asyncio"

    # -- hooks for the adapter's test class --------------------------------
    def make_adapter(self, scenario: Scenario) -> BrokerAdapter:
        """Build a fresh, unconnected adapter for ``scenario``.

        Point its stream URL at ``scenario.ws_url`` (WebSocket) or
        ``scenario.stream_url`` (HTTP line stream) when the recording has a
        stream. Must not do I/O: it is also called once with
        :meth:`Scenario.probe` to read the adapter's capabilities.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement make_adapter(scenario)")

    def scenario_input(self, scenario_id: str) -> Mapping[str, Any]:
        """Input of a scenario that has no recording (simulated adapters only). Default: none."""
        return {}

    def expected(self, scenario_id: str) -> Mapping[str, Any]:
        """Expected values of a scenario that has no recording (simulated adapters only). Default: none."""
        return {}

    def adapter_capabilities(self) -> Capabilities:
        """What the adapter declares; by default read from an adapter built for the probe scenario."""
        cls = type(self)
        if cls not in self._capabilities_cache:
            adapter = self.make_adapter(Scenario.probe())
            self._capabilities_cache[cls] = type(adapter).capabilities
        return self._capabilities_cache[cls]

    def retry_policy(self) -> RetryPolicy:
        """Policy the resiliency scenarios use: quick backoff, honours Retry-After up to 30 s."""
        return RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, jitter=0.0, max_retry_after=30.0)

    def fault_injection(self, adapter: BrokerAdapter) -> tuple[BrokerAdapter, FaultPlan]:
        """The adapter to drive and its fault plan, for simulated adapters.

        Uses the adapter's own ``faults`` hooks when it has them (so its real code
        handles the fault), else wraps it in :class:`~autotrader_conformance.faults.FaultyAdapter`.
        """
        own = getattr(adapter, "faults", None)
        if own is not None and callable(getattr(own, "fail_next", None)):
            return adapter, own
        wrapped = with_faults(adapter)
        return wrapped, wrapped.faults

    # -- machinery ---------------------------------------------------------
    def recordings_dir(self) -> Path | None:
        """The declared recordings folder (``None`` for simulated adapters).

        Raises:
            TypeError: when the test class forgot to set ``recordings``.
        """
        value = getattr(type(self), "recordings", _UNSET)
        if value is _UNSET:
            raise TypeError(
                f"{type(self).__name__} must set `recordings = Path(__file__).parent / 'recordings'` "
                "(or `recordings = None` for an adapter that is its own broker)"
            )
        if value is not None and not isinstance(value, Path):
            raise TypeError(f"{type(self).__name__}.recordings must be a pathlib.Path or None")
        return value

    def prepare_scenario(self, spec: ScenarioSpec) -> Scenario:
        """Load the recording (or the simulated values) of ``spec``; problems go to ``setup_error``."""
        recordings = self.recordings_dir()
        decision = decide(
            spec,
            self.adapter_capabilities().features,
            skip_scenarios=self.skip_scenarios,
            recordings=recordings,
            own_wire=self.own_wire_scenarios,
        )
        if decision.action == "fail":
            return Scenario(id=spec.id, setup_error=decision.reason)
        if recordings is None:
            inputs = dict(self.scenario_input(spec.id))
            expect = dict(self.expected(spec.id))
            problems = validate_values(spec, inputs, expect)
            error = None
            if problems:
                error = (
                    f"{spec.id} has no recording, so {type(self).__name__}.scenario_input()/expected() "
                    "must provide its values:\n" + "\n".join(f"  - {problem}" for problem in problems)
                )
            return Scenario(
                id=spec.id,
                input=inputs,
                expect=expect,
                mode="simulated",
                description=spec.title,
                source="simulated",
                provenance="simulated",
                setup_error=error,
            )
        path = recordings / spec.file_name
        try:
            recording = load_recording(path, spec)
        except RecordingError as exc:
            return Scenario(id=spec.id, setup_error=str(exc), recording=path)
        return Scenario(
            id=spec.id,
            input=recording.input,
            expect=recording.expect,
            mode="recorded",
            description=recording.description,
            source=recording.source,
            provenance=recording.provenance,
            http=recording.http,
            stream=recording.stream,
            recording=path,
        )

    def declares(self, feature: Feature) -> bool:
        """Whether the adapter declares ``feature``."""
        return feature in self.adapter_capabilities().features

    @asynccontextmanager
    async def session(self, scenario: Scenario) -> AsyncIterator[ScenarioSession]:
        """Run a scenario's body: builds the adapter, guards against hangs and replay mismatches.

        The body is cancelled at once when a replay reports a mismatch, and fails
        with the replay's diff; it fails with the replay status when it runs past
        ``scenario_timeout``. The adapter is disconnected afterwards in all cases.
        """
        if scenario.setup_error is not None:
            pytest.fail(scenario.setup_error, pytrace=False)
        adapter = self.make_adapter(scenario)
        faults: FaultPlan | None = None
        if not scenario.is_recorded:
            adapter, faults = self.fault_injection(adapter)
        monitor = scenario.monitor
        timed_out = False
        consequence: Exception | None = None
        try:
            async with anyio.create_task_group() as task_group:
                session = ScenarioSession(scenario, adapter, faults, task_group)
                with anyio.CancelScope() as guard:
                    monitor.bind(guard)
                    try:
                        with anyio.move_on_after(self.scenario_timeout) as deadline:
                            yield session
                        timed_out = deadline.cancelled_caught
                    except Exception as exc:
                        # A replay mismatch is the cause; what the adapter raised after it is noise.
                        if not monitor.failures:
                            raise
                        consequence = exc
                    finally:
                        monitor.unbind(guard)
                task_group.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            leaves = _leaves(group)
            if len(leaves) == 1:
                raise leaves[0] from None
            raise
        finally:
            await _quiet_disconnect(adapter)
        if monitor.failures:
            after = ""
            if consequence is not None:
                first_line = str(consequence).splitlines()[0] if str(consequence) else ""
                after = f"\n\n(the adapter then raised {type(consequence).__name__}: {first_line})"
            raise pytest.fail.Exception("\n\n".join(monitor.failures) + after, pytrace=False) from None
        if timed_out:
            status = scenario.stream_server.status() if scenario.stream_server is not None else ""
            message = (
                f"{scenario.id} did not finish within {self.scenario_timeout}s (scenario_timeout). {status}"
            )
            raise pytest.fail.Exception(message, pytrace=False) from None
        _check_http_played(scenario)
        await _check_streams_played(scenario)


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            found += _leaves(exc)
        else:
            found.append(exc)
    return found


async def _quiet_disconnect(adapter: BrokerAdapter) -> None:
    """Disconnect after a scenario; its failures were already judged by the body."""
    with anyio.CancelScope(shield=True), anyio.move_on_after(3), contextlib.suppress(Exception):
        await adapter.disconnect()


def _check_http_played(scenario: Scenario) -> None:
    """Fail when the recording holds requests the adapter never sent."""
    replay = scenario.http_replay
    if replay is None:
        return
    missing = replay.unrequested()
    if missing:
        listing = "\n".join(f"  - {exchange.describe()}" for exchange in missing)
        pytest.fail(
            f"{scenario.id}: the adapter never sent these recorded requests:\n{listing}\n"
            "Either the adapter took another path than the recorded one, or the request is "
            'legitimately conditional: then mark the exchange "optional": true.',
            pytrace=False,
        )


async def _check_streams_played(scenario: Scenario) -> None:
    """Fail when the recorded stream holds steps the adapter never reached."""
    server = scenario.stream_server
    if server is None:
        return
    with anyio.move_on_after(0.5):  # frames sent during disconnect may still be in flight
        while server.unfinished():  # noqa: ASYNC110 - the servers have no event for "script done"
            await anyio.sleep(0.01)
    unfinished = server.unfinished()
    if unfinished:
        listing = "\n".join(f"  - {problem}" for problem in unfinished)
        pytest.fail(
            f"{scenario.id}: the recorded stream was not played to the end:\n{listing}\n"
            "Either the adapter did not do what the broker's recording shows, or the recording "
            "holds steps this scenario does not reach.",
            pytrace=False,
        )
