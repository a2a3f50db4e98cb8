"""The :class:`Scenario` handed to ``make_adapter`` and to every scenario test."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest

from autotrader_conformance._monitor import ReplayMonitor
from autotrader_conformance.catalogue import ScenarioSpec, get_spec
from autotrader_conformance.http_replay import HttpReplay
from autotrader_conformance.line_stream_replay import LineStreamReplayServer
from autotrader_conformance.recordings import HttpExchange, StreamScript
from autotrader_conformance.ws_replay import WsReplayServer

__all__ = ["PROBE_ID", "Scenario"]

PROBE_ID = "capabilities-probe"
"""Id of the placeholder scenario ``make_adapter`` gets when the kit only reads capabilities."""

_MISSING = object()


@dataclass(slots=True)
class Scenario:
    """One scenario about to run: its id, parameters, expectations and replay endpoints.

    Attributes:
        id: Stable scenario id (``TC-ORD-01``); names the recording file.
        title: What the scenario proves (from the catalogue).
        description: The recording's description (or the title when simulated).
        source: Provenance of the recorded payloads (protocols.md section, docs URL).
        provenance: ``captured: …`` or ``composed: …`` (recorded mode; ``simulated`` otherwise).
        input: Scenario parameters (symbol, side, quantity, client order id...).
        expect: Expected values (exact decimal strings for money).
        mode: ``"recorded"`` (replayed broker traffic), ``"simulated"`` (no recording:
            the adapter is its own broker, e.g. paper), or ``"probe"``.
        ws_url: ``ws://127.0.0.1:<port>`` of the WebSocket replay, when the recording
            has a websocket stream; point the adapter's ``ws_url`` setting at it.
        stream_url: ``http://127.0.0.1:<port>`` of the line-stream replay (chunked JSON
            lines, e.g. Oanda), when the recording has one.
        http: The recorded HTTP exchanges (already loaded into ``httpx_mock``).
        stream: The recorded stream script, if any.
        recording: Path of the recording file, if any.
        base_url: ``http://127.0.0.1:<port>`` of the loopback HTTP replay, when the test
            class sets ``http_transport = "loopback"``; point the adapter's REST base URL at it.
        http_replay: The HTTP replay (what was requested), recorded mode only.
        stream_server: The running stream replay server, if any.
        setup_error: Why the scenario must fail before it starts (missing recording...).
    """

    id: str
    input: Mapping[str, Any] = field(default_factory=dict)
    expect: Mapping[str, Any] = field(default_factory=dict)
    mode: str = "recorded"
    description: str = ""
    source: str = ""
    provenance: str = ""
    ws_url: str | None = None
    stream_url: str | None = None
    base_url: str | None = None
    http: tuple[HttpExchange, ...] = ()
    stream: StreamScript | None = None
    recording: Path | None = None
    monitor: ReplayMonitor = field(default_factory=ReplayMonitor, repr=False)
    http_replay: HttpReplay | None = field(default=None, repr=False)
    stream_server: WsReplayServer | LineStreamReplayServer | None = field(default=None, repr=False)
    setup_error: str | None = None

    @classmethod
    def probe(cls) -> Scenario:
        """Placeholder used to build an adapter only to read its capabilities (no I/O happens)."""
        return cls(
            id=PROBE_ID,
            mode="probe",
            ws_url="ws://127.0.0.1:9/probe",
            stream_url="http://127.0.0.1:9/probe",
        )

    @property
    def spec(self) -> ScenarioSpec:
        """The catalogue entry of this scenario."""
        return get_spec(self.id)

    @property
    def title(self) -> str:
        """What the scenario proves."""
        return self.spec.title if self.mode != "probe" else "capabilities probe"

    @property
    def is_recorded(self) -> bool:
        """True when replayed from a recording file."""
        return self.mode == "recorded"

    def value(self, key: str, default: Any = _MISSING) -> Any:
        """Raw value of ``key`` from ``expect``, else from ``input``.

        Raises:
            KeyError: naming the scenario and the key when it is absent and no default is given.
        """
        if self.setup_error is not None:  # the scenario cannot run: say why, not "missing key"
            raise pytest.fail.Exception(self.setup_error, pytrace=False)
        if key in self.expect:
            return self.expect[key]
        if key in self.input:
            return self.input[key]
        if default is not _MISSING:
            return default
        raise KeyError(f"{self.id}: no {key!r} in expect or input (recording: {self.recording})")

    def decimal(self, key: str) -> Decimal:
        """``key`` (from ``expect``, else ``input``) as an exact :class:`~decimal.Decimal`.

        Accepts decimal strings, integers and Decimals; refuses floats and
        non-numbers with an error naming the scenario and key.
        """
        return to_decimal(self.value(key), f"{self.id}: {key}")

    def optional_decimal(self, key: str) -> Decimal | None:
        """Like :meth:`decimal`, but ``None`` when the key is absent or null."""
        raw = self.value(key, None)
        return None if raw is None else to_decimal(raw, f"{self.id}: {key}")

    def text(self, key: str) -> str:
        """``key`` (from ``expect``, else ``input``) as a string."""
        raw = self.value(key)
        if not isinstance(raw, str):
            raise TypeError(f"{self.id}: {key} must be a string, was {raw!r}")
        return raw


def to_decimal(raw: Any, what: str) -> Decimal:
    """Exact Decimal from a decimal string, int or Decimal (never a float)."""
    if isinstance(raw, bool | float):
        raise TypeError(f"{what} must be a decimal string, was {raw!r}")
    if isinstance(raw, Decimal):
        return raw
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, str):
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise ValueError(f"{what} is not a decimal number: {raw!r}") from None
        if value.is_finite():
            return value
    raise ValueError(f"{what} must be a finite decimal string, was {raw!r}")
