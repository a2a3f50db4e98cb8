"""The shared REST helper every REST adapter's ``http.py`` builds on.

One :class:`RestClient` per adapter is *the one place* where a request is built,
rate-limited, signed, sent and its errors mapped onto
:mod:`autotrader_core.errors`:

1. parameters are converted to the exact strings that go on the wire
   (``Decimal`` → plain decimal string, ``bool`` → ``"true"``/``"false"``,
   enums → their value; floats are refused: they are how money gets corrupted);
2. the rate limiters are acquired;
3. the :class:`RestRequest` is stamped with the broker's clock and signed
   (after waiting for the limiter, so a long wait never makes the signed
   timestamp stale);
4. it is sent with one reused ``httpx.AsyncClient`` (stock transport, so
   pytest-httpx intercepts it), or through a pluggable
   :class:`~autotrader_core.transports.HttpTransport` that replaces httpx's
   client layer for speed (:mod:`autotrader_core.lean_transport`, standard library;
   :mod:`autotrader_core.aiohttp_transport`, the ``aiohttp`` extra);
5. the body is parsed with ``parse_float=Decimal``; the broker's own
   ``error_mapper`` runs first on every response (OKX and Coinbase report errors
   inside HTTP 200), then the generic HTTP-status mapping.

Secrets never leave this module: exceptions and logs carry the method, path,
status and timing only, never headers or signed parameters.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote_plus

import anyio

from autotrader_core.clock import ClockOffset, sync_clock
from autotrader_core.errors import (
    AuthenticationError,
    AutotraderError,
    BrokerError,
    BrokerProtocolError,
    BrokerUnavailable,
    ConfigurationError,
    RateLimited,
    RequestTimeout,
)
from autotrader_core.resiliency.rate_limit import RateLimiter
from autotrader_core.transports import (
    DEFAULT_MAX_REPLY_BYTES,
    HttpReply,
    HttpTransport,
    InvalidRequest,
    ReplyTooLarge,
    TransportError,
    TransportTimeout,
    UndecodableReply,
    header_is_unsafe,
    redact_url,
)

if TYPE_CHECKING:  # httpx is imported only when the httpx path is used (about 45 ms)
    import httpx

__all__ = [
    "DEFAULT_BAN_SECONDS",
    "ErrorMapper",
    "RequestSigner",
    "RestClient",
    "RestRequest",
    "encode_json_body",
    "encode_param",
    "encode_query",
    "parse_retry_after",
]

logger = logging.getLogger(__name__)

DEFAULT_BAN_SECONDS: Final = 60.0
"""How long nothing is sent after a ban (HTTP 418) that came without a ``Retry-After``."""

_SNIPPET = 300  # characters of a broker's error text kept on the exception

# Characters quote_plus() never changes: such a name or value is its own encoding.
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*").fullmatch


def encode_query(params: Sequence[tuple[str, str]]) -> str:
    """``name=value&…`` percent-encoded exactly as ``urllib.parse.urlencode`` does (UTF-8, ``+`` for space).

    Faster on the common case: names and values made of unreserved characters
    (most trading parameters) are copied instead of quoted. This is the text
    that goes on the wire, so signers must sign this very string.
    """
    return "&".join(f"{_quote(name)}={_quote(value)}" for name, value in params)


def _quote(text: object) -> str:
    if isinstance(text, str):
        return text if _UNRESERVED(text) else quote_plus(text)
    if isinstance(text, bytes):
        return quote_plus(text)
    return _quote(str(text))  # what urlencode does with other types


@dataclass(slots=True, repr=False)
class RestRequest:
    """One request exactly as it will be sent; the signer mutates it in place.

    The query string on the wire is exactly :meth:`query_string` (:func:`encode_query`,
    i.e. ``urlencode``, of ``params`` in order) and the body is exactly ``body``: sign those.
    """

    method: str
    """``"GET"``, ``"POST"``, ``"PUT"`` or ``"DELETE"``."""
    path: str
    """Path without host, e.g. ``"/api/v3/order"``."""
    params: list[tuple[str, str]] = field(default_factory=list)
    """Query parameters, in order, already strings."""
    body: str | None = None
    """The exact body text (JSON or form), or ``None``."""
    headers: dict[str, str] = field(default_factory=dict)
    """Per-request headers (the client's default headers are added by httpx)."""
    timestamp_ms: int = 0
    """The broker's clock (clock-corrected) when the request was stamped."""
    signed: bool = False

    def query_string(self) -> str:
        """The query string that goes on the wire (without ``?``): :func:`encode_query` of ``params``."""
        return encode_query(self.params) if self.params else ""

    @property
    def target(self) -> str:
        """Path plus query string, e.g. ``/api/v5/trade/order?instId=BTC-USDT`` (what OKX signs)."""
        query = self.query_string()
        return f"{self.path}?{query}" if query else self.path

    def __repr__(self) -> str:
        # Names only: values may be signatures, keys or passphrases.
        names = ",".join(name for name, _ in self.params)
        return (
            f"RestRequest({self.method} {self.path} params=[{names}] "
            f"headers=[{','.join(self.headers)}] signed={self.signed})"
        )


RequestSigner = Callable[[RestRequest], None]
"""Adds signature parameters/headers to a request, in place."""

ErrorMapper = Callable[[HttpReply, Any], AutotraderError | None]
"""``(reply, parsed body or None) -> error``: the broker's own error table; ``None`` means OK."""


def encode_param(value: object) -> str:
    """Convert one parameter value to the string that goes on the wire.

    ``Decimal`` → ``format(d, "f")`` (never exponent notation), ``bool`` →
    ``"true"``/``"false"``, enums → their value, ``int``/``str`` as they are.

    Raises:
        TypeError: for floats (they lose precision: pass a ``Decimal``) and other types.
        ValueError: for a non-finite ``Decimal``.
    """
    if isinstance(value, Enum):
        return encode_param(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send a non-finite decimal: {value}")
        return format(value, "f")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise TypeError(
            f"refusing to send float {value!r}: floats lose precision, pass Decimal({str(value)!r})"
        )
    raise TypeError(f"cannot encode parameter of type {type(value).__name__}: {value!r}")


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return encode_param(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"cannot encode {type(value).__name__} in a JSON body: {value!r}")


def encode_json_body(body: Any) -> str:
    """Compact JSON text of ``body``, with ``Decimal`` values as plain decimal strings.

    Brokers with JSON bodies (OKX, Coinbase, Oanda) take prices and sizes as strings.
    Key order is kept: the text is signed and sent as is.
    """
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def _encode_params(
    params: Mapping[str, object] | Sequence[tuple[str, object]] | None,
) -> list[tuple[str, str]]:
    if params is None:
        return []
    items = params.items() if isinstance(params, Mapping) else params
    # None means "not set": optional parameters can be passed without an if per field.
    return [(str(name), encode_param(value)) for name, value in items if value is not None]


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date); ``None`` if unusable."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        from email.utils import parsedate_to_datetime  # rare (HTTP-date form); ≈ 5 ms to import

        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


class RestClient:
    """Signed, rate-limited, error-mapped JSON-over-HTTP client for one broker.

    Args:
        broker: Adapter name, set on every error raised.
        base_url: Scheme and host (and optional path prefix) of the REST API.
        error_mapper: The broker's error table; runs first on every response.
        signer: Signs requests made with ``signed=True``.
        rate_limiter: The broker's main limiter, acquired for every request.
        clock: Broker clock estimate used to stamp requests (a fresh one by default).
        timeout: Seconds for the whole request, from connecting to the reply's last byte
            (on httpx also the limit of each phase): a reply trickling in cannot hold a
            request longer.
        max_reply_bytes: Largest reply body read (after decompression); a bigger one is
            refused as ``BrokerProtocolError`` without reading the rest.
        default_headers: Sent with every request (e.g. an API-key header).
        transport: An ``httpx.AsyncBaseTransport`` replaces the transport under
            the one ``httpx.AsyncClient`` (default: the stock transport, which
            pytest-httpx intercepts); an :class:`~autotrader_core.transports.HttpTransport`
            replaces httpx altogether (requests then never touch httpx's client).
        on_response: Called with every reply before it is mapped (read
            rate-limit usage headers there).

    Whichever path carries a request, the error mapper and ``on_response`` see an
    :class:`~autotrader_core.transports.HttpReply`; httpx is imported only when the
    httpx path is used.
    """

    def __init__(
        self,
        *,
        broker: str,
        base_url: str,
        error_mapper: ErrorMapper,
        signer: RequestSigner | None = None,
        rate_limiter: RateLimiter | None = None,
        clock: ClockOffset | None = None,
        timeout: float = 10.0,
        default_headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | HttpTransport | None = None,
        on_response: Callable[[HttpReply], None] | None = None,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
    ) -> None:
        if max_reply_bytes < 1:
            raise ValueError(f"max_reply_bytes must be at least 1, got {max_reply_bytes}")
        self.broker = broker
        self.base_url = base_url
        self.clock: ClockOffset = clock if clock is not None else ClockOffset()
        self.rate_limiter = rate_limiter
        self.timeout = timeout
        self.max_reply_bytes = max_reply_bytes
        self._error_mapper = error_mapper
        self._signer = signer
        self._default_headers = dict(default_headers or {})
        self._bad_default = _bad_header(self._default_headers)  # refused at the first request
        self._custom: HttpTransport | None = transport if isinstance(transport, HttpTransport) else None
        self._transport = None if isinstance(transport, HttpTransport) else transport
        self._on_response = on_response
        self._client: httpx.AsyncClient | None = None

    @property
    def transport(self) -> HttpTransport | None:
        """The :class:`~autotrader_core.transports.HttpTransport` in use, ``None`` on the httpx path."""
        return self._custom

    @property
    def http(self) -> httpx.AsyncClient:
        """The one ``httpx.AsyncClient`` (created on first use, so ``__init__`` stays free of I/O setup).

        Raises:
            ConfigurationError: when an :class:`~autotrader_core.transports.HttpTransport`
                replaces httpx (no httpx client is used then).
        """
        if self._custom is not None:
            raise ConfigurationError(
                f"{self.broker}: requests go through {self._custom!r}, not an httpx client",
                broker=self.broker,
            )
        if self._client is None:
            import httpx  # here, not at the top: only this path needs it

            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                timeout=httpx.Timeout(self.timeout),
                headers=self._default_headers,
                transport=self._transport,
            )
        return self._client

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | Sequence[tuple[str, object]] | None = None,
        json_body: Any = None,
        form: Mapping[str, object] | None = None,
        signed: bool = False,
        weight: float = 1,
        extra_limits: Sequence[tuple[RateLimiter, float]] = (),
    ) -> Any:
        """Send one request and return its parsed JSON body (numbers as ``Decimal``; ``None`` if empty).

        Args:
            params: Query parameters (``None`` values are left out).
            json_body: Sent as compact JSON (``Decimal`` values as strings).
            form: Sent as an urlencoded form body.
            signed: Run the signer (and stamp ``timestamp_ms``).
            weight: Tokens taken from the main rate limiter.
            extra_limits: Further ``(limiter, weight)`` pairs, e.g. an orders-per-10s limit.

        Raises:
            AutotraderError: the broker's mapped error, or ``RequestTimeout`` /
                ``BrokerUnavailable`` (outcome unknown), ``AuthenticationError``,
                ``RateLimited``, ``BrokerProtocolError``, ``BrokerError``.
            ConfigurationError: ``signed=True`` without a signer, or a bad URL.
            TypeError, ValueError: a parameter that cannot be sent (a float, say).
        """
        method = method.upper()
        if json_body is not None and form is not None:
            raise ValueError("pass json_body or form, not both")
        if signed and self._signer is None:
            raise ConfigurationError(
                f"{self.broker}: {method} {path} must be signed but no credentials/signer are configured",
                broker=self.broker,
            )
        query = _encode_params(params)
        headers: dict[str, str] = {}
        body: str | None = None
        if json_body is not None:
            body = encode_json_body(json_body)
            headers["Content-Type"] = "application/json"
        elif form is not None:
            body = encode_query(_encode_params(form))
            headers["Content-Type"] = "application/x-www-form-urlencoded"

        limiters: list[tuple[RateLimiter, float]] = []
        if self.rate_limiter is not None:
            limiters.append((self.rate_limiter, weight))
        limiters.extend(extra_limits)
        for limiter, cost in limiters:
            await limiter.acquire(cost)

        request = RestRequest(
            method=method,
            path=path,
            params=query,
            body=body,
            headers=headers,
            timestamp_ms=self.clock.now_ms(),
            signed=signed,
        )
        if signed and self._signer is not None:
            self._signer(request)
        bad = self._bad_default or (_bad_header(request.headers) if request.headers else None)
        if bad is not None:
            raise ConfigurationError(
                f"{method} {path}: header {bad!r} holds a line break, a control character or a "
                f"character outside Latin-1 (check the {self.broker} API key/secret settings; "
                "the value is not shown)",
                broker=self.broker,
            )
        return await self._send(request, limiters)

    async def _send(self, request: RestRequest, limiters: Sequence[tuple[RateLimiter, float]]) -> Any:
        started = time.perf_counter()
        content = None if request.body is None else request.body.encode()
        if self._custom is not None:
            reply = await self._send_custom(self._custom, request, content)
        else:
            reply = await self._send_httpx(request, content)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s %s -> %d in %.1f ms",
                self.broker,
                request.method,
                request.path,
                reply.status_code,
                (time.perf_counter() - started) * 1000,
            )
        if self._on_response is not None:
            self._on_response(reply)
        return self._handle(request, reply, limiters)

    async def _send_custom(
        self, transport: HttpTransport, request: RestRequest, content: bytes | None
    ) -> HttpReply:
        headers = self._default_headers | request.headers if request.headers else self._default_headers
        try:
            return await transport.send(
                request.method,
                self.base_url + request.target,
                headers=headers,
                body=content,
                time_limit=self.timeout,
                max_reply_bytes=self.max_reply_bytes,
            )
        except TransportTimeout as exc:
            raise self._timeout(request, exc) from None
        except InvalidRequest as exc:
            raise self._bad_request(request, exc) from None
        except (UndecodableReply, ReplyTooLarge) as exc:
            raise self._unreadable(request, exc) from None
        except TransportError as exc:
            raise self._unavailable(request, exc) from None

    async def _send_httpx(self, request: RestRequest, content: bytes | None) -> HttpReply:
        import httpx  # loaded by self.http already; a dict lookup from here on

        client = self.http
        try:
            # httpx's timeouts are per phase (each read may take `timeout`): a reply trickling in
            # a byte at a time would never end. This deadline covers connect to the last byte.
            with anyio.fail_after(self.timeout):
                built = client.build_request(
                    request.method, request.target, content=content, headers=request.headers
                )
                response = await client.send(built, stream=True)
                try:
                    body = await _read_limited(response, self.max_reply_bytes)
                finally:
                    await response.aclose()
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise self._timeout(request, exc) from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.LocalProtocolError) as exc:
            raise self._bad_request(request, exc) from None
        except (httpx.DecodingError, httpx.TooManyRedirects, ReplyTooLarge) as exc:
            raise self._unreadable(request, exc) from None
        except httpx.TransportError as exc:
            raise self._unavailable(request, exc) from None
        return HttpReply(
            response.status_code,
            response.headers.raw,
            body,
            encoding=response.encoding or "utf-8",
            method=request.method,
            url=self.base_url + request.target,
        )

    # One message per kind of failure, whichever transport reported it.
    def _timeout(self, request: RestRequest, exc: Exception) -> RequestTimeout:
        return RequestTimeout(
            f"{request.method} {request.path}: no reply within {self.timeout:g}s ({type(exc).__name__}); "
            "the outcome is unknown",
            broker=self.broker,
        )

    def _bad_request(self, request: RestRequest, exc: Exception) -> ConfigurationError:
        return ConfigurationError(
            f"{request.method} {request.path}: bad URL or header for {self.broker} "
            f"(base_url={redact_url(self.base_url)!r}): {self._scrub(str(exc), request)}",
            broker=self.broker,
        )

    def _unreadable(self, request: RestRequest, exc: Exception) -> BrokerProtocolError:
        return BrokerProtocolError(
            f"{request.method} {request.path}: unreadable reply "
            f"({type(exc).__name__}: {self._scrub(str(exc), request)})",
            broker=self.broker,
        )

    def _unavailable(self, request: RestRequest, exc: Exception) -> BrokerUnavailable:
        return BrokerUnavailable(
            f"{request.method} {request.path}: connection failed "
            f"({type(exc).__name__}: {self._scrub(str(exc), request)})",
            broker=self.broker,
        )

    def _handle(
        self, request: RestRequest, response: HttpReply, limiters: Sequence[tuple[RateLimiter, float]]
    ) -> Any:
        text = response.text
        parsed: Any = None
        parsed_ok = True
        if text.strip():
            try:
                parsed = json.loads(text, parse_float=Decimal, parse_constant=Decimal)
            except ValueError:
                parsed_ok = False
        try:
            error = self._error_mapper(response, parsed if parsed_ok else None)
        except AutotraderError as exc:  # a mapper that raises instead of returning
            error = exc
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            error = BrokerProtocolError(
                f"{request.method} {request.path}: reply does not match the documented format "
                f"({type(exc).__name__}: {exc})",
                payload=text,
                broker=self.broker,
            )
        if error is None:
            error = self._status_error(request, response, text)
        if error is not None:
            if error.broker is None:
                error.broker = self.broker
            if isinstance(error, RateLimited):
                if error.retry_after is None:
                    error.retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if error.retry_after is None and error.banned:
                    error.retry_after = DEFAULT_BAN_SECONDS
                self._block(error, limiters)
            raise error
        if not parsed_ok:
            raise BrokerProtocolError(
                f"{request.method} {request.path}: HTTP {response.status_code} reply is not JSON",
                payload=text,
                broker=self.broker,
            )
        return parsed

    def _status_error(self, request: RestRequest, response: HttpReply, text: str) -> AutotraderError | None:
        status = response.status_code
        if status < 300:
            return None
        where = f"{request.method} {request.path}: HTTP {status} from {self.broker}"
        snippet = text[:_SNIPPET] or None
        if status in (429, 418):
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            banned = status == 418
            if banned and retry_after is None:
                retry_after = DEFAULT_BAN_SECONDS
            what = "banned (IP)" if banned else "rate limited"
            wait = f"; retry after {retry_after:g}s" if retry_after is not None else ""
            return RateLimited(
                f"{where}: {what}{wait}",
                retry_after=retry_after,
                banned=banned,
                broker=self.broker,
                broker_message=snippet,
            )
        if status in (401, 403):
            return AuthenticationError(
                f"{where}: authentication refused; check the API key, secret, permissions and IP allow-list",
                broker=self.broker,
                broker_message=snippet,
            )
        if status >= 500:
            return BrokerUnavailable(
                f"{where}: server error; the outcome is unknown", broker=self.broker, broker_message=snippet
            )
        if status >= 400:
            return BrokerError(f"{where}: request refused", broker=self.broker, broker_message=snippet)
        return BrokerProtocolError(f"{where}: unexpected redirect", broker=self.broker)

    @staticmethod
    def _block(error: RateLimited, limiters: Sequence[tuple[RateLimiter, float]]) -> None:
        if error.retry_after is None:
            return
        for limiter, _ in limiters:
            limiter.block_for(error.retry_after)

    async def sync_clock(self, fetch_server_ms: Callable[[], Awaitable[int]], *, samples: int = 1) -> int:
        """Update :attr:`clock` from a server-time endpoint; returns the offset in ms."""
        return await sync_clock(self.clock, fetch_server_ms, samples=samples)

    @property
    def is_closed(self) -> bool:
        """True when no HTTP client is open (never used yet, or closed)."""
        if self._custom is not None:
            return self._custom.is_closed
        return self._client is None or self._client.is_closed

    async def aclose(self) -> None:
        """Close the HTTP client; safe to call twice. A later request opens a new one."""
        if self._custom is not None:
            await self._custom.aclose()
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def __aenter__(self) -> RestClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<RestClient broker={self.broker!r} base_url={redact_url(self.base_url)!r}>"

    def _scrub(self, text: str, request: RestRequest) -> str:
        """Remove anything secret-bearing (query, parameter and header values) from an error text."""
        secrets = [request.query_string(), *(v for _, v in request.params), *request.headers.values()]
        secrets.extend(self._default_headers.values())
        for value in sorted(secrets, key=len, reverse=True):
            if len(value) >= 6 and value in text:
                text = text.replace(value, "***")
        if self.base_url != redact_url(self.base_url):  # user:password@ in the URL
            text = text.replace(self.base_url, redact_url(self.base_url))
        return text[:_SNIPPET]


def _bad_header(headers: Mapping[str, str]) -> str | None:
    """The name of the first header whose name or value no HTTP client may send, else ``None``."""
    for name, value in headers.items():
        if header_is_unsafe(name):
            return "(unprintable name)"
        if header_is_unsafe(value):
            return name
    return None


async def _read_limited(response: httpx.Response, limit: int) -> bytes:
    """The (decoded) body of a streamed response; :class:`ReplyTooLarge` past ``limit`` bytes."""
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ReplyTooLarge(f"reply of {declared} bytes is over the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise ReplyTooLarge(f"reply is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)
