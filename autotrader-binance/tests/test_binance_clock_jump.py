"""-1021 after the server's clock jumped: the resync takes effect for the retry (issue 14, item 6).

A loopback exchange keeps its own clock and applies Binance's timing rule to every signed
request (protocols.md §1.2: refused with -1021 unless ``timestamp < serverTime + 1000`` and
``serverTime - timestamp <= recvWindow``), before anything else, as the real one does.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import pytest
from autotrader_binance.auth import HmacSigner
from autotrader_binance.http import BinanceHttp
from autotrader_core.lean_transport import LeanHttpTransport

pytestmark = pytest.mark.anyio
RECV_WINDOW = 5000


@dataclass
class ClockedExchange:
    """Answers ``/api/v3/time`` from its clock and places an order only inside recvWindow."""

    jump_ms: int = 0
    url: str = ""
    placed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.jump_ms

    def answer(self, method: str, path: str, fields: dict[str, str]) -> tuple[int, object]:
        if path == "/api/v3/time":
            return 200, {"serverTime": self.now_ms()}
        stamp, window = int(fields["timestamp"]), int(fields["recvWindow"])
        server = self.now_ms()
        if not (stamp < server + 1000 and server - stamp <= window):
            self.refused.append(fields["newClientOrderId"])
            return 400, {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}
        self.placed.append(fields["newClientOrderId"])
        cid = fields["newClientOrderId"]
        return 200, {"symbol": "BTCUSDT", "orderId": len(self.placed), "clientOrderId": cid}


@asynccontextmanager
async def exchange() -> AsyncIterator[ClockedExchange]:
    venue = ClockedExchange()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                method, target, _ = head[0].split(" ", 2)
                path, _, query = target.partition("?")
                fields = dict(parse_qsl(query)) | dict(parse_qsl(body.decode()))
                status, reply = venue.answer(method, path, fields)
                content = json.dumps(reply).encode()
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(content)}\r\n\r\n".encode()
                    + content
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    venue.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield venue
    finally:
        server.close()


async def test_after_a_7s_server_clock_jump_every_order_goes_through_on_its_one_retry() -> None:
    # Issue 14 (6): the resync added one sample to a median of five, so the retry carried the
    # old offset and 2 of 5 orders were refused.
    async with exchange() as venue:
        http = BinanceHttp(
            base_url=venue.url,
            api_key="test-key",
            signer=HmacSigner("test-secret"),
            recv_window_ms=RECV_WINDOW,
            transport=LeanHttpTransport(),
        )
        await http.sync_clock(samples=5)  # a full window of samples at the old offset
        assert abs(http.clock.offset_ms) < 500
        venue.jump_ms = 7000  # the server's clock steps 7 s ahead
        for n in range(5):
            await http.request(
                "POST", "/api/v3/order", params=[("newClientOrderId", f"at-{n}")], signed=True, order=True
            )
        await http.aclose()
    assert venue.placed == [f"at-{n}" for n in range(5)]
    assert venue.refused == ["at-0"]  # refused once, before the matching engine; its retry went through
    assert abs(http.clock.offset_ms - 7000) < 500
