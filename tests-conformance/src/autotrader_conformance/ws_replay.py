"""Loopback WebSocket server replaying a recorded private stream.

The adapter connects to ``ws_url`` (``ws://127.0.0.1:<port>``, any path) with its
real client code, so connect, authentication, subscription, heartbeats and
reconnects are all exercised. Each connection the adapter opens plays the next
script of ``stream.connections``; a script is a list of steps:

``{"expect": {...}, "reply": [frame, ...]}``
    Wait for the next client frame. A JSON object/array is matched *partially*
    (keys the recording lists must be there and equal; ``"<ANY>"`` matches
    anything; extra keys are allowed); a string is matched exactly (literal
    frames such as ``"ping"``). Then send the ``reply`` frames. In a reply,
    ``"<ECHO:path>"`` is replaced by the client frame's value at that dotted path
    (e.g. ``"<ECHO:id>"`` echoes the request id the client chose).
``{"push": frame}``
    Send one frame: JSON objects/arrays are serialised, strings are sent as is.
``{"sleep": seconds}``
    Pause.
``{"after_http": "label"}``
    Wait until the HTTP exchange labelled ``label`` has been answered (so a fill
    is pushed only after the order was submitted).
``{"drop": true}``
    Abort the TCP connection without a close frame (tests reconnects).
``{"close": {"code": 1001, "reason": "..."}}``
    Close cleanly with that code.

``stream.auto_reply`` (e.g. ``{"ping": "pong"}``) answers literal heartbeat frames
at any point without consuming a step. When a script ends the connection stays
open; later client frames are recorded but not checked. A frame that does not
match fails the test at once with a diff; a script left unfinished is reported.
"""

from __future__ import annotations

from decimal import Decimal
from types import TracebackType
from typing import Any

import anyio
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from autotrader_conformance import _json
from autotrader_conformance._match import describe_mismatch, mismatches, unplayed_steps
from autotrader_conformance._monitor import ReplayMonitor
from autotrader_conformance.recordings import StreamScript

__all__ = ["WsReplayServer", "render_frame"]

_ECHO_PREFIX = "<ECHO:"


class WsReplayServer:
    """Async context manager running the replay on ``127.0.0.1`` and a free port.

    Attributes:
        url: ``ws://127.0.0.1:<port>`` (set once entered).
        received: Text of every frame each connection's client sent, in order.
        paths: Request path of each connection.
    """

    def __init__(self, script: StreamScript, monitor: ReplayMonitor) -> None:
        if script.kind != "websocket":
            raise ValueError(f"WsReplayServer replays websocket streams, not {script.kind!r}")
        self._script = script
        self._monitor = monitor
        self._server: Server | None = None
        self._scopes: set[anyio.CancelScope] = set()
        self._positions: list[int] = []
        self.url = ""
        self.received: list[list[str]] = []
        self.paths: list[str] = []

    @property
    def connections_opened(self) -> int:
        """How many connections the adapter opened."""
        return len(self._positions)

    async def __aenter__(self) -> WsReplayServer:
        self._server = await serve(self._handle, "127.0.0.1", 0, ping_interval=None)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for scope in list(self._scopes):
            scope.cancel()
        if self._server is not None:
            self._server.close()
            with anyio.move_on_after(5):
                await self._server.wait_closed()

    def unfinished(self) -> list[str]:
        """Scripts the adapter did not play to the end (empty when all were)."""
        return unplayed_steps(self._script.connections, self._positions)

    def status(self) -> str:
        """Where each connection's script stands (shown when a scenario times out)."""
        lines = [f"websocket replay {self.url}: {self.connections_opened} connection(s) opened"]
        lines += [f"  {problem}" for problem in self.unfinished()]
        return "\n".join(lines)

    async def _handle(self, websocket: ServerConnection) -> None:
        number = len(self._positions)
        self._positions.append(0)
        self.received.append([])
        self.paths.append(websocket.request.path if websocket.request is not None else "")
        scripts = self._script.connections
        if number >= len(scripts):
            self._monitor.fail(
                f"the adapter opened websocket connection #{number + 1} but the recording has "
                f"only {len(scripts)} connection script(s)"
            )
            await websocket.close(1011, "no recorded script for this connection")
            return
        with anyio.CancelScope() as scope:
            self._scopes.add(scope)
            try:
                await self._play(websocket, number, scripts[number])
            except ConnectionClosed:
                pass
            except ValueError as exc:  # a reply that cannot be rendered (bad <ECHO:...>)
                self._monitor.fail(f"websocket connection #{number + 1}: {exc}")
                await websocket.close(1011, "recording error")
            finally:
                self._scopes.discard(scope)

    async def _play(self, websocket: ServerConnection, number: int, steps: tuple[Any, ...]) -> None:
        for index, step in enumerate(steps):
            self._positions[number] = index
            if "expect" in step:
                frame = await self._next_frame(websocket, number)
                message = _frame_problem(step["expect"], frame)
                if message is not None:
                    self._monitor.fail(f"websocket connection #{number + 1}, step {index}: {message}")
                    await websocket.close(1008, "frame does not match the recording")
                    return
                sent = _parse_or_none(frame)
                for reply in step.get("reply", []):
                    await websocket.send(render_frame(reply, sent))
            elif "push" in step:
                await websocket.send(render_frame(step["push"], None))
            elif "sleep" in step:
                await anyio.sleep(float(step["sleep"]))
            elif "after_http" in step:
                await self._monitor.wait_served(step["after_http"])
            elif "drop" in step:
                self._positions[number] = index + 1
                websocket.transport.abort()
                return
            elif "close" in step:
                self._positions[number] = index + 1
                await websocket.close(
                    int(step["close"].get("code", 1000)), str(step["close"].get("reason", ""))
                )
                return
        self._positions[number] = len(steps)
        while True:  # script done: stay open, keep answering heartbeats
            await self._next_frame(websocket, number)

    async def _next_frame(self, websocket: ServerConnection, number: int) -> str:
        while True:
            raw = await websocket.recv()
            frame = raw if isinstance(raw, str) else raw.decode(errors="replace")
            self.received[number].append(frame)
            reply = self._script.auto_reply.get(frame)
            if reply is None:
                return frame
            await websocket.send(reply)


def _parse_or_none(frame: str) -> Any:
    try:
        return _json.loads(frame)
    except ValueError:
        return None


def _frame_problem(expected: Any, frame: str) -> str | None:
    """Why ``frame`` does not match ``expected`` (None when it matches)."""
    if isinstance(expected, str):
        if frame == expected:
            return None
        return describe_mismatch(
            "client frame", expected, frame, [f"expected the literal frame {expected!r}"]
        )
    sent = _parse_or_none(frame)
    if sent is None:
        return describe_mismatch("client frame", expected, frame, ["the client frame is not JSON"])
    problems = mismatches(expected, sent, partial=True)
    if problems:
        return describe_mismatch("client frame", expected, sent, problems)
    return None


def render_frame(frame: Any, request: Any) -> str:
    """Text of a recorded frame, with ``"<ECHO:path>"`` taken from the client's ``request``."""
    if isinstance(frame, str):
        return frame
    return _json.dumps(_echo(frame, request))


def _echo(value: Any, request: Any) -> Any:
    if isinstance(value, str) and value.startswith(_ECHO_PREFIX) and value.endswith(">"):
        path = value[len(_ECHO_PREFIX) : -1]
        found: Any = request
        for part in path.split("."):
            if isinstance(found, dict) and part in found:
                found = found[part]
            elif isinstance(found, list) and part.isdigit() and int(part) < len(found):
                found = found[int(part)]
            else:
                raise ValueError(f"{value}: the client frame has no {path!r} to echo ({request!r})")
        return found
    if isinstance(value, dict):
        return {key: _echo(item, request) for key, item in value.items()}
    if isinstance(value, list):
        return [_echo(item, request) for item in value]
    if isinstance(value, float):
        return Decimal(str(value))
    return value
