"""A stateful Coinbase Advanced Trade venue on 127.0.0.1 (REST ``/api/v3/brokerage`` and the ``user`` channel).

Payload shapes are protocols.md §3.3–3.5's documented ones (create order, historical
order, orders batch, fills, batch_cancel, edit; the ``user`` channel's envelope and order
object); ``products`` and ``accounts`` are the adapter's recorded payloads, handed in by
its test. The rule that matters for in-flight requests is Coinbase's idempotency key:

* a create with a ``client_order_id`` the venue already holds returns **that** order
  (``success: true``, same ``order_id``), whatever its state; it never makes a second one;
* Coinbase has no request expiry: a held request executes whenever it lands.

Matching: one price per product (:attr:`CoinbaseVenue.prices`); a market order fills at
it, a crossing limit order fills at it, any other rests. Fees: 0.1 % of the quote amount.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from autotrader_core.enums import OrderSide, OrderStatus

from autotrader_conformance.inflight.venue import LoopbackVenue, VenueClock, VenueFill, VenueOrder
from autotrader_conformance.inflight.wire import VenueReply, VenueRequest

__all__ = ["CoinbaseVenue"]

_PREFIX = "/api/v3/brokerage"
_STATUS = {
    OrderStatus.ACCEPTED: "OPEN",
    OrderStatus.PARTIALLY_FILLED: "OPEN",
    OrderStatus.FILLED: "FILLED",
    OrderStatus.CANCELED: "CANCELLED",
    OrderStatus.EXPIRED: "EXPIRED",
    OrderStatus.REJECTED: "FAILED",
}
_FEE_RATE = Decimal("0.001")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def _s(value: Decimal | None) -> str:
    return "" if value is None else f"{value.normalize():f}"


class CoinbaseVenue(LoopbackVenue):
    """Coinbase Advanced Trade, stateful, on loopback (see the module docs).

    Args:
        products: The recorded ``GET /products`` item(s) (increments, sizes).
        accounts: The recorded ``GET /accounts`` payload (balances are not tracked).
        prices: The market price per product id.
        clock: The venue's clock.
    """

    name: ClassVar[str] = "coinbase"
    ws_path: ClassVar[str] = "/ws/user"

    def __init__(
        self,
        *,
        products: list[Mapping[str, Any]],
        accounts: Mapping[str, Any],
        prices: Mapping[str, Decimal],
        clock: VenueClock | None = None,
    ) -> None:
        super().__init__(clock=clock)
        self.products = [dict(p) for p in products]
        self.accounts = dict(accounts, has_next=False, cursor="")
        self.prices = dict(prices)

    # -- the REST API ------------------------------------------------------------------
    def handle(self, request: VenueRequest) -> VenueReply:
        """Route one request (see the module docs for the rules)."""
        path = request.path.removeprefix(_PREFIX)
        method = request.method
        if method == "GET" and path == "/time":
            now = self.clock.now_ms()
            return VenueReply(
                200, {"iso": _iso(now), "epochSeconds": str(now // 1000), "epochMillis": str(now)}
            )
        if method == "GET" and path == "/products":
            return VenueReply(200, {"products": self.products, "num_products": len(self.products)})
        if method == "GET" and path == "/accounts":
            return VenueReply(200, self.accounts)
        if method == "POST" and path == "/orders":
            return self._create(request.json())
        if method == "POST" and path == "/orders/batch_cancel":
            return self._batch_cancel(request.json())
        if method == "POST" and path == "/orders/edit":
            return self._edit(request.json())
        if method == "GET" and path == "/orders/historical/batch":
            return self._orders_page(request)
        if method == "GET" and path == "/orders/historical/fills":
            return self._fills_page(request)
        if method == "GET" and path.startswith("/orders/historical/"):
            order = self._by_id(path.rsplit("/", 1)[1])
            if order is None:
                return VenueReply(
                    404,
                    {"error": "NOT_FOUND", "error_details": "order not found", "message": "order not found"},
                )
            return VenueReply(200, {"order": self._order_shape(order)})
        return VenueReply(404, {"error": "NOT_FOUND", "message": f"loopback venue: no route {method} {path}"})

    def _by_id(self, order_id: str) -> VenueOrder | None:
        return next((o for o in self.orders if str(o.order_id) == order_id), None)

    def _create(self, body: Mapping[str, Any]) -> VenueReply:
        cid = str(body.get("client_order_id", ""))
        product = str(body.get("product_id", ""))
        existing = self.find(client_order_id=cid) if cid else None
        if existing is not None:  # the idempotency key: the existing order, never a second one
            return VenueReply(200, self._created(existing))
        if product not in self.prices:
            return VenueReply(
                200,
                {
                    "success": False,
                    "failure_reason": "UNKNOWN_FAILURE_REASON",
                    "order_id": "",
                    "error_response": {"error": "INVALID_PRODUCT_ID"},
                },
            )
        config = body.get("order_configuration", {})
        kind, terms = next(iter(config.items()))
        order = self.new_order(
            client_order_id=cid,
            symbol=product,
            side=OrderSide.BUY if body.get("side") == "BUY" else OrderSide.SELL,
            order_type="MARKET" if kind.startswith("market") else "LIMIT",
            quantity=Decimal(terms["base_size"]),
            price=Decimal(terms["limit_price"]) if "limit_price" in terms else None,
            time_in_force="GOOD_UNTIL_CANCELLED" if kind.endswith("gtc") else "IMMEDIATE_OR_CANCEL",
        )
        order.order_id = str(uuid.UUID(int=int(order.order_id)))  # Coinbase ids are UUIDs
        order.extra["configuration"] = config
        self._update(order)
        self._match(order)
        return VenueReply(200, self._created(order))

    def _created(self, order: VenueOrder) -> dict[str, Any]:
        return {
            "success": True,
            "failure_reason": "UNKNOWN_FAILURE_REASON",
            "order_id": order.order_id,
            "success_response": {
                "order_id": order.order_id,
                "product_id": order.symbol,
                "side": order.side.value.upper(),
                "client_order_id": order.client_order_id,
            },
            "order_configuration": order.extra.get("configuration", {}),
        }

    def _match(self, order: VenueOrder) -> None:
        market = self.prices[order.symbol]
        crosses = order.price is None or (
            order.price >= market if order.side is OrderSide.BUY else order.price <= market
        )
        if crosses:
            quantity = order.quantity - order.filled
            self.add_fill(
                order, quantity, market, (quantity * market * _FEE_RATE), order.symbol.split("-")[-1]
            )
            self._update(order)
        elif order.order_type == "MARKET":
            order.status = OrderStatus.CANCELED
            self._update(order)

    def _batch_cancel(self, body: Mapping[str, Any]) -> VenueReply:
        results = []
        for order_id in body.get("order_ids", []):
            order = self._by_id(str(order_id))
            if order is None or not order.is_open:
                results.append(
                    {"success": False, "failure_reason": "UNKNOWN_CANCEL_ORDER", "order_id": order_id}
                )
                continue
            order.status = OrderStatus.CANCELED
            order.updated_ms = self.clock.now_ms()
            self._update(order)
            results.append(
                {"success": True, "failure_reason": "UNKNOWN_CANCEL_FAILURE_REASON", "order_id": order_id}
            )
        return VenueReply(200, {"results": results})

    def _edit(self, body: Mapping[str, Any]) -> VenueReply:
        order = self._by_id(str(body.get("order_id", "")))
        if order is None or not order.is_open:
            return VenueReply(200, {"success": False, "errors": [{"edit_failure_reason": "ORDER_NOT_FOUND"}]})
        if "size" in body:
            size = Decimal(str(body["size"]))
            if size <= order.filled:
                return VenueReply(
                    200,
                    {
                        "success": False,
                        "errors": [{"edit_failure_reason": "CANNOT_EDIT_TO_BELOW_FILLED_SIZE"}],
                    },
                )
            order.quantity = size
        if "price" in body:
            order.price = Decimal(str(body["price"]))
        order.updated_ms = self.clock.now_ms()
        self._update(order)
        self._match(order)
        return VenueReply(200, {"success": True, "errors": []})

    def _orders_page(self, request: VenueRequest) -> VenueReply:
        query = _multi(request)
        ids = set(query.get("order_ids", []))
        products = set(query.get("product_ids", []))
        open_only = "OPEN" in query.get("order_status", [])
        orders = [
            self._order_shape(o)
            for o in reversed(self.orders)
            if (not ids or str(o.order_id) in ids)
            and (not products or o.symbol in products)
            and (not open_only or o.is_open)
        ]
        return VenueReply(200, {"orders": orders, "sequence": "0", "has_next": False, "cursor": ""})

    def _fills_page(self, request: VenueRequest) -> VenueReply:
        query = _multi(request)
        ids = set(query.get("order_ids", []))
        products = set(query.get("product_ids", []))
        fills = [
            self._fill_shape(f)
            for f in self.fills
            if (not ids or str(f.order_id) in ids) and (not products or f.symbol in products)
        ]
        return VenueReply(200, {"fills": fills, "cursor": ""})

    # -- payload shapes (protocols.md §3.3) -------------------------------------------------
    def _order_shape(self, order: VenueOrder) -> dict[str, Any]:
        average = order.quote_filled / order.filled if order.filled else Decimal(0)
        fees = sum((f.fee for f in self.fills if f.order_id == order.order_id), Decimal(0))
        return {
            "order_id": order.order_id,
            "product_id": order.symbol,
            "user_id": "loopback-user",
            "order_configuration": order.extra.get("configuration", {}),
            "side": order.side.value.upper(),
            "client_order_id": order.client_order_id,
            "status": _STATUS[order.status],
            "time_in_force": order.time_in_force,
            "created_time": _iso(order.created_ms),
            "completion_percentage": _s(order.filled / order.quantity * 100),
            "filled_size": _s(order.filled),
            "average_filled_price": _s(average),
            "fee": "0",
            "number_of_fills": str(sum(1 for f in self.fills if f.order_id == order.order_id)),
            "filled_value": _s(order.quote_filled),
            "pending_cancel": False,
            "size_in_quote": False,
            "total_fees": _s(fees),
            "size_inclusive_of_fees": False,
            "total_value_after_fees": _s(order.quote_filled + fees),
            "trigger_status": "INVALID_ORDER_TYPE",
            "order_type": order.order_type,
            "reject_reason": "REJECT_REASON_UNSPECIFIED",
            "settled": not order.is_open,
            "product_type": "SPOT",
            "reject_message": "",
            "cancel_message": "",
            "order_placement_source": "RETAIL_ADVANCED",
            "outstanding_hold_amount": "0",
            "is_liquidation": False,
            "last_fill_time": _iso(order.updated_ms) if order.filled else None,
        }

    def _fill_shape(self, fill: VenueFill) -> dict[str, Any]:
        return {
            "entry_id": f"entry-{fill.trade_id}",
            "trade_id": str(fill.trade_id),
            "order_id": fill.order_id,
            "trade_time": _iso(fill.time_ms),
            "trade_type": "FILL",
            "price": _s(fill.price),
            "size": _s(fill.quantity),
            "commission": _s(fill.fee),
            "product_id": fill.symbol,
            "sequence_timestamp": _iso(fill.time_ms),
            "liquidity_indicator": "TAKER",
            "size_in_quote": False,
            "user_id": "loopback-user",
            "side": fill.side.value.upper(),
            "retail_portfolio_id": "loopback-portfolio",
        }

    # -- the user channel (protocols.md §3.5) -------------------------------------------------
    def _user_order(self, order: VenueOrder) -> dict[str, Any]:
        average = order.quote_filled / order.filled if order.filled else Decimal(0)
        fees = sum((f.fee for f in self.fills if f.order_id == order.order_id), Decimal(0))
        return {
            "avg_price": _s(average),
            "cancel_reason": "",
            "client_order_id": order.client_order_id,
            "completion_percentage": _s(order.filled / order.quantity * 100),
            "contract_expiry_type": "UNKNOWN_CONTRACT_EXPIRY_TYPE",
            "cumulative_quantity": _s(order.filled),
            "filled_value": _s(order.quote_filled),
            "leaves_quantity": _s(order.quantity - order.filled if order.is_open else Decimal(0)),
            "limit_price": _s(order.price),
            "number_of_fills": str(sum(1 for f in self.fills if f.order_id == order.order_id)),
            "order_id": order.order_id,
            "order_side": order.side.value.upper(),
            "order_type": order.order_type.capitalize(),
            "outstanding_hold_amount": "0",
            "post_only": "false",
            "product_id": order.symbol,
            "product_type": "SPOT",
            "reject_reason": "",
            "retail_portfolio_id": "loopback-portfolio",
            "risk_managed_by": "UNKNOWN_RISK_MANAGEMENT_TYPE",
            "status": _STATUS[order.status],
            "stop_price": "",
            "time_in_force": order.time_in_force,
            "total_fees": _s(fees),
            "total_value_after_fees": _s(order.quote_filled + fees),
            "trigger_status": "INVALID_ORDER_TYPE",
            "creation_time": _iso(order.created_ms),
            "end_time": "0001-01-01T00:00:00Z",
            "start_time": "0001-01-01T00:00:00Z",
        }

    def _message(self, event_type: str, orders: list[dict[str, Any]]) -> str:
        return json.dumps(
            {
                "channel": "user",
                "client_id": "",
                "timestamp": _iso(self.clock.now_ms()),
                "sequence_num": 0,  # numbered per connection by the pump
                "events": [{"type": event_type, "orders": orders}],
            }
        )

    def _update(self, order: VenueOrder) -> None:
        self.emit(self._message("update", [self._user_order(order)]))

    async def stream_session(self, ws: Any) -> None:
        """Two subscribes (``user``, ``heartbeats``), the subscriptions answer, a snapshot, then updates."""
        channels: set[str] = set()
        while channels != {"user", "heartbeats"}:
            frame = json.loads(await ws.recv())
            if frame.get("type") == "subscribe":
                channels.add(str(frame.get("channel")))
        numbers = itertools.count()
        await ws.send(
            json.dumps(
                {
                    "channel": "subscriptions",
                    "client_id": "",
                    "timestamp": _iso(self.clock.now_ms()),
                    "sequence_num": next(numbers),
                    "events": [{"subscriptions": {"user": list(self.prices), "heartbeats": ["heartbeats"]}}],
                }
            )
        )
        snapshot = json.loads(
            self._message("snapshot", [self._user_order(o) for o in self.orders if o.is_open])
        )
        snapshot["sequence_num"] = next(numbers)
        snapshot["events"][0]["positions"] = {
            "perpetual_futures_positions": [],
            "expiring_futures_positions": [],
        }
        await ws.send(json.dumps(snapshot))

        def numbered(frame: str) -> str:
            message = json.loads(frame)
            message["sequence_num"] = next(numbers)
            return json.dumps(message)

        await self.pump(ws, numbered)


def _multi(request: VenueRequest) -> dict[str, list[str]]:
    """Repeated query parameters (``order_ids=a&order_ids=b``), which ``params`` keeps only once."""
    values: dict[str, list[str]] = {}
    for name, value in request.query:
        values.setdefault(name, []).append(value)
    return values
