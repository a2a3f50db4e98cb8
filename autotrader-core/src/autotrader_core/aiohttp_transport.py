"""An :class:`~autotrader_core.transports.HttpTransport` on aiohttp (optional extra ``aiohttp``).

Why: on small machines httpx's client layer plus its stock transport costs about
1 ms of CPU per request and slows down further with many requests in flight;
aiohttp (C HTTP parser, lean connection pool) sends the same request for about a
fifth of that (``benchmarks/binance/README.md``). Asyncio only (aiohttp has no
trio support).

The request goes out exactly as ``RestClient`` built it: the URL is marked as
already encoded (so the signed query string is sent byte for byte) and the body
is sent as given. Cookies are not kept (no broker API here uses them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

# (ignores: a mypy run without the optional dependency installed sees these as Any)
import aiohttp  # type: ignore[import-not-found,unused-ignore]
from aiohttp.helpers import get_env_proxy_for_url  # type: ignore[import-not-found,unused-ignore]
from multidict import CIMultiDict  # type: ignore[import-not-found,unused-ignore]
from yarl import URL  # type: ignore[import-not-found,unused-ignore]

from autotrader_core.transports import (
    DEFAULT_MAX_REPLY_BYTES,
    ConnectFailed,
    ConnectionLost,
    HttpReply,
    HttpTransport,
    InvalidRequest,
    MalformedReply,
    ReplyTooLarge,
    TransportError,
    TransportTimeout,
    text_codec,
)

__all__ = ["AiohttpTransport"]

# Framing of the body as received; the body handed on is already de-chunked and decompressed.
_DROPPED = frozenset({b"content-encoding", b"content-length", b"transfer-encoding"})


class AiohttpTransport(HttpTransport):
    """Keep-alive connection pool on one ``aiohttp.ClientSession`` (created on first use).

    Args:
        limit: Most connections open at once (aiohttp's default is 100).
        keepalive_timeout: Seconds an idle connection is kept for reuse.
        trust_env: Use the proxy the environment names (``HTTPS_PROXY``, ``NO_PROXY``…), as
            httpx does by default. Read once per host, not per request: aiohttp's own
            ``trust_env`` looks the environment up in a worker thread on every request,
            which costs more CPU than the request itself.
    """

    def __init__(self, *, limit: int = 100, keepalive_timeout: float = 15.0, trust_env: bool = True) -> None:
        self._limit = limit
        self._keepalive = keepalive_timeout
        self._trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None
        # base URL → (parsed URL, proxy): yarl parsing is not free
        self._urls: dict[str, tuple[URL, str | None]] = {}

    def _open(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=self._limit, keepalive_timeout=self._keepalive)
            session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,  # proxies are resolved once per host in _target()
                auto_decompress=True,
            )
            self._session = session
        return session

    def _target(self, url: str) -> tuple[URL, str | None]:
        base, sep, query = url.partition("?")
        known = self._urls.get(base)
        if known is None:
            parsed = URL(base)
            known = (parsed, self._env_proxy(parsed))
            if len(self._urls) < 256:
                self._urls[base] = known
        if not sep:
            return known
        # The query string is already percent-encoded (and signed): keep it byte for byte.
        return URL(f"{known[0]}?{query}", encoded=True), known[1]

    def _env_proxy(self, url: URL) -> str | None:
        if not self._trust_env:
            return None
        try:  # what aiohttp's own trust_env does on every request (HTTP(S)_PROXY, NO_PROXY…)
            proxy, _ = get_env_proxy_for_url(url)
        except LookupError:
            return None
        return str(proxy)

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
        """Send one request; aiohttp's failures are raised as the matching ``TransportError`` types."""
        try:
            target, proxy = self._target(url)
        except (ValueError, TypeError) as exc:
            raise InvalidRequest(f"invalid URL ({type(exc).__name__})") from None
        if target.scheme not in ("http", "https"):
            raise InvalidRequest(f"unsupported URL scheme {target.scheme!r}")
        session = self._open()
        try:
            async with asyncio.timeout(time_limit):
                async with session.request(
                    method,
                    target,
                    headers=CIMultiDict(headers),
                    data=body,
                    allow_redirects=False,
                    proxy=proxy,
                ) as reply:
                    content = await _read_limited(reply, max_reply_bytes)
                    status = reply.status
                    raw_headers = reply.raw_headers
                    charset = reply.charset
        except TimeoutError:
            raise TransportTimeout(f"no complete reply within {time_limit:g}s") from None
        except aiohttp.InvalidURL as exc:
            raise InvalidRequest(f"invalid URL ({type(exc).__name__})") from None
        except aiohttp.ClientConnectorError as exc:
            raise ConnectFailed(f"cannot connect ({type(exc).__name__}: {exc.os_error})") from None
        except (aiohttp.ClientPayloadError, aiohttp.ClientResponseError) as exc:
            raise MalformedReply(f"malformed reply ({type(exc).__name__})") from None
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            raise ConnectionLost(f"connection lost ({type(exc).__name__})") from None
        except aiohttp.ClientError as exc:
            raise TransportError(f"transport failure ({type(exc).__name__})") from None
        except ValueError as exc:  # aiohttp refuses a header with a control character this way
            raise InvalidRequest(f"invalid header or request ({type(exc).__name__})") from None
        return _response(status, raw_headers, content, charset, method, url)

    async def aclose(self) -> None:
        """Close the session and its connections (safe twice)."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    @property
    def is_closed(self) -> bool:
        """True when no session is open."""
        return self._session is None or self._session.closed

    def __repr__(self) -> str:
        return f"<AiohttpTransport open={not self.is_closed}>"


async def _read_limited(reply: aiohttp.ClientResponse, limit: int) -> bytes:
    """The (decompressed) body; :class:`ReplyTooLarge` past ``limit`` bytes, the rest left unread."""
    declared = reply.content_length
    if declared is not None and declared > limit:
        reply.close()  # the connection goes: its unread body must not answer the next request
        raise ReplyTooLarge(f"reply of {declared} bytes is over the {limit}-byte limit")
    if declared is not None and "Content-Encoding" not in reply.headers:
        # The usual broker reply: aiohttp reads exactly the declared bytes (within the limit, and
        # nothing to inflate), in one await instead of an async iteration.
        return await reply.read()
    chunks: list[bytes] = []
    size = 0
    async for chunk in reply.content.iter_any():
        size += len(chunk)
        if size > limit:
            reply.close()
            raise ReplyTooLarge(f"reply is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _response(
    status: int,
    raw_headers: tuple[tuple[bytes, bytes], ...],
    content: bytes,
    charset: str | None,
    method: str,
    url: str,
) -> HttpReply:
    """An already-read response of ``content`` (de-chunked and decompressed by aiohttp)."""
    headers = [(name, value) for name, value in raw_headers if name.lower() not in _DROPPED]
    return HttpReply(status, headers, content, encoding=_encoding(charset), method=method, url=url)


def _encoding(charset: str | None) -> str:
    """The reply's charset if Python knows it, else UTF-8 (JSON's encoding, RFC 8259)."""
    return text_codec(charset) or "utf-8"
