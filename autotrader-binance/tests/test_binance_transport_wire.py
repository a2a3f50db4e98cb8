"""The non-httpx transports (lean, the default; aiohttp), end to end, signatures checked on the wire.

The conformance suite already runs through them (``test_binance_conformance.py``); these tests
add what the kit cannot know: the bytes the transport really sends are parsed by a
small loopback server and their HMAC signature verified over exactly those bytes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import pytest
from autotrader_binance import BinanceAdapter, BinanceSettings
from autotrader_binance.auth import HmacSigner
from autotrader_core.enums import OrderSide, OrderType
from autotrader_core.errors import BrokerProtocolError, InsufficientFunds, RateLimited
from autotrader_core.events import OrderAccepted, OrderCanceled
from autotrader_core.models import Order
from binance_support import RECORDINGS
from pydantic import SecretStr

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("transport", ["lean", "aiohttp"])]
SECRET = "test-secret"


class ReplayServer(asyncio.Protocol):
    """Serves one recording's exchanges in order; checks each request's parameters and signature."""

    def __init__(self, exchanges: list[dict[str, Any]], problems: list[str]) -> None:
        self.exchanges = exchanges
        self.problems = problems
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])}
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length].decode()
            self.buffer = self.buffer[end + 4 + length :]
            method, target, _ = head[0].split(" ", 2)
            assert self.transport is not None
            self.transport.write(self.answer(method, target, body, headers))

    def answer(self, method: str, target: str, body: str, headers: dict[str, str]) -> bytes:
        path, _, query = target.partition("?")
        exchange = next(
            (
                e
                for e in self.exchanges
                if e["request"]["method"] == method and urlsplit(e["request"]["url"]).path == path
            ),
            None,
        )
        if exchange is None:
            self.problems.append(f"unrecorded request {method} {target}")
            return _http(404, {}, b"")
        self.exchanges.remove(exchange)
        sent = dict(parse_qsl(query)) | dict(parse_qsl(body))
        want = exchange["request"].get("params") or exchange["request"].get("form") or {}
        if set(sent) != set(want) or any(v not in ("<ANY>", sent[k]) for k, v in want.items()):
            self.problems.append(f"{method} {path}: sent {sent}, recorded {want}")
        if "signature" in sent:
            payload = (query + body).rpartition("&signature=")[0]
            if HmacSigner(SECRET).sign(payload) != sent["signature"]:
                self.problems.append(f"{method} {path}: signature does not verify over the wire bytes")
            if headers.get("x-mbx-apikey") != "test-key":
                self.problems.append(f"{method} {path}: X-MBX-APIKEY missing")
        response = exchange["response"]
        content = response["text"].encode() if "text" in response else json.dumps(response["json"]).encode()
        return _http(response["status"], response.get("headers", {}), content)


def _http(status: int, headers: dict[str, str], content: bytes) -> bytes:
    lines = [f"HTTP/1.1 {status} X"] + [
        f"{k}: {v}" for k, v in headers.items() if k.lower() != "content-length"
    ]
    lines.append(f"Content-Length: {len(content)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + content


async def replaying(
    scenario_id: str, transport: Literal["lean", "aiohttp"]
) -> AsyncIterator[tuple[BinanceAdapter, dict[str, Any], list[str]]]:
    if transport == "aiohttp":
        pytest.importorskip("aiohttp")
    recording = json.loads((RECORDINGS / f"{scenario_id}.json").read_text())
    problems: list[str] = []
    exchanges = list(recording["http"])
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: ReplayServer(exchanges, problems), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = BinanceSettings(
        _env_file=None,  # type: ignore[call-arg]
        api_key=SecretStr("test-key"),
        api_secret=SecretStr(SECRET),
        base_url=f"http://127.0.0.1:{port}",
        http_transport=transport,
    )
    adapter = BinanceAdapter(settings)
    try:
        yield adapter, recording["input"], problems
    finally:
        await adapter.disconnect()
        server.close()
        await server.wait_closed()
    assert not problems, problems
    assert not exchanges, f"recorded exchanges never requested: {exchanges}"


def order_from(values: dict[str, Any]) -> Order:
    return Order(
        values["client_order_id"],
        values["symbol"],
        OrderSide(values["side"]),
        OrderType.LIMIT,
        Decimal(values["quantity"]),
        limit_price=Decimal(values["limit_price"]),
    )


async def test_limit_lifecycle(transport: Literal["lean", "aiohttp"]) -> None:
    async for adapter, inputs, _ in replaying("TC-ORD-02", transport):
        assert type(adapter.http.rest.transport).__name__ == {"lean": "LeanHttpTransport"}.get(
            transport, "AiohttpTransport"
        )
        await adapter.connect()
        order = order_from(inputs)
        (accepted,) = await adapter.submit_order(order)
        assert isinstance(accepted, OrderAccepted)
        order.broker_order_id = accepted.broker_order_id
        report = await adapter.get_order(symbol=order.symbol, client_order_id=order.client_order_id)
        assert report.limit_price == Decimal("20000.00")
        assert [type(e) for e in await adapter.cancel_order(order)] == [OrderCanceled]


async def test_broker_refusal(transport: Literal["lean", "aiohttp"]) -> None:
    async for adapter, inputs, _ in replaying("TC-ERR-01", transport):
        await adapter.connect()
        with pytest.raises(InsufficientFunds):
            await adapter.submit_order(order_from(inputs))


async def test_truncated_reply(transport: Literal["lean", "aiohttp"]) -> None:
    async for adapter, inputs, _ in replaying("TC-ERR-05", transport):
        await adapter.connect()
        order = order_from(inputs)
        with pytest.raises(BrokerProtocolError):
            await adapter.submit_order(order)
        report = await adapter.get_order(symbol=order.symbol, client_order_id=order.client_order_id)
        assert report.status.is_open


async def test_ip_ban(transport: Literal["lean", "aiohttp"]) -> None:
    async for adapter, _, _ in replaying("TC-RES-04", transport):
        await adapter.connect()
        with pytest.raises(RateLimited) as info:
            await adapter.get_balances()
        assert info.value.banned
        assert info.value.retry_after == 120
