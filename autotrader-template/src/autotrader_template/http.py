"""The one place REST requests are built, signed, rate-limited and sent.

Built on the core's :class:`~autotrader_core.rest.RestClient` (it stamps, signs
after the rate-limit wait, sends, parses numbers as ``Decimal`` and maps errors
with :func:`~autotrader_template.errors.map_error`). One method per endpoint,
returning the venue's JSON as is; :mod:`autotrader_template.parsing` reads it.

REPLACE: the paths, parameters and the rate limit with your venue's documented ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from autotrader_core.resiliency.rate_limit import RateLimiter
from autotrader_core.rest import RestClient
from autotrader_core.transport_choice import make_transport
from autotrader_core.wire import WireReader

from autotrader_template.auth import make_signer
from autotrader_template.errors import BROKER, map_error
from autotrader_template.settings import TemplateSettings

__all__ = ["TemplateHttp"]

_TIME = WireReader(BROKER, "server time")


class TemplateHttp:
    """The venue's REST endpoints on one reused client.

    Args:
        settings: URLs, credentials, timeout and transport choice.
        on_wait: Told about every rate-limit wait (the adapter forwards it to telemetry).
    """

    def __init__(
        self, settings: TemplateSettings, *, on_wait: Callable[[str, float], None] | None = None
    ) -> None:
        # Public calls (server time) need no key; a signed call without one is a ConfigurationError.
        signer = make_signer(*settings.credentials()) if settings.api_key is not None else None
        self.limiter = RateLimiter("template-rest", capacity=20, per_seconds=1, on_wait=on_wait)
        self.rest = RestClient(
            broker=BROKER,
            base_url=settings.rest_url,
            error_mapper=map_error,
            signer=signer,
            rate_limiter=self.limiter,
            timeout=settings.request_timeout,
            max_reply_bytes=settings.max_reply_bytes,
            transport=make_transport(
                settings.http_transport,
                url=settings.rest_url,
                broker=BROKER,
                extra="autotrader-template[aiohttp]",
            ),
        )

    async def server_time_ms(self) -> int:
        """``GET /v1/time``: the venue's clock (public)."""
        return _TIME.integer(await self.rest.request("GET", "/v1/time"), "serverTime")

    async def sync_clock(self) -> int:
        """Align the signing clock with the venue's; returns the offset in ms."""
        return await self.rest.sync_clock(self.server_time_ms)

    async def instruments(self) -> Any:
        """``GET /v1/instruments``: every tradable symbol's rules."""
        return await self.rest.request("GET", "/v1/instruments", signed=True)

    async def balances(self) -> Any:
        """``GET /v1/balances``."""
        return await self.rest.request("GET", "/v1/balances", signed=True)

    async def place_order(self, body: dict[str, Any]) -> Any:
        """``POST /v1/orders`` with the body :func:`~autotrader_template.orders.order_body` built."""
        return await self.rest.request("POST", "/v1/orders", json_body=body, signed=True)

    async def cancel_order(self, symbol: str, client_order_id: str) -> Any:
        """``DELETE /v1/orders``, by our client order id."""
        params = {"symbol": symbol, "clientOrderId": client_order_id}
        return await self.rest.request("DELETE", "/v1/orders", params=params, signed=True)

    async def order(self, symbol: str, client_order_id: str | None, broker_order_id: str | None) -> Any:
        """``GET /v1/orders``: one order, by client order id or the venue's id."""
        params = {"symbol": symbol, "clientOrderId": client_order_id, "orderId": broker_order_id}
        return await self.rest.request("GET", "/v1/orders", params=params, signed=True)

    async def open_orders(self, symbol: str | None) -> Any:
        """``GET /v1/orders/open``, optionally for one symbol."""
        return await self.rest.request("GET", "/v1/orders/open", params={"symbol": symbol}, signed=True)

    async def fills(self, symbol: str | None, since_ms: int | None) -> Any:
        """``GET /v1/fills``: past fills, optionally for one symbol and from ``since_ms``."""
        params = {"symbol": symbol, "since": since_ms}
        return await self.rest.request("GET", "/v1/fills", params=params, signed=True)

    async def aclose(self) -> None:
        """Close the client; safe to call twice."""
        await self.rest.aclose()
