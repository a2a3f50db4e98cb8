"""Every transport (httpx, lean, aiohttp) keeps to an overall deadline and a reply size limit,
and never lets a header value (an API key) into an error or a log (issue 14, items 7, 8, 9, 11).

Each test runs a raw loopback HTTP/1.1 server that misbehaves on purpose: it trickles a
reply a byte at a time, sends a body far over the limit (declared, chunked without end,
read-until-close without end, or a small gzip body that inflates to a large one).
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from autotrader_core.errors import AutotraderError, BrokerProtocolError, ConfigurationError, RequestTimeout
from autotrader_core.lean_transport import LeanHttpTransport
from autotrader_core.rest import RestClient
from autotrader_core.transports import HttpReply, HttpTransport

pytestmark = pytest.mark.anyio


def _aiohttp() -> HttpTransport:
    pytest.importorskip("aiohttp")
    from autotrader_core.aiohttp_transport import AiohttpTransport

    return AiohttpTransport(trust_env=False)


TRANSPORTS: dict[str, Callable[[], HttpTransport | None]] = {
    "httpx": lambda: None,  # RestClient's own path: httpx's stock transport
    "lean": LeanHttpTransport,
    "aiohttp": _aiohttp,
}
every_transport = pytest.mark.parametrize("transport", sorted(TRANSPORTS))
LIMIT = 1024 * 1024


def no_errors(response: HttpReply, body: Any) -> AutotraderError | None:
    return None


def client(url: str, transport: str, **kwargs: Any) -> RestClient:
    options: dict[str, Any] = {
        "broker": "testbroker",
        "base_url": url,
        "error_mapper": no_errors,
        "transport": TRANSPORTS[transport](),
    }
    options.update(kwargs)
    return RestClient(**options)


@dataclass
class Wire:
    """What the server saw: bytes it wrote, requests it read, whether the client hung up."""

    url: str = ""
    written: int = 0
    requests: int = 0
    client_closed: bool = False


Behaviour = Callable[[asyncio.StreamWriter, Wire], Awaitable[None]]


@asynccontextmanager
async def misbehaving(behaviour: Behaviour) -> AsyncIterator[Wire]:
    """A loopback server that reads one request head per connection, then runs ``behaviour``."""
    wire = Wire()
    tasks: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            wire.requests += 1
            await behaviour(writer, wire)
            await reader.read()  # hold the connection open until the client hangs up
            wire.client_closed = True
        except (ConnectionError, asyncio.IncompleteReadError):
            wire.client_closed = True
        finally:
            writer.close()

    def start(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(serve(reader, writer))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(start, "127.0.0.1", 0)
    wire.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield wire
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def write(writer: asyncio.StreamWriter, wire: Wire, data: bytes) -> None:
    writer.write(data)
    await writer.drain()
    wire.written += len(data)


# -- 7. an overall deadline per request ---------------------------------------------------------


async def trickle_body(writer: asyncio.StreamWriter, wire: Wire) -> None:
    await write(
        writer, wire, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    while True:  # each byte well inside a per-read timeout; the reply as a whole never ends
        await write(writer, wire, b" ")
        await asyncio.sleep(0.05)


async def trickle_head(writer: asyncio.StreamWriter, wire: Wire) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * 10_000:
        await write(writer, wire, bytes([byte]))
        await asyncio.sleep(0.05)


@every_transport
@pytest.mark.parametrize("behaviour", [trickle_body, trickle_head], ids=["body", "head"])
async def test_a_reply_trickling_in_times_out_at_the_request_deadline(
    transport: str, behaviour: Behaviour
) -> None:
    # Issue 14 (7): on httpx, request_timeout applied per read; a submit was still blocked at 40 s.
    async with misbehaving(behaviour) as wire, client(wire.url, transport, timeout=0.6) as rest:
        started = time.monotonic()
        with anyio.fail_after(5), pytest.raises(RequestTimeout, match="outcome is unknown"):
            await rest.request("POST", "/api/v3/order", form={"symbol": "BTCUSDT"})
        elapsed = time.monotonic() - started
    assert wire.written > 3  # the server was trickling when the deadline struck
    assert 0.5 < elapsed < 2.0


async def test_lean_a_request_waiting_for_a_connection_keeps_to_its_own_deadline() -> None:
    # One connection, held by a request that gets no reply: a second request times out waiting
    # for the connection (nothing sent), and every slot is given back once each request ends.
    from autotrader_core.transports import TransportTimeout

    async def first_held(writer: asyncio.StreamWriter, wire: Wire) -> None:
        if wire.requests > 1:
            await write(writer, wire, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")

    sender = LeanHttpTransport(max_connections=1)
    async with misbehaving(first_held) as wire:

        async def send(time_limit: float) -> HttpReply:
            return await sender.send("GET", f"{wire.url}/x", headers={}, body=None, time_limit=time_limit)

        held = asyncio.ensure_future(send(1.0))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        with pytest.raises(TransportTimeout) as waiting:
            await send(0.2)
        assert 0.15 < time.monotonic() - started < 0.6
        assert waiting.value.connected is False
        with pytest.raises(TransportTimeout) as unanswered:
            await held
        assert unanswered.value.connected is True
        reply = await send(1.0)  # the slot came back: a new connection, answered
        assert reply.status_code == 200
        await sender.aclose()
    assert wire.requests == 2


# -- 8. a reply size limit ------------------------------------------------------------------------

BLOCK = b"x" * 65536
TOTAL = 48 * 1024 * 1024  # what the server offers at most, then it stalls (a bounded worst case)


async def declared_huge(writer: asyncio.StreamWriter, wire: Wire) -> None:
    await write(writer, wire, f"HTTP/1.1 200 OK\r\nContent-Length: {200 * 1024 * 1024}\r\n\r\n".encode())
    while wire.written < TOTAL:
        await write(writer, wire, BLOCK)


async def endless_chunked(writer: asyncio.StreamWriter, wire: Wire) -> None:
    await write(writer, wire, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    while wire.written < TOTAL:
        await write(writer, wire, b"10000\r\n" + BLOCK + b"\r\n")


async def endless_until_close(writer: asyncio.StreamWriter, wire: Wire) -> None:
    await write(writer, wire, b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
    while wire.written < TOTAL:
        await write(writer, wire, BLOCK)


async def gzip_bomb(writer: asyncio.StreamWriter, wire: Wire) -> None:
    body = gzip.compress(b"0" * (TOTAL // 2))  # about 50 kB on the wire
    head = f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n"
    await write(writer, wire, head.encode() + body)


@every_transport
@pytest.mark.parametrize(
    "behaviour",
    [declared_huge, endless_chunked, endless_until_close, gzip_bomb],
    ids=["declared", "chunked", "until-close", "gzip"],
)
async def test_a_reply_over_the_size_limit_is_refused_without_reading_the_rest(
    transport: str, behaviour: Behaviour
) -> None:
    # Issue 14 (8): a 200 MB body cost 0.6-0.8 GB, an endless one 1.5-3.3 GB before the timeout.
    async with (
        misbehaving(behaviour) as wire,
        client(wire.url, transport, timeout=5, max_reply_bytes=LIMIT) as rest,
    ):
        with anyio.fail_after(10), pytest.raises(BrokerProtocolError, match=f"over the {LIMIT}-byte limit"):
            await rest.request("GET", "/api/v3/openOrders")
        for _ in range(100):  # the client hangs up at once instead of draining the body
            if wire.client_closed or behaviour is gzip_bomb:
                break
            await asyncio.sleep(0.01)
    assert wire.client_closed or behaviour is gzip_bomb
    assert wire.written < TOTAL // 2  # loopback socket buffers hold a few MB; the rest is never sent


@every_transport
async def test_a_reply_within_the_limit_is_read_whole(transport: str) -> None:
    body = b'{"a":"' + b"y" * (LIMIT - 8) + b'"}'
    assert len(body) == LIMIT

    async def exact(writer: asyncio.StreamWriter, wire: Wire) -> None:
        await write(writer, wire, f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)

    async with misbehaving(exact) as wire, client(wire.url, transport, max_reply_bytes=LIMIT) as rest:
        assert len((await rest.request("GET", "/big"))["a"]) == LIMIT - 8


# -- 9. a header value never shows in an error or a log -------------------------------------------

KEY = "k3yVALUEthatMUSTnotLEAK0123456789"


@every_transport
@pytest.mark.parametrize(
    "bad", ["\n", "\r\nX-Injected: 1", "\x00", "\u20ac"], ids=["lf", "crlf", "nul", "euro"]
)
async def test_a_key_with_a_line_break_is_a_configuration_error_that_never_shows_it(
    transport: str, bad: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 14 (9): on httpx the ConfigurationError message and the debug log held the key;
    # on aiohttp an untyped ValueError escaped.
    caplog.set_level(logging.DEBUG)

    async def answer(writer: asyncio.StreamWriter, wire: Wire) -> None:
        await write(writer, wire, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")

    async with (
        misbehaving(answer) as wire,
        client(wire.url, transport, default_headers={"X-MBX-APIKEY": KEY + bad}) as rest,
    ):
        with pytest.raises(ConfigurationError, match="X-MBX-APIKEY") as caught:
            await rest.request("GET", "/api/v3/account")
    shown = str(caught.value) + repr(caught.value) + caplog.text
    assert KEY not in shown and KEY[:12] not in shown
    assert wire.requests == 0  # refused before anything was sent


@pytest.mark.parametrize("transport", ["lean", "aiohttp"])
@pytest.mark.parametrize("bad", ["\n", "\r", "\x00"], ids=["lf", "cr", "nul"])
async def test_a_transport_on_its_own_refuses_a_bad_header_with_a_typed_error_without_the_value(
    transport: str, bad: str
) -> None:
    from autotrader_core.transports import InvalidRequest

    sender = TRANSPORTS[transport]()
    assert sender is not None

    async def answer(writer: asyncio.StreamWriter, wire: Wire) -> None:
        await write(writer, wire, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")

    async with misbehaving(answer) as wire:
        with pytest.raises(InvalidRequest) as caught:
            await sender.send("GET", f"{wire.url}/x", headers={"X-Key": KEY + bad}, body=None, time_limit=1)
        await sender.aclose()
    assert KEY[:12] not in str(caught.value) + repr(caught.value)


def test_the_header_check_refuses_exactly_control_characters_and_characters_past_latin_1() -> None:
    # The check takes a fast path for ASCII text; it must refuse the same characters as the rule.
    import re

    from autotrader_core.transports import header_is_unsafe

    rule = re.compile(r"[\x00-\x1f\x7f]|[^\x00-\xff]")
    for code in [*range(0x300), 0x2028, 0x3000, 0xFEFF, 0x1F600]:
        char = chr(code)
        for text in (char, f"key{char}", f"{char}é", f"é{char}"):
            assert header_is_unsafe(text) is (rule.search(text) is not None), (hex(code), text)
    assert not header_is_unsafe("")
    assert not header_is_unsafe(KEY)


# -- 11. credentials in a base URL ------------------------------------------------------------------


@every_transport
async def test_a_base_url_password_never_shows_in_reprs_or_errors(transport: str) -> None:
    rest = client("http://trader:hunter2secret@127.0.0.1:1", transport, timeout=1)
    assert "hunter2secret" not in repr(rest)
    rest.base_url = "ftp://trader:hunter2secret@127.0.0.1:1"  # a scheme no transport sends
    with pytest.raises(AutotraderError) as caught:
        await rest.request("GET", "/x")
    await rest.aclose()
    assert "hunter2secret" not in str(caught.value) + repr(caught.value)
