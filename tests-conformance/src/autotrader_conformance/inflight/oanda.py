"""A stateful OANDA v20 venue on 127.0.0.1 (REST ``/v3/accounts/{id}`` and the transaction stream).

Payload shapes are protocols.md §4.3–4.5's recorded ones and the adapter's recordings
(create, get, pendingOrders, cancel, replace, ORDER_FILL, sinceid, heartbeat);
``summary`` and ``instruments`` are the adapter's recorded payloads, handed in by its test.
The rules that matter for in-flight requests are OANDA's:

* every change is a transaction with the next id; an order's id is the id of the
  transaction that created it; the stream sends each transaction as one JSON line and a
  ``HEARTBEAT`` with ``lastTransactionID`` when idle (a gap the client can see);
* ``clientExtensions.id`` is unique among **pending** orders only (a second create with
  a pending one's id is rejected ``CLIENT_ORDER_ID_ALREADY_EXISTS``); ``@<id>`` finds the
  pending order with it, else the latest order that had it;
* a replace (``PUT /orders/{specifier}``) cancels the order (``CLIENT_REQUEST_REPLACED``)
  and creates a new one with a **new id**, the client id carried over;
* a request has no expiry: a held request executes whenever it lands (the adapter's
  re-send guarantee is none).

Matching: one price per instrument (:attr:`OandaVenue.prices`); a market order fills at
it (FOK: all), a crossing limit order fills at it, any other rests. No commission.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from autotrader_core.enums import OrderSide, OrderStatus

from autotrader_conformance.inflight.venue import LoopbackVenue, VenueClock, VenueOrder
from autotrader_conformance.inflight.wire import VenueReply, VenueRequest

__all__ = ["OANDA_ACCOUNT", "OandaVenue"]

OANDA_ACCOUNT = "101-004-1435156-001"
"""The recorded practice account the venue serves (its recordings use it)."""
_PREFIX = f"/v3/accounts/{OANDA_ACCOUNT}"
_USER = 1435156
_STATE = {
    OrderStatus.ACCEPTED: "PENDING",
    OrderStatus.PARTIALLY_FILLED: "PENDING",
    OrderStatus.FILLED: "FILLED",
    OrderStatus.CANCELED: "CANCELLED",
}


def _time(ms: int) -> str:
    """OANDA's RFC 3339 time with nanoseconds."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{(ms % 1000) * 1_000_000:09d}Z"


def _units(order: VenueOrder, quantity: Decimal | None = None) -> str:
    amount = order.quantity if quantity is None else quantity
    signed = amount if order.side is OrderSide.BUY else -amount
    return f"{signed.normalize():f}"


class OandaVenue(LoopbackVenue):
    """OANDA v20, one practice account, stateful, on loopback (see the module docs).

    Args:
        summary: The recorded ``GET /summary`` payload (its ``lastTransactionID`` is where ids start).
        instruments: The recorded ``GET /instruments`` payload.
        prices: The market price per instrument.
        clock: The venue's clock.
    """

    name: ClassVar[str] = "oanda"
    line_stream_path: ClassVar[str] = f"{_PREFIX}/transactions/stream"
    heartbeat_interval: ClassVar[float] = 1.0

    def __init__(
        self,
        *,
        summary: Mapping[str, Any],
        instruments: Mapping[str, Any],
        prices: Mapping[str, Decimal],
        clock: VenueClock | None = None,
    ) -> None:
        super().__init__(clock=clock)
        self.summary = json.loads(json.dumps(summary))
        self.instruments = dict(instruments)
        self.prices = dict(prices)
        self.transactions: list[dict[str, Any]] = []
        self.last_id = int(self.summary["lastTransactionID"])

    # -- routes --------------------------------------------------------------------------
    def fault_route(self, request: VenueRequest) -> str:
        """``@<client id>`` and order ids in a path fold into ``{order}`` (one route per operation)."""
        parts = request.path.split("/")
        if len(parts) > 5 and parts[4] == "orders":
            parts[5] = "{order}"
        return f"{request.method} {'/'.join(parts)}"

    def heartbeat_line(self) -> str:
        """OANDA's heartbeat: the last transaction id (a client that missed one sees the gap)."""
        beat = {
            "type": "HEARTBEAT",
            "lastTransactionID": str(self.last_id),
            "time": _time(self.clock.now_ms()),
        }
        return json.dumps(beat, separators=(",", ":"))

    def handle(self, request: VenueRequest) -> VenueReply:
        """Route one request (see the module docs for the rules)."""
        if not request.path.startswith(_PREFIX):
            return self._error(404, "NO_SUCH_ACCOUNT", "The Account specified does not exist")
        path = request.path.removeprefix(_PREFIX)
        method = request.method
        p = request.params
        if (method, path) == ("GET", "/summary"):
            account = dict(self.summary["account"], lastTransactionID=str(self.last_id))
            return self._ok({"account": account})
        if (method, path) == ("GET", "/instruments"):
            return VenueReply(200, self.instruments)
        if (method, path) == ("GET", "/openPositions"):
            return self._ok({"positions": self._positions()})
        if (method, path) == ("POST", "/orders"):
            return self._create((request.json() or {}).get("order") or {})
        if (method, path) == ("GET", "/pendingOrders"):
            return self._ok({"orders": [self._order_shape(o) for o in reversed(self.orders) if o.is_open]})
        if path.startswith("/orders/"):
            rest = path.removeprefix("/orders/")
            if method == "PUT" and rest.endswith("/cancel"):
                return self._cancel(rest.removesuffix("/cancel"))
            if method == "PUT":
                return self._replace(rest, (request.json() or {}).get("order") or {})
            if method == "GET":
                order = self._find(rest)
                if order is None:
                    return self._error(404, "ORDER_DOESNT_EXIST", "The Order specified does not exist")
                return self._ok({"order": self._order_shape(order)})
        if (method, path) == ("GET", "/transactions/sinceid"):
            since = int(p.get("id", "0"))
            return self._ok({"transactions": [t for t in self.transactions if int(t["id"]) > since]})
        if (method, path) == ("GET", "/transactions/idrange"):
            first, last = int(p.get("from", "0")), int(p.get("to", "0"))
            kinds = set(filter(None, p.get("type", "").split(",")))
            rows = [
                t
                for t in self.transactions
                if first <= int(t["id"]) <= last and (not kinds or t["type"] in kinds)
            ]
            return self._ok({"transactions": rows})
        if (method, path) == ("GET", "/transactions"):
            return self._ok(self._pages(p))
        if method == "GET" and path.startswith("/transactions/"):
            wanted = path.removeprefix("/transactions/")
            found = next((t for t in self.transactions if t["id"] == wanted), None)
            if found is None:
                return self._error(404, "NO_SUCH_TRANSACTION", "The Transaction specified does not exist")
            return self._ok({"transaction": found})
        return self._error(405, "", f"loopback venue: no route {method} {path}")

    # -- replies -------------------------------------------------------------------------
    def _ok(self, body: dict[str, Any], status: int = 200) -> VenueReply:
        body["lastTransactionID"] = str(self.last_id)
        return VenueReply(status, body, {"RequestID": "24928148617851745"})

    def _error(self, status: int, code: str, message: str, **extra: Any) -> VenueReply:
        body: dict[str, Any] = dict(extra)
        if extra:
            body["relatedTransactionIDs"] = [t["id"] for t in extra.values() if isinstance(t, dict)]
        body["lastTransactionID"] = str(self.last_id)
        if code:
            body["errorCode"] = code
        body["errorMessage"] = message
        return VenueReply(status, body, {"RequestID": "24928148617851745"})

    def _tx(self, kind: str, batch: int | None = None, **fields: Any) -> dict[str, Any]:
        """Record (and stream) the next transaction."""
        self.last_id += 1
        tx: dict[str, Any] = {
            "id": str(self.last_id),
            "accountID": OANDA_ACCOUNT,
            "userID": _USER,
            "batchID": str(batch if batch is not None else self.last_id),
            "time": _time(self.clock.now_ms()),
            "type": kind,
        }
        tx.update(fields)
        self.transactions.append(tx)
        self.emit(json.dumps(tx, separators=(",", ":")))
        return tx

    # -- orders --------------------------------------------------------------------------
    def _find(self, specifier: str) -> VenueOrder | None:
        if specifier.startswith("@"):
            cid = specifier[1:]
            mine = [o for o in self.orders if o.client_order_id == cid]
            return next((o for o in mine if o.is_open), mine[-1] if mine else None)
        return next((o for o in self.orders if str(o.order_id) == specifier), None)

    def _create(self, body: Mapping[str, Any]) -> VenueReply:
        extensions = body.get("clientExtensions") or {}
        cid = str(extensions.get("id", ""))
        kind = str(body.get("type", "MARKET"))
        instrument = str(body.get("instrument", ""))
        if instrument not in self.prices:
            return self._error(400, "", "Invalid value specified for 'instrument'")
        terms = self._terms(body)
        if cid and any(o.is_open and o.client_order_id == cid for o in self.orders):
            reject = self._tx(
                f"{kind}_ORDER_REJECT",
                **terms,
                reason="CLIENT_ORDER",
                rejectReason="CLIENT_ORDER_ID_ALREADY_EXISTS",
            )
            return self._error(
                400,
                "CLIENT_ORDER_ID_ALREADY_EXISTS",
                "The client Order ID specified is already assigned to another pending Order",
                orderRejectTransaction=reject,
            )
        create = self._tx(f"{kind}_ORDER", **terms, reason="CLIENT_ORDER")
        order = self._keep(create, body, cid)
        reply: dict[str, Any] = {"orderCreateTransaction": create, "relatedTransactionIDs": [create["id"]]}
        fill = self._match(order, batch=int(create["id"]))
        if fill is not None:
            reply["orderFillTransaction"] = fill
            reply["relatedTransactionIDs"].append(fill["id"])
        return self._ok(reply, 201)

    @staticmethod
    def _terms(body: Mapping[str, Any]) -> dict[str, Any]:
        """The create transaction's order fields, as OANDA echoes the request."""
        kind = str(body.get("type", "MARKET"))
        terms: dict[str, Any] = {
            "instrument": body.get("instrument"),
            "units": body.get("units"),
            "timeInForce": body.get("timeInForce", "FOK" if kind == "MARKET" else "GTC"),
            "positionFill": body.get("positionFill", "DEFAULT"),
        }
        if kind != "MARKET":
            terms.update(price=body.get("price"), triggerCondition="DEFAULT", partialFill="DEFAULT")
        if body.get("clientExtensions"):
            terms["clientExtensions"] = body["clientExtensions"]
        return terms

    def _keep(self, create: Mapping[str, Any], body: Mapping[str, Any], cid: str) -> VenueOrder:
        units = Decimal(str(body.get("units", "0")))
        order = self.new_order(
            client_order_id=cid,
            symbol=str(body.get("instrument")),
            side=OrderSide.BUY if units > 0 else OrderSide.SELL,
            order_type=str(body.get("type", "MARKET")),
            quantity=abs(units),
            price=Decimal(str(body["price"])) if body.get("price") not in (None, "") else None,
            time_in_force=str(create.get("timeInForce")),
        )
        order.order_id = str(create["id"])
        order.extra["create"] = dict(create)
        return order

    def _match(self, order: VenueOrder, *, batch: int) -> dict[str, Any] | None:
        """Fill ``order`` at the market when it crosses (a market order always does): the ORDER_FILL."""
        market = self.prices[order.symbol]
        crosses = order.order_type == "MARKET" or (
            order.price is not None
            and (order.price >= market if order.side is OrderSide.BUY else order.price <= market)
        )
        if not crosses:
            return None
        quantity = order.quantity - order.filled
        price = f"{market.normalize():f}"
        units = _units(order, quantity)
        fill_tx = self._tx(
            "ORDER_FILL",
            batch,
            orderID=str(order.order_id),
            clientOrderID=order.client_order_id,
            instrument=order.symbol,
            units=units,
            requestedUnits=units,
            price=price,
            pl="0.0000",
            quotePL="0",
            financing="0.0000",
            baseFinancing="0",
            commission="0.0000",
            accountBalance=self.summary["account"]["balance"],
            gainQuoteHomeConversionFactor="0.948653",
            lossQuoteHomeConversionFactor="0.958187",
            guaranteedExecutionFee="0.0000",
            quoteGuaranteedExecutionFee="0",
            halfSpreadCost="0.0038",
            fullVWAP=price,
            reason=f"{order.order_type}_ORDER",
        )
        fill_tx["tradeOpened"] = {
            "tradeID": fill_tx["id"],
            "units": units,
            "price": price,
            "guaranteedExecutionFee": "0.0000",
            "quoteGuaranteedExecutionFee": "0",
            "halfSpreadCost": "0.0038",
            "initialMarginRequired": "5.2706",
        }
        fill = self.add_fill(order, quantity, market, Decimal(0), str(self.summary["account"]["currency"]))
        self.fills[-1] = dataclasses.replace(fill, trade_id=fill_tx["id"])
        order.extra.update(fillingTransactionID=fill_tx["id"], filledTime=fill_tx["time"])
        return fill_tx

    def _cancel(self, specifier: str) -> VenueReply:
        order = self._find(specifier)
        if order is None or not order.is_open:
            cid = specifier[1:] if specifier.startswith("@") else None
            fields: dict[str, Any] = {"rejectReason": "ORDER_DOESNT_EXIST"}
            if cid is not None:
                fields["clientOrderID"] = cid
            else:
                fields["orderID"] = specifier
            reject = self._tx("ORDER_CANCEL_REJECT", **fields)
            return self._error(
                404,
                "ORDER_DOESNT_EXIST",
                "The Order specified does not exist",
                orderCancelRejectTransaction=reject,
            )
        cancel = self._end(order, "CLIENT_REQUEST")
        return self._ok({"orderCancelTransaction": cancel, "relatedTransactionIDs": [cancel["id"]]})

    def _end(self, order: VenueOrder, reason: str, batch: int | None = None, **more: Any) -> dict[str, Any]:
        cancel = self._tx(
            "ORDER_CANCEL",
            batch,
            orderID=str(order.order_id),
            clientOrderID=order.client_order_id,
            reason=reason,
            **more,
        )
        order.status = OrderStatus.CANCELED
        order.updated_ms = self.clock.now_ms()
        order.extra.update(cancellingTransactionID=cancel["id"], cancelledTime=cancel["time"])
        return cancel

    def _replace(self, specifier: str, body: Mapping[str, Any]) -> VenueReply:
        old = self._find(specifier)
        if old is None or not old.is_open:
            return self._error(404, "ORDER_DOESNT_EXIST", "The Order specified does not exist")
        new_id = str(self.last_id + 2)
        cancel = self._end(old, "CLIENT_REQUEST_REPLACED", self.last_id + 1, replacedByOrderID=new_id)
        batch = int(cancel["id"])
        terms = self._terms(body)
        terms["clientExtensions"] = old.extra["create"].get("clientExtensions", {"id": old.client_order_id})
        create = self._tx(
            f"{body.get('type', old.order_type)}_ORDER",
            batch,
            **terms,
            reason="REPLACEMENT",
            replacesOrderID=str(old.order_id),
        )
        order = self._keep(create, dict(body, instrument=old.symbol), old.client_order_id)
        old.extra["replacedByOrderID"] = order.order_id
        order.extra["replacesOrderID"] = str(old.order_id)
        reply: dict[str, Any] = {
            "orderCancelTransaction": cancel,
            "orderCreateTransaction": create,
            "relatedTransactionIDs": [cancel["id"], create["id"]],
        }
        fill = self._match(order, batch=batch)
        if fill is not None:
            reply["orderFillTransaction"] = fill
            reply["relatedTransactionIDs"].append(fill["id"])
        return self._ok(reply, 201)

    # -- shapes (protocols.md §4.3–4.4) -----------------------------------------------------
    def _order_shape(self, order: VenueOrder) -> dict[str, Any]:
        create = order.extra["create"]
        shape: dict[str, Any] = {
            "id": str(order.order_id),
            "createTime": create["time"],
            "state": _STATE.get(order.status, "CANCELLED"),
            "type": order.order_type,
            "instrument": order.symbol,
            "units": create["units"],
            "timeInForce": create["timeInForce"],
            "positionFill": create["positionFill"],
        }
        if "clientExtensions" in create:
            shape["clientExtensions"] = create["clientExtensions"]
        if order.order_type != "MARKET":
            shape.update(price=create["price"], triggerCondition="DEFAULT", partialFill="DEFAULT_FILL")
        for key in (
            "fillingTransactionID",
            "filledTime",
            "cancellingTransactionID",
            "cancelledTime",
            "replacesOrderID",
            "replacedByOrderID",
        ):
            if key in order.extra:
                shape[key] = order.extra[key]
        if "fillingTransactionID" in order.extra:
            shape["tradeOpenedID"] = order.extra["fillingTransactionID"]
        return shape

    def _positions(self) -> list[dict[str, Any]]:
        rows = []
        for symbol in sorted({f.symbol for f in self.fills}):
            net = self.position(symbol)
            if net == 0:
                continue
            leg = {
                "units": f"{net.normalize():f}",
                "pl": "0.0000",
                "resettablePL": "0.0000",
                "unrealizedPL": "0.0000",
                "averagePrice": f"{self.prices[symbol].normalize():f}",
                "tradeIDs": [str(f.trade_id) for f in self.fills if f.symbol == symbol],
            }
            flat = {"units": "0", "pl": "0.0000", "resettablePL": "0.0000", "unrealizedPL": "0.0000"}
            rows.append(
                {
                    "instrument": symbol,
                    "long": leg if net > 0 else flat,
                    "short": leg if net < 0 else flat,
                    "pl": "0.0000",
                    "resettablePL": "0.0000",
                    "unrealizedPL": "0.0000",
                }
            )
        return rows

    def _pages(self, p: Mapping[str, str]) -> dict[str, Any]:
        """``GET /transactions``: the ``idrange`` page URLs covering every transaction kept."""
        kinds = p.get("type", "")
        pages = []
        if self.transactions:
            first, last = self.transactions[0]["id"], self.transactions[-1]["id"]
            query = f"from={first}&to={last}" + (f"&type={kinds}" if kinds else "")
            pages.append(f"{self.url}{_PREFIX}/transactions/idrange?{query}")
        return {
            "from": p.get("from", ""),
            "to": _time(self.clock.now_ms()),
            "pageSize": int(p.get("pageSize", "100")),
            "type": [k for k in kinds.split(",") if k],
            "count": len(self.transactions),
            "pages": pages,
        }
