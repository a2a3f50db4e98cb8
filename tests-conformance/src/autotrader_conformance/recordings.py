"""Recording files: one JSON file per scenario, loaded and validated with clear errors.

Schema (version 1), one file ``<scenario id>.json`` in the adapter's
``tests/recordings/`` folder::

    {
      "id": "TC-ORD-01",                      # must equal the file name
      "description": "what happened",          # free text
      "source": "protocols.md §1.3; https://…", # what the payloads come from: required, non-empty
      "provenance": "composed: …" | "captured: …",  # required: see PROVENANCE_KINDS
      "input":  {…},                            # scenario parameters (see the catalogue)
      "expect": {…},                            # expected values (decimal strings for money)
      "http": [ exchange, … ],                  # optional
      "stream": {…}                             # optional
    }

    exchange = {
      "label": "submit",                        # optional; some scenarios require labels
      "request": {"method": "POST", "url": "https://host/path",
                  "params": {"k": "v" | "<ANY>" | [..]},   # optional, every query param
                  "headers": {"X-Key": "<ANY>"},           # optional, must be present
                  "json": {…} | "form": {…} | "content": "…"},   # optional, one body matcher
      "response": {"status": 200, "headers": {…}, "json": … | "text": "…"}
                | {"exception": "timeout" | "connect_error" | "read_error"},
      "optional": false, "reusable": false
    }

    stream = {"kind": "websocket" | "lines",     # default websocket
              "auto_reply": {"ping": "pong"},     # websocket only: literal frames answered anywhere
              "connections": [[step, …], …]}      # one script per connection, in order

See :mod:`autotrader_conformance.ws_replay` and
:mod:`autotrader_conformance.line_stream_replay` for the steps.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from autotrader_conformance import _json
from autotrader_conformance.catalogue import ScenarioSpec

__all__ = [
    "EXCEPTION_KINDS",
    "PROVENANCE_KINDS",
    "HttpExchange",
    "HttpRequestSpec",
    "HttpResponseSpec",
    "Recording",
    "RecordingError",
    "StreamScript",
    "dump_recording",
    "load_recording",
    "parse_recording",
    "validate_values",
]

EXCEPTION_KINDS = ("timeout", "connect_error", "read_error")
"""Transport failures an exchange can replay instead of a response."""

PROVENANCE_KINDS = ("captured", "composed")
"""How a recording came to be, the first word of its ``provenance``.

``captured``: the broker's own bytes, recorded from its live or test environment
(say where and when). ``composed``: assembled by hand from documented payloads
(say from which documentation sections, and which parts are variations).
"""

_TOP_KEYS = {"id", "description", "source", "provenance", "input", "expect", "http", "stream", "version"}
_REQUEST_KEYS = {"method", "url", "params", "headers", "json", "form", "content"}
_RESPONSE_KEYS = {"status", "headers", "json", "text", "exception"}
_EXCHANGE_KEYS = {"label", "request", "response", "optional", "reusable", "note"}
_WS_STEPS = {"expect", "push", "sleep", "after_http", "drop", "close"}
_LINE_STEPS = {"request", "respond", "line", "sleep", "after_http", "drop", "end"}
_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


class RecordingError(ValueError):
    """A recording file is missing, unreadable, or breaks the schema; the message names the spot."""


@dataclass(frozen=True, slots=True)
class HttpRequestSpec:
    """What a recorded request must look like to match."""

    method: str
    url: str
    """Scheme, host and path (no query: the query is in ``params``)."""
    params: Mapping[str, Any] | None
    """Every query parameter (``"<ANY>"`` for volatile ones); ``None`` means "no query string"."""
    headers: Mapping[str, str]
    body_kind: str | None
    """``"json"``, ``"form"``, ``"content"`` or ``None`` (body not checked)."""
    body: Any = None

    @property
    def path(self) -> str:
        """The URL path."""
        return urlsplit(self.url).path


@dataclass(frozen=True, slots=True)
class HttpResponseSpec:
    """The recorded reply (or a transport failure to raise)."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    has_json: bool = False
    text: str | None = None
    exception: str | None = None


@dataclass(frozen=True, slots=True)
class HttpExchange:
    """One recorded request → response."""

    index: int
    label: str | None
    request: HttpRequestSpec
    response: HttpResponseSpec
    optional: bool = False
    reusable: bool = False

    def describe(self) -> str:
        """Short human name, e.g. ``http[2] 'submit' POST /api/v3/order``."""
        label = f" {self.label!r}" if self.label else ""
        return f"http[{self.index}]{label} {self.request.method} {self.request.url}"


@dataclass(frozen=True, slots=True)
class StreamScript:
    """The recorded private stream: one list of steps per connection the adapter opens."""

    kind: str
    """``"websocket"`` or ``"lines"`` (HTTP chunked JSON lines, e.g. Oanda)."""
    connections: tuple[tuple[Mapping[str, Any], ...], ...]
    auto_reply: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Recording:
    """A validated recording file."""

    path: Path
    id: str
    description: str
    source: str
    input: Mapping[str, Any]
    expect: Mapping[str, Any]
    http: tuple[HttpExchange, ...] = ()
    stream: StreamScript | None = None
    provenance: str = ""
    """``captured: …`` or ``composed: …`` (see :data:`PROVENANCE_KINDS`)."""

    @property
    def is_composed(self) -> bool:
        """True when the flow was assembled from documentation, not captured from the broker."""
        return self.provenance.startswith("composed")


class _Checker:
    """Collects schema errors with their JSON path so one run shows them all."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.errors: list[str] = []

    def error(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")

    def raise_if_any(self) -> None:
        if self.errors:
            listing = "\n".join(f"  - {error}" for error in self.errors)
            raise RecordingError(f"{self.origin} is not a valid recording:\n{listing}")


def load_recording(path: Path, spec: ScenarioSpec | None = None) -> Recording:
    """Read and validate one recording file.

    Args:
        spec: When given, the recording's ``input``/``expect`` keys and http labels
            are checked against what the scenario needs.

    Raises:
        RecordingError: naming the file and every problem found.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecordingError(f"recording file {path} does not exist") from None
    try:
        data = _json.loads(text)
    except ValueError as exc:
        raise RecordingError(f"{path} is not valid JSON: {exc}") from None
    recording = parse_recording(data, path=path, spec=spec)
    if recording.id != path.stem:
        raise RecordingError(f"{path}: id {recording.id!r} does not match the file name {path.name!r}")
    return recording


def parse_recording(data: Any, *, path: Path | None = None, spec: ScenarioSpec | None = None) -> Recording:
    """Validate an already-parsed recording (numbers as Decimal) and build a :class:`Recording`."""
    origin = str(path) if path is not None else "recording"
    check = _Checker(origin)
    if not isinstance(data, dict):
        raise RecordingError(f"{origin}: the top level must be a JSON object")
    for key in data:
        if key not in _TOP_KEYS:
            check.error(key, f"unknown key (allowed: {', '.join(sorted(_TOP_KEYS))})")
    scenario_id = _required_text(check, data, "id")
    description = _required_text(check, data, "description")
    source = _required_text(check, data, "source")
    provenance = _provenance(check, data)
    inputs = _object(check, data, "input")
    expect = _object(check, data, "expect")
    if spec is not None and scenario_id and scenario_id != spec.id:
        check.error("id", f"is {scenario_id!r} but the scenario is {spec.id!r}")
    exchanges = _http(check, data.get("http", []))
    stream = _stream(check, data["stream"]) if "stream" in data else None
    if spec is not None:
        check.errors += validate_values(spec, inputs, expect)
        labels = {exchange.label for exchange in exchanges}
        for label in spec.http_labels:
            if label not in labels:
                check.error("http", f"{spec.id} needs an exchange labelled {label!r}")
    check.raise_if_any()
    return Recording(
        path=path if path is not None else Path(f"{scenario_id}.json"),
        id=scenario_id,
        description=description,
        source=source,
        input=inputs,
        expect=expect,
        http=tuple(exchanges),
        stream=stream,
        provenance=provenance,
    )


def _provenance(check: _Checker, data: Mapping[str, Any]) -> str:
    value = data.get("provenance")
    kinds = " or ".join(f'"{kind}: …"' for kind in PROVENANCE_KINDS)
    if not isinstance(value, str) or not value.strip():
        check.error(
            "provenance",
            f"required: {kinds} — was this flow captured from the broker, or composed from its "
            "documentation (and from which sections)?",
        )
        return ""
    kind, _, detail = value.partition(":")
    if kind.strip() not in PROVENANCE_KINDS or not detail.strip():
        check.error("provenance", f"must read {kinds} (saying from what), got {value!r}")
    return value


def validate_values(spec: ScenarioSpec, inputs: Mapping[str, Any], expect: Mapping[str, Any]) -> list[str]:
    """Check ``input``/``expect`` against the scenario's needs; returns the problems found."""
    problems: list[str] = []
    for section, values, required, optional in (
        ("input", inputs, spec.input_required, spec.input_optional),
        ("expect", expect, spec.expect_required, spec.expect_optional),
    ):
        for key in required:
            if key not in values:
                problems.append(f"{section}.{key}: required by {spec.id}")
        for key in values:
            if key not in required and key not in optional:
                allowed = ", ".join((*required, *optional)) or "nothing"
                problems.append(f"{section}.{key}: not used by {spec.id} (allowed: {allowed})")
        for key, value in values.items():
            if isinstance(value, float):
                problems.append(f"{section}.{key}: float {value!r}; write money as a decimal string")
    if spec.id == "TC-ORD-05" and "new_quantity" not in inputs and "new_limit_price" not in inputs:
        problems.append("input: TC-ORD-05 needs new_quantity and/or new_limit_price")
    return problems


def _required_text(check: _Checker, data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        check.error(key, "required, a non-empty string")
        return ""
    return value


def _object(check: _Checker, data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        check.error(key, "must be a JSON object")
        return {}
    return value


def _http(check: _Checker, raw: Any) -> list[HttpExchange]:
    if not isinstance(raw, list):
        check.error("http", "must be a list of exchanges")
        return []
    exchanges = []
    for index, item in enumerate(raw):
        where = f"http[{index}]"
        if not isinstance(item, dict):
            check.error(where, "must be an object with request and response")
            continue
        for key in item:
            if key not in _EXCHANGE_KEYS:
                check.error(f"{where}.{key}", f"unknown key (allowed: {', '.join(sorted(_EXCHANGE_KEYS))})")
        label = item.get("label")
        if label is not None and not isinstance(label, str):
            check.error(f"{where}.label", "must be a string")
            label = None
        request = _request(check, f"{where}.request", item.get("request"))
        response = _response(check, f"{where}.response", item.get("response"))
        flags = {}
        for flag in ("optional", "reusable"):
            value = item.get(flag, False)
            if not isinstance(value, bool):
                check.error(f"{where}.{flag}", "must be true or false")
                value = False
            flags[flag] = value
        if request is not None and response is not None:
            exchanges.append(
                HttpExchange(index, label, request, response, flags["optional"], flags["reusable"])
            )
    return exchanges


def _request(check: _Checker, where: str, raw: Any) -> HttpRequestSpec | None:
    if not isinstance(raw, dict):
        check.error(where, "required, an object with method and url")
        return None
    for key in raw:
        if key not in _REQUEST_KEYS:
            check.error(f"{where}.{key}", f"unknown key (allowed: {', '.join(sorted(_REQUEST_KEYS))})")
    method = raw.get("method")
    if not isinstance(method, str) or method.upper() not in _METHODS:
        check.error(f"{where}.method", f"must be one of {', '.join(sorted(_METHODS))}")
        return None
    url = raw.get("url")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        check.error(f"{where}.url", "must be an absolute http(s) URL")
        return None
    parts = urlsplit(url)
    params: Any = raw.get("params")
    if parts.query:
        if params is not None:
            check.error(f"{where}.url", "has a query string and params: put every query parameter in params")
            return None
        params = _query_to_params(parts.query)
    if params is not None and not _valid_params(params):
        check.error(f"{where}.params", "must map names to strings, '<ANY>' or lists of strings")
        return None
    headers = raw.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        check.error(f"{where}.headers", "must map header names to strings")
        headers = {}
    bodies = [key for key in ("json", "form", "content") if key in raw]
    if len(bodies) > 1:
        check.error(where, f"give one body matcher, not {' and '.join(bodies)}")
        return None
    body_kind = bodies[0] if bodies else None
    body = raw.get(body_kind) if body_kind else None
    if body_kind == "json" and body is None:
        body_kind = None  # "json": null means "no body checked"
    if body_kind == "form" and not (isinstance(body, dict) and _valid_params(body)):
        check.error(f"{where}.form", "must map field names to strings or '<ANY>'")
    if body_kind == "content" and not isinstance(body, str):
        check.error(f"{where}.content", "must be the exact body text")
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return HttpRequestSpec(method.upper(), base, params, headers, body_kind, body)


def _query_to_params(query: str) -> dict[str, Any]:
    from urllib.parse import parse_qsl

    params: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in params:
            existing = params[key]
            params[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            params[key] = value
    return params


def _valid_params(params: Any) -> bool:
    if not isinstance(params, dict):
        return False
    return all(
        isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        for value in params.values()
    )


def _response(check: _Checker, where: str, raw: Any) -> HttpResponseSpec | None:
    if not isinstance(raw, dict):
        check.error(where, "required, an object with status (and json or text) or exception")
        return None
    for key in raw:
        if key not in _RESPONSE_KEYS:
            check.error(f"{where}.{key}", f"unknown key (allowed: {', '.join(sorted(_RESPONSE_KEYS))})")
    if "exception" in raw:
        kind = raw["exception"]
        if kind not in EXCEPTION_KINDS:
            check.error(f"{where}.exception", f"must be one of {', '.join(EXCEPTION_KINDS)}")
            return None
        if len(raw) > 1:
            check.error(where, "an exception response has no status, headers or body")
        return HttpResponseSpec(exception=kind)
    status = raw.get("status")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        check.error(f"{where}.status", "required, an HTTP status code")
        return None
    headers = raw.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        check.error(f"{where}.headers", "must map header names to strings")
        headers = {}
    if "json" in raw and "text" in raw:
        check.error(where, "give json or text, not both")
    text = raw.get("text")
    if text is not None and not isinstance(text, str):
        check.error(f"{where}.text", "must be a string (the exact body)")
        text = None
    return HttpResponseSpec(status, headers, raw.get("json"), "json" in raw, text)


def _stream(check: _Checker, raw: Any) -> StreamScript | None:
    if not isinstance(raw, dict):
        check.error("stream", "must be an object with connections")
        return None
    kind = raw.get("kind", "websocket")
    if kind not in ("websocket", "lines"):
        check.error("stream.kind", "must be 'websocket' or 'lines'")
        return None
    auto_reply = raw.get("auto_reply", {})
    if not isinstance(auto_reply, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in auto_reply.items()
    ):
        check.error("stream.auto_reply", "must map literal client frames to literal replies")
        auto_reply = {}
    for key in raw:
        if key not in ("kind", "auto_reply", "connections"):
            check.error(f"stream.{key}", "unknown key (allowed: kind, auto_reply, connections)")
    connections = raw.get("connections")
    if not isinstance(connections, list) or not connections:
        check.error("stream.connections", "required, a non-empty list of step lists (one per connection)")
        return None
    allowed = _WS_STEPS if kind == "websocket" else _LINE_STEPS
    scripts = []
    for number, steps in enumerate(connections):
        where = f"stream.connections[{number}]"
        if not isinstance(steps, list):
            check.error(where, "must be a list of steps")
            continue
        for index, step in enumerate(steps):
            _step(check, f"{where}[{index}]", step, allowed)
        scripts.append(tuple(steps))
    return StreamScript(kind, tuple(scripts), auto_reply)


def _step(check: _Checker, where: str, step: Any, allowed: set[str]) -> None:
    if not isinstance(step, dict):
        check.error(where, f"must be an object with one of: {', '.join(sorted(allowed))}")
        return
    actions = [key for key in step if key in allowed]
    extra = [key for key in step if key not in allowed and not (key == "reply" and "expect" in step)]
    if len(actions) != 1 or extra:
        check.error(where, f"must have exactly one of {', '.join(sorted(allowed))} (found {sorted(step)})")
        return
    action = actions[0]
    value = step[action]
    if action == "sleep" and not (
        isinstance(value, int | Decimal) and not isinstance(value, bool) and 0 <= value <= 30
    ):
        check.error(f"{where}.sleep", "must be seconds between 0 and 30")
    elif action == "after_http" and not isinstance(value, str):
        check.error(f"{where}.after_http", "must be the label of an http exchange")
    elif action in ("drop", "end") and value is not True:
        check.error(f"{where}.{action}", "must be true")
    elif action == "expect" and not isinstance(value, dict | list | str):
        check.error(f"{where}.expect", "must be a JSON object/array (partial match) or a literal text frame")
    elif action == "close" and not (isinstance(value, dict) and isinstance(value.get("code", 1000), int)):
        check.error(f"{where}.close", 'must be {"code": <int>, "reason": "..."}')
    elif action == "request" and not isinstance(value, dict):
        check.error(f"{where}.request", "must be an object with method, path, params, headers")
    elif action == "respond" and not (isinstance(value, dict) and isinstance(value.get("status"), int)):
        check.error(f"{where}.respond", "must be an object with status (and json or text)")
    if "reply" in step and not isinstance(step["reply"], list):
        check.error(f"{where}.reply", "must be a list of frames")


def dump_recording(data: Mapping[str, Any], *, spec: ScenarioSpec | None = None) -> str:
    """A recording as indented JSON text, every number written exactly as held (``Decimal("1.50")`` → ``1.50``).

    For recording scripts: payloads parsed with ``json.loads(text, parse_float=Decimal)``
    come back out byte-faithful, which ``json.dumps`` cannot do (it refuses Decimal, and a
    float would round). The recording is validated first, so only a loadable file is written.

    Raises:
        RecordingError: naming every schema problem (with ``spec``: the scenario's keys too).
        TypeError: a float anywhere in ``data``.
    """
    parse_recording(dict(data), spec=spec)
    marker = uuid.uuid4().hex
    numbers: list[str] = []

    def mark(value: Any) -> Any:
        if isinstance(value, Decimal | float) and not isinstance(value, bool):
            numbers.append(_json.dumps(value))  # refuses a float
            return f"{marker}:{len(numbers) - 1}"
        if isinstance(value, Mapping):
            return {str(key): mark(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [mark(item) for item in value]
        return value

    text = json.dumps(mark(data), indent=2, ensure_ascii=False)
    return re.sub(f'"{marker}:(\\d+)"', lambda found: numbers[int(found.group(1))], text) + "\n"
