"""A stateful Binance Spot venue on 127.0.0.1 (REST ``/api/v3`` and the WebSocket API user stream).

Payload shapes are protocols.md §1.3–1.5's documented ones (place FULL, query, cancel,
cancelReplace, amend keepPriority, myTrades, ``executionReport``), filled with this
venue's own orders; ``exchangeInfo`` and ``account`` are the adapter's recorded payloads,
handed in by its test. The rules that matter for in-flight requests are Binance's:

* every signed request is checked against **its** clock when it reaches the matching
  engine (after any hold): refused with ``-1021`` unless
  ``timestamp < serverTime + 1000`` and ``serverTime - timestamp <= recvWindow`` (§1.2);
* ``newClientOrderId`` must be unique among **open** orders only (``-2010`` "Duplicate
  order sent."): a filled market order does not stop a second one (§1.3);
* ``cancelReplace`` with ``STOP_ON_FAILURE`` places the new order only when the cancel
  succeeded (``-2022`` otherwise; ``-2021``/HTTP 409 when only the new order failed);
  ``cancelRestrictions=ONLY_NEW`` refuses to cancel a partially filled order;
* ``amend/keepPriority`` only lowers the quantity (``-2010``-family refusal otherwise).

Matching is deliberately simple: one price per symbol (:attr:`BinanceVenue.prices`); a
market order fills at it in full, a limit order that crosses it fills at it, any other
rests. Fees are 0.1 % of the quote amount, in the quote asset.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from autotrader_core.enums import OrderSide, OrderStatus

from autotrader_conformance.inflight.venue import LoopbackVenue, VenueClock, VenueFill, VenueOrder
from autotrader_conformance.inflight.wire import VenueReply, VenueRequest

__all__ = ["BinanceVenue"]

_STATUS = {
    OrderStatus.ACCEPTED: "NEW",
    OrderStatus.PARTIALLY_FILLED: "PARTIALLY_FILLED",
    OrderStatus.FILLED: "FILLED",
    OrderStatus.CANCELED: "CANCELED",
    OrderStatus.EXPIRED: "EXPIRED",
    OrderStatus.REJECTED: "REJECTED",
}
_FEE_RATE = Decimal("0.001")
_EIGHT = Decimal("0.00000001")


def _d(value: Decimal | None) -> str:
    return f"{(value or Decimal(0)).quantize(_EIGHT):f}"


def _error(status: int, code: int, msg: str, **extra: Any) -> VenueReply:
    return VenueReply(status, {"code": code, "msg": msg, **extra})


class BinanceVenue(LoopbackVenue):
    """Binance Spot, stateful, on loopback (see the module docs).

    Args:
        exchange_info: The recorded ``GET /api/v3/exchangeInfo`` payload (symbols and filters).
        account: The recorded ``GET /api/v3/account`` payload (balances are not tracked).
        prices: The market price per symbol.
        clock: The venue's clock.
    """

    name: ClassVar[str] = "binance"
    ws_path: ClassVar[str] = "/ws-api/v3"

    def __init__(
        self,
        *,
        exchange_info: Mapping[str, Any],
        account: Mapping[str, Any],
        prices: Mapping[str, Decimal],
        clock: VenueClock | None = None,
    ) -> None:
        super().__init__(clock=clock)
        self.exchange_info = dict(exchange_info)
        self.account = dict(account)
        self.prices = dict(prices)
        self._quote = {s["symbol"]: s["quoteAsset"] for s in self.exchange_info.get("symbols", [])}
        self._execution_ids = iter(range(9_000_001, 10**9))
        self.refusals: list[tuple[str, int]] = []
        """``(route, code)`` of every refusal, e.g. ``("POST /api/v3/order", -1021)``."""

    # -- the REST API ------------------------------------------------------------------
    def handle(self, request: VenueRequest) -> VenueReply:
        """Route one request (see the module docs for the rules)."""
        p = request.params
        route = request.route
        if route == "GET /api/v3/time":
            return VenueReply(200, {"serverTime": self.clock.now_ms()})
        if route == "GET /api/v3/exchangeInfo":
            return VenueReply(200, dict(self.exchange_info, serverTime=self.clock.now_ms()))
        if route == "GET /api/v3/ticker/bookTicker":
            price = self.prices.get(p.get("symbol", ""))
            if price is None:
                return _error(400, -1121, "Invalid symbol.")
            return VenueReply(
                200,
                {
                    "symbol": p["symbol"],
                    "bidPrice": _d(price),
                    "bidQty": "1.00000000",
                    "askPrice": _d(price),
                    "askQty": "1.00000000",
                },
            )
        if "signature" in p:
            refused = self._outside_recv_window(p)
            if refused is not None:
                self.refusals.append((route, -1021))
                return refused
        handler = _ROUTES.get(route)
        if handler is None:
            return _error(404, -1000, f"loopback venue: no route {route}")
        reply = handler(self, p)
        if reply.status >= 400 and isinstance(reply.body, dict):
            self.refusals.append((route, int(reply.body.get("code", 0))))
        return reply

    def _outside_recv_window(self, p: Mapping[str, str]) -> VenueReply | None:
        server = self.clock.now_ms()
        stamp = int(p.get("timestamp", "0"))
        window = int(p.get("recvWindow", "5000"))
        if stamp < server + 1000 and server - stamp <= window:
            return None
        return _error(400, -1021, "Timestamp for this request is outside of the recvWindow.")

    def _account(self, p: Mapping[str, str]) -> VenueReply:
        return VenueReply(200, dict(self.account, updateTime=self.clock.now_ms()))

    def _place(self, p: Mapping[str, str]) -> VenueReply:
        order_or_error = self._new(p, client_order_id=p.get("newClientOrderId", ""))
        if isinstance(order_or_error, VenueReply):
            return order_or_error
        order, fills = order_or_error
        return VenueReply(200, self._full(order, fills))

    def _new(
        self, p: Mapping[str, str], *, client_order_id: str
    ) -> tuple[VenueOrder, list[VenueFill]] | VenueReply:
        symbol = p.get("symbol", "")
        if symbol not in self.prices:
            return _error(400, -1121, "Invalid symbol.")
        if any(o.is_open and o.client_order_id == client_order_id for o in self.orders):
            return _error(400, -2010, "Duplicate order sent.")
        order = self.new_order(
            client_order_id=client_order_id,
            symbol=symbol,
            side=OrderSide.BUY if p.get("side") == "BUY" else OrderSide.SELL,
            order_type=p.get("type", "LIMIT"),
            quantity=Decimal(p["quantity"]),
            price=Decimal(p["price"]) if "price" in p else None,
            time_in_force=p.get("timeInForce", "GTC"),
        )
        self._report(order, "NEW")
        fills = self._match(order)
        return order, fills

    def _match(self, order: VenueOrder) -> list[VenueFill]:
        market = self.prices[order.symbol]
        crosses = order.price is None or (
            order.price >= market if order.side is OrderSide.BUY else order.price <= market
        )
        if not crosses:
            return []
        quantity = order.quantity - order.filled
        fee = (quantity * market * _FEE_RATE).quantize(_EIGHT)
        fill = self.add_fill(order, quantity, market, fee, self._quote.get(order.symbol, "USDT"))
        self._report(order, "TRADE", fill)
        return [fill]

    def _lookup(self, p: Mapping[str, str], prefix: str = "") -> VenueOrder | None:
        order_id = p.get(f"{prefix}OrderId" if prefix else "orderId")
        if order_id:
            found = self.find(order_id=int(order_id))
        else:
            cid = p.get(f"{prefix}OrigClientOrderId" if prefix else "origClientOrderId")
            found = self.find(client_order_id=cid) if cid else None
        return found if found is not None and found.symbol == p.get("symbol") else None

    def _query(self, p: Mapping[str, str]) -> VenueReply:
        order = self._lookup(p)
        if order is None:
            return _error(400, -2013, "Order does not exist.")
        return VenueReply(200, self._query_shape(order))

    def _open_orders(self, p: Mapping[str, str]) -> VenueReply:
        symbol = p.get("symbol")
        return VenueReply(
            200, [self._query_shape(o) for o in self.orders if o.is_open and symbol in (None, o.symbol)]
        )

    def _my_trades(self, p: Mapping[str, str]) -> VenueReply:
        start = int(p.get("startTime", "0"))
        from_id = int(p.get("fromId", "0"))
        rows = [
            {
                "symbol": f.symbol,
                "id": f.trade_id,
                "orderId": f.order_id,
                "orderListId": -1,
                "price": _d(f.price),
                "qty": _d(f.quantity),
                "quoteQty": _d(f.price * f.quantity),
                "commission": _d(f.fee),
                "commissionAsset": f.fee_asset,
                "time": f.time_ms,
                "isBuyer": f.side is OrderSide.BUY,
                "isMaker": False,
                "isBestMatch": True,
            }
            for f in self.fills
            if f.symbol == p.get("symbol") and f.time_ms >= start and int(f.trade_id) >= from_id
        ]
        return VenueReply(200, rows[: int(p.get("limit", "500"))])

    def _cancel(self, p: Mapping[str, str]) -> VenueReply:
        order = self._lookup(p)
        if order is None or not order.is_open:
            return _error(400, -2011, "Unknown order sent.")
        self._cancel_now(order)
        return VenueReply(200, self._cancel_shape(order, p.get("newClientOrderId")))

    def _cancel_now(self, order: VenueOrder) -> None:
        order.status = OrderStatus.CANCELED
        order.updated_ms = self.clock.now_ms()
        self._report(order, "CANCELED")

    def _cancel_replace(self, p: Mapping[str, str]) -> VenueReply:
        old = self._lookup(p, prefix="cancel")
        restriction = p.get("cancelRestrictions")
        if old is None or not old.is_open or (restriction == "ONLY_NEW" and old.filled > 0):
            reason = (
                "Unknown order sent."
                if old is None or not old.is_open
                else ("Order was not canceled due to cancel restrictions.")
            )
            data = {
                "cancelResult": "FAILURE",
                "newOrderResult": "NOT_ATTEMPTED",
                "cancelResponse": {"code": -2011, "msg": reason},
                "newOrderResponse": None,
            }
            return _error(400, -2022, "Order cancel-replace failed.", data=data)
        self._cancel_now(old)
        cancel = self._cancel_shape(old, p.get("cancelNewClientOrderId"))
        placed = self._new(p, client_order_id=p.get("newClientOrderId", old.client_order_id))
        if isinstance(placed, VenueReply):
            data = {
                "cancelResult": "SUCCESS",
                "newOrderResult": "FAILURE",
                "cancelResponse": cancel,
                "newOrderResponse": placed.body,
            }
            return _error(409, -2021, "Order cancel-replace partially failed.", data=data)
        order, fills = placed
        return VenueReply(
            200,
            {
                "cancelResult": "SUCCESS",
                "newOrderResult": "SUCCESS",
                "cancelResponse": cancel,
                "newOrderResponse": self._full(order, fills),
            },
        )

    def _amend(self, p: Mapping[str, str]) -> VenueReply:
        order = self._lookup(p)
        if order is None or not order.is_open:
            return _error(400, -2013, "Order does not exist.")
        quantity = Decimal(p["newQty"])
        if not quantity < order.quantity or quantity <= order.filled:
            return _error(400, -2038, "The requested action would change no state; rejecting.")
        original = order.client_order_id
        order.quantity = quantity
        order.updated_ms = self.clock.now_ms()
        order.client_order_id = p.get("newClientOrderId", original)
        self._report(order, "REPLACED", original=original)
        amended = {
            "symbol": order.symbol,
            "orderId": order.order_id,
            "orderListId": -1,
            "origClientOrderId": original,
            "clientOrderId": order.client_order_id,
            "price": _d(order.price),
            "qty": _d(order.quantity),
            "executedQty": _d(order.filled),
            "preventedQty": "0.00000000",
            "quoteOrderQty": "0.00000000",
            "cumulativeQuoteQty": _d(order.quote_filled),
            "status": _STATUS[order.status],
            "timeInForce": order.time_in_force,
            "type": order.order_type,
            "side": order.side.value.upper(),
            "workingTime": order.created_ms,
            "selfTradePreventionMode": "NONE",
        }
        return VenueReply(
            200,
            {
                "transactTime": order.updated_ms,
                "executionId": next(self._execution_ids),
                "amendedOrder": amended,
            },
        )

    # -- payload shapes (protocols.md §1.3) ----------------------------------------------
    def _terms(self, order: VenueOrder) -> dict[str, Any]:
        return {
            "symbol": order.symbol,
            "orderId": order.order_id,
            "orderListId": -1,
            "clientOrderId": order.client_order_id,
        }

    def _state(self, order: VenueOrder) -> dict[str, Any]:
        return {
            "price": _d(order.price),
            "origQty": _d(order.quantity),
            "executedQty": _d(order.filled),
            "origQuoteOrderQty": "0.000000",
            "cummulativeQuoteQty": _d(order.quote_filled),
            "status": _STATUS[order.status],
            "timeInForce": order.time_in_force,
            "type": order.order_type,
            "side": order.side.value.upper(),
        }

    def _full(self, order: VenueOrder, fills: list[VenueFill]) -> dict[str, Any]:
        return {
            **self._terms(order),
            "transactTime": order.updated_ms,
            **self._state(order),
            "workingTime": order.created_ms,
            "selfTradePreventionMode": "NONE",
            "fills": [
                {
                    "price": _d(f.price),
                    "qty": _d(f.quantity),
                    "commission": _d(f.fee),
                    "commissionAsset": f.fee_asset,
                    "tradeId": f.trade_id,
                }
                for f in fills
            ],
        }

    def _query_shape(self, order: VenueOrder) -> dict[str, Any]:
        return {
            **self._terms(order),
            **self._state(order),
            "stopPrice": "0.00000000",
            "icebergQty": "0.00000000",
            "time": order.created_ms,
            "updateTime": order.updated_ms,
            "isWorking": True,
            "workingTime": order.created_ms,
            "selfTradePreventionMode": "NONE",
        }

    def _cancel_shape(self, order: VenueOrder, cancel_id: str | None) -> dict[str, Any]:
        return {
            "symbol": order.symbol,
            "origClientOrderId": order.client_order_id,
            "orderId": order.order_id,
            "orderListId": -1,
            "clientOrderId": cancel_id or f"venuecancel{order.order_id}",
            "transactTime": order.updated_ms,
            **self._state(order),
            "selfTradePreventionMode": "NONE",
        }

    # -- the user data stream (protocols.md §1.5) ------------------------------------------
    def _report(
        self, order: VenueOrder, execution: str, fill: VenueFill | None = None, *, original: str = ""
    ) -> None:
        now = self.clock.now_ms()
        canceled = execution == "CANCELED"
        event = {
            "e": "executionReport",
            "E": now,
            "s": order.symbol,
            "c": f"venuecancel{order.order_id}" if canceled else order.client_order_id,
            "S": order.side.value.upper(),
            "o": order.order_type,
            "f": order.time_in_force,
            "q": _d(order.quantity),
            "p": _d(order.price),
            "P": "0.00000000",
            "F": "0.00000000",
            "g": -1,
            "C": order.client_order_id if canceled else original,
            "x": execution,
            "X": _STATUS[order.status],
            "r": "NONE",
            "i": order.order_id,
            "l": _d(fill.quantity if fill else None),
            "z": _d(order.filled),
            "L": _d(fill.price if fill else None),
            "n": _d(fill.fee) if fill else "0",
            "N": fill.fee_asset if fill else None,
            "T": now,
            "t": fill.trade_id if fill else -1,
            "I": next(self._execution_ids),
            "w": order.is_open,
            "m": False,
            "M": False,
            "O": order.created_ms,
            "Z": _d(order.quote_filled),
            "Y": _d(fill.price * fill.quantity if fill else None),
            "Q": "0.00000000",
            "W": order.created_ms,
            "V": "NONE",
        }
        self.emit(json.dumps({"subscriptionId": 0, "event": event}, separators=(",", ":")))

    async def stream_session(self, ws: Any) -> None:
        """The WebSocket API: ``session.logon`` / ``userDataStream.subscribe[.signature]``, then events."""
        async for raw in ws:
            frame = json.loads(raw)
            method = frame.get("method")
            if method == "session.logon":
                result: Any = {
                    "apiKey": "loopback",
                    "authorizedSince": self.clock.now_ms(),
                    "connectedSince": self.clock.now_ms(),
                    "returnRateLimits": False,
                    "serverTime": self.clock.now_ms(),
                }
            elif method in ("userDataStream.subscribe", "userDataStream.subscribe.signature"):
                result = {"subscriptionId": 0}
            else:
                await ws.send(
                    json.dumps(
                        {
                            "id": frame.get("id"),
                            "status": 400,
                            "error": {"code": -1000, "msg": f"loopback venue: no {method}"},
                        }
                    )
                )
                continue
            await ws.send(json.dumps({"id": frame.get("id"), "status": 200, "result": result}))
            if method != "session.logon":
                await self.pump(ws)
                return


_ROUTES = {
    "GET /api/v3/account": BinanceVenue._account,
    "POST /api/v3/order": BinanceVenue._place,
    "GET /api/v3/order": BinanceVenue._query,
    "DELETE /api/v3/order": BinanceVenue._cancel,
    "GET /api/v3/openOrders": BinanceVenue._open_orders,
    "GET /api/v3/myTrades": BinanceVenue._my_trades,
    "POST /api/v3/order/cancelReplace": BinanceVenue._cancel_replace,
    "PUT /api/v3/order/amend/keepPriority": BinanceVenue._amend,
}
