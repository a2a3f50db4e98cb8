"""The loopback guard: while a conformance scenario runs, only loopback and unix sockets connect.

pytest-httpx only sees httpx's stock transport: an adapter on another transport (aiohttp,
its own sockets, a websocket library) would otherwise reach the broker's real host in the
middle of a test. The guard patches :func:`socket.getaddrinfo` (a DNS lookup already leaks
the host) and :meth:`socket.socket.connect` / ``connect_ex`` (a literal address needs no
lookup) and refuses anything that is not loopback with :class:`NetworkRefused`, whose
message says how to point the adapter at the kit's loopback servers.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from autotrader_conformance.guide import GUIDE_COMMAND

__all__ = ["NetworkRefused", "is_loopback", "loopback_only"]

HOW_TO_FIX = (
    "tests never touch the internet: point the adapter at the kit's loopback servers in make_adapter: "
    "scenario.ws_url (WebSocket stream) or scenario.stream_url (HTTP line stream) for the stream, and "
    "for REST either httpx's stock transport (replayed by pytest-httpx) or http_transport = 'loopback' "
    "on the test class with the adapter's base URL set to scenario.base_url "
    f"(the adapter guide: {GUIDE_COMMAND})"
)


class NetworkRefused(ConnectionRefusedError):
    """A connection to a non-loopback host attempted while a conformance scenario ran."""


def is_loopback(host: object) -> bool:
    """True for ``localhost`` (and ``*.localhost``) and loopback IP literals (``127.0.0.0/8``, ``::1``)."""
    if host is None:  # getaddrinfo(None, port): the local host
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name.partition("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _host_of(family: int, address: Any) -> tuple[bool, str]:
    """(allowed, shown) for a ``connect`` address of ``family``."""
    if family == getattr(socket, "AF_UNIX", None):
        return True, str(address)
    if isinstance(address, tuple) and address:
        return is_loopback(address[0]), f"{address[0]}:{address[1]}" if len(address) > 1 else str(address[0])
    return False, repr(address)


@contextmanager
def loopback_only(on_refused: Callable[[str, bool], None] | None = None) -> Iterator[None]:
    """Refuse every non-loopback connection (and DNS lookup) for the duration.

    Args:
        on_refused: Called with the refusal message and whether it happened on the
            thread that entered the guard (before :class:`NetworkRefused` is raised),
            so the running scenario can fail with it even if the adapter swallows the error.
    """
    owner = threading.get_ident()
    original_getaddrinfo = socket.getaddrinfo
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex

    def refuse(target: str) -> NetworkRefused:
        message = f"autotrader-conformance refused a connection to {target}: {HOW_TO_FIX}"
        if on_refused is not None:
            on_refused(message, threading.get_ident() == owner)
        return NetworkRefused(message)

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_loopback(host):
            shown = host.decode(errors="replace") if isinstance(host, bytes) else host
            raise refuse(f"{shown}:{port}")
        return original_getaddrinfo(host, port, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> None:
        allowed, shown = _host_of(self.family, address)
        if not allowed:
            raise refuse(shown)
        original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        allowed, shown = _host_of(self.family, address)
        if not allowed:
            raise refuse(shown)
        return original_connect_ex(self, address)

    socket.getaddrinfo = getaddrinfo
    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        socket.getaddrinfo = original_getaddrinfo
        socket.socket.connect = original_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = original_connect_ex  # type: ignore[method-assign]
