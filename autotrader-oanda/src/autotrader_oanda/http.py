"""The one place OANDA REST requests are built, authenticated, rate-limited, sent and mapped.

Built on :class:`autotrader_core.rest.RestClient`: the bearer token is added by
the request "signer" (OANDA signs nothing; protocols.md §4.2), the rate
limiter holds the documented per-connection budget (≤ 100 requests/s advised,
120/s per IP hard limit → HTTP 429), and :func:`~autotrader_oanda.errors.map_http_error`
is the broker's error table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
from autotrader_core.errors import BrokerProtocolError
from autotrader_core.resiliency.rate_limit import RateLimiter
from autotrader_core.rest import RestClient, RestRequest
from autotrader_core.transport_choice import make_transport
from autotrader_core.transports import HttpReply, HttpTransport

from autotrader_oanda.auth import auth_headers
from autotrader_oanda.errors import BROKER, map_http_error
from autotrader_oanda.settings import OandaSettings

__all__ = ["OandaHttp"]


class OandaHttp:
    """Typed calls on the v20 REST API of one account.

    Args:
        settings: Token, account, environment and timeouts.
        rate_limiter: Shared REST budget (a fresh one from the settings by default).
        transport: Transport override (tests, benchmarks): an httpx transport or an
            :class:`~autotrader_core.transports.HttpTransport`; default: the one
            ``settings.http_transport`` names.
        on_wait: Given to the default rate limiter: called as ``(limiter name, seconds)``
            after a request had to wait (the adapter forwards it to its telemetry).
    """

    def __init__(
        self,
        settings: OandaSettings,
        *,
        rate_limiter: RateLimiter | None = None,
        transport: httpx.AsyncBaseTransport | HttpTransport | None = None,
        on_wait: Callable[[str, float], None] | None = None,
    ) -> None:
        self._settings = settings
        self.account_path = f"/v3/accounts/{settings.account_id}"
        self.rate_limiter = rate_limiter or RateLimiter(
            "oanda-rest", capacity=settings.max_requests_per_second, per_seconds=1.0, on_wait=on_wait
        )
        self.last_request_id: str | None = None
        """OANDA's ``RequestID`` header of the latest reply (quote it to OANDA support)."""
        self.client = RestClient(
            broker=BROKER,
            base_url=settings.rest_url,
            error_mapper=map_http_error,
            signer=self._authenticate,
            rate_limiter=self.rate_limiter,
            timeout=settings.request_timeout,
            default_headers={"Connection": "keep-alive"},
            transport=transport if transport is not None else self._make_transport(),
            on_response=self._observe,
        )

    def _make_transport(self) -> HttpTransport | None:
        """The transport ``http_transport`` names (``None``: httpx's stock transport)."""
        return make_transport(
            self._settings.http_transport,
            url=self._settings.rest_url,
            broker=BROKER,
            extra="autotrader-oanda[aiohttp]",
        )

    def _authenticate(self, request: RestRequest) -> None:
        request.headers.update(auth_headers(self._settings.token))

    def _observe(self, response: HttpReply) -> None:
        self.last_request_id = response.headers.get("RequestID")

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | Sequence[tuple[str, object]] | None = None,
        json_body: Any = None,
    ) -> dict[str, Any]:
        """One request on the account (``path`` is relative to ``/v3/accounts/{id}``); a JSON object back."""
        body = await self.client.request(
            method, self.account_path + path, params=params, json_body=json_body, signed=True
        )
        if not isinstance(body, dict):
            raise BrokerProtocolError(
                f"{method} {path}: reply is not a JSON object", payload=body, broker=BROKER
            )
        return body

    # -- endpoints (protocols.md §4.3-4.9) --------------------------------------

    async def summary(self) -> dict[str, Any]:
        """``GET /summary``: balances, margin, home currency, ``lastTransactionID``."""
        return await self.call("GET", "/summary")

    async def instruments(self) -> dict[str, Any]:
        """``GET /instruments``: trading rules of every tradeable instrument."""
        return await self.call("GET", "/instruments")

    async def open_positions(self) -> dict[str, Any]:
        """``GET /openPositions``."""
        return await self.call("GET", "/openPositions")

    async def create_order(self, request: dict[str, Any]) -> dict[str, Any]:
        """``POST /orders`` with ``{"order": ...}`` (201 on success)."""
        return await self.call("POST", "/orders", json_body=request)

    async def replace_order(self, specifier: str, request: dict[str, Any]) -> dict[str, Any]:
        """``PUT /orders/{specifier}``: cancel + create with a new order id."""
        return await self.call("PUT", f"/orders/{specifier}", json_body=request)

    async def cancel_order(self, specifier: str) -> dict[str, Any]:
        """``PUT /orders/{specifier}/cancel``."""
        return await self.call("PUT", f"/orders/{specifier}/cancel")

    async def get_order(self, specifier: str) -> dict[str, Any]:
        """``GET /orders/{specifier}`` (``specifier`` = OANDA id or ``@<client id>``)."""
        return await self.call("GET", f"/orders/{specifier}")

    async def pending_orders(self) -> dict[str, Any]:
        """``GET /pendingOrders``: every working order."""
        return await self.call("GET", "/pendingOrders")

    async def transaction(self, transaction_id: str) -> dict[str, Any]:
        """``GET /transactions/{id}``."""
        return await self.call("GET", f"/transactions/{transaction_id}")

    async def transactions_since(self, transaction_id: int) -> dict[str, Any]:
        """``GET /transactions/sinceid?id=N``: every transaction after ``N``."""
        return await self.call("GET", "/transactions/sinceid", params={"id": str(transaction_id)})

    async def transaction_pages(self, *, since: str, kind: str | None = None) -> dict[str, Any]:
        """``GET /transactions?from=<RFC3339>[&type=...]``: page URLs (``idrange``) covering the period."""
        return await self.call(
            "GET", "/transactions", params={"from": since, "type": kind, "pageSize": "1000"}
        )

    async def transaction_range(self, first: int, last: int, *, kind: str | None = None) -> dict[str, Any]:
        """``GET /transactions/idrange?from=&to=[&type=]``."""
        return await self.call(
            "GET",
            "/transactions/idrange",
            params={"from": str(first), "to": str(last), "type": kind},
        )

    async def aclose(self) -> None:
        """Close the HTTP client; safe to call twice."""
        await self.client.aclose()
