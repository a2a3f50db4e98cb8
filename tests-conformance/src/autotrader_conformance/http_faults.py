"""Faults injected into an adapter's real HTTP path, on top of any recording.

The fault suite needs no fault recordings. While an operation the scenario
planned a fault for runs (``submit``, ``get_order``...), the first matching
request the adapter sends through ``httpx.AsyncClient.send`` meets the fault:

* ``timeout_after`` — the request reaches the broker (the recording answers it,
  or itself loses the reply), then the reply is lost to a read timeout: the
  outcome is unknown;
* ``reset_after`` — the same, lost to a connection reset;
* ``status_503`` — a gateway answers 503 with an HTML page; the broker never saw it;
* ``garbled`` — a reply cut off mid-JSON; the broker's answer is never read.

The adapter's own code maps the fault (so the scenario checks *its* typed
error), and its request path is the one in production. Only requests sent from
inside the planned operation are touched (a context variable marks them), so a
stream's background catch-up query is never hit by mistake.

Simulated adapters (no HTTP to replay) get the typed error the fault stands
for through their fault plan instead (:data:`TYPED_EQUIVALENT`).
"""

from __future__ import annotations

import contextvars
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from autotrader_core.adapter import BrokerAdapter
from autotrader_core.errors import (
    AutotraderError,
    BrokerProtocolError,
    BrokerUnavailable,
    RequestTimeout,
)
from autotrader_core.transports import (
    ConnectionLost,
    HttpReply,
    HttpTransport,
    TransportError,
    TransportTimeout,
)

from autotrader_conformance.faults import FaultyAdapter

__all__ = [
    "HTTP_FAULTS",
    "HttpFaultInjector",
    "InjectedHttpFault",
    "RecordingFaultyAdapter",
    "typed_equivalent",
]

T = TypeVar("T")

HTTP_FAULTS = ("timeout_after", "reset_after", "status_503", "garbled")
"""Fault kinds :meth:`HttpFaultInjector.plan` accepts."""

_AFTER_APPLY = {"timeout_after": True, "reset_after": True, "status_503": False, "garbled": False}
_WRITES = {"submit", "cancel", "modify"}
_GARBLED = b'{"symbol": "BTCUSDT", "orderId": 28, "status": "NEW", "price": "2000'
_TIMEOUT_TEXT = "autotrader-conformance: injected read timeout"
_RESET_TEXT = "autotrader-conformance: injected [Errno 104] Connection reset by peer"
_GATEWAY_PAGE = b"<html><head><title>503 Service Temporarily Unavailable</title></head></html>"

_current: contextvars.ContextVar[tuple[HttpFaultInjector, str] | None] = contextvars.ContextVar(
    "autotrader_conformance_operation", default=None
)


def typed_equivalent(kind: str, operation: str, broker: str) -> tuple[AutotraderError, bool]:
    """The typed error an HTTP fault stands for, and whether the broker applied the request.

    Used for adapters the kit reaches through a fault plan rather than HTTP.
    """
    if kind == "timeout_after":
        return RequestTimeout(f"injected: no reply to {operation}", broker=broker), True
    if kind == "reset_after":
        return BrokerUnavailable(f"injected: connection reset during {operation}", broker=broker), True
    if kind == "status_503":
        return BrokerUnavailable(f"injected: HTTP 503 on {operation}", broker=broker), False
    if kind == "garbled":
        return (
            BrokerProtocolError(
                f"injected: malformed reply to {operation}", payload=_GARBLED.decode(), broker=broker
            ),
            False,
        )
    raise ValueError(f"unknown fault kind {kind!r}; choose from {HTTP_FAULTS}")


@dataclass(slots=True)
class InjectedHttpFault:
    """One planned HTTP fault and what became of it."""

    operation: str
    kind: str
    fired_on: str | None = None
    """``METHOD url`` of the request that met the fault (``None`` until it fires)."""


@dataclass(slots=True)
class HttpFaultInjector:
    """Planned HTTP faults, fired while their operation runs (see the module docs)."""

    planned: dict[str, deque[InjectedHttpFault]] = field(default_factory=dict)
    fired: list[InjectedHttpFault] = field(default_factory=list)

    def plan(self, operation: str, kind: str) -> InjectedHttpFault:
        """Make the next request of ``operation`` meet ``kind``."""
        if kind not in _AFTER_APPLY:
            raise ValueError(f"unknown fault kind {kind!r}; choose from {HTTP_FAULTS}")
        fault = InjectedHttpFault(operation, kind)
        self.planned.setdefault(operation, deque()).append(fault)
        return fault

    def pending(self) -> list[InjectedHttpFault]:
        """Planned faults that have not fired."""
        return [fault for queue in self.planned.values() for fault in queue]

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Patch ``httpx.AsyncClient.send`` and ``HttpTransport.send`` for the duration (restored after)."""
        original: Callable[..., Awaitable[httpx.Response]] = httpx.AsyncClient.send

        async def send(client: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> httpx.Response:
            fault = self._take(request.method, str(request.url.copy_with(query=None)))
            if fault is None:
                return await original(client, request, **kwargs)
            canned = _canned(fault)
            if canned is not None:
                status, content_type, body = canned
                return httpx.Response(
                    status, headers={"Content-Type": content_type}, content=body, request=request
                )
            try:  # the broker takes the request...
                response = await original(client, request, **kwargs)
            except httpx.TransportError:
                pass  # (a recording may already lose the reply: this fault decides how)
            else:
                await response.aclose()
            if fault.kind == "timeout_after":  # ...and its reply is lost
                raise httpx.ReadTimeout(_TIMEOUT_TEXT, request=request)
            raise httpx.ReadError(_RESET_TEXT, request=request)

        # Adapters whose transport is not httpx's (autotrader_core.transports) meet the same faults
        # at HttpTransport.send, their RestClient's one way out (see http_loopback.py), reported
        # with the transport contract's own failure types.
        original_transport = HttpTransport.send

        async def transport_send(transport: HttpTransport, method: str, url: str, **kwargs: Any) -> HttpReply:
            fault = self._take(method, url.partition("?")[0])
            if fault is None:
                return await original_transport(transport, method, url, **kwargs)
            canned = _canned(fault)
            if canned is not None:
                status, content_type, body = canned
                return HttpReply(
                    status, [(b"Content-Type", content_type.encode())], body, method=method, url=url
                )
            with suppress(TransportError):  # the broker takes it (or the recording loses it)
                await original_transport(transport, method, url, **kwargs)
            if fault.kind == "timeout_after":
                raise TransportTimeout(_TIMEOUT_TEXT)
            raise ConnectionLost(_RESET_TEXT)

        httpx.AsyncClient.send = send  # type: ignore[method-assign,assignment]
        HttpTransport.send = transport_send  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            httpx.AsyncClient.send = original  # type: ignore[method-assign,assignment]
            HttpTransport.send = original_transport  # type: ignore[method-assign]

    def _take(self, method: str, url: str) -> InjectedHttpFault | None:
        """The planned fault for a request sent inside this injector's current operation, if any."""
        current = _current.get()
        if current is None or current[0] is not self:
            return None
        queue = self.planned.get(current[1])
        if not queue:
            return None
        # Writes fault their first non-GET request (a submit may look something up first).
        if current[1] in _WRITES and method == "GET":
            return None
        fault = queue.popleft()
        fault.fired_on = f"{method} {url}"
        self.fired.append(fault)
        return fault


def _canned(fault: InjectedHttpFault) -> tuple[int, str, bytes] | None:
    """``(status, content type, body)`` of the reply a fault answers with; ``None``: the reply is lost."""
    if fault.kind == "status_503":  # a gateway answers; the broker never saw the request
        return 503, "text/html", _GATEWAY_PAGE
    if fault.kind == "garbled":
        return 200, "application/json", _GARBLED
    return None


class RecordingFaultyAdapter(FaultyAdapter):
    """A :class:`FaultyAdapter` that also arms HTTP faults and keeps what each call raised.

    Attributes:
        http: The HTTP fault injector (recorded mode), or ``None``.
        raised: ``(operation, error)`` for every call that raised, in order.
    """

    def __init__(self, inner: BrokerAdapter, http: HttpFaultInjector | None = None) -> None:
        super().__init__(inner)
        self.http = http
        self.raised: list[tuple[str, BaseException]] = []

    async def _call(self, operation: str, fn: Callable[[], Awaitable[T]]) -> T:
        token = _current.set((self.http, operation)) if self.http is not None else None
        try:
            return await super()._call(operation, fn)
        except Exception as exc:
            self.raised.append((operation, exc))
            raise
        finally:
            if token is not None:
                _current.reset(token)

    def errors_of(self, operation: str) -> list[BaseException]:
        """What calls of ``operation`` raised, in order."""
        return [error for op, error in self.raised if op == operation]


def wrap_for_faults(adapter: BrokerAdapter, http: HttpFaultInjector | None) -> RecordingFaultyAdapter:
    """Wrap ``adapter`` (carrying its name and capabilities) for a fault scenario."""
    cls = type(
        f"FaultSuite{type(adapter).__name__}",
        (RecordingFaultyAdapter,),
        {"name": adapter.name, "capabilities": type(adapter).capabilities},
    )
    wrapped: RecordingFaultyAdapter = cls(adapter, http)
    return wrapped
