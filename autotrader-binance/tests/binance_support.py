"""Helpers shared by the Binance tests (a uniquely named module: no clash with other packages' tests)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

RECORDINGS = Path(__file__).parent / "recordings"
PAYLOADS = RECORDINGS / "payloads"

# Binance's own documented example credentials (protocols.md §1.2); not a real account.
DOC_API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


def load_payload(name: str) -> Any:
    """A documented payload from ``recordings/payloads`` (numbers as Decimal, as the adapter parses)."""
    text = (PAYLOADS / name).read_text(encoding="utf-8")
    return json.loads(text, parse_float=Decimal)["payload"]


def raw_payload(name: str) -> Any:
    """The same payload as plain JSON values (to serve from a fake server)."""
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))["payload"]


class FakeWsApi:
    """A loopback stand-in for Binance's WebSocket API, driven by one script per connection.

    Each script step is one of:
    ``{"expect": "<method>", "reply": {...}}`` — read one request, check its method,
    answer (the reply's ``id`` is set to the request's); ``{"push": {...}}`` — send
    a frame; ``{"push_text": "..."}`` — send a text frame as is; ``{"sleep": s}``; ``{"drop": True}`` — close the connection abruptly;
    ``{"hold": True}`` — keep the connection open until the client closes it;
    ``{"ping": True}`` — send a ping frame and wait (2 s) for the client's pong.
    Requests received are kept in :attr:`requests` (one list per connection).
    """

    def __init__(self, scripts: list[list[dict[str, Any]]]) -> None:
        self.scripts = scripts
        self.requests: list[list[dict[str, Any]]] = []
        self.pongs = 0
        self.url = ""
        self._server: Any = None

    async def __aenter__(self) -> FakeWsApi:
        from websockets.asyncio.server import serve

        self._server = await serve(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/ws-api/v3"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, ws: Any) -> None:
        import anyio

        index = len(self.requests)
        seen: list[dict[str, Any]] = []
        self.requests.append(seen)
        script: list[dict[str, Any]] = self.scripts[index] if index < len(self.scripts) else [{"hold": True}]
        for step in script:
            if "expect" in step:
                request = json.loads(await ws.recv())
                seen.append(request)
                assert request["method"] == step["expect"], request
                await ws.send(json.dumps(dict(step["reply"], id=request["id"])))
            elif "push" in step:
                await ws.send(json.dumps(step["push"]))
            elif "push_text" in step:  # a frame sent as is (garbage, for rule-11 tests)
                await ws.send(step["push_text"])
            elif "ping" in step:  # a server ping: the client must answer with a pong
                pong = await ws.ping(b"binance-ping")
                with anyio.fail_after(2):
                    await pong
                self.pongs += 1
            elif "sleep" in step:
                await anyio.sleep(step["sleep"])
            elif "drop" in step:
                ws.transport.abort()  # no close frame: a real drop
                return
            elif "hold" in step:
                await ws.wait_closed()
                return
        await ws.wait_closed()
