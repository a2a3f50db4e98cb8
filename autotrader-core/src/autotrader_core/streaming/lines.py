"""A :class:`~autotrader_core.streaming.Carrier` over a never-ending HTTP response of lines.

OANDA streams transactions as one chunked ``GET`` whose body is one JSON object
per line; this carrier opens such a response with httpx and hands out its lines.
It cannot send: subscriptions are the request itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import TYPE_CHECKING, cast

from autotrader_core.errors import (
    AuthenticationError,
    AutotraderError,
    BrokerError,
    BrokerUnavailable,
    ConfigurationError,
    RateLimited,
    UnsupportedFeature,
)
from autotrader_core.streaming.carrier import StreamLost

if TYPE_CHECKING:
    import httpx

__all__ = ["LineStreamCarrier", "StatusError", "default_status_error"]

StatusError = Callable[[int, bytes, Mapping[str, str]], AutotraderError]
"""Maps a refused stream request (status, body, headers) to the error the stream acts on."""


def default_status_error(status: int, body: bytes, headers: Mapping[str, str]) -> AutotraderError:
    """401/403 → AuthenticationError (ends the stream), 429 → RateLimited (waits ``Retry-After``),
    5xx → BrokerUnavailable (reconnects), anything else → BrokerError (ends the stream)."""
    from autotrader_core.rest import parse_retry_after

    text = body[:300].decode("utf-8", "replace")
    if status in (401, 403):
        return AuthenticationError(f"the stream host refused the credentials (HTTP {status})", code=status)
    if status == 429:
        return RateLimited(
            "the stream host asks to slow down (HTTP 429)",
            retry_after=parse_retry_after(headers.get("retry-after")),
            code=status,
        )
    if status >= 500:
        return BrokerUnavailable(f"the stream host answered HTTP {status}", code=status, broker_message=text)
    return BrokerError(f"the stream host answered HTTP {status}", code=status, broker_message=text)


class LineStreamCarrier:
    """One streaming HTTP request; each :meth:`recv` is the next line (without its newline).

    Args:
        url: The stream URL.
        headers: Request headers (authorization).
        params: Query parameters.
        client: An httpx client to use (not closed here); default: one per carrier.
        transport: httpx transport for the default client (tests pass a loopback one).
        connect_timeout: Seconds for connect and the response head; reads wait
            forever (silence is the stream's heartbeat to judge).
        status_error: Maps a non-200 answer to an error (default :func:`default_status_error`).
        broker: Adapter name put on the errors.
    """

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        connect_timeout: float = 10.0,
        status_error: StatusError = default_status_error,
        broker: str | None = None,
    ) -> None:
        self.url = url
        self._headers = dict(headers or {})
        self._params = dict(params or {})
        self._client = client
        self._own_client = client is None
        self._transport = transport
        self._connect_timeout = connect_timeout
        self._status_error = status_error
        self._broker = broker
        self._response: httpx.Response | None = None
        self._lines: AsyncGenerator[str, None] | None = None

    async def open(self) -> None:
        """Send the request; a non-200 answer raises what ``status_error`` maps it to."""
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self._connect_timeout, read=None), transport=self._transport
            )
        request = self._client.build_request("GET", self.url, headers=self._headers, params=self._params)
        try:
            response = await self._client.send(request, stream=True)
        except httpx.UnsupportedProtocol as exc:
            raise ConfigurationError(f"bad stream URL: {exc}", broker=self._broker) from None
        except httpx.HTTPError as exc:
            raise StreamLost(f"stream request failed ({type(exc).__name__})", broker=self._broker) from None
        if response.status_code != 200:
            try:
                body = await response.aread()
            except httpx.HTTPError:
                body = b""
            finally:
                await response.aclose()
            error = self._status_error(response.status_code, body, response.headers)
            if error.broker is None:
                error.broker = self._broker
            raise error
        self._response = response
        # httpx's line iterator is an async generator: closed with the carrier, not at GC time.
        self._lines = cast(AsyncGenerator[str, None], response.aiter_lines())

    async def recv(self) -> str:
        """The next line; :class:`StreamLost` when the body ends or the connection breaks."""
        import httpx

        if self._lines is None:
            raise StreamLost("the line stream is not open", broker=self._broker)
        try:
            return await self._lines.__anext__()
        except StopAsyncIteration:
            raise StreamLost("the stream ended", broker=self._broker) from None
        except httpx.HTTPError as exc:
            raise StreamLost(f"stream read failed ({type(exc).__name__})", broker=self._broker) from None

    async def send(self, frame: str) -> None:
        """Not possible on an HTTP response stream."""
        raise UnsupportedFeature("an HTTP line stream cannot send frames", broker=self._broker)

    async def close(self) -> None:
        """Close the response (and the client this carrier made). Idempotent."""
        lines, self._lines = self._lines, None
        response, self._response = self._response, None
        if response is not None:
            await response.aclose()  # first: a read waiting in another task ends with it
        if lines is not None:
            with contextlib.suppress(RuntimeError):  # "already running": that task closes it
                await lines.aclose()
        if self._own_client and self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
