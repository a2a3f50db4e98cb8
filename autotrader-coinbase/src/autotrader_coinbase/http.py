"""The one place Coinbase REST requests are built, signed, rate-limited, sent and mapped.

Built on :class:`autotrader_core.rest.RestClient`: every private request gets a
fresh ES256 JWT (``uri`` = method, host and path of *this* request), takes a
token from the private 30 req/s bucket, and its reply goes through
:func:`autotrader_coinbase.errors.map_http_error`. The sandbox needs no auth, so
requests are sent unsigned there unless credentials were configured.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from autotrader_core.clock import ClockOffset
from autotrader_core.resiliency.rate_limit import RateLimiter
from autotrader_core.rest import RestClient, RestRequest
from autotrader_core.transport_choice import make_transport
from autotrader_core.transports import HttpReply, HttpTransport

from autotrader_coinbase.auth import JwtSigner
from autotrader_coinbase.errors import BROKER, map_http_error
from autotrader_coinbase.parsing import parse_server_time_ms
from autotrader_coinbase.settings import API_PREFIX, CoinbaseSettings

if TYPE_CHECKING:  # httpx is loaded only when the httpx transport is chosen
    import httpx

__all__ = ["CoinbaseHttp"]

Params = Mapping[str, object] | Sequence[tuple[str, object]] | None


class CoinbaseHttp:
    """Signed, rate-limited Advanced Trade REST client.

    Args:
        settings: Adapter settings (URLs, credentials, budgets, timeout).
        transport: Transport override (tests, benchmarks): an httpx transport or an
            :class:`~autotrader_core.transports.HttpTransport`, shared by both clients;
            default: the one ``settings.http_transport`` names, one per client.
        on_wait: Given to both rate limiters: called as ``(limiter name, seconds)``
            after a request had to wait (the adapter forwards it to its telemetry).
    """

    def __init__(
        self,
        settings: CoinbaseSettings,
        *,
        transport: httpx.AsyncBaseTransport | HttpTransport | None = None,
        on_wait: Callable[[str, float], None] | None = None,
    ) -> None:
        settings.require_credentials()
        self.clock = ClockOffset()
        self.host = settings.rest_host
        self.signer: JwtSigner | None = None
        if settings.has_credentials and settings.api_private_key is not None:
            self.signer = JwtSigner(
                settings.api_key_name,
                settings.api_private_key.get_secret_value(),
                now=lambda: self.clock.now_ms() // 1000,
            )
        self.private_limiter = RateLimiter(
            "coinbase-private", settings.rest_requests_per_second, 1.0, on_wait=on_wait
        )
        self.public_limiter = RateLimiter(
            "coinbase-public", settings.public_requests_per_second, 1.0, on_wait=on_wait
        )
        self.rest = RestClient(
            broker=BROKER,
            base_url=settings.rest_url,
            error_mapper=map_http_error,
            signer=self._sign if self.signer is not None else None,
            clock=self.clock,
            timeout=settings.request_timeout,
            default_headers=settings.default_headers,
            transport=transport if transport is not None else _transport(settings, settings.rest_url),
            on_response=self._observe_rate_headers,
        )
        self.public_rest = self.rest
        if settings.public_rest_url != settings.rest_url:
            self.public_rest = RestClient(
                broker=BROKER,
                base_url=settings.public_rest_url,
                error_mapper=map_http_error,
                clock=self.clock,
                timeout=settings.request_timeout,
                default_headers={"Accept": "application/json", "Cache-Control": "no-cache"},
                transport=transport
                if transport is not None
                else _transport(settings, settings.public_rest_url),
            )

    def _sign(self, request: RestRequest) -> None:
        assert self.signer is not None  # only installed when a signer exists
        token = self.signer.rest_token(request.method, self.host, request.path)
        request.headers["Authorization"] = f"Bearer {token}"

    def _observe_rate_headers(self, response: HttpReply) -> None:
        # x-ratelimit-remaining / x-ratelimit-limit: align the bucket with Coinbase's own count.
        try:
            limit = float(response.headers["x-ratelimit-limit"])
            remaining = float(response.headers["x-ratelimit-remaining"])
        except (KeyError, ValueError):
            return
        if limit > 0:
            limiter = self.private_limiter
            limiter.observe_usage(limiter.capacity * (1 - remaining / limit))

    async def private(
        self, method: str, endpoint: str, *, params: Params = None, json_body: Any = None
    ) -> Any:
        """An authenticated endpoint (``endpoint`` is relative to ``/api/v3/brokerage``)."""
        return await self.rest.request(
            method,
            API_PREFIX + endpoint,
            params=params,
            json_body=json_body,
            signed=self.signer is not None,
            extra_limits=((self.private_limiter, 1),),
        )

    async def public(self, endpoint: str, *, params: Params = None) -> Any:
        """A public GET (``/time``, ``/market/...``): unsigned, on the public budget."""
        return await self.public_rest.request(
            "GET", API_PREFIX + endpoint, params=params, extra_limits=((self.public_limiter, 1),)
        )

    async def server_time_ms(self) -> int:
        """``GET /time`` in epoch milliseconds."""
        return parse_server_time_ms(await self.public("/time"))

    async def sync_clock(self, *, samples: int = 1) -> int:
        """Measure the broker clock (JWT ``nbf``/``exp`` come from it); returns the offset in ms."""
        return await self.public_rest.sync_clock(self.server_time_ms, samples=samples)

    async def aclose(self) -> None:
        """Close the HTTP clients; safe to call twice."""
        await self.rest.aclose()
        if self.public_rest is not self.rest:
            await self.public_rest.aclose()

    def __repr__(self) -> str:
        return f"<CoinbaseHttp host={self.host!r} signed={self.signer is not None}>"


def _transport(settings: CoinbaseSettings, url: str) -> HttpTransport | None:
    """The transport ``http_transport`` names for ``url`` (``None``: httpx's stock transport)."""
    return make_transport(
        settings.http_transport, url=url, broker=BROKER, extra="autotrader-coinbase[aiohttp]"
    )
