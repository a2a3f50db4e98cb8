"""A lean HTTP/1.1 keep-alive :class:`~autotrader_core.transports.HttpTransport` (standard library only).

Why: per request, httpx's client layer and stock transport cost about 1 ms of CPU on
a small machine and aiohttp about 0.1-0.2 ms; this client, which does only what a
JSON broker API needs, about 0.03-0.06 ms (``benchmarks/binance/README.md``). On
the order path that is most of the client's CPU.

What it does: HTTP/1.1 over TCP or TLS (httpx's trust store, certifi; hostname checked),
one request at a time per connection, idle connections kept for reuse;
``Content-Length``, chunked and read-until-close bodies; ``gzip``/``deflate``
replies (it asks for ``identity``); 1xx interim replies skipped. What it does not:
proxies (use the aiohttp or httpx transport behind one), redirects (never
followed, as on the other transports), HTTP/2, cookies. Asyncio only.

Safety: a connection is reused only after a complete, well-framed reply; any
failure, timeout or cancellation mid-request closes it, so a late reply can never
be read as the answer to the next request.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
import zlib
from collections.abc import Mapping
from urllib.parse import urlsplit

from autotrader_core.transports import (
    DEFAULT_MAX_REPLY_BYTES,
    ConnectFailed,
    ConnectionLost,
    HttpReply,
    HttpTransport,
    InvalidRequest,
    MalformedReply,
    ReplyTooLarge,
    TransportTimeout,
    UndecodableReply,
    header_is_unsafe,
    text_codec,
)

__all__ = ["LeanHttpTransport"]

_MAX_HEAD = 64 * 1024  # bytes of status line + headers before the reply is refused
_MAX_CHUNK_LINE = 4096  # bytes of a chunk-size line (with extensions) before the reply is refused
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}").fullmatch
_STATUS = re.compile(rb"[0-9]{3}").fullmatch
_LENGTH = re.compile(rb"[0-9]{1,18}").fullmatch  # int() refuses over 4300 digits with ValueError
_SKIPPED = frozenset(
    {b"content-length", b"transfer-encoding", b"content-encoding", b"connection", b"keep-alive"}
)


class _Reply:
    """One reply being parsed (incrementally: big bodies arrive in many pieces)."""

    __slots__ = ("body", "chunk_left", "done", "headers", "keep_alive", "left", "limit", "mode", "status")

    def __init__(self, limit: int = DEFAULT_MAX_REPLY_BYTES) -> None:
        self.limit = limit  # most body bytes accepted (before decompression; _response checks after)
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()
        self.mode = "head"  # head | length | chunked | close
        self.left = 0  # bytes of body still expected (mode "length")
        self.chunk_left = -1  # bytes left in the current chunk (-1: at a size line)
        self.keep_alive = True
        self.done = False


class _Connection(asyncio.Protocol):
    """One keep-alive connection; parses the reply to the request in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.closed = False
        self.idle_since = 0.0
        self._reply: _Reply | None = None
        self._waiter: asyncio.Future[_Reply] | None = None
        self._head_request = False

    # -- asyncio callbacks -------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self._waiter is None:
            if self.buffer:  # bytes nobody asked for: this connection is out of step
                self.close()
            return
        try:
            self._parse()
        except (MalformedReply, ReplyTooLarge) as exc:
            self._finish(exc)
            self.close()  # nothing more is read: an oversized or broken reply is not buffered

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        reply = self._reply
        if reply is not None and reply.mode == "close" and exc is None:
            reply.done = True  # the body ran until the server closed the connection
            reply.keep_alive = False
            self._finish(None)
        elif self._waiter is not None:
            what = f" ({type(exc).__name__})" if exc is not None else ""
            self._finish(ConnectionLost(f"connection closed before a complete reply{what}"))

    # -- use ---------------------------------------------------------------
    def request(
        self, data: bytes, *, head: bool, limit: int = DEFAULT_MAX_REPLY_BYTES
    ) -> asyncio.Future[_Reply]:
        assert self.transport is not None
        if self.closed:  # closed before anything was written: fail now, not at the time limit
            raise ConnectFailed("connection closed before the request was sent")
        self._reply = _Reply(limit)
        self._head_request = head
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self._waiter

    def expire(self, time_limit: float) -> None:
        """The request's deadline passed (a loop timer calls this): its waiter fails at once."""
        self._finish(TransportTimeout(f"no complete reply within {time_limit:g}s"))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()  # drop at once: no late bytes may be read as another reply

    def _finish(self, error: BaseException | None) -> None:
        waiter, self._waiter = self._waiter, None
        reply, self._reply = self._reply, None
        if waiter is None or waiter.done():
            return
        if error is not None or reply is None:
            waiter.set_exception(error or ConnectionLost("no reply"))
        else:
            waiter.set_result(reply)

    def _parse(self) -> None:
        reply = self._reply
        assert reply is not None
        buffer = self.buffer
        while not reply.done:
            if reply.mode == "head":
                end = buffer.find(b"\r\n\r\n", 0, _MAX_HEAD + 4)  # the same limit however the bytes arrive
                if end < 0:
                    if len(buffer) >= _MAX_HEAD + 4:
                        raise MalformedReply("reply head too large")
                    return
                self._read_head(reply, bytes(buffer[:end]))
                del buffer[: end + 4]
            elif reply.mode == "length":
                take = min(reply.left, len(buffer))
                reply.body += buffer[:take]
                del buffer[:take]
                reply.left -= take
                if reply.left:
                    return
                reply.done = True
            elif reply.mode == "chunked":
                if not self._read_chunks(reply, buffer):
                    return
            else:  # "close": everything until the connection ends
                if len(reply.body) + len(buffer) > reply.limit:
                    raise ReplyTooLarge(f"reply is over the {reply.limit}-byte limit")
                reply.body += buffer
                del buffer[:]
                return
        if buffer:  # bytes past the reply: the peer does not speak one request, one reply
            reply.keep_alive = False
        self._finish(None)

    def _read_head(self, reply: _Reply, head: bytes) -> None:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not _STATUS(parts[1]):
            raise MalformedReply("malformed status line")
        status = int(parts[1])
        if 100 <= status < 200:  # interim reply (100 Continue...): the real one follows
            return
        headers: list[tuple[bytes, bytes]] = []
        length: int | None = None
        chunked = False
        keep_alive = parts[0] == b"HTTP/1.1"
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise MalformedReply("malformed header line")
            name, value = name.strip(), value.strip()
            lowered = name.lower()
            if lowered == b"content-length":
                if not _LENGTH(value) or (length is not None and int(value) != length):
                    raise MalformedReply("bad Content-Length")
                length = int(value)
            elif lowered == b"transfer-encoding":
                # Only plain chunked framing is read; "gzip, chunked" or "xchunked" would hand on
                # undecoded or misframed bytes as the body (h11 refuses them too).
                if value.lower() != b"chunked" or chunked:
                    raise MalformedReply("unsupported Transfer-Encoding")
                chunked = True
            elif lowered == b"connection":
                tokens = value.lower()
                keep_alive = b"close" not in tokens and (keep_alive or b"keep-alive" in tokens)
            headers.append((name, value))
        reply.status, reply.headers, reply.keep_alive = status, headers, keep_alive
        if self._head_request or status in (204, 304):
            reply.done = True
        elif chunked:
            reply.mode = "chunked"
        elif length is not None:
            if length > reply.limit:  # refused before a byte of the body is read
                raise ReplyTooLarge(f"reply of {length} bytes is over the {reply.limit}-byte limit")
            reply.mode, reply.left = "length", length
            reply.done = length == 0
        else:
            reply.mode, reply.keep_alive = "close", False

    @staticmethod
    def _read_chunks(reply: _Reply, buffer: bytearray) -> bool:
        """Consume what is complete; True once the last chunk (and trailers) arrived."""
        while True:
            if reply.chunk_left < 0:  # at a size line
                end = buffer.find(b"\r\n", 0, _MAX_CHUNK_LINE)
                if end < 0:
                    if len(buffer) >= _MAX_CHUNK_LINE:
                        raise MalformedReply("chunk size line too long")
                    return False
                size_text = bytes(buffer[:end]).split(b";", 1)[0].strip()
                if not _HEX(size_text):  # int(…, 16) would also take "0x1f", "-5", "1_0"
                    raise MalformedReply("malformed chunk size")
                size = int(size_text, 16)
                if size == 0:
                    trailer_end = buffer.find(b"\r\n\r\n", end)
                    if buffer[end : end + 4] == b"\r\n\r\n" or trailer_end >= 0:
                        stop = end + 4 if buffer[end : end + 4] == b"\r\n\r\n" else trailer_end + 4
                        del buffer[:stop]
                        reply.done = True
                        return True
                    if len(buffer) > _MAX_HEAD:
                        raise MalformedReply("chunked trailers too large")
                    return False
                if len(reply.body) + size > reply.limit:  # refused before the chunk is buffered
                    raise ReplyTooLarge(f"reply is over the {reply.limit}-byte limit")
                del buffer[: end + 2]
                reply.chunk_left = size
            if len(buffer) < reply.chunk_left + 2:
                return False
            if buffer[reply.chunk_left : reply.chunk_left + 2] != b"\r\n":
                raise MalformedReply("malformed chunk")
            reply.body += buffer[: reply.chunk_left]
            del buffer[: reply.chunk_left + 2]
            reply.chunk_left = -1


class LeanHttpTransport(HttpTransport):
    """Keep-alive HTTP/1.1 on asyncio (see the module docs for what it does and does not do).

    Args:
        max_connections: Most connections open at once; further requests wait for one.
        keepalive_timeout: Seconds an idle connection is kept for reuse.
        ssl_context: TLS settings (default: certifi's trust store, as httpx; hostnames checked).
    """

    def __init__(
        self,
        *,
        max_connections: int = 100,
        keepalive_timeout: float = 15.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._max = max_connections
        self._keepalive = keepalive_timeout
        self._ssl = ssl_context
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._busy: set[_Connection] = set()
        self._slots: asyncio.Semaphore | None = None
        self._targets: dict[str, tuple[tuple[str, str, int], bytes]] = {}  # base URL → (key, head prefix)
        self._closed = True

    def _split(self, url: str) -> tuple[tuple[str, str, int], bytes, str]:
        base, sep, query = url.partition("?")
        scheme, _, rest = base.partition("://")
        netloc, slash, path = rest.partition("/")
        origin = f"{scheme}://{netloc}"
        known = self._targets.get(origin)
        if known is None:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https"):
                raise InvalidRequest(f"unsupported URL scheme {parts.scheme!r}")
            if not parts.hostname:
                raise InvalidRequest("URL has no host")
            try:
                port = parts.port or (443 if parts.scheme == "https" else 80)
            except ValueError:
                raise InvalidRequest("invalid port") from None
            default = (parts.scheme == "https" and port == 443) or (parts.scheme == "http" and port == 80)
            host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # IPv6 literal
            host_header = host if default else f"{host}:{port}"
            known = ((parts.scheme, parts.hostname, port), host_header.encode("idna"))
            if len(self._targets) < 64:
                self._targets[origin] = known
        target = f"{slash}{path}" or "/"
        if sep:
            target = f"{target}?{query}"
        if " " in target or "\r" in target or "\n" in target:
            raise InvalidRequest("the request target holds spaces or line breaks")
        return known[0], known[1], target

    async def round_trip(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        time_limit: float,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
    ) -> HttpReply:
        """Send one request on an idle (or new) connection; failures as ``TransportError`` types."""
        key, host, target = self._split(url)
        head = [f"{method} {target} HTTP/1.1\r\nHost: ".encode(), host, b"\r\nAccept-Encoding: identity\r\n"]
        for name, value in headers.items():
            if header_is_unsafe(name) or header_is_unsafe(value):  # the message never quotes it
                raise InvalidRequest("header with a control character or a character outside Latin-1")
            head.append(f"{name}: {value}\r\n".encode("latin-1"))
        if body is not None or method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {len(body or b'')}\r\n".encode())
        head.append(b"\r\n")
        if body:
            head.append(body)
        data = b"".join(head)
        self._closed = False
        slots = self._slots
        if slots is None:
            slots = self._slots = asyncio.Semaphore(self._max)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + time_limit  # one deadline, from a slot and a connection to the last byte
        try:
            if slots.locked():  # every connection is busy: wait for one, within the deadline
                async with asyncio.timeout_at(deadline):
                    await slots.acquire()
            else:
                await slots.acquire()  # returns at once
        except TimeoutError:
            raise TransportTimeout(f"no connection within {time_limit:g}s", connected=False) from None
        try:
            connection = self._take_idle(key)
            if connection is None:
                try:
                    async with asyncio.timeout_at(deadline):
                        connection = await self._connect(key)
                except TimeoutError:
                    raise TransportTimeout(f"no connection within {time_limit:g}s", connected=False) from None
            self._busy.add(connection)
            try:
                # The reply waits under a plain loop timer that fails it at the deadline: per
                # request much cheaper than a cancel scope (no task to cancel and uncancel).
                waiter = connection.request(data, head=method == "HEAD", limit=max_reply_bytes)
                timer = loop.call_at(deadline, connection.expire, time_limit)
                try:
                    reply = await waiter
                finally:
                    timer.cancel()
            except BaseException:
                connection.close()  # a late reply must never answer the next request
                raise
            finally:
                self._busy.discard(connection)
        finally:
            slots.release()
        if reply.keep_alive and not connection.closed and not connection.buffer:
            connection.idle_since = time.monotonic()
            self._idle.setdefault(key, []).append(connection)
        else:
            connection.close()
        return _response(reply, method, url, max_reply_bytes)

    def _take_idle(self, key: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < self._keepalive:
                return connection
            connection.close()
        return None

    async def _connect(self, key: tuple[str, str, int]) -> _Connection:
        scheme, host, port = key
        context: ssl.SSLContext | None = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = _default_ssl_context()
            context = self._ssl
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(
                _Connection, host, port, ssl=context, server_hostname=host if context else None
            )
        except (OSError, ssl.SSLError) as exc:
            raise ConnectFailed(f"cannot connect to {host}:{port} ({type(exc).__name__}: {exc})") from None
        return connection

    async def aclose(self) -> None:
        """Close every connection (safe twice); a later request opens new ones."""
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()
        for connection in list(self._busy):
            connection.close()
        self._closed = True

    @property
    def is_closed(self) -> bool:
        """True before the first request and after :meth:`aclose`."""
        return self._closed

    def __repr__(self) -> str:
        return f"<LeanHttpTransport idle={sum(len(c) for c in self._idle.values())} busy={len(self._busy)}>"


def _default_ssl_context() -> ssl.SSLContext:
    """Certificates checked against certifi's bundle (what httpx trusts), else the system store."""
    try:
        import certifi  # installed with httpx (a core dependency)
    except ImportError:  # pragma: no cover - httpx depends on certifi
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


def _response(reply: _Reply, method: str, url: str, limit: int = DEFAULT_MAX_REPLY_BYTES) -> HttpReply:
    content = bytes(reply.body)
    charset = "utf-8"
    headers: list[tuple[bytes, bytes]] = []
    codings: list[bytes] = []
    for name, value in reply.headers:
        lowered = name.lower()
        if lowered == b"content-encoding":
            codings += [c.strip() for c in value.lower().split(b",") if c.strip() not in (b"", b"identity")]
        elif lowered == b"content-type":
            charset = _charset(value) or charset
        if lowered not in _SKIPPED:
            headers.append((name, value))
    if len(codings) > 1:  # stacked codings: we asked for identity, and a wrong guess is a wrong body
        raise UndecodableReply("more than one Content-Encoding")
    encoding = codings[0] if codings else b""
    if not content:
        pass  # HEAD, 204, 304 or an empty body: nothing to decode, whatever Content-Encoding says
    elif encoding in (b"gzip", b"x-gzip", b"deflate"):
        try:
            content = _inflate(content, 47 if encoding != b"deflate" else 15, limit)
        except zlib.error:
            try:  # deflate is sent raw by some servers
                content = _inflate(content, -15, limit)
            except zlib.error:
                raise UndecodableReply(f"cannot decode a {encoding.decode()} body") from None
    elif encoding:
        raise UndecodableReply(f"unsupported Content-Encoding {encoding.decode(errors='replace')!r}")
    return HttpReply(reply.status, headers, content, encoding=charset, method=method, url=url)


def _inflate(content: bytes, wbits: int, limit: int = DEFAULT_MAX_REPLY_BYTES) -> bytes:
    """Decompress every gzip member (a body may hold several); anything else left over is an error.

    ``zlib.decompress`` would stop after the first member and drop the rest without a word.
    Output stops one byte past ``limit`` (a small compressed body can inflate to gigabytes):
    :class:`ReplyTooLarge`.
    """
    pieces = []
    size = 0
    while content:
        stream = zlib.decompressobj(wbits)
        piece = stream.decompress(content, limit + 1 - size)  # max_length >= 1 (0 means no limit)
        size += len(piece)
        if size > limit:
            raise ReplyTooLarge(f"decompressed reply is over the {limit}-byte limit")
        pieces.append(piece)
        if not stream.eof:
            raise zlib.error("truncated compressed body")
        content = stream.unused_data
        if content and wbits != 47:  # only gzip has members; bytes after a deflate stream are wrong
            raise zlib.error("bytes after the compressed body")
    return b"".join(pieces)


_CHARSETS: dict[bytes, str | None] = {}  # Content-Type -> codec: a server sends one or two, every reply


def _charset(content_type: bytes) -> str | None:
    try:
        return _CHARSETS[content_type]
    except KeyError:
        pass
    codec = None
    for parameter in content_type.split(b";")[1:]:
        name, _, value = parameter.partition(b"=")
        if name.strip().lower() == b"charset":
            codec = text_codec(value.strip().strip(b'"').decode("latin-1"))
            break
    if len(_CHARSETS) < 64:  # bounded: the header is the server's to choose
        _CHARSETS[content_type] = codec
    return codec
