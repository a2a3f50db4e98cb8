"""Loopback HTTP server replaying a recorded stream of chunked JSON lines.

Some brokers stream over plain HTTP instead of WebSocket: OANDA's transaction
stream is a never-ending ``GET`` answered with ``Transfer-Encoding: chunked``, one
JSON object per line, with ``HEARTBEAT`` lines every few seconds. The adapter
points its stream URL at ``stream_url`` (``http://127.0.0.1:<port>``) and reads
it with its real client; each HTTP connection plays the next script of
``stream.connections`` (``stream.kind`` = ``"lines"``). Steps:

``{"request": {"method": "GET", "path": "/v3/…/stream", "params": {...}, "headers": {...}}}``
    Optional first step: check the request (``"<ANY>"`` allowed; listed headers must be present).
``{"respond": {"status": 401, "headers": {...}, "json": {...} | "text": "..."}}``
    Answer with a plain (non-streaming) response and close, e.g. an auth failure.
``{"line": {...} | "text"}``
    Send one line (objects are serialised; a newline is added).
``{"sleep": s}`` / ``{"after_http": "label"}``
    As in the WebSocket replay.
``{"drop": true}``
    Abort the connection mid-stream (no terminating chunk).
``{"end": true}``
    Finish the body cleanly (terminating chunk) and close.

Unless the script starts with ``respond``, the ``200`` head is sent as soon as the
request is read, so the client's ``stream()`` call returns at once. When a script
ends the connection stays open, like the real stream.

Built on asyncio streams only (no extra dependency).
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import anyio

from autotrader_conformance import _json
from autotrader_conformance._match import describe_mismatch, mismatches, unplayed_steps
from autotrader_conformance._monitor import ReplayMonitor
from autotrader_conformance.recordings import StreamScript

__all__ = ["LineStreamReplayServer"]

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}


class LineStreamReplayServer:
    """Async context manager serving the line-stream replay on ``127.0.0.1`` and a free port.

    Attributes:
        url: ``http://127.0.0.1:<port>`` (set once entered).
        requests: What each connection asked for: method, path, params, headers.
    """

    def __init__(self, script: StreamScript, monitor: ReplayMonitor) -> None:
        if script.kind != "lines":
            raise ValueError(f"LineStreamReplayServer replays 'lines' streams, not {script.kind!r}")
        self._script = script
        self._monitor = monitor
        self._server: asyncio.Server | None = None
        self._scopes: set[anyio.CancelScope] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._positions: list[int] = []
        self.url = ""
        self.requests: list[dict[str, Any]] = []

    @property
    def connections_opened(self) -> int:
        """How many connections the adapter opened."""
        return len(self._positions)

    async def __aenter__(self) -> LineStreamReplayServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for scope in list(self._scopes):
            scope.cancel()
        for writer in list(self._writers):
            writer.transport.abort()
        if self._server is not None:
            self._server.close()
            with anyio.move_on_after(5):
                await self._server.wait_closed()

    def unfinished(self) -> list[str]:
        """Scripts the adapter did not play to the end (empty when all were)."""
        return unplayed_steps(self._script.connections, self._positions)

    def status(self) -> str:
        """Where each connection's script stands (shown when a scenario times out)."""
        lines = [f"line-stream replay {self.url}: {self.connections_opened} connection(s) opened"]
        lines += [f"  {problem}" for problem in self.unfinished()]
        return "\n".join(lines)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number = len(self._positions)
        self._positions.append(0)
        self._writers.add(writer)
        with anyio.CancelScope() as scope:
            self._scopes.add(scope)
            try:
                await self._serve(reader, writer, number)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                self._scopes.discard(scope)
                self._writers.discard(writer)
                writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        request = _parse_head(head)
        self.requests.append(request)
        scripts = self._script.connections
        if number >= len(scripts):
            self._monitor.fail(
                f"the adapter opened stream connection #{number + 1} but the recording has "
                f"only {len(scripts)} connection script(s)"
            )
            return
        steps = scripts[number]
        index = 0
        if steps and "request" in steps[0]:
            problems = _request_problems(steps[0]["request"], request)
            if problems:
                self._monitor.fail(
                    f"stream connection #{number + 1}, step 0: "
                    + describe_mismatch("stream request", steps[0]["request"], request, problems)
                )
                return
            index = 1
        if index < len(steps) and "respond" in steps[index]:
            self._positions[number] = index + 1
            await _respond_plain(writer, steps[index]["respond"])
            return
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        await writer.drain()
        for position in range(index, len(steps)):
            self._positions[number] = position
            step = steps[position]
            if "line" in step:
                line = step["line"] if isinstance(step["line"], str) else _json.dumps(step["line"])
                data = (line + "\n").encode()
                writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                await writer.drain()
            elif "sleep" in step:
                await anyio.sleep(float(step["sleep"]))
            elif "after_http" in step:
                await self._monitor.wait_served(step["after_http"])
            elif "drop" in step:
                self._positions[number] = position + 1
                writer.transport.abort()
                return
            elif "end" in step:
                self._positions[number] = position + 1
                writer.write(b"0\r\n\r\n")
                await writer.drain()
                return
            else:
                self._monitor.fail(
                    f"stream connection #{number + 1}, step {position}: {step} is out of place"
                )
                return
        self._positions[number] = len(steps)
        while await reader.read(4096):  # script done: hold the stream open until the client leaves
            pass


def _parse_head(head: bytes) -> dict[str, Any]:
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip()] = value.strip()
    parts = urlsplit(target)
    return {
        "method": method,
        "path": parts.path,
        "params": dict(parse_qsl(parts.query, keep_blank_values=True)),
        "headers": headers,
    }


def _request_problems(expected: dict[str, Any], request: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for key in ("method", "path"):
        if key in expected and expected[key] != request[key]:
            problems.append(f"{key}: expected {expected[key]!r}, was {request[key]!r}")
    if "params" in expected:
        problems += mismatches(expected["params"], request["params"], partial=False, path="params")
    lowered = {name.lower(): value for name, value in request["headers"].items()}
    for name, value in expected.get("headers", {}).items():
        sent = lowered.get(name.lower())
        if sent is None:
            problems.append(f"header {name!r}: missing")
        elif value != "<ANY>" and value != sent:
            problems.append(f"header {name!r}: expected {value!r}, was {sent!r}")
    return problems


async def _respond_plain(writer: asyncio.StreamWriter, respond: dict[str, Any]) -> None:
    status = int(respond["status"])
    headers = dict(respond.get("headers", {}))
    if "json" in respond:
        body = _json.dumps(respond["json"]).encode()
        headers.setdefault("Content-Type", "application/json")
    else:
        body = str(respond.get("text", "")).encode()
    head = f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    writer.write(head.encode() + body)
    await writer.drain()
