"""Pluggable HTTP transports under :class:`autotrader_core.rest.RestClient`.

The default is httpx's stock transport (what pytest-httpx intercepts). A
transport implementing :class:`HttpTransport` replaces httpx's whole client
layer: ``RestClient`` still builds, rate-limits, signs, parses and maps every
request; the transport only moves bytes. It reports failures with httpx's
exception types (``httpx.TimeoutException``, ``httpx.ConnectError``,
``httpx.ReadError``, ``httpx.RemoteProtocolError``, ``httpx.InvalidURL``) and
returns an ``httpx.Response``, so error mapping and the adapters' error tables
and usage-header hooks are the same whichever transport runs.

Available (client CPU per Binance order, ``benchmarks/binance``, 2-core machine:
httpx's stock transport ≈ 1.1-1.8 ms):

* :class:`autotrader_core.lean_transport.LeanHttpTransport`: standard library only,
  keep-alive HTTP/1.1 for JSON APIs, no proxy support (≈ 0.15 ms per order);
* :class:`autotrader_core.aiohttp_transport.AiohttpTransport`: aiohttp
  (``pip install 'autotrader-core[aiohttp]'``), proxies from the environment (≈ 0.2-0.28 ms).

Both are asyncio only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

import httpx

__all__ = ["HttpTransport", "ReadResponse"]


class ReadResponse(httpx.Response):
    """An ``httpx.Response`` built from a body a transport already read (and decoded).

    ``request`` is built on first access only: error tables that read
    ``response.request.url`` get it, the order path does not pay for it.
    """

    def __init__(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        content: bytes,
        *,
        encoding: str,
        method: str,
        url: str,
    ) -> None:
        super().__init__(status, headers=headers, stream=httpx.ByteStream(content))
        # What Response.read() stores after httpx's decoders ran; the body is already decoded
        # (httpx is pinned to 0.28.x; tests/test_http_transports.py checks text/json/headers).
        self._content = content
        self.encoding = encoding
        self._lazy_request = (method, url)

    @property
    def request(self) -> httpx.Request:
        """The request this replies to (built on first access)."""
        if self._request is None:
            self._request = httpx.Request(*self._lazy_request)
        return self._request

    @request.setter
    def request(self, value: httpx.Request) -> None:
        self._request = value


class HttpTransport(ABC):
    """Sends one HTTP request and returns the complete response; connections are reused.

    Implementations must be safe for many concurrent ``send`` calls, must not log
    headers, URLs or bodies (they carry keys and signatures), and must raise
    only httpx exception types for transport failures.
    """

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        time_limit: float,
    ) -> httpx.Response:
        """Send ``method url`` (``url`` absolute, query already percent-encoded) with exactly ``body``.

        What :class:`~autotrader_core.rest.RestClient` calls; it hands over to
        :meth:`round_trip`. One fixed entry point for every transport, so test kits
        can inject faults here as they do on ``httpx.AsyncClient.send``.

        Args:
            headers: Every header to send (the client's defaults already merged in).
            time_limit: Seconds for the whole exchange; past it an ``httpx.TimeoutException`` is raised.

        Returns:
            The response with its body read (``response.text`` works without I/O). It
            carries status, headers and body; ``response.request`` is not set (building
            an ``httpx.Request`` would cost what the transport saves).
        """
        return await self.round_trip(method, url, headers=headers, body=body, time_limit=time_limit)

    @abstractmethod
    async def round_trip(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        time_limit: float,
    ) -> httpx.Response:
        """The transport's own work behind :meth:`send` (same arguments and contract)."""

    @abstractmethod
    async def aclose(self) -> None:
        """Close every connection; safe to call twice. A later ``send`` may open new ones."""

    @property
    @abstractmethod
    def is_closed(self) -> bool:
        """True when no connection pool is open."""
