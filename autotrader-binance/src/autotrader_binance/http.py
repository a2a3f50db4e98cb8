"""The one place Binance REST requests are built, signed, rate-limited, sent and mapped.

Built on :class:`autotrader_core.rest.RestClient`. Particular to Binance:

* signed requests get ``recvWindow``, ``timestamp`` (the clock-corrected server
  time) and ``signature`` over the exact query string sent (protocols.md §1.2);
  every parameter goes in the query string, so the payload is the query alone;
* rate limiters follow ``exchangeInfo.rateLimits`` (REQUEST_WEIGHT, ORDERS,
  RAW_REQUESTS) and are kept in line with the ``X-MBX-USED-WEIGHT-*`` and
  ``X-MBX-ORDER-COUNT-*`` headers of every reply;
* ``-1021`` (timestamp outside ``recvWindow``) re-measures the clock from
  ``/api/v3/time`` (the fresh measurement *replaces* the recent samples, so the
  retry goes out with it) and retries once: Binance refused the request before
  the matching engine, so a second send cannot duplicate anything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from autotrader_core.clock import ClockOffset
from autotrader_core.decimals import wire_field
from autotrader_core.errors import AutotraderError, BrokerProtocolError, RateLimited
from autotrader_core.resiliency.rate_limit import RateLimiter
from autotrader_core.rest import DEFAULT_BAN_SECONDS, RestClient, RestRequest
from autotrader_core.transports import DEFAULT_MAX_REPLY_BYTES, HttpReply, HttpTransport

from autotrader_binance.auth import Signer, encode_query, rest_signature_payload
from autotrader_binance.errors import BROKER, TimestampOutsideRecvWindow, map_error
from autotrader_binance.parsing import RateLimitRule

if TYPE_CHECKING:  # httpx is loaded only when the httpx transport is chosen
    import httpx

__all__ = ["DEFAULT_RATE_LIMITS", "BinanceHttp", "Limit"]

logger = logging.getLogger(__name__)

DEFAULT_RATE_LIMITS = (
    # protocols.md §1.6 documented values; replaced by exchangeInfo.rateLimits at connect.
    RateLimitRule("REQUEST_WEIGHT", 60, 6000),
    RateLimitRule("ORDERS", 10, 50),
    RateLimitRule("ORDERS", 86400, 160000),
    RateLimitRule("RAW_REQUESTS", 300, 300000),
)


@dataclass(frozen=True, slots=True)
class Limit:
    """One live limiter and the rule it enforces."""

    rule: RateLimitRule
    limiter: RateLimiter


class BinanceHttp:
    """Binance Spot REST access for one account.

    Args:
        base_url: REST base URL (``https://testnet.binance.vision`` …).
        api_key: Sent as ``X-MBX-APIKEY``; ``None`` for public endpoints only.
        signer: Signs ``TRADE``/``USER_DATA`` requests; ``None`` without credentials.
        recv_window_ms: ``recvWindow`` of signed requests.
        timeout: Seconds a request may take (connect to the reply's last byte) before it
            becomes ``RequestTimeout``.
        transport: Transport override: an httpx transport or an ``HttpTransport``
            (default: httpx's stock transport).
        clock: Server clock estimate (shared with the stream for its signatures).
        max_reply_bytes: Largest reply body read; a bigger one is ``BrokerProtocolError``.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        signer: Signer | None,
        recv_window_ms: int = 5000,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | HttpTransport | None = None,
        clock: ClockOffset | None = None,
        clock_sync_interval: float | None = 600.0,
        on_wait: Callable[[str, float], None] | None = None,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
    ) -> None:
        self._on_wait = on_wait  # reported by every limiter (the adapter forwards it to telemetry)
        self._signer = signer
        self._recv_window = str(recv_window_ms)
        self._limits: list[Limit] = []
        self._weight: list[Limit] = []
        self._orders: list[Limit] = []
        self._raw: list[Limit] = []
        self.apply_rate_limits(DEFAULT_RATE_LIMITS)
        self.rest = RestClient(
            broker=BROKER,
            base_url=base_url,
            error_mapper=_map_response,
            signer=self._sign if signer is not None else None,
            rate_limiter=self._weight[0].limiter,
            clock=clock,
            timeout=timeout,
            default_headers={"X-MBX-APIKEY": api_key} if api_key else None,
            transport=transport,
            on_response=self._observe,
            max_reply_bytes=max_reply_bytes,
        )
        self.used_weight: int | None = None
        """Latest ``X-MBX-USED-WEIGHT-1M`` Binance reported."""
        self.order_counts: dict[str, int] = {}
        """Latest ``X-MBX-ORDER-COUNT-<interval>`` values, e.g. ``{"10S": 3, "1D": 120}``."""
        self._banned_until = 0.0  # time.monotonic() when an IP ban (HTTP 418) ends
        self._sync_interval = clock_sync_interval
        self._last_sync: float | None = None  # time.monotonic() of the last clock sync
        self.last_signed_timestamp_ms = 0
        """The newest ``timestamp`` put in a signed request (an upper bound for every one sent)."""

    @property
    def clock(self) -> ClockOffset:
        """The server clock estimate used to stamp signed requests."""
        return self.rest.clock

    @property
    def limits(self) -> tuple[Limit, ...]:
        """Every active limiter with its rule."""
        return tuple(self._limits)

    # -- rate limits ------------------------------------------------------------

    def _limiter(self, rule: RateLimitRule) -> RateLimiter:
        name = f"binance:{rule.kind}:{rule.header_suffix}"
        return RateLimiter(name, rule.limit, rule.seconds, on_wait=self._on_wait)

    def apply_rate_limits(self, rules: Sequence[RateLimitRule]) -> None:
        """Replace the limiters with ones built from ``rules`` (``exchangeInfo.rateLimits``)."""
        limits = [Limit(rule, self._limiter(rule)) for rule in rules if rule.limit > 0 and rule.seconds > 0]
        weight = sorted((x for x in limits if x.rule.kind == "REQUEST_WEIGHT"), key=lambda x: x.rule.seconds)
        if not weight:  # keep a documented weight budget even if exchangeInfo omits it
            rule = DEFAULT_RATE_LIMITS[0]
            weight = [Limit(rule, self._limiter(rule))]
            limits.append(weight[0])
        self._limits = limits
        self._weight = weight
        self._orders = [x for x in limits if x.rule.kind == "ORDERS"]
        self._raw = [x for x in limits if x.rule.kind == "RAW_REQUESTS"]
        # lower-case usage header name (bytes, as on the wire) → (limit, is it a weight limit)
        watched = {f"x-mbx-used-weight-{x.rule.header_suffix.lower()}".encode(): (x, True) for x in weight}
        watched |= {
            f"x-mbx-order-count-{x.rule.header_suffix.lower()}".encode(): (x, False) for x in self._orders
        }
        self._watched: dict[bytes, tuple[Limit, bool]] = watched
        if hasattr(self, "rest"):
            self.rest.rate_limiter = weight[0].limiter

    def _observe(self, response: HttpReply) -> None:
        """Align the limiters with Binance's own usage counters (one pass over the headers)."""
        watched = self._watched
        for name, raw in response.headers.raw:
            found = watched.get(name.lower())
            if found is None or not raw.isdigit():
                continue
            limit, is_weight = found
            used = int(raw)
            limit.limiter.observe_usage(used)
            suffix = limit.rule.header_suffix
            if not is_weight:
                self.order_counts[suffix] = used
            elif suffix == "1M":
                self.used_weight = used

    # -- signing ------------------------------------------------------------------

    def _sign(self, request: RestRequest) -> None:
        assert self._signer is not None  # only installed with a signer
        self.last_signed_timestamp_ms = max(self.last_signed_timestamp_ms, request.timestamp_ms)
        # recvWindow and timestamp are digits: their encoding is themselves.
        stamp = f"recvWindow={self._recv_window}&timestamp={request.timestamp_ms}"
        if request.body is None:  # GET: everything in the query string
            request.params.append(("recvWindow", self._recv_window))
            request.params.append(("timestamp", str(request.timestamp_ms)))
            payload = rest_signature_payload(request.query_string(), None)
            request.params.append(("signature", self._signer.sign(payload)))
            return
        # POST/PUT/DELETE: everything in the form body (query + body are signed, query is empty)
        body = f"{request.body}&{stamp}" if request.body else stamp
        payload = rest_signature_payload(request.query_string(), body)
        request.body = f"{body}&{encode_query([('signature', self._signer.sign(payload))])}"

    # -- sending --------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | Sequence[tuple[str, object]] | None = None,
        signed: bool = False,
        weight: float = 1,
        order: bool = False,
    ) -> Any:
        """Send one request; parsed JSON back, or a mapped error raised.

        Args:
            order: The request places an order (counts against the ORDERS limits).
        """
        self._refuse_while_banned()
        if signed and self._clock_is_stale():
            await self._resync_quietly()
        extra: list[tuple[RateLimiter, float]] = [(x.limiter, weight) for x in self._weight[1:]]
        extra.extend((x.limiter, 1) for x in self._raw)
        if order:
            extra.extend((x.limiter, 1) for x in self._orders)
        # Non-GET parameters travel as a form body: the URL stays short (httpx parses every URL
        # character by character; a long signed query string costs more than the signing).
        query, form = (params, None) if method == "GET" else (None, _as_mapping(params))
        try:
            return await self.rest.request(
                method, path, params=query, form=form, signed=signed, weight=weight, extra_limits=extra
            )
        except RateLimited as exc:
            if exc.banned:
                ban = exc.retry_after if exc.retry_after is not None else DEFAULT_BAN_SECONDS
                self._banned_until = max(self._banned_until, time.monotonic() + ban)
            raise
        except TimestampOutsideRecvWindow:
            if not signed:
                raise
            # -1021: Binance checks the timestamp against recvWindow *before* the matching engine
            # and executed nothing, so one re-send (same client order id) cannot duplicate the
            # request. Our offset is what was wrong: the retry must carry a fresh measurement.
            offset = await self.remeasure_clock()
            logger.warning(
                "binance -1021 on %s %s: clock re-measured (offset %d ms), retrying once",
                method,
                path,
                offset,
            )
            return await self.rest.request(
                method, path, params=query, form=form, signed=signed, weight=weight, extra_limits=extra
            )

    @property
    def banned_for(self) -> float:
        """Seconds until Binance's IP ban ends (0 when not banned)."""
        return max(0.0, self._banned_until - time.monotonic())

    def _refuse_while_banned(self) -> None:
        """During an IP ban nothing is sent: sending extends the ban (2 min … 3 days)."""
        remaining = self.banned_for
        if remaining > 0:
            raise RateLimited(
                f"Binance IP ban in force for another {remaining:.0f}s; nothing is sent until it ends",
                retry_after=remaining,
                banned=True,
                broker=BROKER,
            )

    async def server_time_ms(self) -> int:
        """``GET /api/v3/time`` → Binance's clock in epoch ms (every limiter, refused during a ban)."""
        body = await self.request("GET", "/api/v3/time", weight=1)
        value = wire_field(body, "serverTime", broker=BROKER)
        if isinstance(value, bool) or not isinstance(value, int):
            raise BrokerProtocolError("serverTime must be an integer", payload=body, broker=BROKER)
        return value

    async def sync_clock(self, *, samples: int = 1) -> int:
        """Measure the server clock offset (RTT midpoint, median of recent samples); returns ms."""
        offset = await self.rest.sync_clock(self.server_time_ms, samples=samples)
        self._last_sync = time.monotonic()
        return offset

    async def remeasure_clock(self) -> int:
        """Measure the offset once and let that measurement *replace* the recent samples; returns ms.

        After ``-1021`` the server's clock (or ours) has jumped: one more sample in a median of
        five would leave the offset where it was, and the retry would be refused again. If
        ``/api/v3/time`` fails, the old estimate is kept and the error is raised.
        """
        clock = self.clock
        sent = clock.local_ms()
        server_ms = await self.server_time_ms()
        received = clock.local_ms()
        clock.reset()
        clock.update(server_ms, sent, received)
        self._last_sync = time.monotonic()
        return clock.offset_ms

    def _clock_is_stale(self) -> bool:
        if self._sync_interval is None or self._last_sync is None:
            return False  # never synced: connect() does the first sync
        return time.monotonic() - self._last_sync > self._sync_interval

    async def _resync_quietly(self) -> None:
        """Periodic resync before a signed request; a failure keeps the old offset (-1021 still resyncs)."""
        try:
            await self.sync_clock()
        except AutotraderError as exc:
            self._last_sync = time.monotonic()  # do not retry on every request while /time is failing
            logger.warning(
                "binance periodic clock resync failed (%s); keeping offset %d ms", exc, self.clock.offset_ms
            )

    async def aclose(self) -> None:
        """Close the HTTP client (safe twice)."""
        await self.rest.aclose()


def _as_mapping(params: Mapping[str, object] | Sequence[tuple[str, object]] | None) -> dict[str, object]:
    """Form parameters as an ordered dict (Binance never repeats a parameter name)."""
    if params is None:
        return {}
    return dict(params.items() if isinstance(params, Mapping) else params)


def _map_response(response: HttpReply, body: Any) -> AutotraderError | None:
    return map_error(response.status_code, body, response.headers)
