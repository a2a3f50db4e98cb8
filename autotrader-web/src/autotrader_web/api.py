"""The control plane's ASGI application: JSON API, live stream and the operator page.

Every ``/api`` request needs ``Authorization: Bearer <token>``; actions need a control
token. Refusals are JSON (``{"error": code, "message": text}``) with the matching
status — 401, 403, 404, 405, 409, 413, 422, 502 — never a stack trace.

=========================================  =====================================
``GET /api/status``                        engine status, trading state, kill report
``GET /api/orders?open=&symbol=&status=``  open (default) or recent orders, filtered
``GET /api/orders/{id}``                   one order
``GET /api/fills?symbol=&limit=``          fills, newest first
``GET /api/positions``                     positions and realized PnL
``GET /api/balances``                      balances
``GET /api/breakers``                      circuit-breaker states
``GET /api/dead-letters``                  the dead-letter queue
``GET /api/failure-rates``                 request failure rates
``GET /api/rate-limits``                   rate-limit waits by limiter
``GET /api/alerts``                        recent alerts and operator actions
``GET /api/unknown``                       orders whose submit/modify outcome is unknown
``GET /api/state``                         all of the above in one (what the page shows)
``GET /api/events``                        the same, pushed as server-sent events
``POST /api/actions/halt``                 ``{"reason": "..."}``
``POST /api/actions/reducing-only``        ``{"reason": "..."}``
``POST /api/actions/resume``               ``{}``
``POST /api/actions/cancel-all``           ``{"symbol": "BTCUSDT"}`` (symbol optional)
``POST /api/actions/flatten``              ``{"symbol": "BTCUSDT"}`` (symbol optional: all)
``POST /api/actions/kill``                 ``{"reason": "..."}``
``POST /api/orders/{id}/cancel``           ``{}``
``POST /api/orders/{id}/settle``           ``{"as": "rejected", "reason": "..."}`` (an unknown outcome)
=========================================  =====================================
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.resources import files
from typing import Any

import anyio
from autotrader_core.control import EngineControl
from autotrader_core.enums import OrderSide, OrderStatus
from autotrader_core.errors import (
    AutotraderError,
    BrokerError,
    CircuitOpen,
    IllegalTransition,
    InvalidOrder,
    TransientError,
)
from autotrader_core.resolver import SettleAs
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from autotrader_web import views
from autotrader_web.auth import Principal, TokenStore
from autotrader_web.encoding import dumps
from autotrader_web.hub import LiveHub
from autotrader_web.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from autotrader_web.seam import OrderOwners, TradingStateActions
from autotrader_web.settings import WebSettings

__all__ = ["ApiError", "create_app"]

logger = logging.getLogger(__name__)

_SYMBOL = r"^[A-Za-z0-9][A-Za-z0-9_./:-]{0,39}$"
_MAX_LIMIT = 1000
_COALESCE_SECONDS = 0.05
"""After pushing a snapshot, wait this long so a burst of hook calls becomes one update."""


class ApiError(Exception):
    """A refusal, turned into ``{"error": code, "message": message}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class _ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=200)


class _EmptyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _SymbolBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    symbol: str | None = Field(default=None, pattern=_SYMBOL)


class _SettleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    as_: SettleAs = Field(alias="as")
    reason: str = Field(default="", max_length=200)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(data), status_code=status, media_type="application/json", headers=headers)


def _error(status: int, code: str, message: str) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="autotrader"'} if status == 401 else None
    return _json({"error": code, "message": message}, status, headers)


class _Api:
    """Route handlers bound to one engine's control seam."""

    def __init__(
        self,
        control: EngineControl,
        hub: LiveHub,
        tokens: TokenStore,
        settings: WebSettings,
        actions: TradingStateActions,
        owners: OrderOwners | None,
    ) -> None:
        self.control = control
        self.hub = hub
        self.tokens = tokens
        self.settings = settings
        self.actions = actions
        self.owners = owners

    # -- helpers --------------------------------------------------------------------------
    def principal(self, request: Request, *, control: bool = False) -> Principal:
        found = self.tokens.authenticate(request.headers.get("authorization"))
        if found is None:
            raise ApiError(
                401, "unauthorized", "a valid bearer token is required (Authorization: Bearer <token>)"
            )
        if control and not found.can_control:
            raise ApiError(
                403, "forbidden", f"token {found.name!r} is read-only; actions need a control token"
            )
        return found

    @staticmethod
    async def body(request: Request, model: type[BaseModel]) -> Any:
        raw = await request.body()
        data: Any = {}
        if raw.strip():
            try:
                data = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                raise ApiError(422, "malformed_json", "the request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ApiError(422, "invalid_body", "the request body must be a JSON object")
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
            )
            raise ApiError(422, "invalid_body", problems) from None

    @staticmethod
    def query_limit(request: Request, default: int = 100) -> int:
        text = request.query_params.get("limit")
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            raise ApiError(422, "invalid_query", f"limit must be an integer, got {text!r}") from None
        if not 1 <= value <= _MAX_LIMIT:
            raise ApiError(422, "invalid_query", f"limit must be between 1 and {_MAX_LIMIT}")
        return value

    @staticmethod
    def query_symbol(request: Request) -> str | None:
        symbol = request.query_params.get("symbol") or None
        if symbol is not None and len(symbol) > 40:
            raise ApiError(422, "invalid_query", "symbol is longer than 40 characters")
        return symbol

    def known_order(self, request: Request) -> str:
        order_id: str = request.path_params["order_id"]
        if self.control.order(order_id) is None:
            raise ApiError(404, "unknown_order", f"no order with client order id {order_id!r}")
        return order_id

    def acted(self, principal: Principal, action: str, **result: Any) -> Response:
        return _json(
            {
                "ok": True,
                "action": action,
                "actor": principal.actor,
                "trading_state": self.control.trading_state.value,
                **result,
            }
        )

    # -- reads ----------------------------------------------------------------------------
    async def status(self, request: Request) -> Response:
        self.principal(request)
        return _json(views.status_view(self.control))

    async def orders(self, request: Request) -> Response:
        self.principal(request)
        params = request.query_params
        open_text = params.get("open", "true").lower()
        if open_text not in ("true", "false", "1", "0"):
            raise ApiError(422, "invalid_query", "open must be true or false")
        statuses: list[OrderStatus] = []
        for text in filter(None, (params.get("status") or "").split(",")):
            try:
                statuses.append(OrderStatus(text.strip()))
            except ValueError:
                known = ", ".join(s.value for s in OrderStatus)
                raise ApiError(422, "invalid_query", f"unknown status {text!r} (one of {known})") from None
        side: OrderSide | None = None
        if params.get("side"):
            try:
                side = OrderSide(params["side"])
            except ValueError:
                raise ApiError(422, "invalid_query", "side must be buy or sell") from None
        orders = views.orders_view(
            self.control,
            open_only=open_text in ("true", "1"),
            symbol=self.query_symbol(request),
            statuses=statuses,
            side=side,
            limit=self.query_limit(request),
            owners=self.owners,
        )
        return _json({"orders": orders})

    async def order(self, request: Request) -> Response:
        self.principal(request)
        order = self.control.order(self.known_order(request))
        assert order is not None
        return _json(views.order_view(order, self.owners))

    async def fills(self, request: Request) -> Response:
        self.principal(request)
        fills = views.fills_view(
            self.control, symbol=self.query_symbol(request), limit=self.query_limit(request)
        )
        return _json({"fills": fills})

    async def positions(self, request: Request) -> Response:
        self.principal(request)
        return _json(views.positions_view(self.control))

    async def balances(self, request: Request) -> Response:
        self.principal(request)
        return _json({"balances": views.balances_view(self.control)})

    async def breakers(self, request: Request) -> Response:
        self.principal(request)
        return _json(views.breakers_view(self.control, self.hub))

    async def dead_letters(self, request: Request) -> Response:
        self.principal(request)
        return _json({"dead_letters": views.dead_letters_view(self.control)})

    async def reconciliation(self, request: Request) -> Response:
        self.principal(request)
        return _json({"reconciliation": views.reconciliation_view(self.control)})

    async def quotes(self, request: Request) -> Response:
        self.principal(request)
        return _json({"quotes": views.quotes_view(self.control)})

    async def failure_rates(self, request: Request) -> Response:
        self.principal(request)
        return _json({"failure_rates": views.failure_rates_view(self.control)})

    async def rate_limits(self, request: Request) -> Response:
        self.principal(request)
        return _json({"rate_limits": views.rate_limits_view(self.hub)})

    async def unknown(self, request: Request) -> Response:
        self.principal(request)
        return _json({"unknown_outcomes": views.unknown_view(self.control, self.owners)})

    async def alerts(self, request: Request) -> Response:
        self.principal(request)
        return _json({"alerts": views.alerts_view(self.hub, self.query_limit(request, 50))})

    async def state(self, request: Request) -> Response:
        principal = self.principal(request)
        return _json(views.state_view(self.control, self.hub, principal, self.owners))

    async def events(self, request: Request) -> Response:
        principal = self.principal(request)
        return StreamingResponse(
            self._stream(principal),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def _stream(self, principal: Principal) -> AsyncIterator[bytes]:
        # One full snapshot per change (coalesced), a comment line when idle: the page
        # never polls, and a proxy sees traffic on an idle stream.
        hub = self.hub
        yield b"retry: 2000\n\n"
        seen = -1
        while not hub.closed:
            if hub.version != seen:
                seen = hub.version
                payload = dumps(views.state_view(self.control, hub, principal, self.owners))
                yield b"event: state\ndata: " + payload + b"\n\n"
                await anyio.sleep(_COALESCE_SECONDS)
                continue
            if await hub.wait_change(seen, self.settings.heartbeat_seconds) == seen:
                yield b": keep-alive\n\n"

    # -- actions --------------------------------------------------------------------------
    async def halt(self, request: Request) -> Response:
        principal = self.principal(request, control=True)
        body: _ReasonBody = await self.body(request, _ReasonBody)
        await self.actions.halt(actor=principal.actor, reason=body.reason)
        return self.acted(principal, "halt")

    async def reducing_only(self, request: Request) -> Response:
        principal = self.principal(request, control=True)
        body: _ReasonBody = await self.body(request, _ReasonBody)
        await self.actions.reducing_only(actor=principal.actor, reason=body.reason)
        return self.acted(principal, "reducing_only")

    async def resume(self, request: Request) -> Response:
        principal = self.principal(request, control=True)
        await self.body(request, _EmptyBody)
        try:
            await self.actions.resume(actor=principal.actor)
        except InvalidOrder as exc:
            raise ApiError(409, "conflict", str(exc)) from None
        return self.acted(principal, "resume")

    async def cancel(self, request: Request) -> Response:
        principal = self.principal(request, control=True)
        await self.body(request, _EmptyBody)
        order_id = self.known_order(request)
        try:
            order = await self.control.cancel(order_id, actor=principal.actor)
        except IllegalTransition as exc:
            raise ApiError(409, "order_not_open", f"order {order_id!r} cannot be canceled: {exc}") from None
        return self.acted(principal, "cancel", order=views.order_view(order, self.owners))

    async def cancel_all(self, request: Request) -> Response:
        principal = self.principal(request, control=True)
        body: _SymbolBody = await self.body(request, _SymbolBody)
        result = await self.control.cancel_all(actor=principal.actor, symbol=body.symbol)
        return self.acted(principal, "cancel_all", requested=result.requested, failures=result.failures)

    async def flatten(self, request: Request) -> Response:
        principal = self.principal(request, control=True)
        body: _SymbolBody = await self.body(request, _SymbolBody)
        orders = await self.control.flatten(actor=principal.actor, symbol=body.symbol)
        return self.acted(principal, "flatten", orders=[views.order_view(o, self.owners) for o in orders])

    async def kill(self, request: Request) -> Response:
        principal = self.principal(request, control=True)
        body: _ReasonBody = await self.body(request, _ReasonBody)
        report = await self.actions.kill(actor=principal.actor, reason=body.reason or "operator")
        return self.acted(principal, "kill", kill_report=report)

    async def settle(self, request: Request) -> Response:
        principal = self.principal(request, control=True)
        body: _SettleBody = await self.body(request, _SettleBody)
        order_id = self.known_order(request)
        if not self.control.is_outcome_unknown(order_id):
            raise ApiError(
                409,
                "outcome_not_unknown",
                f"the outcome of order {order_id!r} is not unknown: nothing to settle",
            )
        if body.as_ is not SettleAs.LOOK_UP and not body.reason.strip():
            raise ApiError(
                422, "reason_required", "say what the broker shows for this order in 'reason' (it is audited)"
            )
        order = await self.control.settle_unknown(
            order_id, as_=body.as_, by=principal.actor, reason=body.reason.strip()
        )
        still_unknown = self.control.is_outcome_unknown(order_id)
        return self.acted(
            principal,
            "settle_unknown",
            settled_as=body.as_.value,
            still_unknown=still_unknown,
            order=views.order_view(order, self.owners),
        )


def _page() -> Callable[[Request], Awaitable[Response]]:
    html = (files("autotrader_web") / "static" / "index.html").read_text(encoding="utf-8")

    async def page(request: Request) -> Response:
        return HTMLResponse(html)

    return page


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _error(exc.status, exc.code, exc.message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    return _error(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))


async def _engine_error(request: Request, exc: Exception) -> Response:
    # The broker or the engine refused or failed: say so, as the core's typed error says it.
    if isinstance(exc, BrokerError | TransientError | CircuitOpen):
        return _error(502, "broker_error", f"{type(exc).__name__}: {exc}")
    if isinstance(exc, InvalidOrder):
        return _error(409, "refused", f"{type(exc).__name__}: {exc}")
    return _error(409, "engine_error", f"{type(exc).__name__}: {exc}")


async def _internal_error(request: Request, exc: Exception) -> Response:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _error(500, "internal_error", "the server failed to handle this request (see its log)")


def create_app(
    control: EngineControl,
    settings: WebSettings | None = None,
    *,
    hub: LiveHub | None = None,
    tokens: TokenStore | None = None,
    actions: TradingStateActions | None = None,
    owners: OrderOwners | None = None,
) -> Starlette:
    """The ASGI application serving the API and the page for one engine.

    Args:
        control: The engine's control seam (``engine.control``).
        settings: Limits and tokens; ``WebSettings()`` (the environment) by default.
        hub: The live hub registered as a plugin on the engine (page updates and alerts).
            Without one, the page only updates on its reconnects.
        tokens: The accepted tokens; from ``settings`` by default.
        actions: Performs halt, reducing-only, resume and kill; ``control`` by default.
            A gateway passes one that reaches every process of the account.
        owners: Names each order's strategy (a gateway serving many strategies); orders
            then carry a ``strategy`` field.
    """
    settings = settings if settings is not None else WebSettings()
    api = _Api(
        control,
        hub if hub is not None else LiveHub(),
        tokens or TokenStore.from_settings(settings),
        settings,
        actions if actions is not None else control,
        owners,
    )
    routes = [
        Route("/", _page(), methods=["GET"]),
        Route("/api/status", api.status, methods=["GET"]),
        Route("/api/orders", api.orders, methods=["GET"]),
        Route("/api/orders/{order_id:str}", api.order, methods=["GET"]),
        Route("/api/orders/{order_id:str}/cancel", api.cancel, methods=["POST"]),
        Route("/api/orders/{order_id:str}/settle", api.settle, methods=["POST"]),
        Route("/api/unknown", api.unknown, methods=["GET"]),
        Route("/api/fills", api.fills, methods=["GET"]),
        Route("/api/positions", api.positions, methods=["GET"]),
        Route("/api/balances", api.balances, methods=["GET"]),
        Route("/api/breakers", api.breakers, methods=["GET"]),
        Route("/api/dead-letters", api.dead_letters, methods=["GET"]),
        Route("/api/failure-rates", api.failure_rates, methods=["GET"]),
        Route("/api/reconciliation", api.reconciliation, methods=["GET"]),
        Route("/api/quotes", api.quotes, methods=["GET"]),
        Route("/api/rate-limits", api.rate_limits, methods=["GET"]),
        Route("/api/alerts", api.alerts, methods=["GET"]),
        Route("/api/state", api.state, methods=["GET"]),
        Route("/api/events", api.events, methods=["GET"]),
        Route("/api/actions/halt", api.halt, methods=["POST"]),
        Route("/api/actions/reducing-only", api.reducing_only, methods=["POST"]),
        Route("/api/actions/resume", api.resume, methods=["POST"]),
        Route("/api/actions/cancel-all", api.cancel_all, methods=["POST"]),
        Route("/api/actions/flatten", api.flatten, methods=["POST"]),
        Route("/api/actions/kill", api.kill, methods=["POST"]),
        Mount("/static", StaticFiles(packages=[("autotrader_web", "static")]), name="static"),
    ]
    return Starlette(
        debug=False,
        routes=routes,
        middleware=[
            Middleware(SecurityHeadersMiddleware),
            Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
        ],
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            AutotraderError: _engine_error,
            Exception: _internal_error,
        },
    )
