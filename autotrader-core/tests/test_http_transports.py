"""RestClient over the non-httpx transports (lean, aiohttp), against a raw loopback HTTP/1.1 server.

What goes on the wire must be exactly what was signed; replies, failures and
error mapping must be what the httpx path gives. Every test runs on each transport.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import hmac
import ipaddress
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from autotrader_core.errors import (
    AutotraderError,
    BrokerUnavailable,
    ConfigurationError,
    RateLimited,
    RequestTimeout,
)
from autotrader_core.lean_transport import LeanHttpTransport
from autotrader_core.rest import RestClient, RestRequest
from autotrader_core.transports import HttpReply, HttpTransport


def _aiohttp() -> HttpTransport:
    pytest.importorskip("aiohttp")
    from autotrader_core.aiohttp_transport import AiohttpTransport

    return AiohttpTransport(trust_env=False)


TRANSPORTS: dict[str, Callable[[], HttpTransport]] = {"lean": LeanHttpTransport, "aiohttp": _aiohttp}
pytestmark = pytest.mark.anyio
every_transport = pytest.mark.parametrize("transport", sorted(TRANSPORTS))
API_KEY = "fake-api-key-0123456789abcdef"
SECRET = b"fake-secret-do-not-use"


@dataclass
class Seen:
    """One request as the server read it off the socket."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes


Reply = bytes | str | None  # raw response bytes; "hold" = never answer; None = close the connection
Handler = Callable[[Seen], Reply]


@dataclass
class Server:
    handler: Handler
    seen: list[Seen] = field(default_factory=list)
    connections: int = 0
    url: str = ""
    close_after: set[int] = field(default_factory=set)
    """Close the connection after answering these requests (1-based)."""


class _Protocol(asyncio.Protocol):
    def __init__(self, server: Server) -> None:
        self.server = server
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server.connections += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            method, target, _ = head[0].split(" ", 2)
            seen = Seen(method, target, headers, body)
            self.server.seen.append(seen)
            reply = self.server.handler(seen)
            assert self.transport is not None
            if reply is None:
                self.transport.abort()  # reset: no reply at all
                return
            if isinstance(reply, bytes):
                self.transport.write(reply)
                if len(self.server.seen) in self.server.close_after:
                    self.transport.close()


def http(
    status: int, body: bytes = b"", headers: dict[str, str] | None = None, *, chunked: bool = False
) -> bytes:
    lines = [f"HTTP/1.1 {status} Whatever"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        half = len(body) // 2
        payload = b"".join(
            f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (body[:half], body[half:]) if part
        )
        body = payload + b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[Server]:
    server = Server(handler)
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(lambda: _Protocol(server), "127.0.0.1", 0)
    server.url = f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}"
    try:
        yield server
    finally:
        listener.close()


def no_errors(response: HttpReply, body: Any) -> AutotraderError | None:
    return None


def hmac_signer(request: RestRequest) -> None:
    request.params.append(("timestamp", str(request.timestamp_ms)))
    payload = request.query_string() + (request.body or "")
    request.params.append(("signature", hmac.new(SECRET, payload.encode(), hashlib.sha256).hexdigest()))


def client(
    url: str, transport: str, *, transport_factory: Callable[[], HttpTransport] | None = None, **kwargs: Any
) -> RestClient:
    options: dict[str, Any] = {
        "broker": "testbroker",
        "base_url": url,
        "error_mapper": no_errors,
        "transport": (transport_factory or TRANSPORTS[transport])(),
        "default_headers": {"X-KEY": API_KEY},
    }
    options.update(kwargs)
    return RestClient(**options)


@every_transport
async def test_the_signed_bytes_are_the_bytes_on_the_wire_and_numbers_come_back_as_decimal(
    transport: str,
) -> None:
    reply = http(200, b'{"price":"20000.10","qty":0.00100}', {"X-Used-Weight": "7"})
    used: list[str] = []
    async with (
        serving(lambda seen: reply) as server,
        client(
            server.url,
            transport,
            signer=hmac_signer,
            on_response=lambda r: used.append(f"{r.headers.get('x-used-weight')} {r.method} {r.path}"),
        ) as rest,
    ):
        body = await rest.request(
            "POST",
            "/api/v3/order",
            params=[("symbol", "BTCUSDT"), ("note", "a b/c&d")],
            form={"quantity": Decimal("0.00100")},
            signed=True,
        )
    assert body == {"price": "20000.10", "qty": Decimal("0.00100")}
    assert used == ["7 POST /api/v3/order"]  # error tables may read response.request
    (seen,) = server.seen
    path, _, query = seen.target.partition("?")
    assert path == "/api/v3/order"
    assert query.startswith("symbol=BTCUSDT&note=a+b%2Fc%26d&timestamp=")
    assert seen.body == b"quantity=0.00100"
    signed, _, signature = query.rpartition("&signature=")
    assert hmac.new(SECRET, (signed + "quantity=0.00100").encode(), hashlib.sha256).hexdigest() == signature
    assert seen.headers["x-key"] == API_KEY
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded"


@every_transport
async def test_connections_are_kept_alive_and_reopened_after_close(transport: str) -> None:
    async with serving(lambda seen: http(200, b"{}")) as server:
        rest = client(server.url, transport)
        for _ in range(3):
            assert await rest.request("GET", "/api/v3/time") == {}
        assert server.connections == 1
        await rest.aclose()
        assert rest.is_closed
        await rest.request("GET", "/api/v3/time")  # a later request opens a new pool
        assert server.connections == 2
        await rest.aclose()


@every_transport
async def test_chunked_gzip_and_charset_replies_are_decoded(transport: str) -> None:
    replies = iter(
        [
            http(200, gzip.compress(b'{"a":"1.5"}'), {"Content-Encoding": "gzip"}, chunked=True),
            http(
                200,
                '{"name":"caf\u00e9"}'.encode("latin-1"),
                {"Content-Type": "application/json; charset=latin-1"},
            ),
        ]
    )
    async with serving(lambda seen: next(replies)) as server, client(server.url, transport) as rest:
        assert await rest.request("GET", "/gz") == {"a": "1.5"}
        assert await rest.request("GET", "/latin") == {"name": "caf\u00e9"}


@every_transport
async def test_http_errors_map_as_on_the_httpx_path(transport: str) -> None:
    replies = iter([http(429, b'{"code":-1003}', {"Retry-After": "7"}), http(503, b"<html>down</html>")])
    async with serving(lambda seen: next(replies)) as server, client(server.url, transport) as rest:
        with pytest.raises(RateLimited) as limited:
            await rest.request("GET", "/x")
        assert limited.value.retry_after == 7
        with pytest.raises(BrokerUnavailable):
            await rest.request("POST", "/order")


@every_transport
async def test_no_reply_in_time_is_a_request_timeout(transport: str) -> None:
    async with serving(lambda seen: "hold") as server, client(server.url, transport, timeout=0.2) as rest:
        with pytest.raises(RequestTimeout, match="outcome is unknown"):
            await rest.request("POST", "/api/v3/order", form={"symbol": "BTCUSDT"})


@every_transport
async def test_a_reset_connection_is_broker_unavailable_without_secrets_in_the_message(
    transport: str,
) -> None:
    async with (
        serving(lambda seen: None) as server,
        client(server.url, transport, signer=hmac_signer) as rest,
    ):
        with pytest.raises(BrokerUnavailable) as caught:
            await rest.request("GET", "/api/v3/account", signed=True)
    text = str(caught.value) + repr(caught.value)
    assert API_KEY not in text
    assert "signature" not in text and SECRET.decode() not in text


@every_transport
async def test_refused_connection_and_bad_url(transport: str) -> None:
    async with serving(lambda seen: b"") as server:
        dead = server.url  # the port closes with the server
    async with client(dead, transport) as rest:
        with pytest.raises(BrokerUnavailable, match="connection failed"):
            await rest.request("GET", "/x")
    async with client("ftp://127.0.0.1:9", transport) as rest:
        with pytest.raises(ConfigurationError, match="bad URL"):
            await rest.request("GET", "/x")


@every_transport
async def test_httpx_client_is_not_offered_when_another_transport_sends(transport: str) -> None:
    rest = client("http://127.0.0.1:9", transport)
    assert isinstance(rest.transport, HttpTransport)
    with pytest.raises(ConfigurationError, match="not an httpx client"):
        _ = rest.http
    assert rest.is_closed


@every_transport
async def test_interim_close_delimited_and_connection_close_replies(transport: str) -> None:
    replies = iter(
        [
            b"HTTP/1.1 100 Continue\r\n\r\n" + http(200, b'{"n":1}'),
            http(200, b'{"n":2}', {"Connection": "close"}),
            b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"n":3}',  # no length: the body ends at close
        ]
    )

    async with serving(lambda seen: next(replies)) as server, client(server.url, transport) as rest:
        server.close_after = {2, 3}
        assert [await rest.request("GET", "/x") for _ in range(3)] == [{"n": 1}, {"n": 2}, {"n": 3}]
        assert server.connections == 2  # a reply that says "close" ends its connection


@every_transport
async def test_a_connection_the_server_closed_while_idle_is_not_reused(transport: str) -> None:
    async with serving(lambda seen: http(200, b"{}")) as server, client(server.url, transport) as rest:
        server.close_after = {1}
        await rest.request("GET", "/x")
        await anyio.sleep(0.05)  # the close reaches the idle connection
        await rest.request("GET", "/x")
        assert server.connections == 2


@every_transport
async def test_a_malformed_reply_is_broker_unavailable(transport: str) -> None:
    async with serving(lambda seen: b"SMTP ready\r\n\r\n") as server, client(server.url, transport) as rest:
        with pytest.raises(BrokerUnavailable):
            await rest.request("POST", "/api/v3/order", form={"symbol": "BTCUSDT"})


def _self_signed(directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting only it) for 127.0.0.1."""
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    trusting = ssl.create_default_context(cafile=str(cert_file))
    return server, trusting


@pytest.mark.parametrize("transport", ["lean"])
async def test_lean_speaks_tls_and_checks_the_certificate(transport: str, tmp_path: Path) -> None:
    server_context, trusting = _self_signed(tmp_path)
    state = Server(lambda seen: http(200, b'{"ok":true}'))
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(lambda: _Protocol(state), "127.0.0.1", 0, ssl=server_context)
    url = f"https://127.0.0.1:{listener.sockets[0].getsockname()[1]}"
    try:
        async with client(
            url, transport, transport_factory=lambda: LeanHttpTransport(ssl_context=trusting)
        ) as rest:
            assert await rest.request("GET", "/x") == {"ok": True}
        assert state.seen[0].headers["host"] == url.removeprefix("https://")
        async with client(url, transport) as rest:  # the system trust store does not know this certificate
            with pytest.raises(BrokerUnavailable, match="SSL"):
                await rest.request("GET", "/x")
    finally:
        listener.close()


@every_transport
async def test_a_large_chunked_reply_arriving_in_pieces_and_an_empty_204(transport: str) -> None:
    document = b'{"symbols":[' + b",".join(b'{"s":"S%d","tick":"0.01"}' % i for i in range(20000)) + b"]}"
    pieces = [document[i : i + 7000] for i in range(0, len(document), 7000)]
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"
    big = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked
    replies = iter([big, b"HTTP/1.1 204 No Content\r\n\r\n", http(200, b'{"after":true}')])
    async with serving(lambda seen: next(replies)) as server, client(server.url, transport) as rest:
        info = await rest.request("GET", "/api/v3/exchangeInfo")
        assert len(info["symbols"]) == 20000 and info["symbols"][-1] == {"s": "S19999", "tick": "0.01"}
        assert await rest.request("DELETE", "/x") is None
        assert await rest.request("GET", "/x") == {"after": True}  # the connection stayed in step
        assert server.connections == 1


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\n{}\r\n0\r\n\r\n",  # not a hex size
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",  # two lengths
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n",  # chunk not closed
    ],
)
async def test_lean_refuses_ill_framed_replies(reply: bytes) -> None:
    async with serving(lambda seen: reply) as server, client(server.url, "lean") as rest:
        with pytest.raises(BrokerUnavailable, match="MalformedReply"):
            await rest.request("GET", "/x")
