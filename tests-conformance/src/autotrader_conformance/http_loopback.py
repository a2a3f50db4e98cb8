"""Replay a recording's ``http`` exchanges from a loopback HTTP/1.1 server on 127.0.0.1.

pytest-httpx only intercepts httpx's stock transports. An adapter whose production
transport is something else (aiohttp, a lean HTTP/1.1 client…) runs the
conformance scenarios through that very transport against this server instead:
a test class sets ``http_transport = "loopback"`` and points the adapter's REST
base URL at ``scenario.base_url``.

Matching is :mod:`autotrader_conformance.http_replay`'s, reused, not copied: each
request read off the socket becomes an ``httpx.Request`` on the *recorded* origin
(scheme and host of the recording's URLs) and is answered as in pytest-httpx mode:
by the first exchange not used yet whose method, URL, query parameters and JSON/text
body match (``"<ANY>"`` wildcards), checked for headers and form body by the same
callback, else by the replay's catch-all (repeats of reusable exchanges, or the
failure diff). It is recorded in the same
:class:`~autotrader_conformance.http_replay.HttpReplay` bookkeeping (``served``, ``unrequested()``, ``requests_for(label)``), so
``scenario.http_replay`` works as in pytest-httpx mode. Unexpected requests fail
the scenario with the same diff.

Recorded transport failures are replayed on the socket: ``timeout`` never
answers (the client's own timeout fires), ``connect_error`` and ``read_error``
close the connection without a reply.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any, cast
from urllib.parse import urlsplit

import httpx

from autotrader_conformance._monitor import ReplayMonitor
from autotrader_conformance.http_replay import (
    HttpReplay,
    _form_problems,
    _header_problems,
    _request_problems,
)
from autotrader_conformance.recordings import HttpExchange

__all__ = ["HttpLoopbackServer"]

_MAX_HEAD = 64 * 1024


class HttpLoopbackServer:
    """Loopback HTTP/1.1 (keep-alive) server answering from recorded exchanges.

    Usage::

        async with HttpLoopbackServer(scenario.http, scenario.monitor) as server:
            scenario.base_url, scenario.http_replay = server.url, server.replay

    Args:
        exchanges: The recording's exchanges, in file order.
        monitor: Where mismatches are reported (stops the scenario at once).
    """

    def __init__(self, exchanges: tuple[HttpExchange, ...], monitor: ReplayMonitor) -> None:
        # The replay's pytest-httpx side (install) is never used here: only its bookkeeping and callbacks.
        self.replay = HttpReplay(cast(Any, None), exchanges, monitor)
        # The callbacks HttpReplay.install() would register (its catch-all hands repeats of
        # reusable exchanges back to them).
        self._callbacks = self.replay._callbacks
        self._callbacks.update(
            {exchange.index: self.replay._callback_for(exchange) for exchange in exchanges}
        )
        self._origins = [_origin(exchange.request.url) for exchange in exchanges]
        self._server: asyncio.Server | None = None
        self._held: set[asyncio.StreamWriter] = set()  # connections kept silent by a recorded timeout
        self.url = ""
        """``http://127.0.0.1:<port>``: point the adapter's REST base URL here."""

    async def __aenter__(self) -> HttpLoopbackServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for writer in self._held:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await _read_request(reader, self._origin_for)
                if request is None:
                    return
                reply = self._answer(request)
                if isinstance(reply, str):  # "hold": a recorded timeout
                    self._held.add(writer)
                    await reader.read()  # until the client gives up and closes
                    return
                if reply is None:
                    return  # recorded connect/read error, or an unexpected request: drop the connection
                writer.write(_serialise(reply))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            self._held.discard(writer)
            writer.close()

    def _origin_for(self, path: str) -> str:
        """The recorded origin of ``path`` (recordings name the broker's host, not 127.0.0.1)."""
        for exchange, origin in zip(self.replay.exchanges, self._origins, strict=True):
            if exchange.request.path == path:
                return origin
        return self._origins[0] if self._origins else "http://127.0.0.1"

    def _answer(self, request: httpx.Request) -> httpx.Response | str | None:
        """What pytest-httpx mode answers: the first selected exchange not used yet, else the
        replay's catch-all (repeats of reusable exchanges, or the failure diff)."""
        used = {exchange.index for exchange, _ in self.replay.served}
        chosen = next(
            (e for e in self.replay.exchanges if e.index not in used and _selected(e, request)), None
        )
        answered = len(self.replay.served)
        try:
            if chosen is not None:
                return self._callbacks[chosen.index](request)
            return self.replay._unexpected(request)
        except httpx.TransportError:
            # Served, then raised: a recorded transport failure to replay on the socket. Not
            # served: a mismatch, already reported to the monitor (which fails the scenario).
            if len(self.replay.served) > answered:
                exchange = self.replay.served[-1][0]
                return "hold" if exchange.response.exception == "timeout" else None
            return None


def _selected(exchange: HttpExchange, request: httpx.Request) -> bool:
    """pytest-httpx's matchers: method, URL, query parameters and JSON/text body, not headers or form.

    Headers and form bodies are checked by the replay's callback once the exchange is chosen,
    so a mismatch there fails with the same message in both modes.
    """
    spec = exchange.request
    url = request.url
    if request.method != spec.method or f"{url.scheme}://{url.netloc.decode()}{url.path}" != spec.url:
        return False
    checked_later = set(_form_problems(exchange, request)) | set(_header_problems(exchange, request))
    return all(
        problem in checked_later for problem in _request_problems(exchange, request, query_required=True)
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def _read_request(reader: asyncio.StreamReader, origin_for: Any) -> httpx.Request | None:
    """One request off the socket (Content-Length or chunked body), on its recorded origin."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None  # the client closed the connection
    except asyncio.LimitOverrunError:
        raise ValueError("request head too large") from None
    if len(head) > _MAX_HEAD:
        raise ValueError("request head too large")
    lines = head[:-4].decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    lowered = {name.lower(): value for name, value in headers}
    if lowered.get("transfer-encoding", "").lower() == "chunked":
        body = await _read_chunked(reader)
        headers = [(n, v) for n, v in headers if n.lower() != "transfer-encoding"]
    else:
        body = await reader.readexactly(int(lowered.get("content-length", "0")))
    path = target.split("?", 1)[0]
    return httpx.Request(method, origin_for(path) + target, headers=headers, content=body)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)


def _serialise(response: httpx.Response) -> bytes:
    content = response.content
    lines = [f"HTTP/1.1 {response.status_code} {response.reason_phrase or 'Status'}"]
    lines += [
        f"{name}: {value}"
        for name, value in response.headers.multi_items()
        if name not in ("content-length", "transfer-encoding", "connection")
    ]
    lines.append(f"Content-Length: {len(content)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + content
