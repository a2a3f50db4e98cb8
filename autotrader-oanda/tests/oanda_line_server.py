"""A small loopback HTTP server replaying chunked JSON-line streams (OANDA's transaction stream).

pytest-httpx cannot serve a long-lived chunked body faithfully, so the stream
tests talk real HTTP/1.1 to 127.0.0.1. Each connection plays the next script of
a recording's ``stream.connections``, with the step names of the conformance
kit's ``line_stream_replay``: ``line``, ``sleep``, ``drop``, ``end``, ``respond``
(and ``request``, recorded but not checked here). A finished script holds the
connection open and silent, like a stream whose heartbeats stopped.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from decimal import Decimal
from types import TracebackType
from typing import Any


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=lambda d: str(d) if isinstance(d, Decimal) else d)


class LineServer:
    """Async context manager; ``url`` is ``http://127.0.0.1:<port>`` once entered."""

    def __init__(self, connections: Sequence[Sequence[dict[str, Any]]]) -> None:
        self._scripts = [list(steps) for steps in connections]
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.url = ""
        self.requests: list[dict[str, Any]] = []
        """Request line and headers of every connection, in order."""

    async def __aenter__(self) -> LineServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        if self._server is not None:
            self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            method, target, _ = head[0].split(" ", 2)
            headers = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
            self.requests.append({"method": method, "target": target, "headers": headers})
            number = len(self.requests) - 1
            steps = self._scripts[number] if number < len(self._scripts) else []
            steps = [step for step in steps if "request" not in step]
            if steps and "respond" in steps[0]:
                await self._respond(writer, steps[0]["respond"])
                return
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            await writer.drain()
            for step in steps:
                if "line" in step:
                    text = step["line"] if isinstance(step["line"], str) else _dumps(step["line"])
                    data = (text + "\n").encode()
                    writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    await writer.drain()
                elif "sleep" in step:
                    await asyncio.sleep(float(step["sleep"]))
                elif "drop" in step:
                    writer.transport.abort()
                    return
                elif "end" in step:
                    writer.write(b"0\r\n\r\n")
                    await writer.drain()
                    return
            while await reader.read(4096):  # hold open, silent, until the client leaves
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    @staticmethod
    async def _respond(writer: asyncio.StreamWriter, respond: dict[str, Any]) -> None:
        body = (
            _dumps(respond["json"]).encode() if "json" in respond else str(respond.get("text", "")).encode()
        )
        head = f"HTTP/1.1 {int(respond['status'])} Status\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in respond.get("headers", {}).items())
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        writer.write(head.encode() + body)
        await writer.drain()
