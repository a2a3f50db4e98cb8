"""The one place OKX REST requests are built, signed, rate-limited, sent and mapped.

Built on :class:`autotrader_core.rest.RestClient`. What is particular to OKX:

* signing with the ``OK-ACCESS-*`` headers over ``timestamp + METHOD + path?query + body``
  (the exact query and body text RestClient sends), timestamps from the clock offset;
* ``x-simulated-trading: 1`` on every request in the demo environment;
* a token bucket per endpoint with OKX's documented limits (protocols.md §2.3, §2.6),
  per instrument where OKX counts per instrument (place/cancel/amend/query), plus the
  sub-account limit of 1,000 new+amend orders per 2 s;
* errors reported inside HTTP 200 (top-level ``code`` and per-item ``sCode``)
  mapped by :func:`autotrader_okx.errors.error_from_envelope`;
* a ``50102`` (timestamp expired) reply resyncs the clock and retries once: the
  gateway refused the request, so re-sending cannot duplicate anything;
* place and amend carry the ``expTime`` header (the signed timestamp plus
  ``settings.request_expiry_ms``): OKX does not process them after that moment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from autotrader_core.clock import ClockOffset
from autotrader_core.errors import AuthenticationError, AutotraderError
from autotrader_core.resiliency.rate_limit import RateLimiter
from autotrader_core.rest import RestClient, RestRequest, parse_retry_after
from autotrader_core.transport_choice import make_transport
from autotrader_core.transports import HttpReply, HttpTransport

from autotrader_okx.auth import iso_timestamp, rest_auth_headers
from autotrader_okx.errors import BROKER, CLOCK_SKEW_CODES, error_from_envelope
from autotrader_okx.parsing import parse_server_time
from autotrader_okx.settings import OkxSettings

if TYPE_CHECKING:  # httpx is loaded only when the httpx transport is chosen
    import httpx

__all__ = ["ENDPOINT_LIMITS", "ORDER_ENTRY_PATHS", "PER_INSTRUMENT", "OkxHttp", "Paths"]

logger = logging.getLogger(__name__)


class Paths:
    """REST paths used by the adapter."""

    TIME = "/api/v5/public/time"
    INSTRUMENTS = "/api/v5/public/instruments"
    BALANCE = "/api/v5/account/balance"
    POSITIONS = "/api/v5/account/positions"
    ORDER = "/api/v5/trade/order"
    CANCEL = "/api/v5/trade/cancel-order"
    AMEND = "/api/v5/trade/amend-order"
    PENDING = "/api/v5/trade/orders-pending"
    FILLS = "/api/v5/trade/fills"
    FILLS_HISTORY = "/api/v5/trade/fills-history"


ENDPOINT_LIMITS: Mapping[tuple[str, str], tuple[float, float]] = {
    ("GET", Paths.TIME): (10, 2.0),
    ("GET", Paths.INSTRUMENTS): (20, 2.0),
    ("GET", Paths.BALANCE): (10, 2.0),
    ("GET", Paths.POSITIONS): (10, 2.0),
    ("POST", Paths.ORDER): (60, 2.0),
    ("POST", Paths.CANCEL): (60, 2.0),
    ("POST", Paths.AMEND): (60, 2.0),
    ("GET", Paths.ORDER): (60, 2.0),
    ("GET", Paths.PENDING): (60, 2.0),
    ("GET", Paths.FILLS): (60, 2.0),
    ("GET", Paths.FILLS_HISTORY): (10, 2.0),
}
"""(method, path) → (requests, per seconds), from OKX's per-endpoint documentation."""

PER_INSTRUMENT = frozenset(
    {("POST", Paths.ORDER), ("POST", Paths.CANCEL), ("POST", Paths.AMEND), ("GET", Paths.ORDER)}
)
"""Endpoints OKX limits per user *and instrument*: one bucket per ``instId``."""

ORDER_ENTRY_PATHS = frozenset({Paths.ORDER, Paths.AMEND})
"""POSTs that count towards the sub-account limit of 1,000 new+amend orders per 2 s (code 50061)."""

_DEFAULT_LIMIT = (10, 2.0)


class OkxHttp:
    """Signed, rate-limited OKX REST client; one per adapter.

    Args:
        settings: Adapter settings (host, environment, credentials, timeout).
        clock: Shared broker-clock estimate (a fresh one by default).
        transport: Transport override (tests, benchmarks): an httpx transport or an
            :class:`~autotrader_core.transports.HttpTransport`; default: the one
            ``settings.http_transport`` names (httpx's stock transport, the one
            pytest-httpx intercepts, when that is ``httpx``).
        on_wait: Given to every rate limiter: called as ``(limiter name, seconds)``
            after a request had to wait (the adapter forwards it to its telemetry).
    """

    def __init__(
        self,
        settings: OkxSettings,
        *,
        clock: ClockOffset | None = None,
        transport: httpx.AsyncBaseTransport | HttpTransport | None = None,
        on_wait: Callable[[str, float], None] | None = None,
    ) -> None:
        self._settings = settings
        self._on_wait = on_wait
        headers = {"Accept": "application/json"}
        if settings.is_demo:
            headers["x-simulated-trading"] = "1"
        has_credentials = bool(settings.api_key.get_secret_value())
        self._limiters: dict[tuple[str, str, str], RateLimiter] = {}
        self._order_limiter = RateLimiter("okx sub-account orders", 1000, 2.0, on_wait=on_wait)
        self.last_signed_timestamp_ms = 0
        """The newest timestamp put in a signed request (an upper bound for every one sent)."""
        self.rest = RestClient(
            broker=BROKER,
            base_url=settings.rest_url,
            error_mapper=self._map_error,
            signer=self._sign if has_credentials else None,
            clock=clock,
            timeout=settings.request_timeout,
            default_headers=headers,
            transport=transport if transport is not None else _make_transport(settings),
        )

    @property
    def clock(self) -> ClockOffset:
        """The broker-clock estimate used for signed timestamps."""
        return self.rest.clock

    # -- the one request path -------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, object]] | Mapping[str, object] | None = None,
        json_body: Any = None,
        signed: bool = True,
    ) -> Any:
        """Send one request; returns the parsed envelope (numbers as ``Decimal``).

        Raises:
            AutotraderError: OKX's refusal mapped onto the core tree, or a transport error.
        """
        try:
            return await self._request_once(method, path, params=params, json_body=json_body, signed=signed)
        except AuthenticationError as exc:
            if exc.code not in CLOCK_SKEW_CODES:
                raise
            logger.warning("okx: timestamp expired (50102); resyncing the clock and retrying once")
            await self.sync_time()
            return await self._request_once(method, path, params=params, json_body=json_body, signed=signed)

    async def _request_once(
        self,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, object]] | Mapping[str, object] | None,
        json_body: Any,
        signed: bool,
    ) -> Any:
        extra: list[tuple[RateLimiter, float]] = [(self.limiter_for(method, path, params, json_body), 1)]
        if method.upper() == "POST" and path in ORDER_ENTRY_PATHS:
            extra.append((self._order_limiter, 1))
        return await self.rest.request(
            method, path, params=params, json_body=json_body, signed=signed, extra_limits=extra
        )

    def limiter_for(
        self,
        method: str,
        path: str,
        params: Sequence[tuple[str, object]] | Mapping[str, object] | None = None,
        json_body: Any = None,
    ) -> RateLimiter:
        """The token bucket a request draws from (created on first use)."""
        endpoint = (method.upper(), path)
        scope = ""
        if endpoint in PER_INSTRUMENT:
            source = json_body if isinstance(json_body, Mapping) else dict(params or ())
            scope = str(source.get("instId", ""))
        key = (*endpoint, scope)
        limiter = self._limiters.get(key)
        if limiter is None:
            capacity, per = ENDPOINT_LIMITS.get(endpoint, _DEFAULT_LIMIT)
            name = f"okx {endpoint[0]} {path}" + (f" {scope}" if scope else "")
            limiter = self._limiters[key] = RateLimiter(name, capacity, per, on_wait=self._on_wait)
        return limiter

    async def get(
        self,
        path: str,
        params: Sequence[tuple[str, object]] | Mapping[str, object] | None = None,
        *,
        signed: bool = True,
    ) -> Any:
        """Signed (by default) GET."""
        return await self.request("GET", path, params=params, signed=signed)

    async def post(self, path: str, body: Any) -> Any:
        """Signed POST with a JSON body (serialised once; that exact text is signed and sent)."""
        return await self.request("POST", path, json_body=body, signed=True)

    async def server_time_ms(self) -> int:
        """``GET /api/v5/public/time`` → server epoch milliseconds (unsigned)."""
        return parse_server_time(await self.get(Paths.TIME, signed=False))

    async def sync_time(self, *, samples: int = 1) -> int:
        """Measure the clock offset against ``/api/v5/public/time``; returns it in ms."""
        return await self.rest.sync_clock(self.server_time_ms, samples=samples)

    async def aclose(self) -> None:
        """Close the HTTP client (safe twice)."""
        await self.rest.aclose()

    # -- hooks given to RestClient --------------------------------------------
    def _sign(self, request: RestRequest) -> None:
        settings = self._settings
        self.last_signed_timestamp_ms = max(self.last_signed_timestamp_ms, request.timestamp_ms)
        if request.method == "POST" and request.path in ORDER_ENTRY_PATHS:
            # OKX's clock (our estimate) when signed + the window: OKX refuses it after that.
            request.headers["expTime"] = str(request.timestamp_ms + settings.request_expiry_ms)
        request.headers.update(
            rest_auth_headers(
                api_key=settings.api_key.get_secret_value(),
                secret=settings.api_secret.get_secret_value(),
                passphrase=settings.passphrase.get_secret_value(),
                timestamp=iso_timestamp(request.timestamp_ms),
                method=request.method,
                request_path=request.target,
                body=request.body or "",
            )
        )

    @staticmethod
    def _map_error(response: HttpReply, body: Any) -> AutotraderError | None:
        return error_from_envelope(
            body,
            http_status=response.status_code,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )


def _make_transport(settings: OkxSettings) -> HttpTransport | None:
    """The transport ``settings.http_transport`` names (``None``: httpx's stock transport)."""
    return make_transport(
        settings.http_transport, url=settings.rest_url, broker=BROKER, extra="autotrader-okx[aiohttp]"
    )
