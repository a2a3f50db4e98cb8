"""Pluggable HTTP transports under :class:`autotrader_core.rest.RestClient`, and the reply they return.

The default is httpx's stock transport (what pytest-httpx intercepts). A
transport implementing :class:`HttpTransport` replaces httpx's whole client
layer: ``RestClient`` still builds, rate-limits, signs, parses and maps every
request; the transport only moves bytes. Whichever path runs, error tables and
usage-header hooks see the same :class:`HttpReply`, and a transport reports
failures with the :class:`TransportError` types below, which ``RestClient`` maps
exactly as it maps httpx's own. Nothing here imports httpx: an adapter on a
custom transport never loads it (about 45 ms of import time).

Whatever the peer does, every path keeps two bounds per request: one deadline from
connecting to the reply's last byte (a reply trickling in a byte at a time still ends
as :class:`TransportTimeout`), and a reply size limit (:data:`DEFAULT_MAX_REPLY_BYTES`,
:class:`ReplyTooLarge` without reading the rest). Header values never reach an error
message: a header no client may send is refused before it is handed to one.

Available (client CPU per Binance order, ``benchmarks/binance``, 2-core machine:
httpx's stock transport ≈ 1.1-1.8 ms):

* :class:`autotrader_core.lean_transport.LeanHttpTransport`: standard library only,
  keep-alive HTTP/1.1 for JSON APIs, no proxy support (≈ 0.15 ms per order);
* :class:`autotrader_core.aiohttp_transport.AiohttpTransport`: aiohttp
  (``pip install 'autotrader-core[aiohttp]'``), proxies from the environment (≈ 0.2-0.28 ms).

Both are asyncio only.
"""

from __future__ import annotations

import codecs
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_MAX_REPLY_BYTES",
    "ConnectFailed",
    "ConnectionLost",
    "HttpReply",
    "HttpTransport",
    "InvalidRequest",
    "MalformedReply",
    "ReplyHeaders",
    "ReplyTooLarge",
    "TransportError",
    "TransportTimeout",
    "UndecodableReply",
    "header_is_unsafe",
    "redact_url",
    "text_codec",
]

DEFAULT_MAX_REPLY_BYTES = 16 * 1024 * 1024
"""Largest reply body read by default (after decompression); no broker reply comes near it."""

# scheme and "//" (optional), then the authority's userinfo: up to its last "@" (RFC 3986 §3.2)
_USERINFO = re.compile(r"^((?:[A-Za-z][A-Za-z0-9+.-]*:)?//)?([^/?#]*@)")


# Control characters (a line break would split the header) and anything past Latin-1.
_UNSAFE_HEADER = re.compile(r"[\x00-\x1f\x7f]|[^\x00-\xff]").search


def header_is_unsafe(text: str) -> bool:
    """True when a header name or value holds a control character or a character past Latin-1.

    Such a header is refused before any client sees it: clients refuse it with messages
    (and debug logs) that quote the value, which is often a key or a signature.
    """
    # Every request checks each header (the submit path's hot loop): for ASCII text, known at
    # once, the non-printable characters are exactly the control characters (C0 and DEL), and
    # ``isprintable`` finds them several times faster than the pattern does.
    if text.isascii():
        return not text.isprintable()
    return _UNSAFE_HEADER(text) is not None


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@`` (for reprs, logs and errors)."""
    return _USERINFO.sub(r"\1***@", url, count=1)


# -- failures ---------------------------------------------------------------------------------


class TransportError(Exception):
    """A request that got no usable HTTP reply. ``RestClient`` maps it to ``BrokerUnavailable``.

    Messages must not carry headers, query strings or bodies (they hold keys and signatures).
    """


class TransportTimeout(TransportError):
    """No complete reply within the time limit; the outcome is unknown (→ ``RequestTimeout``)."""

    def __init__(self, message: str, *, connected: bool = True) -> None:
        super().__init__(message)
        self.connected = connected
        """False when the time ran out before a connection was open (nothing was sent)."""


class ConnectFailed(TransportError):
    """No connection could be opened (DNS, refused, TLS handshake); nothing was sent."""


class ConnectionLost(TransportError):
    """The connection broke after the request was (maybe) sent; the outcome is unknown."""


class MalformedReply(TransportError):
    """The peer's bytes are not HTTP/1.1 (bad status line, framing or header)."""


class UndecodableReply(TransportError):
    """A well-framed reply whose body cannot be decoded (→ ``BrokerProtocolError``)."""


class ReplyTooLarge(TransportError):
    """The reply's body is over the size limit; the rest is not read (→ ``BrokerProtocolError``).

    Raised as soon as the limit is known to be passed (a ``Content-Length``, a chunk size or
    the bytes counted so far), and the connection is closed: memory stays bounded whatever
    the peer sends.
    """


class InvalidRequest(TransportError):
    """The request cannot be sent as given: bad URL, scheme or header (→ ``ConfigurationError``)."""


# -- the reply --------------------------------------------------------------------------------


def text_codec(charset: str | None) -> str | None:
    """Python's name for ``charset`` if it is a text codec that can decode any bytes, else ``None``.

    A reply's ``charset`` is the server's word: ``base64``, ``idna`` or ``utf\0`` are codec
    names (or not even that) that would make decoding the body raise.
    """
    if not charset:
        return None
    try:
        name = codecs.lookup(charset).name
        b"\x80".decode(name, "replace")
    except (LookupError, ValueError):  # unknown, or no text encoding (UnicodeError is a ValueError)
        return None
    return name


class ReplyHeaders(Mapping[str, str]):
    """Case-insensitive, read-only view of a reply's headers, as on the wire.

    A repeated header reads as its values joined by ``", "`` (as httpx does);
    :meth:`get_list` gives them one by one and :attr:`raw` the exact pairs.
    """

    __slots__ = ("_raw",)

    def __init__(self, raw: Sequence[tuple[bytes, bytes]]) -> None:
        self._raw = raw

    @property
    def raw(self) -> Sequence[tuple[bytes, bytes]]:
        """``(name, value)`` byte pairs in wire order, names as sent."""
        return self._raw

    def get_list(self, name: str) -> list[str]:
        """Every value of header ``name`` (any case), in wire order."""
        wanted = name.lower().encode("latin-1")
        return [value.decode("latin-1") for key, value in self._raw if key.lower() == wanted]

    def __getitem__(self, name: str) -> str:
        values = self.get_list(name)
        if not values:
            raise KeyError(name)
        return ", ".join(values)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(self.get_list(name))

    def __iter__(self) -> Iterator[str]:
        seen: set[bytes] = set()
        for key, _ in self._raw:
            lowered = key.lower()
            if lowered not in seen:
                seen.add(lowered)
                yield lowered.decode("latin-1")

    def __len__(self) -> int:
        return len({key.lower() for key, _ in self._raw})

    def __repr__(self) -> str:
        # Names only: a reply header may echo a key or a token.
        return f"ReplyHeaders({sorted(self)})"


class HttpReply:
    """One complete HTTP reply, body read (and content-decoded), as error tables and hooks see it.

    Args:
        status_code: The HTTP status.
        headers: ``(name, value)`` byte pairs as received.
        content: The body, already decompressed.
        encoding: Charset the body text is in (from ``Content-Type``; ``utf-8`` by default,
            and instead of a name that is no text codec).
        method: The request's method.
        url: The request's absolute URL (query included; never logged or put in errors by us).
    """

    __slots__ = ("content", "encoding", "headers", "method", "status_code", "url")

    def __init__(
        self,
        status_code: int,
        headers: Sequence[tuple[bytes, bytes]],
        content: bytes,
        *,
        encoding: str = "utf-8",
        method: str,
        url: str,
    ) -> None:
        self.status_code = status_code
        self.headers = ReplyHeaders(headers)
        self.content = content
        self.encoding = text_codec(encoding) or "utf-8"
        self.method = method
        self.url = url

    @property
    def text(self) -> str:
        """The body as text (undecodable bytes replaced, never an exception)."""
        return self.content.decode(self.encoding, "replace")

    @property
    def path(self) -> str:
        """The request's path, without host or query: what an error message may show."""
        return urlsplit(self.url).path

    def json(self) -> Any:
        """The body parsed as JSON (``ValueError`` when it is not)."""
        return json.loads(self.text)

    def __repr__(self) -> str:
        return f"<HttpReply {self.status_code} {self.method} {self.path}>"


# -- the transport contract -------------------------------------------------------------------


class HttpTransport(ABC):
    """Sends one HTTP request and returns the complete reply; connections are reused.

    Implementations must be safe for many concurrent ``send`` calls, must not log
    headers, URLs or bodies (they carry keys and signatures), must raise
    only :class:`TransportError` types for transport failures (never with a header
    value, query or body in the message), and must keep to ``time_limit`` and
    ``max_reply_bytes`` whatever the peer sends.
    """

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        time_limit: float,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
    ) -> HttpReply:
        """Send ``method url`` (``url`` absolute, query already percent-encoded) with exactly ``body``.

        What :class:`~autotrader_core.rest.RestClient` calls; it hands over to
        :meth:`round_trip`. One fixed entry point for every transport, so test kits
        can inject faults here as they do on ``httpx.AsyncClient.send``.

        Args:
            headers: Every header to send (the client's defaults already merged in).
            time_limit: Seconds for the whole exchange (connect to the reply's last byte, a
                reply trickling in included); past it a :class:`TransportTimeout` is raised.
            max_reply_bytes: Largest body read (after decompression); past it a
                :class:`ReplyTooLarge` is raised without reading the rest.

        Returns:
            The reply with its body read and decoded.

        Raises:
            TransportError: one of its subclasses, saying how far the request got.
        """
        return await self.round_trip(
            method, url, headers=headers, body=body, time_limit=time_limit, max_reply_bytes=max_reply_bytes
        )

    @abstractmethod
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
        """The transport's own work behind :meth:`send` (same arguments and contract)."""

    @abstractmethod
    async def aclose(self) -> None:
        """Close every connection; safe to call twice. A later ``send`` may open new ones."""

    @property
    @abstractmethod
    def is_closed(self) -> bool:
        """True when no connection pool is open."""
