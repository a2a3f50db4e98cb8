"""A scripted loopback OKX private-stream server for the stream tests (127.0.0.1 only).

Each accepted connection runs the next script in ``scripts``; a script gets a
:class:`Session` to receive the client's frames and send OKX's replies.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from autotrader_okx.auth import sign_ws_login
from okx_support import API_KEY, API_SECRET, PASSPHRASE, WS_LOGIN_OK
from websockets.asyncio.server import ServerConnection, serve


class Session:
    """One server-side connection, with OKX-shaped helpers."""

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.received: list[Any] = []

    async def recv(self) -> Any:
        """Next client frame: parsed JSON, or the raw text (``ping``)."""
        raw = await self.ws.recv()
        text = raw if isinstance(raw, str) else raw.decode()
        frame = text if text == "ping" else json.loads(text)
        self.received.append(frame)
        return frame

    async def send(self, frame: Any) -> None:
        """Send a JSON frame (or raw text)."""
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def hold(self) -> None:
        """Keep the connection open until the client closes it."""
        await self.ws.wait_closed()

    async def accept_login(self) -> dict[str, Any]:
        """Check the login op is correctly signed and reply with the documented success."""
        login = await self.recv()
        assert login["op"] == "login"
        [args] = login["args"]
        assert args["apiKey"] == API_KEY
        assert args["passphrase"] == PASSPHRASE
        assert args["sign"] == sign_ws_login(API_SECRET, args["timestamp"])
        await self.send(WS_LOGIN_OK)
        return dict(args)

    async def accept_subscribe(self) -> list[dict[str, Any]]:
        """Ack every channel of the subscribe op, in the documented ack shape."""
        subscribe = await self.recv()
        assert subscribe["op"] == "subscribe"
        for arg in subscribe["args"]:
            await self.send(
                {"id": subscribe.get("id"), "event": "subscribe", "arg": arg, "connId": "a4d3ae55"}
            )
        return list(subscribe["args"])


Script = Callable[[Session], Awaitable[None]]


@asynccontextmanager
async def okx_ws_server(scripts: list[Script]) -> AsyncIterator[tuple[str, list[Session]]]:
    """Serve ``scripts`` (one per connection, in order); yields the URL and the sessions so far."""
    sessions: list[Session] = []
    remaining = list(scripts)

    async def handler(ws: ServerConnection) -> None:
        session = Session(ws)
        sessions.append(session)
        if not remaining:
            await ws.close()
            return
        await remaining.pop(0)(session)

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/ws/v5/private", sessions
