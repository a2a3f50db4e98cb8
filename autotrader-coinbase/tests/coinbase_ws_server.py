"""A scripted loopback WebSocket server (127.0.0.1, random port) for stream tests.

Each accepted connection runs the next script in ``connections``: a list of
steps ``("expect", n)`` (read n client messages into ``received``),
``("send", obj)``, ``("sleep", seconds)``, ``("drop",)`` (abort the TCP
connection, no close frame) or ``("close",)``. After its script a connection
stays open, silent, until the client leaves.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
from websockets.asyncio.server import ServerConnection, serve

Step = tuple[Any, ...]


class ScriptedServer:
    """Holds the scripts and what the client sent, per connection."""

    def __init__(self, connections: Sequence[Sequence[Step]]) -> None:
        self.connections = [list(script) for script in connections]
        self.received: list[list[dict[str, Any]]] = []
        self.url = ""

    async def handler(self, ws: ServerConnection) -> None:
        index = len(self.received)
        self.received.append([])
        script = self.connections[index] if index < len(self.connections) else []
        for step in script:
            kind = step[0]
            if kind == "expect":
                for _ in range(step[1]):
                    self.received[index].append(json.loads(await ws.recv()))
            elif kind == "send":
                await ws.send(json.dumps(step[1]))
            elif kind == "sleep":
                await anyio.sleep(step[1])
            elif kind == "drop":
                ws.transport.abort()
                return
            elif kind == "close":
                await ws.close()
                return
        await ws.wait_closed()


@asynccontextmanager
async def scripted_server(connections: Sequence[Sequence[Step]]) -> AsyncIterator[ScriptedServer]:
    """Start the server on 127.0.0.1:0 and yield it (``.url`` is set)."""
    scripted = ScriptedServer(connections)
    async with serve(scripted.handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        scripted.url = f"ws://127.0.0.1:{port}"
        yield scripted
