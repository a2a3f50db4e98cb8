"""HTTP/1.1 on the loopback venue's socket: read one request, write one reply (or misbehave).

Small on purpose: the venue must be able to hold a request, answer slowly, trickle a
body, send an oversized one or reset the connection at a chosen byte, which a
well-behaved server library does not let a test do. Keep-alive, ``Content-Length``
and chunked request bodies, as the adapters' transports send them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["VenueReply", "VenueRequest", "abort", "read_request", "serialise"]

_MAX_HEAD = 64 * 1024


@dataclass(slots=True)
class VenueRequest:
    """One request as the venue's matching engine sees it.

    Attributes:
        method: ``GET``, ``POST``...
        path: The path without the query.
        headers: Header names lower-cased.
        params: Query and form fields merged (the body wins, as Binance documents).
        body: The raw body.
    """

    method: str
    path: str
    headers: dict[str, str]
    params: dict[str, str]
    body: bytes = b""
    query: list[tuple[str, str]] = field(default_factory=list)
    """The query's fields in order, repeats kept (``order_ids=a&order_ids=b``)."""

    @property
    def route(self) -> str:
        """``"METHOD /path"``: what fault rules match on."""
        return f"{self.method} {self.path}"

    def json(self) -> Any:
        """The body as JSON (``None`` when empty)."""
        return json.loads(self.body) if self.body else None


@dataclass(slots=True)
class VenueReply:
    """What the venue answers: a status, a JSON body and extra headers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    def content(self) -> bytes:
        """The body serialised as the venue sends it."""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body, separators=(",", ":")).encode()


async def read_request(reader: asyncio.StreamReader) -> VenueRequest | None:
    """One request off the socket; ``None`` when the client closed the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError:
        raise ValueError("request head too large") from None
    if len(head) > _MAX_HEAD:
        raise ValueError("request head too large")
    lines = head[:-4].decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = await _read_chunked(reader)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    path, _, query = target.partition("?")
    fields = parse_qsl(query, keep_blank_values=True)
    params = dict(fields)
    if body and "json" not in headers.get("content-type", ""):
        params.update(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
    return VenueRequest(method, path, headers, params, body, fields)


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


def serialise(reply: VenueReply, content: bytes | None = None) -> tuple[bytes, bytes]:
    """``(head, body)`` of ``reply`` (``content`` overrides the body, e.g. an oversized one)."""
    body = reply.content() if content is None else content
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 409: "Conflict"}.get(reply.status, "Status")
    lines = [f"HTTP/1.1 {reply.status} {reason}", "Content-Type: application/json;charset=UTF-8"]
    lines += [f"{name}: {value}" for name, value in reply.headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), body


def abort(writer: asyncio.StreamWriter) -> None:
    """Reset the connection (RST, not FIN): what a crashed gateway does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
