"""Load a recording's ``http`` exchanges into pytest-httpx's ``httpx_mock``.

Each exchange becomes one ``httpx_mock.add_callback`` registration, in file
order, matched on method, URL (scheme, host, path), every query parameter
(``"<ANY>"`` → :data:`unittest.mock.ANY`) and, when recorded, the JSON or exact
text body. pytest-httpx answers a request with the first matching exchange not
yet used, so a recording that queries the same URL twice gets its two replies
in order. Headers and form bodies are checked once an exchange is chosen.

A catch-all registered last turns any request the recording does not contain —
including a *second* submit where one was recorded — into an immediate test
failure that names the closest recorded exchange and what differs.

Every exchange is registered with pytest-httpx as optional: the kit itself
checks, once the scenario body has passed, that every non-optional exchange was
requested (:meth:`HttpReplay.unrequested`), and reports it as a failure of the
scenario rather than as pytest-httpx's teardown error after another failure.

pytest-httpx only intercepts httpx's stock transports (``httpx.AsyncHTTPTransport``
and subclasses); an adapter that injects a custom transport bypasses it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from unittest.mock import ANY
from urllib.parse import parse_qsl

import httpx

from autotrader_conformance import _json
from autotrader_conformance._match import ANY_MARKER, describe_mismatch, mismatches
from autotrader_conformance._monitor import ReplayMonitor
from autotrader_conformance.recordings import HttpExchange

if TYPE_CHECKING:
    from pytest_httpx import HTTPXMock

__all__ = ["HttpReplay"]

_EXCEPTIONS: dict[str, type[httpx.TransportError]] = {
    "timeout": httpx.ReadTimeout,
    "connect_error": httpx.ConnectError,
    "read_error": httpx.ReadError,
}
_FRAMING_HEADERS = {"content-length", "content-encoding", "transfer-encoding"}


class HttpReplay:
    """Serves recorded exchanges through ``httpx_mock`` and remembers what was asked.

    Args:
        httpx_mock: The pytest-httpx fixture of the running test.
        exchanges: The recording's exchanges, in file order.
        monitor: Where mismatches are reported (stops the scenario at once).
    """

    def __init__(
        self, httpx_mock: HTTPXMock, exchanges: Sequence[HttpExchange], monitor: ReplayMonitor
    ) -> None:
        self._mock = httpx_mock
        self.exchanges = tuple(exchanges)
        self._monitor = monitor
        self.served: list[tuple[HttpExchange, httpx.Request]] = []
        """Every answered request with the exchange that answered it, in order."""
        self.unexpected: list[httpx.Request] = []
        """Requests the recording does not contain."""
        self._callbacks: dict[int, Callable[[httpx.Request], httpx.Response]] = {}

    def install(self) -> None:
        """Register every exchange, then the catch-all."""
        for exchange in self.exchanges:
            callback = self._callback_for(exchange)
            self._callbacks[exchange.index] = callback
            self._mock.add_callback(callback, **_matchers(exchange))
        self._mock.add_callback(self._unexpected, is_optional=True, is_reusable=True)

    def unrequested(self) -> list[HttpExchange]:
        """Non-optional exchanges the adapter never sent."""
        served = {exchange.index for exchange, _ in self.served}
        return [e for e in self.exchanges if not e.optional and e.index not in served]

    def requests_for(self, label: str) -> list[httpx.Request]:
        """Requests answered by exchanges labelled ``label`` (e.g. every ``"submit"`` the broker got)."""
        return [request for exchange, request in self.served if exchange.label == label]

    def _callback_for(self, exchange: HttpExchange) -> Callable[[httpx.Request], httpx.Response]:
        def respond(request: httpx.Request) -> httpx.Response:
            problems = _header_problems(exchange, request) + _form_problems(exchange, request)
            if problems:
                message = describe_mismatch(
                    f"request answered by {exchange.describe()}",
                    {"headers": dict(exchange.request.headers), "form": exchange.request.body},
                    {"headers": dict(request.headers), "body": request.content.decode(errors="replace")},
                    problems,
                )
                self._monitor.fail(message)
                raise httpx.ConnectError(f"autotrader-conformance: {message}", request=request)
            self.served.append((exchange, request))
            if exchange.label:
                self._monitor.served(exchange.label)
            return _build_response(exchange, request)

        return respond

    def _unexpected(self, request: httpx.Request) -> httpx.Response:
        # pytest-httpx prefers any matcher not called yet, so once a reusable exchange has
        # answered, the catch-all is offered its repeats: hand them back to the exchange.
        for exchange in self.exchanges:
            if exchange.reusable and _matches(exchange, request):
                return self._callbacks[exchange.index](request)
        self.unexpected.append(request)
        message = self._explain_unexpected(request)
        if self._repeats_a_used_exchange(request):
            self._monitor.refused_repeat()  # counted as a duplicate in the fault-suite summary
        self._monitor.fail(message)
        raise httpx.ConnectError(f"autotrader-conformance: {message}", request=request)

    def _repeats_a_used_exchange(self, request: httpx.Request) -> bool:
        used = {exchange.index for exchange, _ in self.served}
        return any(
            exchange.index in used and not exchange.reusable and not _request_problems(exchange, request)
            for exchange in self.exchanges
            if exchange.request.method == request.method and exchange.request.path == request.url.path
        )

    def _explain_unexpected(self, request: httpx.Request) -> str:
        body = request.content.decode(errors="replace")
        lines = [
            "the adapter sent a request the recording does not contain "
            "(or sent it more times than recorded):",
            f"  {request.method} {request.url}" + (f"\n  body: {body}" if body else ""),
        ]
        path = request.url.path
        candidates = [
            exchange
            for exchange in self.exchanges
            if exchange.request.method == request.method and exchange.request.path == path
        ]
        used = {exchange.index for exchange, _ in self.served}
        for exchange in candidates:
            state = "already used" if exchange.index in used and not exchange.reusable else "not used"
            problems = _request_problems(exchange, request)
            if not problems and state == "already used":
                lines.append(
                    f"{exchange.describe()} matches but was already used: a repeated request "
                    "(a duplicate order if this is a submit). Mark it reusable only if repeats are harmless."
                )
            else:
                lines.append(f"closest recorded: {exchange.describe()} ({state}); differences:")
                lines += [f"  - {problem}" for problem in problems] or ["  - none"]
        if not candidates:
            recorded = "\n".join(f"  {exchange.describe()}" for exchange in self.exchanges) or "  (none)"
            lines.append(f"no recorded exchange has {request.method} {path}; recorded:\n{recorded}")
        return "\n".join(lines)


def _matchers(exchange: HttpExchange) -> dict[str, Any]:
    spec = exchange.request
    matchers: dict[str, Any] = {
        "method": spec.method,
        "url": spec.url,
        "is_optional": True,  # the kit reports unrequested exchanges itself (see unrequested())
        "is_reusable": exchange.reusable,
    }
    if spec.params is not None:
        matchers["match_params"] = {key: _any(value) for key, value in spec.params.items()}
    if spec.body_kind == "json":
        matchers["match_json"] = _any(_json.to_plain(spec.body))
    elif spec.body_kind == "content":
        matchers["match_content"] = str(spec.body).encode()
    return matchers


def _any(value: Any) -> Any:
    """Replace ``"<ANY>"`` with :data:`unittest.mock.ANY`, recursively."""
    if value == ANY_MARKER:
        return ANY
    if isinstance(value, dict):
        return {key: _any(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_any(item) for item in value]
    return value


def _header_problems(exchange: HttpExchange, request: httpx.Request) -> list[str]:
    problems = []
    for name, value in exchange.request.headers.items():
        sent = request.headers.get(name)
        if sent is None:
            problems.append(f"header {name!r}: missing")
        elif value != ANY_MARKER and sent != value:
            problems.append(f"header {name!r}: expected {value!r}, was {sent!r}")
    return problems


def _form_problems(exchange: HttpExchange, request: httpx.Request) -> list[str]:
    if exchange.request.body_kind != "form":
        return []
    sent = dict(parse_qsl(request.content.decode(errors="replace"), keep_blank_values=True))
    return mismatches(exchange.request.body, sent, partial=False, path="form")


def _matches(exchange: HttpExchange, request: httpx.Request) -> bool:
    """Whether ``request`` is one ``exchange`` answers (same rules as the pytest-httpx matchers)."""
    url = request.url
    return (
        request.method == exchange.request.method
        and f"{url.scheme}://{url.netloc.decode()}{url.path}" == exchange.request.url
        and not _request_problems(exchange, request, query_required=True)
    )


def _request_problems(
    exchange: HttpExchange, request: httpx.Request, *, query_required: bool = False
) -> list[str]:
    """Why ``request`` does not match ``exchange`` (used to explain unexpected requests)."""
    spec = exchange.request
    problems: list[str] = []
    if spec.params is None and query_required and request.url.query:
        problems.append("params: the recording has no query string")
    if spec.params is not None:
        sent: dict[str, Any] = {}
        for key in request.url.params:
            values = request.url.params.get_list(key)
            sent[key] = values if len(values) > 1 else values[0]
        problems += mismatches(dict(spec.params), sent, partial=False, path="params")
    if spec.body_kind == "json":
        try:
            body = _json.loads(request.content)
        except ValueError:
            problems.append(f"body: not JSON: {request.content[:200]!r}")
        else:
            problems += mismatches(spec.body, body, partial=False, path="json")
    elif spec.body_kind == "content" and request.content != str(spec.body).encode():
        problems.append(f"body: expected {spec.body!r}, was {request.content.decode(errors='replace')!r}")
    problems += _form_problems(exchange, request)
    problems += _header_problems(exchange, request)
    return problems


def _build_response(exchange: HttpExchange, request: httpx.Request) -> httpx.Response:
    reply = exchange.response
    if reply.exception is not None:
        raise _EXCEPTIONS[reply.exception](
            f"autotrader-conformance: recorded {reply.exception} for {exchange.describe()}", request=request
        )
    # The body is replayed decoded: recorded framing/encoding headers would corrupt it.
    headers = {name: value for name, value in reply.headers.items() if name.lower() not in _FRAMING_HEADERS}
    content = b""
    if reply.has_json:
        content = _json.dumps(reply.json).encode()
        if not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/json"
    elif reply.text is not None:
        content = reply.text.encode()
    return httpx.Response(reply.status, headers=headers, content=content, request=request)
