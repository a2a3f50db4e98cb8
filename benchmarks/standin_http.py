"""A raw-asyncio HTTP/1.1 server for the benchmarks' loopback venue stand-ins.

Keep-alive, no framework: the server's own cost must stay far below either client's,
and it runs in its own process, so the benchmark's CPU figures are the client's alone.
A stand-in is a route table: ``(method, path) -> handler(params, body) -> Reply``;
``params`` holds the query string's fields, ``body`` the raw request body.

Run a stand-in with :func:`serve` (it prints ``READY <port>`` once listening), and start
it from a benchmark with :func:`start` (returns the process and its base URL).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["Reply", "Routes", "json_reply", "serve", "start"]


@dataclass(frozen=True, slots=True)
class Reply:
    """What a route answers."""

    status: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


Routes = dict[tuple[str, str], Callable[[dict[str, str], bytes], Reply]]


def json_reply(payload: Any, status: str = "200 OK", headers: dict[str, str] | None = None) -> Reply:
    """A compact JSON reply."""
    return Reply(status, json.dumps(payload, separators=(",", ":")).encode(), headers or {})


def _encode(reply: Reply) -> bytes:
    extra = "".join(f"{name}: {value}\r\n" for name, value in reply.headers.items())
    head = (
        f"HTTP/1.1 {reply.status}\r\nContent-Type: application/json;charset=UTF-8\r\n"
        f"Content-Length: {len(reply.body)}\r\n{extra}\r\n"
    )
    return head.encode() + reply.body


class _Http(asyncio.Protocol):
    def __init__(self, routes: Routes, log_unknown: bool) -> None:
        self.routes = routes
        self.log_unknown = log_unknown
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = self.buffer[:end].decode("latin-1").split("\r\n")
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            method, target, _ = lines[0].split(" ", 2)
            path, _, query = target.partition("?")
            handler = self.routes.get((method, path))
            if handler is None:
                if self.log_unknown:
                    print(f"stand-in: no route for {method} {target}", file=sys.stderr, flush=True)
                reply = json_reply({"error": f"stand-in: unknown path {path}"}, "404 Not Found")
            else:
                reply = handler(dict(parse_qsl(query)), body)
            assert self.transport is not None
            self.transport.write(_encode(reply))


def serve(routes: Routes, port: int = 0, *, log_unknown: bool = True) -> None:
    """Serve ``routes`` on 127.0.0.1 until killed; prints ``READY <port>`` once listening."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Http(routes, log_unknown), "127.0.0.1", port)
        print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def start(script: Path) -> tuple[subprocess.Popen[str], str]:
    """Start the stand-in ``script`` in its own process; return it and its base URL."""
    proc = subprocess.Popen([sys.executable, str(script), "0"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    if not line or line[0] != "READY":
        proc.kill()
        raise RuntimeError(f"stand-in {script.name} did not start")
    return proc, f"http://127.0.0.1:{line[1]}"
